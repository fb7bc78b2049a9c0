/** dense vs OpenBLAS sgemm at the JobBERT head's shape: (4096×768)·(768×1024). */
import { kernels } from '../src/index.js';
import { loadOpenBLAS, maxDifference, printTable, randomMatrix, ratio, time, type Row } from './common.js';

export async function benchDense(): Promise<void> {
  const m = 4096,
    inn = 768,
    out = 1024;
  const flops = 2 * m * inn * out;
  const x = randomMatrix(1, m, inn);
  const w = randomMatrix(2, out, inn);
  const bias = randomMatrix(3, 1, out).data;
  const rows: Row[] = [];
  const blas = loadOpenBLAS();
  let blasGflops = NaN;
  if (blas.sgemm) {
    const c = new Float32Array(m * out);
    // Like kernels.dense, which returns a new matrix, OpenBLAS writes a fresh
    // output each call here; the row after it reuses one buffer (its best case).
    const t = await time('openblas', () => blas.sgemm!(m, out, inn, x.data, w.data, new Float32Array(m * out), true));
    blasGflops = flops / t.seconds / 1e9;
    const reused = await time('openblas reused', () => blas.sgemm!(m, out, inn, x.data, w.data, c, true));
    const ours = await kernels.dense(x, w, null, { device: 'cpu' });
    console.log(
      `dense: OpenBLAS core ${blas.core}; its result differs from ours by at most ${maxDifference(c, ours.data).toExponential(1)} (relative)`,
    );
    rows.push({
      kernel: `OpenBLAS sgemm, new output per call (${blas.threads} threads, ${blas.core})`,
      ms: t.seconds * 1e3,
      'GFLOP/s': blasGflops,
      'vs OpenBLAS': '×1.00',
    });
    const reusedGflops = flops / reused.seconds / 1e9;
    rows.push({
      kernel: 'OpenBLAS sgemm, one output buffer reused',
      ms: reused.seconds * 1e3,
      'GFLOP/s': reusedGflops,
      'vs OpenBLAS': ratio(reusedGflops, blasGflops),
    });
  } else {
    console.log(`dense: peer skipped: ${blas.reason}`);
  }
  for (const [label, b, activation] of [
    ['jobbert dense', null, 'identity'],
    ['jobbert dense + bias + tanh', bias, 'tanh'],
  ] as const) {
    const t = await time(label, () => kernels.dense(x, w, b, { activation, device: 'cpu' }));
    const g = flops / t.seconds / 1e9;
    rows.push({
      kernel: `${label} (${kernels.info().threads} threads, ${kernels.info().isa})`,
      ms: t.seconds * 1e3,
      'GFLOP/s': g,
      'vs OpenBLAS': ratio(g, blasGflops),
    });
  }
  printTable(`dense: y = act(x·Wᵀ + b), x ${m}×${inn}, W ${out}×${inn} (${(flops / 1e9).toFixed(1)} GFLOP per call; target ≥ ×0.80)`, rows);
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
