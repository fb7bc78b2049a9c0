/**
 * Where the time of one kernels.dense call goes (dense fwd 4096×768 · (1024×768)ᵀ),
 * plain operands vs resident ones vs a caller's output buffer, best of N calls each.
 * Run: node --import tsx scripts/profile-dense.ts [calls]
 */
import { kernels } from '../src/index.js';
import { randomMatrix } from '../bench/common.js';

const calls = Number(process.argv[2] ?? 20);
const m = 4096,
  inn = 768,
  out = 1024;
const flops = 2 * m * inn * out;
const x = randomMatrix(1, m, inn);
const w = randomMatrix(2, out, inn);
const rx = kernels.resident(x);
const rw = kernels.resident(w);
const y = new Float32Array(m * out);

async function best(label: string, fn: () => Promise<unknown>): Promise<void> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  console.log(
    `${label.padEnd(44)} best ${(times[0] * 1e3).toFixed(2)} ms (${(flops / times[0] / 1e9).toFixed(0)} GFLOP/s), median ${(med * 1e3).toFixed(2)} ms (${(flops / med / 1e9).toFixed(0)})`,
  );
}

const variants: [string, () => Promise<unknown>][] = [
  ['plain x, plain W', () => kernels.dense(x, w, null, { device: 'cpu' })],
  ['resident x, resident W', () => kernels.dense(rx, rw, null, { device: 'cpu' })],
];
if (process.argv.includes('--out')) {
  variants.push(['plain x, plain W, out', () => kernels.dense(x, w, null, { device: 'cpu', out: y } as never)]);
  variants.push(['plain x, resident W, out', () => kernels.dense(x, rw, null, { device: 'cpu', out: y } as never)]);
  variants.push(['resident x, resident W, out', () => kernels.dense(rx, rw, null, { device: 'cpu', out: y } as never)]);
}
for (const [label, fn] of variants) await best(label, fn);
