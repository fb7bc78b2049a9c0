/**
 * ResidentMatrix: a matrix held in native memory across kernel calls. Plain
 * Matrix arguments are copied on every call (so callers may reuse their
 * buffers); a resident one is copied once and then shared, which is what a
 * search corpus or a layer's weights want.
 */
import { addon, type NativeResident } from './binding.js';
import { JobBERTError } from './errors.js';
import type { Matrix } from './matrix.js';
import { assertMatrix } from './validate.js';

export class ResidentMatrix {
  readonly #native: NativeResident;

  /** Copies `m` into native memory. Sync. Throws TypeError/RangeError for a bad Matrix. */
  constructor(m: Matrix) {
    assertMatrix('kernels.resident', 'matrix', m);
    this.#native = new addon.ResidentMatrix(m);
  }

  get rows(): number {
    return this.#native.rows;
  }

  get cols(): number {
    return this.#native.cols;
  }

  /** True once dispose() has run; a disposed matrix is refused by every kernel. */
  get disposed(): boolean {
    return this.#native.disposed;
  }

  /** Frees the native memory (calls already running keep it until they finish). Sync; idempotent. */
  dispose(): void {
    this.#native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The native handle, for the kernels facade. Throws JobBERTError ERR_DISPOSED after dispose(). */
  handle(fn: string, name: string): NativeResident {
    if (this.#native.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: ${name} is a ResidentMatrix that was disposed`);
    return this.#native;
  }
}

/** A matrix argument: plain (copied per call) or resident (shared). */
export type MatrixLike = Matrix | ResidentMatrix;
