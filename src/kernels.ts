/**
 * `kernels`: the numeric core (dense layers, InfoNCE, top-k search) as async
 * functions over {@link Matrix} values. Work runs on native threads; the
 * arguments are copied before each call returns control, so callers may reuse
 * or transfer their buffers at once.
 */
import { addon, type MatrixArg } from './binding.js';
import { callerStack, callNative, fromNative, JobBERTError } from './errors.js';
import type { Matrix } from './matrix.js';
import { ResidentMatrix, type MatrixLike } from './resident.js';
import {
  assertBoolean,
  assertChoice,
  assertInteger,
  assertMatrix,
  assertOptions,
  assertPositive,
  assertVector,
} from './validate.js';

/** Where a kernel runs; `'auto'` is CUDA when this build and machine have it, else CPU. */
export type Device = 'cpu' | 'cuda' | 'auto';
/** Activation applied after a dense layer. */
export type Activation = 'identity' | 'tanh';
/** Similarity used by {@link topK}. */
export type Metric = 'cosine' | 'dot';
/** CPU instruction sets the kernels can use. */
export type Isa = 'portable' | 'avx2' | 'avx512';

const DEVICES: readonly Device[] = ['cpu', 'cuda', 'auto'];
const ACTIVATIONS: readonly Activation[] = ['identity', 'tanh'];
const METRICS: readonly Metric[] = ['cosine', 'dot'];
const ISAS: readonly Isa[] = ['portable', 'avx2', 'avx512'];

/** Backends this build and machine can run: `['cpu']` or `['cpu', 'cuda']`. Sync. */
export function backends(): string[] {
  return addon.backends();
}

/** What the CPU kernels run with: thread count, active and available instruction sets, CUDA devices. Sync. */
export function info(): { threads: number; isa: Isa; isas: Isa[]; backends: string[]; cudaDevices: string[] } {
  return {
    threads: addon.threads(),
    isa: addon.isa() as Isa,
    isas: addon.isas() as Isa[],
    backends: addon.backends(),
    cudaDevices: addon.cudaDevices(),
  };
}

/**
 * Sets the CPU worker threads (`0`: JOBBERT_THREADS or all cores) and/or forces
 * an instruction set (for comparisons; the best one is chosen by default).
 * Sync. Throws RangeError for a count outside [0, 256] or an unknown ISA, and
 * JobBERTError `ERR_UNAVAILABLE` for an ISA this CPU lacks.
 */
export function configure(opts: { threads?: number; isa?: Isa }): void {
  assertOptions('kernels.configure', opts);
  if (opts.threads !== undefined) {
    assertInteger('kernels.configure', 'threads', opts.threads, 0, 256);
    addon.threads(opts.threads);
  }
  if (opts.isa !== undefined) {
    assertChoice('kernels.configure', 'isa', opts.isa, ISAS);
    try {
      addon.isa(opts.isa);
    } catch (e) {
      throw fromNative(e, callerStack());
    }
  }
}

/**
 * Copies `m` into native memory once, for reuse across calls (a search corpus,
 * a layer's weights): every kernel accepts the result wherever it takes a
 * Matrix, without copying it again. Free it with `dispose()`. Sync.
 */
export function resident(m: Matrix): ResidentMatrix {
  return new ResidentMatrix(m);
}

/** Validates a matrix argument (plain or resident) and returns what the addon takes. */
function matrixArg(fn: string, name: string, m: unknown, opts: { rows?: number; cols?: number } = {}): MatrixArg {
  if (m instanceof ResidentMatrix) {
    const handle = m.handle(fn, name);
    if (opts.cols !== undefined && m.cols !== opts.cols) throw new RangeError(`${fn}: ${name}.cols must be ${opts.cols}; received ${m.cols}`);
    if (opts.rows !== undefined && m.rows !== opts.rows) throw new RangeError(`${fn}: ${name}.rows must be ${opts.rows}; received ${m.rows}`);
    return handle;
  }
  assertMatrix(fn, name, m, opts);
  return m as Matrix;
}

/** Resolves a Device option to the backend that will run the call. */
function resolveDevice(fn: string, device: unknown): 'cpu' {
  const d = device ?? 'auto';
  assertChoice(fn, 'device', d, DEVICES);
  if (d === 'cuda') {
    const why = addon.backends().includes('cuda')
      ? 'this version of jobbert has no CUDA implementation of this kernel yet'
      : 'no CUDA device is available to this build (it was built without CUDA, or no GPU or driver is present)';
    throw new JobBERTError('ERR_CUDA_UNAVAILABLE', `${fn}: device 'cuda' was requested but ${why}; use device 'cpu' or 'auto'`);
  }
  return 'cpu';
}

const shape = (data: Float32Array, rows: number, cols: number): Matrix => Object.freeze({ data, rows, cols });

/**
 * Dense layer `y = act(x · weightᵀ + bias)` with `weight` in [out, in] layout
 * (PyTorch / sentence-transformers). Async; resolves to a [x.rows × out] Matrix.
 * Rejects with TypeError/RangeError naming the argument for bad shapes or
 * NaN/Infinity, and JobBERTError for a device that is not available.
 */
export async function dense(
  x: MatrixLike,
  weight: MatrixLike,
  bias: Float32Array | null,
  opts: { activation?: Activation; device?: Device } = {},
): Promise<Matrix> {
  const fn = 'kernels.dense';
  const caller = callerStack();
  const xArg = matrixArg(fn, 'x', x);
  const wArg = matrixArg(fn, 'weight', weight, { cols: x.cols });
  if (bias !== null && bias !== undefined) assertVector(fn, 'bias', bias, weight.rows);
  assertOptions(fn, opts);
  const activation = opts.activation ?? 'identity';
  assertChoice(fn, 'activation', activation, ACTIVATIONS);
  resolveDevice(fn, opts.device);
  const y = await callNative(caller, () => addon.dense(xArg, wArg, bias ?? null, activation));
  return shape(y, x.rows, weight.rows);
}

/**
 * Gradients of {@link dense} given its output `y` and `gradY` = dL/dy. Async;
 * resolves to `{ gradX [rows × in], gradWeight [out × in], gradBias [out] }`.
 */
export async function denseBackward(
  x: MatrixLike,
  weight: MatrixLike,
  y: MatrixLike,
  gradY: MatrixLike,
  opts: { activation?: Activation; device?: Device } = {},
): Promise<{ gradX: Matrix; gradWeight: Matrix; gradBias: Float32Array }> {
  const fn = 'kernels.denseBackward';
  const caller = callerStack();
  const xArg = matrixArg(fn, 'x', x);
  const wArg = matrixArg(fn, 'weight', weight, { cols: x.cols });
  const yArg = matrixArg(fn, 'y', y, { rows: x.rows, cols: weight.rows });
  const gArg = matrixArg(fn, 'gradY', gradY, { rows: x.rows, cols: weight.rows });
  assertOptions(fn, opts);
  const activation = opts.activation ?? 'identity';
  assertChoice(fn, 'activation', activation, ACTIVATIONS);
  resolveDevice(fn, opts.device);
  const r = await callNative(caller, () => addon.denseBackward(xArg, wArg, yArg, gArg, activation));
  return {
    gradX: shape(r.gradX, x.rows, x.cols),
    gradWeight: shape(r.gradWeight, weight.rows, weight.cols),
    gradBias: r.gradBias,
  };
}

/**
 * InfoNCE (multiple-negatives ranking) loss and its gradients with respect to
 * the raw inputs. `s_ij = scale · cos(a_i, c_j)` over candidates c = positives
 * then negatives; `loss = mean_i [logsumexp_j s_ij − s_ii]`; `symmetric` also
 * scores each positive against the anchors and averages the two directions.
 * Memory stays O((B + N) · d): the B × (B + N) score matrix is never stored.
 * Async.
 */
export async function infoNCE(
  anchors: MatrixLike,
  positives: MatrixLike,
  opts: { scale?: number; symmetric?: boolean; negatives?: MatrixLike; device?: Device } = {},
): Promise<{ loss: number; gradAnchors: Matrix; gradPositives: Matrix; gradNegatives?: Matrix }> {
  const fn = 'kernels.infoNCE';
  const caller = callerStack();
  const aArg = matrixArg(fn, 'anchors', anchors);
  const pArg = matrixArg(fn, 'positives', positives, { rows: anchors.rows, cols: anchors.cols });
  assertOptions(fn, opts);
  const scale = opts.scale ?? 20;
  assertPositive(fn, 'scale', scale);
  const symmetric = opts.symmetric ?? false;
  assertBoolean(fn, 'symmetric', symmetric);
  const negatives = opts.negatives;
  const nArg = negatives === undefined ? null : matrixArg(fn, 'negatives', negatives, { cols: anchors.cols });
  resolveDevice(fn, opts.device);
  const r = await callNative(caller, () => addon.infoNCE(aArg, pArg, nArg, scale, symmetric));
  const out: { loss: number; gradAnchors: Matrix; gradPositives: Matrix; gradNegatives?: Matrix } = {
    loss: r.loss,
    gradAnchors: shape(r.gradAnchors, anchors.rows, anchors.cols),
    gradPositives: shape(r.gradPositives, positives.rows, positives.cols),
  };
  if (negatives !== undefined && r.gradNegatives) out.gradNegatives = shape(r.gradNegatives, negatives.rows, negatives.cols);
  return out;
}

/** Result of {@link topK}: row i holds query i's best `k` corpus rows, best first. */
export interface TopKResult {
  /** The k actually used (clamped to corpus.rows). */
  readonly k: number;
  /** [queries.rows × k] corpus row indices. */
  readonly indices: Int32Array;
  /** [queries.rows × k] similarities, descending per row. */
  readonly scores: Float32Array;
}

/**
 * Exact k-nearest corpus rows for each query by cosine (default) or dot
 * product; ties go to the lower index and k is clamped to corpus.rows. No
 * Q × N score matrix is built. Async.
 */
export async function topK(queries: MatrixLike, corpus: MatrixLike, k: number, opts: { metric?: Metric; device?: Device } = {}): Promise<TopKResult> {
  const fn = 'kernels.topK';
  const caller = callerStack();
  const qArg = matrixArg(fn, 'queries', queries);
  const cArg = matrixArg(fn, 'corpus', corpus, { cols: queries.cols });
  assertInteger(fn, 'k', k, 1);
  assertOptions(fn, opts);
  const metric = opts.metric ?? 'cosine';
  assertChoice(fn, 'metric', metric, METRICS);
  resolveDevice(fn, opts.device);
  const kUsed = Math.min(k, corpus.rows);
  const r = await callNative(caller, () => addon.topK(qArg, cArg, kUsed, metric));
  return { k: r.k, indices: r.indices, scores: r.scores };
}
