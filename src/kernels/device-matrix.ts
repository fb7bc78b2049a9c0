/**
 * DeviceMatrix: a matrix held in GPU memory across CUDA kernel calls. A plain
 * Matrix or a ResidentMatrix passed to a CUDA call is copied to the GPU for
 * that call; a DeviceMatrix is uploaded once (`kernels.toDevice`) and then
 * used in place, which is what a search corpus or a layer's weights want on
 * a GPU.
 *
 * Only `kernels.toDevice()` makes one. It is accepted wherever a Matrix is by
 * `kernels.dense`, `denseBackward`, `infoNCE` and `topK` when they run on
 * CUDA (device `'cuda'`, or `'auto'` on a machine with CUDA); a call that runs
 * on the CPU refuses it with JobBERTError `ERR_DEVICE_MISMATCH`.
 */
import type { NativeDeviceMatrix } from './binding.js';
import { callerStack, callNative, JobBERTError } from '../errors.js';
import type { Matrix } from './matrix.js';

// Set by wrapDevice() for the one synchronous constructor call that adopts a
// native handle made by the addon; null otherwise, so `new DeviceMatrix()`
// from user code throws.
let adopting: NativeDeviceMatrix | null = null;

/** Wraps a native handle made by `addon.toDevice` (internal: for the kernels facade). */
export function wrapDevice(native: NativeDeviceMatrix): DeviceMatrix {
  adopting = native;
  try {
    return new DeviceMatrix();
  } finally {
    adopting = null;
  }
}

/**
 * A row-major float32 matrix in GPU memory, immutable once uploaded. Make one
 * with `await kernels.toDevice(m)`; free it with `dispose()` (or a `using`
 * declaration) rather than waiting for garbage collection, which does not see
 * GPU memory.
 */
export class DeviceMatrix {
  readonly #native: NativeDeviceMatrix;

  /**
   * Not public: use `kernels.toDevice(m)`, which uploads asynchronously.
   * Throws TypeError when called from user code.
   */
  constructor() {
    if (adopting === null) {
      throw new TypeError(
        'DeviceMatrix: cannot be constructed directly; use `await kernels.toDevice(matrix)` to upload a Matrix or ResidentMatrix to the GPU',
      );
    }
    this.#native = adopting;
    adopting = null;
  }

  /** Number of rows. */
  get rows(): number {
    return this.#native.rows;
  }

  /** Number of columns. */
  get cols(): number {
    return this.#native.cols;
  }

  /** True once dispose() has run; a disposed matrix is refused by every kernel (`ERR_DISPOSED`). */
  get disposed(): boolean {
    return this.#native.disposed;
  }

  /**
   * Frees the GPU memory now (a kernel call already running keeps it until it
   * ends, then frees it). Sync; idempotent.
   */
  dispose(): void {
    this.#native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The values copied back to host memory as a plain {@link Matrix}. Async.
   * Rejects with JobBERTError `ERR_DISPOSED` after dispose(), RangeError when
   * rows·cols exceeds 2^31 (one Float32Array's cap here).
   */
  async toMatrix(): Promise<Matrix> {
    const fn = 'DeviceMatrix.toMatrix';
    const caller = callerStack();
    if (this.#native.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the DeviceMatrix was disposed`);
    const native = this.#native;
    const data = await callNative(caller, () => native.toFloat32Array());
    return Object.freeze({ data, rows: native.rows, cols: native.cols });
  }

  /** The native handle, for the kernels facade. Throws JobBERTError ERR_DISPOSED after dispose(). */
  handle(fn: string, name: string): NativeDeviceMatrix {
    if (this.#native.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: ${name} is a DeviceMatrix that was disposed`);
    return this.#native;
  }
}
