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

// Best and median of wall time, and of the process's CPU time divided by the
// thread count (on a machine shared with other work, being descheduled counts
// toward wall time but not CPU time; the pool's threads block rather than spin
// past 150 µs, so waiting costs little CPU).
async function best(label: string, fn: () => Promise<unknown>): Promise<void> {
  await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  const threads = Number(process.env.JOBBERT_THREADS) || 2; // not kernels.info(): the script also runs against older addons (JOBBERT_ADDON)
  for (let i = 0; i < calls; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6 / threads);
  }
  const fmt = (t: number[]) => {
    t.sort((a, b) => a - b);
    const med = t[Math.floor(t.length / 2)];
    return `best ${(t[0] * 1e3).toFixed(2)} ms (${(flops / t[0] / 1e9).toFixed(0)} GFLOP/s), median ${(med * 1e3).toFixed(2)} ms (${(flops / med / 1e9).toFixed(0)})`;
  };
  console.log(`${label.padEnd(32)} wall ${fmt(wall)} | CPU ${fmt(cpu)}`);
}

const variants: [string, () => Promise<unknown>][] = [
  ['plain x, plain W', () => kernels.dense(x, w, null, { device: 'cpu' })],
  ['resident x, resident W', () => kernels.dense(rx, rw, null, { device: 'cpu' })],
];
if (process.argv.includes('--out')) {
  variants.push(['plain x, plain W, out', () => kernels.dense(x, w, null, { device: 'cpu', out: y })]);
  variants.push(['plain x, resident W, out', () => kernels.dense(x, rw, null, { device: 'cpu', out: y })]);
  variants.push(['resident x, resident W, out', () => kernels.dense(rx, rw, null, { device: 'cpu', out: y })]);
}
for (const [label, fn] of variants) await best(label, fn);
