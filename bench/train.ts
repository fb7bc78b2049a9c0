/**
 * One training step of JobBERT-V3's Asym heads at the paper's batch (B = 2,048
 * pairs, heads 768 → 1,024, InfoNCE scale 20) on base embeddings already in
 * memory, as train() runs it after the embedding cache: both heads forward,
 * InfoNCE, both heads backward, AdamW. The yardstick (peer) is the step's GEMM
 * work at the dense kernel's rate measured in the same run: 3 GEMMs of
 * 2·B·768·1024 flops per head plus InfoNCE's 6·B²·1024 (target: step ≤ ×1.5
 * of it). Also times the gather of a batch's rows from a float16 cache file,
 * which train() adds per step.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernels, type Matrix } from '../src/index.js';
import { EmbeddingCache, textKey } from '../src/train/cache.js';
import { adamwUpdate, lossAndGradients, newOptimizerState, type Batch, type Head, type Heads } from '../src/train/step.js';
import { peakRssMiB, printTable, randomMatrix, time, type Row } from './common.js';

const B = 2048;
const IN = 768;
const OUT = 1024;

function head(seed: number): Head {
  const w = randomMatrix(seed, OUT, IN);
  for (let i = 0; i < w.data.length; i++) w.data[i] *= 1 / Math.sqrt(IN);
  const b = randomMatrix(seed + 1, 1, OUT).data.map((v) => v * 0.01);
  return { weight: w.data, bias: b, out: OUT, in: IN, activation: 'tanh' };
}

export async function benchTrain(): Promise<void> {
  const info = kernels.info();
  // the yardstick: dense at the head's shape, x 2048×768, W 1024×768
  const x = randomMatrix(1, B, IN);
  const w = randomMatrix(2, OUT, IN);
  const denseFlops = 2 * B * IN * OUT;
  const dense = await time('dense', () => kernels.dense(x, w, null), { maxTime: 4 });
  const rate = denseFlops / dense.seconds;

  const heads: Heads = { anchor: head(10), positive: head(20) };
  const optimizer = newOptimizerState(heads);
  const batch: Batch = { anchors: randomMatrix(30, B, IN), candidates: randomMatrix(40, B, IN), negatives: 0 };
  const opts = { scale: 20, symmetric: false, device: 'cpu' as const };
  const step = async () => {
    const g = await lossAndGradients(heads, batch, opts);
    adamwUpdate(heads, { anchor: g.anchor, positive: g.positive }, optimizer, 5e-5, { weightDecay: 0.01, maxGradNorm: 1 });
  };
  const t = await time('train step', step, { maxTime: 12, minSamples: 8 });

  // where the step's time goes
  const a = await kernels.dense(batch.anchors, { data: heads.anchor.weight, rows: OUT, cols: IN }, heads.anchor.bias, {
    activation: 'tanh',
  });
  const p = await kernels.dense(batch.candidates, { data: heads.positive.weight, rows: OUT, cols: IN }, heads.positive.bias, {
    activation: 'tanh',
  });
  const nce = await kernels.infoNCE(a, p);
  const wa: Matrix = { data: heads.anchor.weight, rows: OUT, cols: IN };
  const fwd = await time('dense forward (one head)', () => kernels.dense(batch.anchors, wa, heads.anchor.bias, { activation: 'tanh' }));
  const bwd = await time('dense backward (one head)', () =>
    kernels.denseBackward(batch.anchors, wa, a, nce.gradAnchors, { activation: 'tanh' }),
  );
  const inf = await time('infoNCE', () => kernels.infoNCE(a, p));
  const grads = await lossAndGradients(heads, batch, opts);
  const adam = await time('AdamW', () =>
    adamwUpdate(heads, { anchor: grads.anchor, positive: grads.positive }, optimizer, 5e-5, { weightDecay: 0.01, maxGradNorm: 1 }),
  );

  // a batch's rows from a float16 cache file (what train() reads per step)
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-bench-train-'));
  let gatherSeconds = NaN;
  try {
    const rows = 4 * B;
    const cache = await EmbeddingCache.open(dir, 'bench', IN);
    await cache.append(
      [...Array(rows).keys()].map((i) => textKey(String(i))),
      randomMatrix(50, rows, IN).data,
    );
    await cache.release();
    const order = Int32Array.from([...Array(rows).keys()].sort((u, v) => ((u * 2654435761) % rows) - ((v * 2654435761) % rows)));
    const out = new Float32Array(2 * B * IN);
    const g = await time('gather', () => cache.readRows(order.subarray(0, 2 * B), out));
    gatherSeconds = g.seconds;
    await cache.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const headFlops = 2 * 3 * denseFlops;
  const nceFlops = 6 * B * B * OUT;
  const gemmSeconds = (headFlops + nceFlops) / rate;
  const rows: Row[] = [
    {
      measure: `GEMM work at dense's rate (${(rate / 1e9).toFixed(0)} GFLOP/s): yardstick`,
      ms: gemmSeconds * 1e3,
      'steps/s': 1 / gemmSeconds,
      'pairs/s': B / gemmSeconds,
      'vs yardstick': '×1.00',
    },
    {
      measure: `train step (${info.threads} threads, ${info.isa})`,
      ms: t.seconds * 1e3,
      'steps/s': 1 / t.seconds,
      'pairs/s': B / t.seconds,
      'vs yardstick': `×${(t.seconds / gemmSeconds).toFixed(2)} time`,
    },
    {
      measure: '  2 × dense forward',
      ms: 2 * fwd.seconds * 1e3,
      'steps/s': '',
      'pairs/s': '',
      'vs yardstick': `×${((2 * fwd.seconds) / ((2 * denseFlops) / rate)).toFixed(2)} time`,
    },
    {
      measure: '  2 × dense backward',
      ms: 2 * bwd.seconds * 1e3,
      'steps/s': '',
      'pairs/s': '',
      'vs yardstick': `×${((2 * bwd.seconds) / ((4 * denseFlops) / rate)).toFixed(2)} time`,
    },
    {
      measure: '  infoNCE forward + backward',
      ms: inf.seconds * 1e3,
      'steps/s': '',
      'pairs/s': '',
      'vs yardstick': `×${(inf.seconds / (nceFlops / rate)).toFixed(2)} time`,
    },
    {
      measure: '  AdamW + clipping (TypeScript, 1.6 M parameters)',
      ms: adam.seconds * 1e3,
      'steps/s': '',
      'pairs/s': '',
      'vs yardstick': '',
    },
    {
      measure: 'gather 4,096 cached fp16 rows (per step, not in the step above)',
      ms: gatherSeconds * 1e3,
      'steps/s': '',
      'pairs/s': '',
      'vs yardstick': '',
    },
  ];
  printTable(
    `train: one step at B = ${B}, heads ${IN} → ${OUT} + tanh, InfoNCE scale 20 (${((headFlops + nceFlops) / 1e9).toFixed(1)} GFLOP of GEMM work; target step ≤ ×1.5 of it); peak RSS ${peakRssMiB().toFixed(0)} MiB`,
    rows,
  );
}

// run directly: node --import tsx bench/train.ts
if (import.meta.url === `file://${process.argv[1]}`) await benchTrain();
