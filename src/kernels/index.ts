/**
 * `kernels`: the numeric core (dense layers, InfoNCE, top-k search) as async
 * functions over {@link Matrix} values. Work runs on native threads (and on
 * the GPU when CUDA is available and the device option allows it); the
 * arguments are copied before each call returns control, so callers may reuse
 * or transfer their buffers at once. The one exception is dense's `out`
 * option, a buffer the call writes in place until its promise settles.
 */
import { markAsUntransferable } from 'node:worker_threads';
import { addon, type Backend, type MatrixArg, type NativeResident } from './binding.js';
import { DeviceMatrix, wrapDevice } from './device-matrix.js';
import { callerStack, callNative, fromNative, JobBERTError } from '../errors.js';
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
  describe,
} from '../util/validate.js';

/** Where a kernel runs; `'auto'` is CUDA when this build and machine have it, else CPU. */
export type Device = 'cpu' | 'cuda' | 'auto';
/**
 * What the GPU's multiplications use (inputs, outputs and accumulation are
 * float32 at every precision): `'fp32'` plain float32 (relative error ≈ 1e-6),
 * `'tf32'` tensor cores on 10-bit-mantissa operands (≈ 1e-3), `'bf16'` tensor
 * cores on 7-bit-mantissa operands (≈ 1e-2). The CPU always computes in
 * float32, which is at least as exact as any of them, and ignores the option.
 */
export type Precision = 'fp32' | 'tf32' | 'bf16';
/**
 * A matrix argument of the kernels: a plain {@link Matrix} (copied per call),
 * a {@link ResidentMatrix} (native memory, shared) or, for calls that run on
 * CUDA, a {@link DeviceMatrix} (GPU memory, used in place).
 */
export type KernelMatrix = MatrixLike | DeviceMatrix;
/** Activation applied after a dense layer. */
export type Activation = 'identity' | 'tanh';
/** Similarity used by {@link topK}. */
export type Metric = 'cosine' | 'dot';
/** CPU instruction sets the kernels can use. */
export type Isa = 'portable' | 'avx2' | 'avx512';

/** Every {@link Device}. */
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'auto'];
const PRECISIONS: readonly Precision[] = ['fp32', 'tf32', 'bf16'];
const ACTIVATIONS: readonly Activation[] = ['identity', 'tanh'];
const METRICS: readonly Metric[] = ['cosine', 'dot'];
const ISAS: readonly Isa[] = ['portable', 'avx2', 'avx512'];

/** Backends this build and machine can run: `['cpu']` or `['cpu', 'cuda']`. Sync. */
export function backends(): string[] {
  return addon.backends();
}

/**
 * What the kernels run with: thread count, active and available instruction
 * sets, the CPU GEMM's blocking (micro-kernel, KC, B block, and the per-core
 * cache sizes they were derived from), backends, CUDA devices, and
 * `cudaStatus` — `''` when the CUDA kernels can run, else the reason they
 * cannot. Sync.
 */
export function info(): {
  threads: number;
  isa: Isa;
  isas: Isa[];
  gemmBlocking: string;
  backends: string[];
  cudaDevices: string[];
  cudaStatus: string;
} {
  return {
    threads: addon.threads(),
    isa: addon.isa() as Isa,
    gemmBlocking: addon.gemmBlocking(),
    isas: addon.isas() as Isa[],
    backends: addon.backends(),
    cudaDevices: addon.cudaDevices(),
    cudaStatus: cudaUnavailable(),
  };
}

// Why CUDA cannot run ('' when it can); fixed for the life of the process.
let cudaReason: string | undefined;
function cudaUnavailable(): string {
  cudaReason ??= addon.cudaStatus();
  return cudaReason;
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
  if (m instanceof DeviceMatrix) {
    throw new JobBERTError(
      'ERR_DEVICE_MISMATCH',
      'kernels.resident: matrix is a DeviceMatrix (GPU memory); copy it back with `await matrix.toMatrix()` first',
    );
  }
  return new ResidentMatrix(m);
}

/**
 * Uploads `m` (a Matrix or ResidentMatrix) to GPU memory once, for reuse
 * across CUDA kernel calls without a copy per call (a search corpus, a
 * layer's weights). Async: the upload runs off the main thread, and a plain
 * Matrix is copied before this returns control. Free the result with
 * `dispose()`. Rejects with JobBERTError `ERR_CUDA_UNAVAILABLE` (with the
 * reason) when CUDA is unavailable, `ERR_OUT_OF_MEMORY` when the GPU is full,
 * `ERR_DISPOSED` for a disposed ResidentMatrix, RangeError for NaN/Infinity
 * values (checked during the upload) and TypeError/RangeError naming `matrix`
 * for anything that is not a valid matrix.
 */
export async function toDevice(m: MatrixLike): Promise<DeviceMatrix> {
  const fn = 'kernels.toDevice';
  const caller = callerStack();
  if (m instanceof DeviceMatrix)
    throw new TypeError(`${fn}: matrix must be a Matrix or ResidentMatrix; received a DeviceMatrix (it is in GPU memory already)`);
  let arg: Matrix | NativeResident;
  if (m instanceof ResidentMatrix) arg = m.handle(fn, 'matrix');
  else {
    assertMatrix(fn, 'matrix', m);
    arg = m;
  }
  const why = cudaUnavailable();
  if (why) throw new JobBERTError('ERR_CUDA_UNAVAILABLE', `${fn}: CUDA is unavailable: ${why}`);
  return wrapDevice(await callNative(caller, () => addon.toDevice(arg)));
}

function mismatch(fn: string, name: string, why: string): JobBERTError {
  return new JobBERTError(
    'ERR_DEVICE_MISMATCH',
    `${fn}: ${name} is a DeviceMatrix (GPU memory) but ${why}; pass device 'cuda' or 'auto', or call ${name}.toMatrix() to copy it back`,
  );
}

/** Validates a matrix argument (plain, resident or on the GPU) and returns what the addon takes. */
function matrixArg(fn: string, name: string, m: unknown, opts: { rows?: number; cols?: number } = {}): MatrixArg {
  if (m instanceof ResidentMatrix || m instanceof DeviceMatrix) {
    const handle = m.handle(fn, name);
    if (opts.cols !== undefined && m.cols !== opts.cols)
      throw new RangeError(`${fn}: ${name}.cols must be ${opts.cols}; received ${m.cols}`);
    if (opts.rows !== undefined && m.rows !== opts.rows)
      throw new RangeError(`${fn}: ${name}.rows must be ${opts.rows}; received ${m.rows}`);
    return handle;
  }
  assertMatrix(fn, name, m, opts);
  return m as Matrix;
}

/**
 * Validates the device and precision options and picks the backend: `'cuda'`
 * needs CUDA (ERR_CUDA_UNAVAILABLE with the reason otherwise); `'auto'` is
 * CUDA when available (and `cudaCan`, the call being within the GPU kernel's
 * limits), else the CPU; a DeviceMatrix operand of a call that runs on the
 * CPU is refused with ERR_DEVICE_MISMATCH.
 */
function resolveBackend(
  fn: string,
  opts: { device?: unknown; precision?: unknown },
  operands: Record<string, unknown>,
  cudaCan = true,
): { backend: Backend; precision: Precision } {
  const d = opts.device ?? 'auto';
  assertChoice(fn, 'device', d, DEVICES);
  const precision = opts.precision ?? 'fp32';
  assertChoice(fn, 'precision', precision, PRECISIONS);
  const onGpu = Object.keys(operands).find((name) => operands[name] instanceof DeviceMatrix);
  if (d === 'cuda' || (d === 'auto' && onGpu !== undefined)) {
    const why = cudaUnavailable();
    if (why)
      throw new JobBERTError(
        'ERR_CUDA_UNAVAILABLE',
        `${fn}: device 'cuda' was requested but CUDA is unavailable: ${why}; use device 'cpu' or 'auto'`,
      );
    return { backend: 'cuda', precision };
  }
  if (onGpu !== undefined) throw mismatch(fn, onGpu, `this call runs on the CPU (device '${d}')`);
  if (d === 'auto' && cudaCan && cudaUnavailable() === '') return { backend: 'cuda', precision };
  return { backend: 'cpu', precision };
}

const shape = (data: Float32Array, rows: number, cols: number): Matrix => Object.freeze({ data, rows, cols });

/** Options every kernel takes: where it runs and, on CUDA, at what precision. */
export interface DeviceOptions {
  /** `'auto'` (default): CUDA when available, else CPU. `'cuda'`: CUDA or JobBERTError `ERR_CUDA_UNAVAILABLE`. `'cpu'`: the CPU. */
  device?: Device;
  /** GPU multiplication precision (default `'fp32'`); see {@link Precision}. The CPU ignores it. */
  precision?: Precision;
}

/** Options of {@link dense}. */
export interface DenseOptions extends DeviceOptions {
  /** Applied after the bias (default `'identity'`). */
  activation?: Activation;
  /**
   * Where to write the result: a Float32Array of exactly `x.rows × weight.rows`
   * elements, on a plain ArrayBuffer, not overlapping `x`, `weight` or `bias`.
   * The kernel writes it in place from native threads and the result's `data`
   * is this array, so a caller that reuses one buffer across calls saves the
   * allocation and page faults of a new output. Like `fs.read`'s buffer, it
   * belongs to the call until the promise settles: do not read or write it
   * meanwhile. Its ArrayBuffer is marked untransferable (`worker_threads.markAsUntransferable`),
   * so a transfer cannot free memory the kernel is writing: Node 20 copies such
   * a buffer instead of transferring it, later versions refuse. When the call
   * rejects, its contents are unspecified.
   */
  out?: Float32Array;
}

/** Overlap of two views' bytes (same ArrayBuffer, intersecting ranges). */
function overlaps(a: Float32Array, b: Float32Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** Validates dense's `out` option: type, buffer kind, length and that it aliases no input. */
function assertOut(fn: string, out: unknown, length: number, inputs: Record<string, unknown>): asserts out is Float32Array {
  if (!(out instanceof Float32Array)) throw new TypeError(`${fn}: out must be a Float32Array; received ${describe(out)}`);
  if (typeof SharedArrayBuffer !== 'undefined' && out.buffer instanceof SharedArrayBuffer) {
    throw new TypeError(`${fn}: out must be a Float32Array on an ArrayBuffer; received one on a SharedArrayBuffer`);
  }
  if (out.length !== length) {
    const detached = out.buffer.byteLength === 0 ? ' (its buffer is detached)' : '';
    throw new RangeError(`${fn}: out must hold x.rows × weight.rows = ${length} elements; received ${out.length}${detached}`);
  }
  for (const [name, v] of Object.entries(inputs)) {
    const data = v instanceof Float32Array ? v : (v as { data?: unknown } | null)?.data;
    if (data instanceof Float32Array && overlaps(out, data)) {
      throw new RangeError(`${fn}: out must not overlap ${name}; received a view of the same memory (pass a separate buffer)`);
    }
  }
}

/**
 * Dense layer `y = act(x · weightᵀ + bias)` with `weight` in [out, in] layout
 * (PyTorch / sentence-transformers). Async; resolves to a [x.rows × out] Matrix
 * (its `data` is `opts.out` when given). Rejects with TypeError/RangeError
 * naming the argument for bad shapes, NaN/Infinity, a bad option or an `out`
 * of the wrong type or length or overlapping an input, and JobBERTError
 * `ERR_CUDA_UNAVAILABLE`, `ERR_DEVICE_MISMATCH` (a DeviceMatrix on a CPU
 * call), `ERR_DISPOSED` or `ERR_OUT_OF_MEMORY`.
 */
export async function dense(x: KernelMatrix, weight: KernelMatrix, bias: Float32Array | null, opts: DenseOptions = {}): Promise<Matrix> {
  const fn = 'kernels.dense';
  const caller = callerStack();
  const xArg = matrixArg(fn, 'x', x);
  const wArg = matrixArg(fn, 'weight', weight, { cols: x.cols });
  if (bias !== null && bias !== undefined) assertVector(fn, 'bias', bias, weight.rows);
  assertOptions(fn, opts);
  const activation = opts.activation ?? 'identity';
  assertChoice(fn, 'activation', activation, ACTIVATIONS);
  const out = opts.out;
  if (out !== undefined) assertOut(fn, out, x.rows * weight.rows, { x, weight, bias });
  const { backend, precision } = resolveBackend(fn, opts, { x, weight });
  // Native threads write `out` until the promise settles: a transfer (and GC of
  // the receiving side) must not free that memory under them.
  if (out !== undefined) markAsUntransferable(out.buffer);
  const y = await callNative(caller, () => addon.dense(xArg, wArg, bias ?? null, activation, backend, precision, out));
  return shape(y, x.rows, weight.rows);
}

/**
 * Gradients of {@link dense} given its output `y` and `gradY` = dL/dy. Async;
 * resolves to `{ gradX [rows × in], gradWeight [out × in], gradBias [out] }`.
 * Errors as {@link dense}.
 */
export async function denseBackward(
  x: KernelMatrix,
  weight: KernelMatrix,
  y: KernelMatrix,
  gradY: KernelMatrix,
  opts: { activation?: Activation } & DeviceOptions = {},
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
  const { backend, precision } = resolveBackend(fn, opts, { x, weight, y, gradY });
  const r = await callNative(caller, () => addon.denseBackward(xArg, wArg, yArg, gArg, activation, backend, precision));
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
 * Async. Errors as {@link dense}.
 */
export async function infoNCE(
  anchors: KernelMatrix,
  positives: KernelMatrix,
  opts: { scale?: number; symmetric?: boolean; negatives?: KernelMatrix } & DeviceOptions = {},
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
  const { backend, precision } = resolveBackend(fn, opts, { anchors, positives, negatives });
  const r = await callNative(caller, () => addon.infoNCE(aArg, pArg, nArg, scale, symmetric, backend, precision));
  const out: { loss: number; gradAnchors: Matrix; gradPositives: Matrix; gradNegatives?: Matrix } = {
    loss: r.loss,
    gradAnchors: shape(r.gradAnchors, anchors.rows, anchors.cols),
    gradPositives: shape(r.gradPositives, positives.rows, positives.cols),
  };
  if (negatives !== undefined && r.gradNegatives) out.gradNegatives = shape(r.gradNegatives, negatives.rows, negatives.cols);
  return out;
}

/** The largest k {@link topK} takes on CUDA. */
export const cudaMaxTopK: number = addon.cudaMaxTopK;

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
 * Q × N score matrix is built. Async. On CUDA k is at most
 * {@link cudaMaxTopK} (2048): device `'auto'` runs a larger k on the CPU,
 * device `'cuda'` refuses it with RangeError. Other errors as {@link dense}.
 */
export async function topK(
  queries: KernelMatrix,
  corpus: KernelMatrix,
  k: number,
  opts: { metric?: Metric } & DeviceOptions = {},
): Promise<TopKResult> {
  const fn = 'kernels.topK';
  const caller = callerStack();
  const qArg = matrixArg(fn, 'queries', queries);
  const cArg = matrixArg(fn, 'corpus', corpus, { cols: queries.cols });
  assertInteger(fn, 'k', k, 1);
  assertOptions(fn, opts);
  const metric = opts.metric ?? 'cosine';
  assertChoice(fn, 'metric', metric, METRICS);
  const kUsed = Math.min(k, corpus.rows);
  const { backend, precision } = resolveBackend(fn, opts, { queries, corpus }, kUsed <= cudaMaxTopK);
  if (backend === 'cuda' && kUsed > cudaMaxTopK) {
    throw new RangeError(`${fn}: k must be at most ${cudaMaxTopK} on CUDA; received ${k} (use device 'cpu' for a larger k)`);
  }
  const r = await callNative(caller, () => addon.topK(qArg, cArg, kUsed, metric, backend, precision));
  return { k: r.k, indices: r.indices, scores: r.scores };
}
