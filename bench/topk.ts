/** topK vs usearch exactSearch, a plain TypeScript loop and OpenBLAS's GEMM rate. */
import { createRequire } from 'node:module';
import { kernels, type Matrix } from '../src/index.js';
import { cpuDescription, loadOpenBLAS, printTable, randomMatrix, ratio, time, type Row } from './common.js';

const require = createRequire(import.meta.url);

/** The obvious TypeScript: score every corpus row, keep the best k by insertion. */
function plainTopK(q: Matrix, c: Matrix, k: number, invNorms: Float32Array): Int32Array {
  const out = new Int32Array(q.rows * k);
  const d = q.cols;
  for (let i = 0; i < q.rows; i++) {
    const best: { s: number; j: number }[] = [];
    for (let j = 0; j < c.rows; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += q.data[i * d + p] * c.data[j * d + p];
      s *= invNorms[j];
      if (best.length < k || s > best[best.length - 1].s) {
        let at = best.length;
        while (at > 0 && best[at - 1].s < s) at--;
        best.splice(at, 0, { s, j });
        if (best.length > k) best.pop();
      }
    }
    best.forEach((b, r) => (out[i * k + r] = b.j));
  }
  return out;
}

export async function benchTopK(): Promise<void> {
  const Q = 1024,
    N = 100_000,
    d = 1024,
    k = 10;
  const flops = 2 * Q * N * d;
  console.log(`topK: CPU ${cpuDescription()}; GEMM blocking ${kernels.info().gemmBlocking}`);
  console.log(`topK: building a ${N}×${d} corpus and ${Q} queries ...`);
  const corpus = randomMatrix(11, N, d);
  const queries = randomMatrix(12, Q, d);
  const rows: Row[] = [];

  // A search corpus lives in native memory (kernels.resident); a plain Matrix is copied on every call.
  const held = kernels.resident(corpus);
  const ours = await time('jobbert topK', () => kernels.topK(queries, held, k, { device: 'cpu' }), { minSamples: 3, maxTime: 10 });
  const oursG = flops / ours.seconds / 1e9;
  const info = kernels.info();
  rows.push({
    method: `jobbert kernels.topK, resident corpus (${info.threads} threads, ${info.isa})`,
    'queries/s': Q / ours.seconds,
    'GFLOP/s': oursG,
    'ours vs it': '×1.00',
  });
  const copied = await time('jobbert topK copy', () => kernels.topK(queries, corpus, k, { device: 'cpu' }), { minSamples: 3, maxTime: 10 });
  const copiedG = flops / copied.seconds / 1e9;
  rows.push({
    method: 'jobbert kernels.topK, plain Matrix corpus (copied per call)',
    'queries/s': Q / copied.seconds,
    'GFLOP/s': copiedG,
    'ours vs it': ratio(oursG, copiedG),
  });

  const blas = loadOpenBLAS(info.threads);
  if (blas.sgemm) {
    console.log(`topK: OpenBLAS core ${blas.core}, pinned by ${blas.pinned}`);
    // The GEMM alone, in corpus blocks of 8,192 rows (the full 1,024 × 100,000 product would need 400 MB).
    const block = 8192;
    const c = new Float32Array(Q * block);
    const t = await time(
      'openblas',
      () => {
        for (let j0 = 0; j0 < N; j0 += block) {
          const n = Math.min(block, N - j0);
          blas.sgemm!(Q, n, d, queries.data, corpus.data.subarray(j0 * d, (j0 + n) * d), c, true);
        }
      },
      { minSamples: 3, maxTime: 10 },
    );
    const g = flops / t.seconds / 1e9;
    rows.push({
      method: `OpenBLAS sgemm of the same scores, no selection (${blas.threads} threads, ${blas.core})`,
      'queries/s': Q / t.seconds,
      'GFLOP/s': g,
      'ours vs it': ratio(oursG, g),
    });
  } else {
    console.log(`topK: OpenBLAS row skipped: ${blas.reason}`);
  }

  try {
    const usearch = require('usearch');
    const metric = usearch.MetricKind.Cos;
    const t = await time('usearch', () => usearch.exactSearch(corpus.data, queries.data, d, k, metric, info.threads), {
      minSamples: 3,
      maxTime: 10,
    });
    const g = flops / t.seconds / 1e9;
    rows.push({
      method: `usearch exactSearch, cosine (${info.threads} threads)`,
      'queries/s': Q / t.seconds,
      'GFLOP/s': g,
      'ours vs it': ratio(oursG, g),
    });
  } catch (e) {
    console.log(`topK: usearch skipped: ${(e as Error).message}`);
  }

  // The plain loop is ~1,000× slower: time 4 queries and report the same per-query rate.
  const few = { data: queries.data.subarray(0, 4 * d), rows: 4, cols: d };
  const inv = new Float32Array(N);
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let p = 0; p < d; p++) s += corpus.data[j * d + p] ** 2;
    inv[j] = 1 / Math.sqrt(s);
  }
  const t = await time('plain', () => plainTopK(few, corpus, k, inv), { minSamples: 1, maxTime: 1 });
  const g = (2 * few.rows * N * d) / t.seconds / 1e9;
  rows.push({
    method: 'plain TypeScript loop (1 thread, 4 queries)',
    'queries/s': few.rows / t.seconds,
    'GFLOP/s': g,
    'ours vs it': ratio(oursG, g),
  });

  printTable(
    `topK: Q = ${Q}, N = ${N.toLocaleString('en')}, d = ${d}, k = ${k}, cosine (GFLOP/s counts 2·Q·N·d; target ≥ ×0.70 of OpenBLAS)`,
    rows,
  );
  await benchTopKCuda(queries, oursG);
}

/** With a GPU: the shape (N = 1,000,000) with the corpus resident on the device, per precision. */
async function benchTopKCuda(queries: Matrix, cpuGflops: number): Promise<void> {
  if (!kernels.backends().includes('cuda')) {
    console.log(`topK (CUDA): skipped: ${kernels.info().cudaStatus}`);
    return;
  }
  const N = 1_000_000,
    d = queries.cols,
    k = 10;
  const flops = 2 * queries.rows * N * d;
  const corpus = await kernels.toDevice(randomMatrix(13, N, d));
  const rows: Row[] = [];
  for (const precision of ['fp32', 'tf32', 'bf16'] as const) {
    const t = await time(`cuda topK ${precision}`, () => kernels.topK(queries, corpus, k, { device: 'cuda', precision }), {
      minSamples: 5,
      maxTime: 5,
    });
    const g = flops / t.seconds / 1e9;
    rows.push({
      method: `jobbert kernels.topK, ${precision}, corpus on the GPU`,
      ms: t.seconds * 1e3,
      'queries/s': queries.rows / t.seconds,
      'GFLOP/s': g,
      'vs CPU (resident)': ratio(g, cpuGflops),
    });
  }
  corpus.dispose();
  printTable(
    `topK on ${kernels.info().cudaDevices[0]}: Q = ${queries.rows}, N = ${N.toLocaleString('en')}, d = ${d}, k = ${k}, cosine (PyTorch's figures: scripts/gpu-check.sh)`,
    rows,
  );
}
