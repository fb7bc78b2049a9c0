/**
 * infoNCE forward + backward at B = 4,096 and 16,384, d = 1,024, against the
 * time its GEMM work (6·B²·d flops) takes at dense's measured rate. Each batch
 * size runs in a process of its own (with GC between calls), so the peak RSS
 * printed is that of one training step's worth of data and nothing else.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kernels } from '../src/index.js';
import { peakRssMiB, printTable, randomMatrix, time, type Row } from './common.js';

const D = 1024;

interface Measurement {
  B: number;
  seconds: number[];
  peakRssMiB: number;
  inputMiB: number;
}

/** One batch size, in this process: a warm-up call, then `runs` timed calls. */
export async function measureInfoNCE(
  B: number,
  runs: number,
  device: 'cpu' | 'cuda' = 'cpu',
  precision: 'fp32' | 'tf32' | 'bf16' = 'fp32',
): Promise<Measurement> {
  const anchors = randomMatrix(10 + B, B, D);
  const positives = randomMatrix(20 + B, B, D);
  const gc = (globalThis as { gc?: () => void }).gc;
  await kernels.infoNCE(anchors, positives, { device, precision });
  const seconds: number[] = [];
  for (let r = 0; r < runs; r++) {
    gc?.();
    const t0 = process.hrtime.bigint();
    await kernels.infoNCE(anchors, positives, { device, precision });
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { B, seconds, peakRssMiB: peakRssMiB(), inputMiB: (2 * B * D * 4) / 2 ** 20 };
}

export async function benchInfoNCE(sizes = [4096, 16384]): Promise<void> {
  // dense's rate on the JobBERT head's GEMM shape is the yardstick.
  const x = randomMatrix(1, 4096, D);
  const w = randomMatrix(2, 1024, D);
  const dt = await time('dense', () => kernels.dense(x, w, null, { device: 'cpu' }));
  const denseGflops = (2 * 4096 * D * 1024) / dt.seconds / 1e9;
  const rows: Row[] = [];
  for (const B of sizes) {
    const runs = B > 8192 ? 3 : 7;
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), String(B), String(runs)],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    if (child.status !== 0) throw new Error(`infoNCE bench for B=${B} failed (exit ${child.status})`);
    const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measurement;
    const median = [...m.seconds].sort((a, b) => a - b)[Math.floor(m.seconds.length / 2)];
    const flops = 6 * B * B * D;
    const gemmSeconds = flops / (denseGflops * 1e9);
    rows.push({
      B,
      'fwd+bwd s (median)': median,
      'GFLOP/s (6·B²·d)': flops / median / 1e9,
      'GEMM work s at dense rate': gemmSeconds,
      'time ÷ GEMM work': `×${(median / gemmSeconds).toFixed(2)}`,
      'peak RSS MiB': m.peakRssMiB,
      'of which inputs MiB': m.inputMiB,
    });
  }
  printTable(
    `infoNCE: d = ${D}, scale 20, in-batch negatives (dense rate ${denseGflops.toFixed(0)} GFLOP/s; target time ≤ ×1.5 of GEMM work, peak RSS < 1 GiB)`,
    rows,
  );
  await benchInfoNCECuda();
}

/** With a GPU: forward + backward at B = 16,384 and 65,536 per precision (inputs copied from the host each call). */
async function benchInfoNCECuda(): Promise<void> {
  if (!kernels.backends().includes('cuda')) {
    console.log(`infoNCE (CUDA): skipped: ${kernels.info().cudaStatus}`);
    return;
  }
  const rows: Row[] = [];
  for (const B of [16384, 65536]) {
    for (const precision of ['fp32', 'tf32', 'bf16'] as const) {
      const m = await measureInfoNCE(B, 3, 'cuda', precision);
      const median = [...m.seconds].sort((a, b) => a - b)[1];
      rows.push({ B, precision, 'fwd+bwd ms (median)': median * 1e3, 'TFLOP/s (6·B²·d)': (6 * B * B * D) / median / 1e12 });
    }
  }
  printTable(
    `infoNCE on ${kernels.info().cudaDevices[0]}: d = ${D}, scale 20 (memory O(B·d); PyTorch's figures: scripts/gpu-check.sh)`,
    rows,
  );
}

// Run directly (by benchInfoNCE): measure one batch size and print it as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = await measureInfoNCE(Number(process.argv[2]), Number(process.argv[3]));
  console.log(JSON.stringify(m));
}
