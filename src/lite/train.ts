/**
 * trainLiteEncoder: trains a LiteEncoder end to end — embedding table and both
 * heads — on JSON Lines pairs with in-batch-negative InfoNCE (kernels.infoNCE),
 * the heads through kernels.denseBackward and the table through the native
 * sparse embedding-bag backward.
 *
 * Optimiser: AdamW for the heads; for the table, lazy ("sparse") Adam — moments
 * and the update touch only the rows a batch used, as PyTorch's SparseAdam.
 * Why: hashed n-gram rows are each seen rarely, and Adam's per-coordinate step
 * size lets rare rows move as fast as frequent ones, which trained markedly
 * faster than plain SGD in fastText-style setups; lazy moments keep a step's
 * cost proportional to the rows touched (a batch of 512 titles touches ~20k of
 * 131k rows). Decoupled weight decay is applied to touched rows only.
 * Everything is seeded (init, shuffling) and every kernel is deterministic, so
 * a seed gives bit-identical models.
 */
import * as kernels from '../kernels/index.js';
import { JobBERTError } from '../errors.js';
import type { Matrix } from '../kernels/matrix.js';
import { FeatureBatch, appendFeatures, type FeatureConfig } from './features.js';
import type { PairStats } from '../util/pair-file.js';
import { pairsDigest, readPairs, type Pair } from './pairs.js';
import { dequantizeModel, readModel, readSafetensors, safetensors, writeModel, type LiteWeights } from './io.js';
import { readFile, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import {
  assertOutUsable,
  assertSameBatchPlan,
  listCheckpoints,
  pruneCheckpoints,
  settingsDiff,
  withOutLock,
  writeCheckpointDir,
} from '../util/checkpoints.js';
import { addon } from '../kernels/binding.js';
import { assertChoice, assertInteger, assertJsonObject, assertOptions, describe } from '../util/validate.js';
import { LITE_ONLY_TRAIN_OPTIONS, SHARED_TRAIN_DEFAULTS, SHARED_TRAIN_OPTIONS, assertCommonTrainOptions } from '../util/train-options.js';
import type { SharedTrainOptions } from '../util/train-options.js';
import { callBack } from '../util/callback.js';
import { leastBatch, placeLeftovers } from '../util/batch-fill.js';

/** trainLiteEncoder's options: those both trainers take (their LiteEncoder defaults there) and the LiteEncoder's own. */
export interface LiteTrainOptions extends SharedTrainOptions {
  /** A LiteEncoder dir to continue from; omitted: a new model. */
  model?: string;
  /** Which head encodes the positives: 'positive' (skill lists, default) or 'anchor' (title ↔ title pairs). */
  positiveBranch?: 'anchor' | 'positive';
  /** New models only: hash buckets (power of two), dimension, n-gram range. */
  buckets?: number;
  dim?: number;
  minN?: number;
  maxN?: number;
  /** Extra provenance saved in lite.json. */
  trainedWith?: Record<string, unknown>;
  onProgress?: (p: { step: number; steps: number; loss: number; pairsPerSecond: number }) => unknown;
  /** Told of the data read (what was kept and dropped), a resume and each checkpoint, as train()'s onEvent. */
  onEvent?: (
    e:
      | { type: 'data'; stats: PairStats; texts: number }
      | { type: 'resume'; step: number; dir: string }
      | { type: 'checkpoint'; step: number; dir: string },
  ) => unknown;
  /** As train() passes them: 'lite'; 'cpu' or 'auto' (the LiteEncoder trains on the CPU). */
  encoder?: 'lite';
  device?: 'cpu' | 'auto';
}

/** The options trainLiteEncoder reads: any other is refused, not ignored ({ epoch: 3 } trained one epoch). */
const LITE_OPTIONS = Object.keys({
  ...SHARED_TRAIN_OPTIONS,
  ...LITE_ONLY_TRAIN_OPTIONS,
} satisfies Record<keyof LiteTrainOptions, true>);

import { rng, shuffledOrder } from '../util/random.js';

export { rng, readPairs, type Pair };

/**
 * The version of makeBatches' plan, saved in checkpoints (`options.batchPlan`) so
 * that a resume refuses one made under another plan, whose steps would continue
 * into other batches. Bump it with any change that moves a pair to another batch
 * for some data. 1: leftovers placed by joinBatch, `"negative"` read; 2: one
 * pass of first fit, a positive never twice in a batch, no batch under a
 * quarter of the batch size (both 2026-12-05). Checkpoints without it are from
 * older trainers (batches of two stolen from full ones before b62a8eb).
 */
export const LITE_BATCH_PLAN_VERSION = 2;

/** What makeBatches keeps apart, as ids: each pair's key (its group, else its positive) and its positive and negative texts (−1: none). */
export interface BatchKeys {
  key: Int32Array;
  pos: Int32Array;
  neg: Int32Array;
  keyCount: number;
  textCount: number;
}

/** The ids makeBatches plans `pairs` by: found once a run, not at each of its epochs' plans. Sync. */
export function batchKeys(pairs: Pair[]): BatchKeys {
  const interner = () => {
    const ids = new Map<string, number>();
    const idOf = (s: string) => {
      let v = ids.get(s);
      if (v === undefined) ids.set(s, (v = ids.size));
      return v;
    };
    return { ids, idOf };
  };
  const keys = interner();
  const texts = interner();
  // A pair without a group is kept apart by its positive alone.
  const key = Int32Array.from(pairs, (p) => keys.idOf(p.group === undefined ? `p${p.positive}` : `g${p.group}`));
  const pos = Int32Array.from(pairs, (p) => texts.idOf(p.positive));
  const neg = Int32Array.from(pairs, (p) => (p.negative === undefined ? -1 : texts.idOf(p.negative)));
  return { key, pos, neg, keyCount: keys.ids.size, textCount: texts.ids.size };
}

/**
 * Batches of pair indices: shuffled, then each pair put into the first batch
 * it may join with room (a new one where none), so that no batch holds a
 * group twice, a positive twice (pairs of different groups with the same
 * positive text would score it as each other's negative), nor a pair beside
 * one whose positive is its negative; at most `batchSize` pairs. A batch
 * under a quarter of `batchSize` (of two pairs, where no batch is larger) is
 * not made: such batches, at the end, hold the pairs a few large groups leave over — ~90 batches of
 * two an epoch for the default model's recipe, steps on two pairs at the full
 * learning rate — and each of their pairs instead joins a batch that lacks its
 * group and positive, one with room, else one pair over `batchSize`
 * (placeLeftovers), or is `skipped` where every batch holds its group (its group's
 * other pairs train this epoch; another shuffle picks others the next).
 * Linear in the pairs: a pair never goes into an earlier batch than the last
 * of its group or positive (those were full or held it, and stay so). The
 * batch-by-batch scan of every pending pair this replaces took 6.5 s an
 * epoch for the recipe's 362,120 pairs, a third of the run.
 */
export function makeBatches(keys: BatchKeys, batchSize: number, random: () => number): { batches: number[][]; skipped: number } {
  const { key, pos, neg } = keys;
  const withNegatives = neg.some((q) => q >= 0);
  const order = shuffledOrder(key.length, random);
  // The first batch a key or positive may go to, and for each batch the next that may have room (path-compressed).
  const fromKey = new Int32Array(keys.keyCount);
  const fromText = new Int32Array(keys.textCount);
  const batches: number[][] = [];
  const nextOpen: number[] = [];
  const open = (b: number) => {
    let r = b;
    while (r < batches.length && nextOpen[r] !== r) r = nextOpen[r];
    for (let c = b; c !== r; ) {
      const next = nextOpen[c];
      nextOpen[c] = r;
      c = next;
    }
    return r;
  };
  // Every anchor of a batch scores every hard negative in it: the texts each batch holds as positives and negatives.
  const positivesIn: Set<number>[] = [];
  const negativesIn: Set<number>[] = [];
  const clashes = (i: number, b: number) => negativesIn[b].has(pos[i]) || (neg[i] >= 0 && positivesIn[b].has(neg[i]));
  for (const i of order) {
    let b = open(Math.max(fromKey[key[i]], fromText[pos[i]]));
    if (withNegatives) while (b < batches.length && clashes(i, b)) b = open(b + 1);
    if (b === batches.length) {
      batches.push([]);
      nextOpen.push(b);
      if (withNegatives) positivesIn.push(new Set()), negativesIn.push(new Set());
    }
    batches[b].push(i);
    if (batches[b].length === batchSize) nextOpen[b] = b + 1;
    fromKey[key[i]] = b + 1;
    fromText[pos[i]] = b + 1;
    if (withNegatives) {
      positivesIn[b].add(pos[i]);
      if (neg[i] >= 0) negativesIn[b].add(neg[i]);
    }
  }
  const least = leastBatch(
    batches.map((b) => b.length),
    batchSize,
  );
  const leftovers = batches.filter((b) => b.length < least).flat();
  const kept = batches.filter((b) => b.length >= least);
  const apart = (i: number, j: number) => key[i] !== key[j] && pos[i] !== pos[j] && neg[i] !== pos[j] && neg[j] !== pos[i];
  const skipped = placeLeftovers(kept, leftovers, batchSize, apart, [key, pos]);
  return { batches: kept, skipped };
}

class Adam {
  readonly m: Float32Array;
  readonly v: Float32Array;
  constructor(readonly n: number) {
    this.m = new Float32Array(n);
    this.v = new Float32Array(n);
  }
}

const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;

/** One Adam step of dense weights; false when a weight is no longer finite. */
function adamDense(p: Float32Array, g: Float32Array, s: Adam, lr: number, wd: number, t: number): boolean {
  const c1 = 1 - B1 ** t;
  const c2 = 1 - B2 ** t;
  let finite = true;
  for (let i = 0; i < p.length; i++) {
    const m = (s.m[i] = B1 * s.m[i] + (1 - B1) * g[i]);
    const v = (s.v[i] = B2 * s.v[i] + (1 - B2) * g[i] * g[i]);
    p[i] -= lr * (m / c1 / (Math.sqrt(v / c2) + EPS) + wd * p[i]);
    if (!Number.isFinite(p[i])) finite = false;
  }
  return finite;
}

/** One Adam step of the table rows `rows`; false when a weight is no longer finite. */
function adamSparse(
  table: Float32Array,
  dim: number,
  rows: Int32Array,
  g: Float32Array,
  s: Adam,
  lr: number,
  wd: number,
  t: number,
): boolean {
  const c1 = 1 - B1 ** t;
  const c2 = 1 - B2 ** t;
  let finite = true;
  for (let u = 0; u < rows.length; u++) {
    const o = rows[u] * dim;
    const go = u * dim;
    for (let d = 0; d < dim; d++) {
      const i = o + d;
      const gi = g[go + d];
      const m = (s.m[i] = B1 * s.m[i] + (1 - B1) * gi);
      const v = (s.v[i] = B2 * s.v[i] + (1 - B2) * gi * gi);
      table[i] -= lr * (m / c1 / (Math.sqrt(v / c2) + EPS) + wd * table[i]);
      if (!Number.isFinite(table[i])) finite = false;
    }
  }
  return finite;
}

/** A new model's weights: table uniform(±0.1), heads identity + small noise, bias 0. */
export function initWeights(cfg: { buckets: number; dim: number; minN: number; maxN: number }, seed: number): LiteWeights {
  const random = rng(seed ^ 0x5eed);
  const table = new Float32Array(cfg.buckets * cfg.dim);
  for (let i = 0; i < table.length; i++) table[i] = (random() * 2 - 1) * 0.1;
  const head = () => {
    const weight = new Float32Array(cfg.dim * cfg.dim);
    for (let i = 0; i < weight.length; i++) weight[i] = (random() * 2 - 1) * 0.01;
    for (let d = 0; d < cfg.dim; d++) weight[d * cfg.dim + d] += 1;
    return { weight, bias: new Float32Array(cfg.dim) };
  };
  return {
    config: { format: 'jobbert-lite', version: 1, ...cfg, tableDtype: 'int8', sha256: { table: '', heads: '' } },
    table,
    heads: { anchor: head(), positive: head() },
  };
}

/** The checkpoint file holding the weights and the optimizer's moments. */
const STATE_TENSORS = 'lite-state.safetensors';

const view = (data: Float32Array, rows: number, cols: number): Matrix => ({ data, rows, cols });

/**
 * Every option trainLiteEncoder reads, checked before any file is read (a
 * bad one failed deep in a kernel after the data was read, or trained on:
 * a negative weightDecay or warmupSteps, a seed 'x', a positiveBranch 'foo'),
 * with the defaults filled in. Throws TypeError/RangeError naming the option.
 */
function liteSettings(fn: string, opts: LiteTrainOptions) {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw new TypeError(`${fn}: options must be an object; received ${describe(opts)}`);
  assertOptions(fn, opts, LITE_OPTIONS);
  if (opts.encoder !== undefined) assertChoice(fn, 'encoder', opts.encoder, ['lite'] as const);
  if (opts.device !== undefined) assertChoice(fn, 'device', opts.device, ['cpu', 'auto'] as const);
  if (opts.onEvent !== undefined && typeof opts.onEvent !== 'function')
    throw new TypeError(`${fn}: onEvent must be a function; received ${describe(opts.onEvent)}`);
  for (const name of ['data', 'out', 'model'] as const) {
    if (name === 'model' && opts.model === undefined) continue;
    if (typeof opts[name] !== 'string') throw new TypeError(`${fn}: ${name} must be a path string; received ${describe(opts[name])}`);
    if (opts[name] === '') throw new RangeError(`${fn}: ${name} must be a non-empty path string; received ''`);
  }
  const o = {
    epochs: opts.epochs ?? SHARED_TRAIN_DEFAULTS.epochs,
    batchSize: opts.batchSize ?? 256,
    lr: opts.lr ?? 2e-3,
    weightDecay: opts.weightDecay ?? 0,
    warmupSteps: opts.warmupSteps ?? 0,
    scale: opts.scale ?? SHARED_TRAIN_DEFAULTS.scale,
    symmetric: opts.symmetric ?? SHARED_TRAIN_DEFAULTS.symmetric,
    seed: opts.seed ?? SHARED_TRAIN_DEFAULTS.seed,
    positiveBranch: opts.positiveBranch ?? 'positive',
    keepCheckpoints: opts.keepCheckpoints ?? SHARED_TRAIN_DEFAULTS.keepCheckpoints,
    resume: opts.resume ?? SHARED_TRAIN_DEFAULTS.resume,
    keepDuplicates: opts.keepDuplicates ?? SHARED_TRAIN_DEFAULTS.keepDuplicates,
    config: { buckets: opts.buckets ?? 1 << 17, dim: opts.dim ?? 128, minN: opts.minN ?? 2, maxN: opts.maxN ?? 5 },
  };
  assertCommonTrainOptions(fn, { ...o, checkpointEvery: opts.checkpointEvery, onProgress: opts.onProgress });
  assertChoice(fn, 'positiveBranch', o.positiveBranch, ['anchor', 'positive'] as const);
  // Found now, not when lite.json is written after the whole run.
  assertJsonObject(fn, 'trainedWith', opts.trainedWith);
  if (opts.model === undefined) {
    const { buckets, dim, minN, maxN } = o.config;
    assertInteger(fn, 'buckets', buckets, 2, 2 ** 31); // the features hash into 31 bits
    if ((buckets & (buckets - 1)) !== 0) throw new RangeError(`${fn}: buckets must be a power of two; received ${buckets}`);
    assertInteger(fn, 'dim', dim, 1, 1 << 16);
    if (!Number.isInteger(minN) || !Number.isInteger(maxN) || minN < 1 || maxN < minN || maxN > 16)
      throw new RangeError(
        `${fn}: minN and maxN must be integers with 1 <= minN <= maxN <= 16; received ${describe(minN)} and ${describe(maxN)}`,
      );
    // The table and its two Adam moments, as float32: past this machine's memory it was an out-of-memory crash.
    const bytes = 12 * buckets * dim;
    if (bytes > totalmem())
      throw new RangeError(
        `${fn}: buckets × dim (${buckets} × ${dim}) needs ${(bytes / 2 ** 30).toFixed(1)} GiB for the embedding table and its optimizer state, more than this machine's ${(totalmem() / 2 ** 30).toFixed(1)} GiB; use fewer buckets or a smaller dim`,
      );
  }
  return o;
}

/**
 * Trains a LiteEncoder on the pairs in `opts.data` (JSON Lines; see
 * LiteTrainOptions) with in-batch InfoNCE, from `opts.model` or a new model,
 * and writes it to `opts.out` (checkpoints there too, with checkpointEvery).
 * A seed gives a bit-identical model. Async; resolves to { steps, losses, out }.
 * Rejects with TypeError/RangeError naming a bad option (before any file is
 * read); JobBERTError ERR_EXISTS for a non-empty `out` without `resume`,
 * ERR_NOT_FOUND / ERR_IO / ERR_BAD_FILE for the data, ERR_BAD_MODEL for
 * `model`, ERR_BAD_CHECKPOINT and ERR_RESUME_MISMATCH when resuming.
 */
export async function trainLiteEncoder(opts: LiteTrainOptions): Promise<{ steps: number; losses: number[]; out: string }> {
  const fn = 'trainLiteEncoder';
  const o = liteSettings(fn, opts);
  await assertOutUsable(fn, opts.out, o.resume);
  return withOutLock(fn, opts.out, () => trainLocked(fn, opts, o));
}

/** trainLiteEncoder, its options checked and its out directory locked. */
async function trainLocked(
  fn: string,
  opts: LiteTrainOptions,
  o: ReturnType<typeof liteSettings>,
): Promise<{ steps: number; losses: number[]; out: string }> {
  const { epochs, batchSize, lr, scale, symmetric, seed, positiveBranch, resume } = o;
  const wd = o.weightDecay;
  const warmup = o.warmupSteps;
  const keep = o.keepCheckpoints;
  const checkpointEvery = opts.checkpointEvery;

  const w = opts.model ? dequantizeModel(await readModel(opts.model)) : initWeights(o.config, seed);
  const { buckets: B, dim: D } = w.config;
  const fcfg: FeatureConfig = { buckets: B, minN: w.config.minN, maxN: w.config.maxN };

  const { pairs, stats } = await readPairs(opts.data, { keepDuplicates: o.keepDuplicates });
  // Features of every distinct text, once.
  const textId = new Map<string, number>();
  const texts: string[] = [];
  const idOf = (t: string) => {
    let i = textId.get(t);
    if (i === undefined) {
      i = texts.length;
      textId.set(t, i);
      texts.push(t);
    }
    return i;
  };
  const pa = pairs.map((p) => idOf(p.anchor));
  const pp = pairs.map((p) => idOf(p.positive));
  const pn = pairs.map((p) => (p.negative === undefined ? -1 : idOf(p.negative)));
  await callBack(opts.onEvent, { type: 'data', stats, texts: texts.length });
  const fb = new FeatureBatch(texts.length, 64);
  for (let t = 0; t < texts.length; t++) {
    appendFeatures(texts[t], fcfg, fb);
    fb.offsets[t + 1] = fb.length;
  }
  const allIds = fb.ids;
  const allOff = fb.offsets;

  const tableState = new Adam(B * D);
  const headState = { anchor: { w: new Adam(D * D), b: new Adam(D) }, positive: { w: new Adam(D * D), b: new Adam(D) } };
  const keys = batchKeys(pairs);
  /** Each epoch's batches, made as they are needed (all at once took memory by the epoch: 1e12 epochs ran out of heap). */
  function* plans() {
    const random = rng(seed);
    for (let e = 0; e < epochs; e++) yield makeBatches(keys, batchSize, random);
  }
  let steps = 0;
  let skippedPairs = 0;
  for (const { batches, skipped } of plans()) {
    steps += batches.length;
    skippedPairs += skipped;
  }
  if (steps === 0)
    throw new JobBERTError(
      'ERR_BAD_FILE',
      pairs.every((p) => p.group !== undefined && p.group === pairs[0].group)
        ? `${fn}: no batch can hold two pairs of different groups (in-batch negatives need them): every pair has the group '${pairs[0].group}'`
        : `${fn}: no batch can hold two of these pairs (in-batch negatives need them): pairs of one group never meet, nor a pair and another whose positive is its "negative"`,
    );
  if (skippedPairs > 0)
    process.emitWarning(
      `${fn}: ${skippedPairs} of ${pairs.length * epochs} pair(s) over ${epochs} epoch(s) were in no batch: every batch already held a pair of their group or with their positive${pairs.some((p) => p.negative !== undefined) ? ', or a pair whose positive is their negative (or whose negative is their positive)' : ''} (a smaller batchSize makes more batches)`,
      { code: 'JOBBERT_SKIPPED_PAIRS' },
    );
  let losses: number[] = [];
  let step = 0;
  const started = Date.now();
  let seen = 0;

  // ---- checkpoints: the whole state a step depends on (weights, moments, step), so a resume is bit for bit.
  // The run's recipe: in every checkpoint (a resume with another is refused) and in lite.json's trainedWith.
  const recipe = { epochs, batchSize, lr, weightDecay: wd, warmupSteps: warmup, scale, symmetric, seed, positiveBranch };
  const settings = {
    ...recipe,
    buckets: B,
    dim: D,
    minN: w.config.minN,
    maxN: w.config.maxN,
    model: opts.model ?? null,
    batchPlan: LITE_BATCH_PLAN_VERSION,
  };
  const dataSha = pairsDigest(pairs);
  const adams = (): Record<string, Adam> => ({
    table: tableState,
    'anchor.weight': headState.anchor.w,
    'anchor.bias': headState.anchor.b,
    'positive.weight': headState.positive.w,
    'positive.bias': headState.positive.b,
  });
  const stateTensors = (): Record<string, { shape: number[]; data: Float32Array }> => {
    const t: Record<string, { shape: number[]; data: Float32Array }> = {
      table: { shape: [B, D], data: w.table },
      'anchor.weight': { shape: [D, D], data: w.heads.anchor.weight },
      'anchor.bias': { shape: [D], data: w.heads.anchor.bias },
      'positive.weight': { shape: [D, D], data: w.heads.positive.weight },
      'positive.bias': { shape: [D], data: w.heads.positive.bias },
    };
    for (const [k, a] of Object.entries(adams())) {
      t[`${k}.exp_avg`] = { shape: [a.n], data: a.m };
      t[`${k}.exp_avg_sq`] = { shape: [a.n], data: a.v };
    }
    return t;
  };
  const checkpoint = async () => {
    await writeCheckpointDir(opts.out, step, async (dir) => {
      await writeFile(join(dir, STATE_TENSORS), safetensors(stateTensors()));
      const state = {
        format: 'jobbert-trainer-state',
        version: 1,
        kind: 'lite',
        step,
        steps,
        data: { sha256: dataSha, pairs: pairs.length },
        options: settings,
        losses,
      };
      await writeFile(join(dir, 'trainer_state.json'), JSON.stringify(state));
    });
    await pruneCheckpoints(opts.out, keep);
    await callBack(opts.onEvent, { type: 'checkpoint', step, dir: join(opts.out, `checkpoint-${step}`) });
  };
  if (resume) {
    const latest = (await listCheckpoints(opts.out)).at(-1);
    if (latest) {
      const badCheckpoint = (why: string, cause?: unknown) =>
        new JobBERTError('ERR_BAD_CHECKPOINT', `${fn}: checkpoint ${latest.dir}: ${why}`, cause === undefined ? undefined : { cause });
      let state: {
        format?: unknown;
        kind?: unknown;
        step?: unknown;
        options?: Record<string, unknown>;
        data?: { sha256?: unknown };
        losses?: unknown;
      };
      try {
        state = JSON.parse(await readFile(join(latest.dir, 'trainer_state.json'), 'utf8'));
      } catch (e) {
        throw badCheckpoint(`trainer_state.json cannot be read: ${(e as Error).message}`, e);
      }
      if (
        state?.format !== 'jobbert-trainer-state' ||
        state.kind !== 'lite' ||
        !Number.isInteger(state.step) ||
        !Array.isArray(state.losses)
      )
        throw badCheckpoint('trainer_state.json is not a LiteEncoder trainer state');
      assertSameBatchPlan(fn, latest.dir, state.options?.batchPlan, LITE_BATCH_PLAN_VERSION);
      // Other settings or data first: they also change the number of steps, which read as a damaged checkpoint.
      const diffs = settingsDiff(state.options ?? {}, settings);
      if (state.data?.sha256 !== dataSha) diffs.push(`the training pairs (${opts.data}) changed`);
      if (diffs.length > 0)
        throw new JobBERTError(
          'ERR_RESUME_MISMATCH',
          `${fn}: ${latest.dir} was made with other settings (${diffs.join('; ')}); resume with the same ones, or start a new out directory`,
        );
      // An edited or damaged step resumed where the weights are not from (exit 0), or failed inside a step.
      if (
        state.step !== latest.step ||
        state.step > steps ||
        (state.losses as unknown[]).length !== state.step ||
        !(state.losses as unknown[]).every((x) => typeof x === 'number' && Number.isFinite(x))
      )
        throw badCheckpoint(
          `trainer_state.json's step ${state.step} is not the checkpoint's (${latest.step}, of ${steps}), or its losses are not that many finite numbers`,
        );
      let saved: Record<string, { shape: number[]; data: Float32Array }>;
      try {
        saved = readSafetensors(await readFile(join(latest.dir, STATE_TENSORS)), latest.dir);
      } catch (e) {
        throw badCheckpoint((e as Error).message, e);
      }
      for (const [name, t] of Object.entries(stateTensors())) {
        const got = saved[name];
        if (!got || got.data.length !== t.data.length) throw badCheckpoint(`${STATE_TENSORS} lacks ${name} [${t.shape.join(', ')}]`);
        // A damaged weight was resumed from and trained into a model whose encode() then failed.
        if (!got.data.every(Number.isFinite)) throw badCheckpoint(`${STATE_TENSORS}'s ${name} holds a value that is not finite`);
        t.data.set(got.data);
      }
      step = state.step as number;
      losses = state.losses as number[];
      await callBack(opts.onEvent, { type: 'resume', step, dir: latest.dir });
    }
  }
  const resumedAt = step;

  let global = 0;
  for (const { batches: plan } of plans()) {
    for (const batch of plan) {
      if (global++ < resumedAt) continue; // done before the resume: the plan is a pure function of the seed
      step++;
      const n = batch.length;
      // The batch's hard negatives, after its anchors and positives: every anchor scores each of them.
      const withNegative = batch.filter((i) => pn[i] >= 0);
      const m = withNegative.length;
      const rows = 2 * n + m;
      // CSR of anchors, positives, then negatives.
      const rowsText = new Int32Array(rows);
      for (let i = 0; i < n; i++) {
        rowsText[i] = pa[batch[i]];
        rowsText[n + i] = pp[batch[i]];
      }
      for (let j = 0; j < m; j++) rowsText[2 * n + j] = pn[withNegative[j]];
      let total = 0;
      for (const t of rowsText) total += allOff[t + 1] - allOff[t];
      const ids = new Int32Array(total);
      const offsets = new Int32Array(rows + 1);
      let at = 0;
      for (let r = 0; r < rows; r++) {
        const t = rowsText[r];
        ids.set(allIds.subarray(allOff[t], allOff[t + 1]), at);
        at += allOff[t + 1] - allOff[t];
        offsets[r + 1] = at;
      }
      let base: Float32Array;
      try {
        base = addon.embeddingBagSync(w.table, D, ids, offsets);
      } catch (e) {
        // Every weight is finite (each update checks), so a sum past float32's range is the weights diverging.
        if (e instanceof RangeError && /NaN or Infinity/.test(e.message))
          throw new JobBERTError('ERR_DIVERGED', `${fn}: the embedding sums overflowed at step ${step + 1}; lower lr`, { cause: e });
        throw e;
      }
      const gradBase = new Float32Array(rows * D);
      const headGrads: { which: 'anchor' | 'positive'; gw: Float32Array; gb: Float32Array }[] = [];
      const part = (y: Matrix, from: number, count: number) => view(y.data.subarray(from * D, (from + count) * D), count, D);
      let loss: number;
      if (positiveBranch === 'anchor') {
        const h = w.heads.anchor;
        const x = view(base, rows, D);
        const wm = view(h.weight, D, D);
        const y = await kernels.dense(x, wm, h.bias, { activation: 'tanh', device: 'cpu' });
        const r = await kernels.infoNCE(part(y, 0, n), part(y, n, n), {
          scale,
          symmetric,
          device: 'cpu',
          ...(m > 0 ? { negatives: part(y, 2 * n, m) } : {}),
        });
        loss = r.loss;
        const gy = new Float32Array(rows * D);
        gy.set(r.gradAnchors.data, 0);
        gy.set(r.gradPositives.data, n * D);
        if (r.gradNegatives) gy.set(r.gradNegatives.data, 2 * n * D);
        const g = await kernels.denseBackward(x, wm, y, view(gy, rows, D), { activation: 'tanh', device: 'cpu' });
        gradBase.set(g.gradX.data);
        headGrads.push({ which: 'anchor', gw: g.gradWeight.data, gb: g.gradBias });
      } else {
        // The positives and negatives through the positive head, in one call (they share its weights).
        const xa = view(base.subarray(0, n * D), n, D);
        const xp = view(base.subarray(n * D), n + m, D);
        const ha = w.heads.anchor;
        const hp = w.heads.positive;
        const wa = view(ha.weight, D, D);
        const wp = view(hp.weight, D, D);
        const ya = await kernels.dense(xa, wa, ha.bias, { activation: 'tanh', device: 'cpu' });
        const yp = await kernels.dense(xp, wp, hp.bias, { activation: 'tanh', device: 'cpu' });
        const r = await kernels.infoNCE(ya, part(yp, 0, n), {
          scale,
          symmetric,
          device: 'cpu',
          ...(m > 0 ? { negatives: part(yp, n, m) } : {}),
        });
        loss = r.loss;
        const gyp = new Float32Array((n + m) * D);
        gyp.set(r.gradPositives.data, 0);
        if (r.gradNegatives) gyp.set(r.gradNegatives.data, n * D);
        const ga = await kernels.denseBackward(xa, wa, ya, r.gradAnchors, { activation: 'tanh', device: 'cpu' });
        const gp = await kernels.denseBackward(xp, wp, yp, view(gyp, n + m, D), { activation: 'tanh', device: 'cpu' });
        gradBase.set(ga.gradX.data, 0);
        gradBase.set(gp.gradX.data, n * D);
        headGrads.push(
          { which: 'anchor', gw: ga.gradWeight.data, gb: ga.gradBias },
          { which: 'positive', gw: gp.gradWeight.data, gb: gp.gradBias },
        );
      }
      const sparse = await addon.embeddingBagBackward(view(gradBase, rows, D), ids, offsets, B);
      const rate = lr * (step <= warmup ? step / Math.max(1, warmup) : Math.max(0, (steps - step + 1) / Math.max(1, steps - warmup)));
      if (!Number.isFinite(loss)) throw new JobBERTError('ERR_DIVERGED', `${fn}: the loss became ${loss} at step ${step}; lower lr`);
      // A finite loss can still carry a weight past float32's range (a huge lr): said here, not as the
      // next step's "table holds NaN or Infinity" (ERR_INTERNAL).
      let finite = adamSparse(w.table, D, sparse.ids, sparse.grads, tableState, rate, wd, step);
      for (const hg of headGrads) {
        finite = adamDense(w.heads[hg.which].weight, hg.gw, headState[hg.which].w, rate, wd, step) && finite;
        finite = adamDense(w.heads[hg.which].bias, hg.gb, headState[hg.which].b, rate, 0, step) && finite;
      }
      if (!finite) throw new JobBERTError('ERR_DIVERGED', `${fn}: a weight is no longer finite after step ${step}; lower lr`);
      losses.push(loss);
      seen += n;
      await callBack(opts.onProgress, { step, steps, loss, pairsPerSecond: seen / Math.max(1e-3, (Date.now() - started) / 1000) });
      if (checkpointEvery !== undefined && step % checkpointEvery === 0 && step < steps) await checkpoint();
    }
  }
  await writeModel(opts.out, {
    config: {
      buckets: B,
      dim: D,
      minN: w.config.minN,
      maxN: w.config.maxN,
      // The run's own figures last: trainedWith adds to them, it cannot replace them.
      trainedWith: {
        ...(opts.trainedWith ?? {}),
        pairs: pairs.length,
        ...recipe,
        steps,
      },
    },
    table: w.table,
    heads: w.heads,
  });
  return { steps, losses, out: opts.out };
}
