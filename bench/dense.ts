/** dense vs OpenBLAS sgemm at the JobBERT head's shape: (4096×768)·(768×1024). */
import { kernels } from '../src/index.js';
import { cpuDescription, loadOpenBLAS, maxDifference, printTable, randomMatrix, ratio, time, type Row } from './common.js';

export async function benchDense(): Promise<void> {
  const m = 4096,
    inn = 768,
    out = 1024;
  const flops = 2 * m * inn * out;
  const x = randomMatrix(1, m, inn);
  const w = randomMatrix(2, out, inn);
  const bias = randomMatrix(3, 1, out).data;
  const rows: Row[] = [];
  const info = kernels.info();
  console.log(`dense: CPU ${cpuDescription()}; GEMM blocking ${info.gemmBlocking}`);
  const blas = loadOpenBLAS(info.threads);
  let blasGflops = NaN;
  let reusedGflops = NaN;
  if (blas.sgemm) {
    console.log(`dense: OpenBLAS core ${blas.core}, pinned by ${blas.pinned}`);
    const c = new Float32Array(m * out);
    // Like kernels.dense without `out`, which returns a new matrix, OpenBLAS
    // writes a fresh output each call here; the row after it reuses one buffer
    // (its best case, and the peer of dense with `out`).
    const t = await time('openblas', () => blas.sgemm!(m, out, inn, x.data, w.data, new Float32Array(m * out), true));
    blasGflops = flops / t.seconds / 1e9;
    const reused = await time('openblas reused', () => blas.sgemm!(m, out, inn, x.data, w.data, c, true));
    const ours = await kernels.dense(x, w, null, { device: 'cpu' });
    console.log(`dense: OpenBLAS's result differs from ours by at most ${maxDifference(c, ours.data).toExponential(1)} (relative)`);
    rows.push({
      kernel: `OpenBLAS sgemm, new output per call (${blas.threads} threads, ${blas.core})`,
      ms: t.seconds * 1e3,
      'GFLOP/s': blasGflops,
      'vs OpenBLAS': '×1.00',
      'vs OpenBLAS reused': '',
    });
    reusedGflops = flops / reused.seconds / 1e9;
    rows.push({
      kernel: 'OpenBLAS sgemm, one output buffer reused',
      ms: reused.seconds * 1e3,
      'GFLOP/s': reusedGflops,
      'vs OpenBLAS': ratio(reusedGflops, blasGflops),
      'vs OpenBLAS reused': '×1.00',
    });
  } else {
    console.log(`dense: peer skipped: ${blas.reason}`);
  }
  // Plain operands are copied per call and the result is a new array; the
  // no-tax configuration is a layer's resident weights and inputs written into
  // one reused `out` buffer.
  const rx = kernels.resident(x);
  const rw = kernels.resident(w);
  const y = new Float32Array(m * out);
  const variants = [
    ['jobbert dense, plain x and W, new output', x, w, null, 'identity', undefined],
    ['jobbert dense + bias + tanh, plain, new output', x, w, bias, 'tanh', undefined],
    ['jobbert dense, plain x and W, `out` buffer', x, w, null, 'identity', y],
    ['jobbert dense, resident x and W, `out` buffer', rx, rw, null, 'identity', y],
    ['jobbert dense + bias + tanh, resident, `out`', rx, rw, bias, 'tanh', y],
  ] as const;
  for (const [label, a, b, bb, activation, o] of variants) {
    const t = await time(label, () => kernels.dense(a, b, bb, { activation, device: 'cpu', out: o }));
    const g = flops / t.seconds / 1e9;
    rows.push({
      kernel: `${label} (${info.threads} threads, ${info.isa})`,
      ms: t.seconds * 1e3,
      'GFLOP/s': g,
      'vs OpenBLAS': ratio(g, blasGflops),
      'vs OpenBLAS reused': ratio(g, reusedGflops),
    });
  }
  rx.dispose();
  rw.dispose();
  printTable(
    `dense: y = act(x·Wᵀ + b), x ${m}×${inn}, W ${out}×${inn} (${(flops / 1e9).toFixed(1)} GFLOP per call; GEMM alone: build-native/test_gemm --shape 0)`,
    rows,
  );
  await benchDenseCuda();
}

/** With a GPU: dense + bias + tanh at the shape, x and W resident on the device, per precision. */
async function benchDenseCuda(): Promise<void> {
  if (!kernels.backends().includes('cuda')) {
    console.log(`dense (CUDA): skipped: ${kernels.info().cudaStatus}`);
    return;
  }
  const m = 65536,
    inn = 768,
    out = 1024;
  const flops = 2 * m * inn * out;
  const x = await kernels.toDevice(randomMatrix(4, m, inn));
  const w = await kernels.toDevice(randomMatrix(5, out, inn));
  const bias = randomMatrix(6, 1, out).data;
  const rows: Row[] = [];
  let fp32 = NaN;
  for (const precision of ['fp32', 'tf32', 'bf16'] as const) {
    const t = await time(`cuda dense ${precision}`, () => kernels.dense(x, w, bias, { activation: 'tanh', device: 'cuda', precision }), {
      minSamples: 5,
      maxTime: 5,
    });
    const g = flops / t.seconds / 1e9;
    if (precision === 'fp32') fp32 = g;
    rows.push({ kernel: `jobbert dense + bias + tanh, ${precision}`, ms: t.seconds * 1e3, 'GFLOP/s': g, 'vs fp32': ratio(g, fp32) });
  }
  x.dispose();
  w.dispose();
  printTable(
    `dense on ${kernels.info().cudaDevices[0]}: x ${m}×${inn} and W resident on the GPU, y copied back each call (PyTorch's figures: scripts/gpu-check.sh)`,
    rows,
  );
}
