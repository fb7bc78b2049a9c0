/**
 * The options both trainers read (JobBERT's heads in src/train, the
 * LiteEncoder in src/lite), checked alike before any file is read.
 */
import { assertBoolean, assertInteger, assertPositive, describe } from './validate.js';

/**
 * The options both trainers take with one type and meaning: train()'s
 * TrainOptions and trainLiteEncoder's LiteTrainOptions extend it (train() with
 * encoder 'lite' passes them on, so a LiteEncoder gets its own defaults there
 * too). Where the trainers' defaults differ, each is given.
 */
export interface SharedTrainOptions {
  /** JSON Lines pairs {"anchor", "positive", "lang"?, "negative"?, "group"?}: pairs sharing a group or a positive never meet in one batch, nor a pair and one whose positive is its negative. */
  data: string;
  /** Output model dir, in the layout of the model trained. */
  out: string;
  /** Default 1. */
  epochs?: number;
  /** Pairs per step (default 2048, the paper's; a LiteEncoder's 256). */
  batchSize?: number;
  /** Peak learning rate (default 5e-5, the paper's; a LiteEncoder's 2e-3). */
  lr?: number;
  /** Decoupled (AdamW) weight decay on the weights, not biases (default 0.01; a LiteEncoder's 0). */
  weightDecay?: number;
  /** Linear warm-up steps (default 10% of all steps; a LiteEncoder's 0). */
  warmupSteps?: number;
  /** InfoNCE scale on cosine similarity (default 20). */
  scale?: number;
  /** Also the positives→anchors direction (default false). */
  symmetric?: boolean;
  /** Seed of the shuffles and of new weights (default 42). */
  seed?: number;
  /** Write out/checkpoint-<step> (weights, optimizer moments, trainer state) every this many steps; JobBERT training also writes one at the end. */
  checkpointEvery?: number;
  /** Continue from the newest checkpoint in `out` (from scratch when there is none); without it a non-empty `out` is ERR_EXISTS. */
  resume?: boolean;
  /** Checkpoints kept in `out` (default 2, JobBERT training's final one included). */
  keepCheckpoints?: number;
  /** Train on every copy of a pair (default false: exact duplicates are dropped, the paper's preprocessing). */
  keepDuplicates?: boolean;
}

/**
 * The options both trainers take, meaning the same in each. Records, not
 * arrays: each trainer spreads them into its own list of known options and
 * checks that against its options interface (`satisfies Record<keyof …, true>`),
 * so an option added to either interface must be listed here or beside it.
 */
export const SHARED_TRAIN_OPTIONS = {
  model: true,
  encoder: true,
  data: true,
  out: true,
  epochs: true,
  batchSize: true,
  lr: true,
  weightDecay: true,
  warmupSteps: true,
  scale: true,
  symmetric: true,
  seed: true,
  device: true,
  checkpointEvery: true,
  resume: true,
  keepCheckpoints: true,
  keepDuplicates: true,
  onProgress: true,
  onEvent: true,
} as const;

/** Options only JobBERT training reads: train() refuses them with encoder 'lite' rather than ignore them. */
export const JOBBERT_ONLY_TRAIN_OPTIONS = {
  validation: true,
  validateEvery: true,
  minSkills: true,
  maxGradNorm: true,
  cacheDir: true,
} as const;

/** Options only LiteEncoder training reads: train() passes them on with encoder 'lite'. */
export const LITE_ONLY_TRAIN_OPTIONS = {
  positiveBranch: true,
  buckets: true,
  dim: true,
  minN: true,
  maxN: true,
  trainedWith: true,
} as const;

/** Defaults both trainers share; batchSize, lr, weightDecay and warmupSteps are each trainer's own. */
export const SHARED_TRAIN_DEFAULTS = {
  epochs: 1,
  scale: 20,
  symmetric: false,
  seed: 42,
  keepCheckpoints: 2,
  resume: false,
  keepDuplicates: false,
} as const;

/** The largest InfoNCE scale: the kernels take it as float32, and beyond its range it was Infinity. */
const MAX_SCALE = 3.4028234663852886e38;

/** Options with their defaults filled in, except the optional ones. */
export interface CommonTrainOptions {
  epochs: unknown;
  batchSize: unknown;
  lr: unknown;
  weightDecay: unknown;
  scale: unknown;
  symmetric: unknown;
  seed: unknown;
  resume: unknown;
  keepCheckpoints: unknown;
  keepDuplicates: unknown;
  warmupSteps?: unknown;
  checkpointEvery?: unknown;
  onProgress?: unknown;
}

/** Throws TypeError/RangeError naming the first bad option of `o`, as `fn` does. */
export function assertCommonTrainOptions(fn: string, o: CommonTrainOptions): void {
  assertInteger(fn, 'epochs', o.epochs, 1, 1_000_000);
  assertInteger(fn, 'batchSize', o.batchSize, 2, 1 << 20); // in-batch negatives: a batch of one has none (loss 0, nothing learnt)
  assertPositive(fn, 'lr', o.lr);
  if (typeof o.weightDecay !== 'number') throw new TypeError(`${fn}: weightDecay must be a number; received ${describe(o.weightDecay)}`);
  if (!(o.weightDecay >= 0 && o.weightDecay < 1 / o.lr))
    throw new RangeError(
      `${fn}: weightDecay must be a finite number ≥ 0 and below 1/lr (${1 / o.lr} at lr ${o.lr}); received ${describe(o.weightDecay)}`,
    );
  assertPositive(fn, 'scale', o.scale);
  if (o.scale > MAX_SCALE) throw new RangeError(`${fn}: scale must be at most 3.4e38 (float32); received ${o.scale}`);
  assertBoolean(fn, 'symmetric', o.symmetric);
  assertInteger(fn, 'seed', o.seed, 0, 0xffffffff);
  assertBoolean(fn, 'resume', o.resume);
  assertBoolean(fn, 'keepDuplicates', o.keepDuplicates);
  assertInteger(fn, 'keepCheckpoints', o.keepCheckpoints, 1, 1_000_000);
  if (o.warmupSteps !== undefined) assertInteger(fn, 'warmupSteps', o.warmupSteps, 0);
  if (o.checkpointEvery !== undefined) assertInteger(fn, 'checkpointEvery', o.checkpointEvery, 1);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function')
    throw new TypeError(`${fn}: onProgress must be a function; received ${describe(o.onProgress)}`);
}
