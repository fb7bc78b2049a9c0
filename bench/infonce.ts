/**
 * infoNCE forward + backward at B = 4,096 and 16,384, d = 1,024, against the
 * time its GEMM work (6·B²·d flops) takes at dense's measured rate, with the
 * process's peak RSS (each suite runs in its own process).
 */
import { kernels } from '../src/index.js';
import { peakRssMiB, printTable, randomMatrix, time, type Row } from './common.js';

export async function benchInfoNCE(sizes = [4096, 16384]): Promise<void> {
  const d = 1024;
  // dense's rate on a GEMM of comparable shape sets the yardstick.
  const x = randomMatrix(1, 4096, d);
  const w = randomMatrix(2, 1024, d);
  const dt = await time('dense', () => kernels.dense(x, w, null));
  const denseGflops = (2 * 4096 * d * 1024) / dt.seconds / 1e9;
  const rows: Row[] = [];
  for (const B of sizes) {
    const anchors = randomMatrix(10 + B, B, d);
    const positives = randomMatrix(20 + B, B, d);
    const t = await time(`infoNCE ${B}`, () => kernels.infoNCE(anchors, positives), { minSamples: 2, maxTime: B > 8192 ? 1 : 6 });
    const flops = 6 * B * B * d;
    const gemmSeconds = flops / (denseGflops * 1e9);
    rows.push({
      B,
      'fwd+bwd s': t.seconds,
      'GFLOP/s (6·B²·d)': flops / t.seconds / 1e9,
      'GEMM-work s at dense rate': gemmSeconds,
      'time ÷ GEMM work': `×${(t.seconds / gemmSeconds).toFixed(2)}`,
      'peak RSS MiB': peakRssMiB(),
    });
  }
  printTable(`infoNCE: d = ${d}, scale 20, in-batch negatives (dense rate ${denseGflops.toFixed(0)} GFLOP/s; target time ≤ ×1.5 of GEMM work, peak RSS < 1 GiB)`, rows);
}
