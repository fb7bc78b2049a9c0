/**
 * train(): InfoNCE training of a JobBERT model's Asym heads on (title,
 * skills) pairs, with the transformer frozen. The pooled vectors of every
 * text come from the embedding cache (computed once per encoder); each step
 * runs both heads, InfoNCE with in-batch (and optional hard) negatives, the
 * backward pass and AdamW; checkpoints are sentence-transformers directories
 * that also carry what `resume` needs to continue bit for bit.
 * LiteEncoder training lives in ../lite/train.ts and is dispatched to.
 */
import { writeFileAtomic } from '../util/output-file.js';
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { JobBERTError } from '../errors.js';
import type { EvaluateResult } from '../eval/evaluate.js';
import * as kernels from '../kernels/index.js';
import { DEVICES, type Device } from '../kernels/index.js';
import { readTransformerConfig } from '../model/convert.js';
import { readLayout } from '../model/modules.js';
import { isLiteModel } from '../lite/io.js';
import { loadTalentCLEFTaskA, type TalentCLEFTaskA } from '../eval/trec.js';
import { assertChoice, assertInteger, assertOptions, describe } from '../util/validate.js';
import { baseFingerprint, openBaseEncoder } from './base-encoder.js';
import { BATCH_PLAN_VERSION, batchCount, epochState, planEpoch } from './batches.js';
import { EmbeddingCache, textKey } from './cache.js';
import {
  listCheckpoints,
  loadCheckpoint,
  loadHeads,
  materializeBase,
  planModel,
  publish,
  pruneCheckpoints,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { assertTrainable, readPairs, type PairData, type PairStats } from './data.js';
import { assertOutUsable, assertSameBatchPlan, withOutLock } from '../util/checkpoints.js';
import { callBack } from '../util/callback.js';
import {
  JOBBERT_ONLY_TRAIN_OPTIONS,
  LITE_ONLY_TRAIN_OPTIONS,
  SHARED_TRAIN_DEFAULTS,
  SHARED_TRAIN_OPTIONS,
  assertCommonTrainOptions,
  type SharedTrainOptions,
} from '../util/train-options.js';
import { adamwUpdate, learningRate, lossAndGradients, newOptimizerState, type Batch } from './step.js';
import { lossCurveSvg } from './svg.js';
import { validate, validationTexts } from './validation.js';

/** Progress after each step. */
export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  /** Pairs per second over the steps of this call so far. */
  pairsPerSecond: number;
}

/** Milestones other than steps, for logs and the CLI. */
export type TrainEvent =
  | { type: 'data'; stats: PairStats; texts: number }
  | { type: 'encode'; done: number; total: number; cached: number }
  | { type: 'resume'; step: number; dir: string }
  | { type: 'checkpoint'; step: number; dir: string }
  | { type: 'validation'; step: number; map: number; metrics: EvaluateResult };

/** train()'s options: those both trainers take (with their defaults) and JobBERT training's own. */
export interface TrainOptions extends SharedTrainOptions {
  /** A sentence-transformers dir (JobBERT) or a LiteEncoder dir to continue from. */
  model?: string;
  /** With no model: 'lite' starts a new LiteEncoder. Default 'jobbert'. */
  encoder?: 'jobbert' | 'lite';
  /** Default 'auto'. */
  device?: Device;
  /** A TalentCLEF Task A folder (queries, corpus_elements, qrels.tsv): MAP is measured during training. */
  validation?: string;
  onProgress?: (p: TrainProgress) => void;
  // ---- beyond the signature the README documents ----
  /** Minimum comma-separated skills in a positive (default 1). */
  minSkills?: number;
  /** Global gradient-norm clipping (default 1; 0 turns it off). */
  maxGradNorm?: number;
  /** Validate every this many steps (default checkpointEvery; always at the end). */
  validateEvery?: number;
  /** Embedding cache root (default $JOBBERT_CACHE/embeddings, else ~/.cache/jobbert/embeddings). */
  cacheDir?: string;
  onEvent?: (e: TrainEvent) => void;
}

export interface TrainResult {
  /** Steps done, in this call and before it when resumed. */
  steps: number;
  /** Loss of every step. */
  losses: number[];
  out: string;
}

const FN = 'train';
/** Every option train() takes: a misspelt one is refused (the record type makes the list complete). */
const TRAIN_OPTIONS = Object.keys({
  ...SHARED_TRAIN_OPTIONS,
  ...JOBBERT_ONLY_TRAIN_OPTIONS,
} satisfies Record<keyof TrainOptions, true>);
/** The options only LiteEncoder training takes (src/lite/train.ts checks them against its LiteTrainOptions). */
const LITE_ONLY_OPTIONS = Object.keys(LITE_ONLY_TRAIN_OPTIONS);
/** The options only JobBERT training takes, refused with encoder 'lite'. */
const JOBBERT_ONLY_OPTIONS = Object.keys(JOBBERT_ONLY_TRAIN_OPTIONS) as (keyof typeof JOBBERT_ONLY_TRAIN_OPTIONS)[];

/** The default embedding cache root. */
export function defaultCacheDir(): string {
  const root = process.env.JOBBERT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jobbert');
  return join(root, 'embeddings');
}

function assertPathOption(name: string, v: unknown, required: boolean): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'string') throw new TypeError(`${FN}: ${name} must be a path string; received ${describe(v)}`);
  if (v.length === 0) throw new RangeError(`${FN}: ${name} must be a non-empty path string; received ''`);
}

/** Checks every option; returns them with defaults filled in (warmupSteps stays undefined until the step count is known). */
function resolveOptions(opts: TrainOptions, lite: boolean) {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw new TypeError(`${FN}: options must be an object; received ${describe(opts)}`);
  assertOptions(FN, opts, lite ? [...TRAIN_OPTIONS, ...LITE_ONLY_OPTIONS] : TRAIN_OPTIONS);
  assertPathOption('data', opts.data, true);
  assertPathOption('out', opts.out, true);
  assertPathOption('model', opts.model, false);
  assertPathOption('validation', opts.validation, false);
  assertPathOption('cacheDir', opts.cacheDir, false);
  if (opts.encoder !== undefined) assertChoice(FN, 'encoder', opts.encoder, ['jobbert', 'lite'] as const);
  const o = {
    epochs: opts.epochs ?? SHARED_TRAIN_DEFAULTS.epochs,
    batchSize: opts.batchSize ?? 2048,
    lr: opts.lr ?? 5e-5,
    weightDecay: opts.weightDecay ?? 0.01,
    scale: opts.scale ?? SHARED_TRAIN_DEFAULTS.scale,
    symmetric: opts.symmetric ?? SHARED_TRAIN_DEFAULTS.symmetric,
    seed: opts.seed ?? SHARED_TRAIN_DEFAULTS.seed,
    device: opts.device ?? 'auto',
    resume: opts.resume ?? SHARED_TRAIN_DEFAULTS.resume,
    minSkills: opts.minSkills ?? 1,
    maxGradNorm: opts.maxGradNorm ?? 1,
    keepCheckpoints: opts.keepCheckpoints ?? SHARED_TRAIN_DEFAULTS.keepCheckpoints,
    keepDuplicates: opts.keepDuplicates ?? SHARED_TRAIN_DEFAULTS.keepDuplicates,
  };
  assertCommonTrainOptions(FN, { ...o, warmupSteps: opts.warmupSteps, checkpointEvery: opts.checkpointEvery, onProgress: opts.onProgress });
  assertChoice(FN, 'device', o.device, DEVICES);
  assertInteger(FN, 'minSkills', o.minSkills, 0, 1_000_000);
  if (typeof o.maxGradNorm !== 'number') throw new TypeError(`${FN}: maxGradNorm must be a number; received ${describe(o.maxGradNorm)}`);
  if (!(o.maxGradNorm >= 0 && Number.isFinite(o.maxGradNorm)))
    throw new RangeError(`${FN}: maxGradNorm must be a finite number ≥ 0 (0: no clipping); received ${describe(o.maxGradNorm)}`);
  if (opts.validateEvery !== undefined) {
    assertInteger(FN, 'validateEvery', opts.validateEvery, 1);
    if (opts.validation === undefined)
      throw new TypeError(
        `${FN}: validateEvery needs validation (a TalentCLEF Task A folder); received validateEvery ${opts.validateEvery} without it`,
      );
  }
  if (opts.onEvent !== undefined && typeof opts.onEvent !== 'function')
    throw new TypeError(`${FN}: onEvent must be a function; received ${describe(opts.onEvent)}`);
  return o;
}

/** Runs LiteEncoder training (src/lite/train.ts), or says it is not part of this build. */
async function trainLite(opts: TrainOptions): Promise<TrainResult> {
  // Options only JobBERT training reads: refused rather than silently ignored.
  const unused = JOBBERT_ONLY_OPTIONS.filter((k) => opts[k] !== undefined);
  if (unused.length)
    throw new TypeError(
      `${FN}: ${unused.join(', ')} ${unused.length > 1 ? 'are options' : 'is an option'} of JobBERT training, not of LiteEncoder training`,
    );
  if (opts.device === 'cuda')
    throw new RangeError(`${FN}: device must be 'cpu' or 'auto' for LiteEncoder training, which runs on the CPU; received 'cuda'`);
  const specifier = '../lite/train.js'; // not a literal: the module may not exist in this build
  let mod: { trainLiteEncoder?: (o: TrainOptions) => Promise<TrainResult> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /lite[\\/]train/.test((e as Error).message)) {
      throw new JobBERTError(
        'ERR_UNAVAILABLE',
        `${FN}: LiteEncoder training is not available in this build of jobbert; train a JobBERT (sentence-transformers) model instead`,
        { cause: e },
      );
    }
    throw e;
  }
  if (typeof mod.trainLiteEncoder !== 'function')
    throw new JobBERTError('ERR_UNAVAILABLE', `${FN}: LiteEncoder training is not available in this build of jobbert`);
  const result = await mod.trainLiteEncoder(opts);
  // As JobBERT training writes it (the CLI promised it for both).
  await writeFileAtomic(join(result.out, 'loss.svg'), lossCurveSvg(result.losses));
  return result;
}

/**
 * Trains the Asym heads of `opts.model` on the pairs in `opts.data` and writes
 * the model to `opts.out` (see TrainOptions for every option). Async; resolves
 * to { steps, losses, out }. Rejects with TypeError/RangeError for bad options;
 * JobBERTError ERR_NOT_FOUND / ERR_BAD_FILE for the data, ERR_BAD_MODEL for
 * the model, ERR_CUDA_UNAVAILABLE for device 'cuda' without CUDA, ERR_EXISTS
 * for a non-empty `out` without `resume`, ERR_RESUME_MISMATCH when the newest
 * checkpoint was made with other data or options, ERR_UNAVAILABLE for
 * LiteEncoder training in a build without it.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const liteModel = typeof opts?.model === 'string' && isLiteModel(opts.model);
  const lite = opts?.encoder === 'lite' || liteModel;
  const o = resolveOptions(opts, lite);
  if (opts.encoder === 'jobbert' && liteModel)
    throw new RangeError(
      `${FN}: encoder is 'jobbert', but model ${opts.model} is a LiteEncoder model (it holds lite.json): pass encoder 'lite', or a sentence-transformers model`,
    );
  if (lite) return trainLite(opts);
  if (opts.model === undefined)
    throw new TypeError(`${FN}: model must be a sentence-transformers model directory (or pass encoder: 'lite'); received undefined`);
  if (o.device === 'cuda' && !kernels.backends().includes('cuda')) {
    throw new JobBERTError(
      'ERR_CUDA_UNAVAILABLE',
      `${FN}: device 'cuda' was requested but no CUDA device is available to this build; use device 'cpu' or 'auto'`,
    );
  }
  const device: Device = o.device;
  if (device === 'cuda') {
    // fail now rather than after hours of encoding when a kernel lacks its CUDA version
    const one = { data: new Float32Array([1]), rows: 1, cols: 1 };
    await kernels.dense(one, one, null, { device });
  }
  const modelDir = resolve(opts.model);
  const out = resolve(opts.out);
  if (out === modelDir || out.startsWith(modelDir + sep) || modelDir.startsWith(out + sep)) {
    throw new RangeError(
      `${FN}: out must be a directory apart from the model (not inside it nor containing it); received ${describe(opts.out)} for model ${describe(opts.model)}`,
    );
  }
  const layout = await readLayout(modelDir);
  const hidden = (await readTransformerConfig(layout.transformerDir)).hiddenSize;
  const plan = await planModel(modelDir, layout); // early, so a model the trainer cannot train fails before any encoding
  const data = await readPairs(resolve(opts.data), { minSkills: o.minSkills, keepDuplicates: o.keepDuplicates });
  assertTrainable(opts.data, data);
  await callBack(opts.onEvent, { type: 'data', stats: data.stats, texts: data.texts.length });
  const epochs = planEpochs(opts.data, data, o);
  let valData: TalentCLEFTaskA | undefined;
  let valTexts: string[] = [];
  if (opts.validation !== undefined) {
    valData = await loadTalentCLEFTaskA(opts.validation);
    valTexts = validationTexts(valData);
  }

  await assertOutUsable(FN, out, o.resume);
  return withOutLock(FN, out, () => trainHeads(opts, o, { modelDir, layout, hidden, plan, data, epochs, valData, valTexts, out, device }));
}

/**
 * The batches of every epoch, fixed by (seed, epoch): how many each has.
 * Warns (JOBBERT_SKIPPED_PAIRS) of pairs no batch could take, and refuses
 * (ERR_BAD_FILE) data that makes no batch at all: every pair in one group,
 * none with a hard negative to learn from alone. Sync.
 */
function planEpochs(path: string, data: PairData, o: ReturnType<typeof resolveOptions>): { perEpoch: number[]; steps: number } {
  const n = data.anchors.length;
  const perEpoch: number[] = [];
  let skipped = 0;
  for (let e = 0; e < o.epochs; e++) {
    const epochPlan = planEpoch(data.positives, data.negatives, data.texts.length, o.batchSize, o.seed, e, data.groups);
    perEpoch.push(batchCount(epochPlan));
    skipped += epochPlan.skipped;
  }
  const steps = perEpoch.reduce((a, b) => a + b, 0);
  if (steps === 0)
    throw new JobBERTError(
      'ERR_BAD_FILE',
      `${FN}: ${path}: no batch can hold two pairs of different groups (in-batch negatives need them): every pair has the group '${data.groupNames[data.groups[0]]}'`,
    );
  if (skipped > 0)
    process.emitWarning(
      `${FN}: ${skipped} of ${n * o.epochs} pair(s) over ${o.epochs} epoch(s) were in no batch: every batch already held their positive or a pair of their group, and a pair alone has no negative to learn from (a smaller batchSize makes more batches)`,
      { code: 'JOBBERT_SKIPPED_PAIRS' },
    );
  return { perEpoch, steps };
}

/** What train() has read and checked before it locks its out directory. */
interface Prepared {
  modelDir: string;
  layout: Awaited<ReturnType<typeof readLayout>>;
  hidden: number;
  plan: Awaited<ReturnType<typeof planModel>>;
  data: PairData;
  epochs: ReturnType<typeof planEpochs>;
  valData: TalentCLEFTaskA | undefined;
  valTexts: string[];
  out: string;
  device: Device;
}

/** train() of JobBERT heads, its inputs read and its out directory locked. */
async function trainHeads(opts: TrainOptions, o: ReturnType<typeof resolveOptions>, p: Prepared): Promise<TrainResult> {
  const { modelDir, layout, hidden, data, valData, valTexts, out, device } = p;
  let { plan } = p;
  const emit = (e: TrainEvent) => callBack(opts.onEvent, e);

  // ---- base vectors: the cache has them, or they are computed once now
  const fingerprint = await baseFingerprint(layout);
  const cache = await EmbeddingCache.open(opts.cacheDir ?? defaultCacheDir(), fingerprint, hidden);
  let valBase = new Float32Array(0);
  const valRows = new Map<string, number>();
  let textRows: Int32Array;
  try {
    const all = valTexts.length ? [...data.texts, ...valTexts] : data.texts;
    const rows = new Int32Array(all.length);
    const missing: number[] = [];
    const keys = all.map((t, i) => {
      const key = textKey(t);
      const r = cache.row(key);
      if (r === undefined) missing.push(i);
      else rows[i] = r;
      return key;
    });
    await emit({ type: 'encode', done: 0, total: missing.length, cached: all.length - missing.length });
    if (missing.length > 0) {
      const base = await openBaseEncoder(modelDir, layout);
      try {
        const CHUNK = 1024;
        for (let at = 0; at < missing.length; at += CHUNK) {
          const ids = missing.slice(at, at + CHUNK);
          const vectors = await base.pooled(ids.map((i) => all[i]));
          const got = await cache.append(
            ids.map((i) => keys[i]),
            vectors,
          );
          ids.forEach((i, j) => (rows[i] = got[j]));
          await emit({
            type: 'encode',
            done: Math.min(at + CHUNK, missing.length),
            total: missing.length,
            cached: all.length - missing.length,
          });
        }
      } finally {
        await base.dispose();
      }
    }
    await cache.release();
    textRows = rows.subarray(0, data.texts.length);
    if (valTexts.length) {
      valBase = new Float32Array(valTexts.length * hidden);
      cache.readRows(rows.subarray(data.texts.length), valBase);
      valTexts.forEach((t, i) => valRows.set(t, i));
    }
  } catch (e) {
    await cache.close();
    throw e;
  }

  try {
    // ---- the batch plan of every epoch is fixed by (seed, epoch): planned in train(), before any encoding
    const n = data.anchors.length;
    const { perEpoch, steps } = p.epochs;
    const warmupSteps = opts.warmupSteps ?? Math.floor(steps * 0.1);
    const settings = {
      epochs: o.epochs,
      batchSize: o.batchSize,
      lr: o.lr,
      weightDecay: o.weightDecay,
      warmupSteps,
      scale: o.scale,
      symmetric: o.symmetric,
      seed: o.seed,
      minSkills: o.minSkills,
      maxGradNorm: o.maxGradNorm,
      // which batches (seed, epoch) give: a checkpoint of another plan would resume into other batches
      batchPlan: BATCH_PLAN_VERSION,
    };

    // Where the kernels run: device 'auto' takes CUDA when this build and machine have it.
    const backend = device === 'cpu' || !kernels.backends().includes('cuda') ? 'cpu' : 'cuda';
    const heads = await loadHeads(plan, layout, hidden, o.seed);
    const optimizer = newOptimizerState(heads);
    let losses: number[] = [];
    let validation: { step: number; map: number }[] = [];
    let step = 0;
    let epoch = 0;
    let stepInEpoch = 0;
    if (o.resume) {
      const latest = (await listCheckpoints(out)).at(-1);
      if (latest) {
        const state = await loadCheckpoint(latest.dir, plan, heads, optimizer);
        assertSameBatchPlan(FN, latest.dir, state.options.batchPlan, BATCH_PLAN_VERSION);
        const diffs = Object.entries(settings)
          .filter(([k, v]) => state.options[k] !== v)
          .map(([k, v]) => `${k} ${JSON.stringify(state.options[k])} → ${JSON.stringify(v)}`);
        if (state.data.sha256 !== data.sha256) diffs.push(`the training pairs (${opts.data}) changed`);
        if (state.baseFingerprint !== fingerprint)
          diffs.push(`the base model or its text preprocessing changed (base fingerprint ${state.baseFingerprint} → ${fingerprint})`);
        if (diffs.length > 0) {
          throw new JobBERTError(
            'ERR_RESUME_MISMATCH',
            `${FN}: ${latest.dir} was made with other settings (${diffs.join('; ')}); resume with the same ones, or start a new out directory`,
          );
        }
        // The step must be where (epoch, stepInEpoch) falls in this run's batch plan.
        const at = perEpoch.slice(0, state.epoch).reduce((a, b) => a + b, 0) + state.stepInEpoch;
        if (state.epoch > o.epochs || at !== state.step || (state.epoch < o.epochs && state.stepInEpoch >= perEpoch[state.epoch]))
          throw new JobBERTError(
            'ERR_BAD_CHECKPOINT',
            `checkpoint ${latest.dir}: trainer_state.json's step ${state.step} is not epoch ${state.epoch}, batch ${state.stepInEpoch} of this run's plan`,
          );
        // Not refused: moving a run between machines is legitimate. But CPU and CUDA kernels round differently.
        if (state.backend !== undefined && state.backend !== backend)
          process.emitWarning(
            `${FN}: ${latest.dir} was trained on ${state.backend === 'cuda' ? 'CUDA' : 'the CPU'} and resumes on ${backend === 'cuda' ? 'CUDA' : 'the CPU'}: the run goes on, but its model will not be bit for bit an uninterrupted run's (the kernels round differently)`,
            { code: 'JOBBERT_RESUME_BACKEND' },
          );
        ({ step, epoch, stepInEpoch } = state);
        losses = state.losses;
        validation = state.validation;
        await emit({ type: 'resume', step, dir: latest.dir });
      }
    }
    plan = await planModel(modelDir, layout); // again: encoding may have cached onnx/model.onnx in the model dir
    await materializeBase(plan, out);

    const snapshot = (): TrainerState => ({
      format: 'jobbert-trainer-state',
      version: 1,
      step,
      steps,
      epoch,
      stepInEpoch,
      rng: { algorithm: 'mulberry32', seed: o.seed, epoch, state: epochState(o.seed, epoch) },
      data: { path: resolve(opts.data), sha256: data.sha256, pairs: n },
      baseFingerprint: fingerprint,
      backend,
      options: settings,
      losses,
      validation,
    });
    const checkpoint = async () => {
      const dir = await saveCheckpoint(out, plan, heads, optimizer, snapshot());
      await pruneCheckpoints(out, o.keepCheckpoints);
      await emit({ type: 'checkpoint', step, dir });
      return dir;
    };
    const runValidation = async (): Promise<boolean> => {
      if (!valData || validation.some((v) => v.step === step)) return false;
      const metrics = await validate(valData, heads.anchor, valRows, valBase, hidden, step, device);
      validation.push({ step, map: metrics.map });
      await emit({ type: 'validation', step, map: metrics.map, metrics });
      return true;
    };
    const validateEvery = opts.validateEvery ?? opts.checkpointEvery;

    // ---- the loop
    const H = hidden;
    const started = performance.now();
    let pairsDone = 0;
    const gather = (order: Int32Array, from: number, to: number): Batch => {
      const B = to - from;
      const anchorRows = new Int32Array(B);
      const positiveRows = new Int32Array(B);
      const negativeRows: number[] = [];
      for (let k = 0; k < B; k++) {
        const i = order[from + k];
        anchorRows[k] = textRows[data.anchors[i]];
        positiveRows[k] = textRows[data.positives[i]];
        if (data.negatives[i] >= 0) negativeRows.push(textRows[data.negatives[i]]);
      }
      const N = negativeRows.length;
      const anchors = new Float32Array(B * H);
      const candidates = new Float32Array((B + N) * H);
      cache.readRows(anchorRows, anchors);
      cache.readRows(positiveRows, candidates);
      if (N > 0) cache.readRows(negativeRows, candidates, B);
      return { anchors: { data: anchors, rows: B, cols: H }, candidates: { data: candidates, rows: B + N, cols: H }, negatives: N };
    };
    let dirty = false; // anything to save that the newest checkpoint lacks
    while (step < steps) {
      const order = planEpoch(data.positives, data.negatives, data.texts.length, o.batchSize, o.seed, epoch, data.groups);
      const batches = batchCount(order);
      for (let b = stepInEpoch; b < batches; b++) {
        const batch = gather(order.order, order.starts[b], order.starts[b + 1]);
        const lr = learningRate(o.lr, step, steps, warmupSteps);
        const { loss, anchor, positive } = await lossAndGradients(heads, batch, { scale: o.scale, symmetric: o.symmetric, device });
        adamwUpdate(heads, { anchor, positive }, optimizer, lr, { weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm });
        losses.push(loss);
        step++;
        [epoch, stepInEpoch] = b + 1 === batches ? [epoch + 1, 0] : [epoch, b + 1];
        dirty = true;
        pairsDone += batch.anchors.rows;
        await callBack(opts.onProgress, {
          step,
          steps,
          loss,
          pairsPerSecond: pairsDone / Math.max(1e-9, (performance.now() - started) / 1000),
        });
        if (step < steps) {
          if (validateEvery !== undefined && step % validateEvery === 0) await runValidation();
          if (opts.checkpointEvery !== undefined && step % opts.checkpointEvery === 0) {
            await checkpoint();
            dirty = false;
          }
        }
      }
    }

    // ---- the end: final validation, final checkpoint, the model in out/, the loss curve
    if (await runValidation()) dirty = true;
    const saved = (await listCheckpoints(out)).find((c) => c.step === steps);
    const dir = saved && !dirty ? saved.dir : await checkpoint();
    await publish(out, plan, dir);
    await writeFileAtomic(join(out, 'loss.svg'), lossCurveSvg(losses, validation));
    return { steps, losses, out };
  } finally {
    await cache.close();
  }
}
