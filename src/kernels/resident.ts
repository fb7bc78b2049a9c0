/**
 * ResidentMatrix: a matrix held in native memory across kernel calls. Plain
 * Matrix arguments are copied on every call (so callers may reuse their
 * buffers); a resident one is copied once and then shared, which is what a
 * search corpus or a layer's weights want.
 *
 * Residents also load from and save to files without a second copy in memory
 * (fromFile, writeTo: 8 MiB chunks straight into/out of native memory, with a
 * checksum of the bytes; see {@link checksum}), and build new residents from
 * the rows of others (take, concat) without passing through JavaScript.
 */
import { addon, type MatrixArg, type NativeResident } from './binding.js';
import { callerStack, callNative, JobBERTError } from '../errors.js';
import type { Matrix } from './matrix.js';
import { assertInteger, assertMatrix, assertOptions, describe } from '../util/validate.js';

const MAX_DIM = 2 ** 31 - 1;
const CHECKSUM = /^[0-9a-fA-F]{16}$/;

// Set by wrap() for the one synchronous constructor call that adopts a native
// handle made by the addon (fromFile, take, concat); null otherwise, so
// `new ResidentMatrix(m)` keeps its one public meaning.
let adopting: NativeResident | null = null;

function wrap(native: NativeResident): ResidentMatrix {
  adopting = native;
  try {
    return new ResidentMatrix(null as unknown as Matrix);
  } finally {
    adopting = null;
  }
}

function assertPath(fn: string, name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`${fn}: ${name} must be a file path string; received ${describe(v)}`);
  if (v.length === 0) throw new RangeError(`${fn}: ${name} must be a non-empty file path; received ''`);
  if (v.includes('\0')) throw new RangeError(`${fn}: ${name} must not contain NUL characters; received ${describe(v)}`);
}

/** Where a matrix lies in a file: what `fromFile` (resident or int8) reads. */
export interface FileSlice {
  offset: number;
  rows: number;
  cols: number;
  /** The values' checksum64 as 16 hex digits, verified while reading; null reads unverified. */
  checksum: string | null;
}

/** Checks `fromFile`'s path and options; throws TypeError/RangeError naming the bad one. */
export function fileSliceArgs(fn: string, path: unknown, opts: unknown): FileSlice {
  assertPath(fn, 'path', path);
  if (opts === undefined || opts === null)
    throw new TypeError(`${fn}: options { rows, cols, offset?, checksum? } are required; received ${describe(opts)}`);
  assertOptions(fn, opts);
  const o = opts as { offset?: number; rows: number; cols: number; checksum?: string | null };
  const offset = o.offset ?? 0;
  assertInteger(fn, 'offset', offset, 0);
  assertInteger(fn, 'rows', o.rows, 1, MAX_DIM);
  assertInteger(fn, 'cols', o.cols, 1, MAX_DIM);
  const checksum = o.checksum ?? null;
  if (checksum !== null) {
    if (typeof checksum !== 'string')
      throw new TypeError(`${fn}: checksum must be a string of 16 hex digits; received ${describe(checksum)}`);
    if (!CHECKSUM.test(checksum)) throw new RangeError(`${fn}: checksum must be 16 hex digits; received ${describe(checksum)}`);
  }
  return { offset, rows: o.rows, cols: o.cols, checksum };
}

export class ResidentMatrix {
  readonly #native: NativeResident;

  /** Copies `m` into native memory. Sync. Throws TypeError/RangeError for a bad Matrix. */
  constructor(m: Matrix) {
    if (adopting !== null) {
      this.#native = adopting;
      adopting = null;
      return;
    }
    assertMatrix('kernels.resident', 'matrix', m);
    this.#native = new addon.ResidentMatrix(m);
  }

  /**
   * Reads `rows × cols` float32 values (little-endian, row-major) at byte
   * `offset` (default 0) of `path` straight into native memory. With
   * `checksum` (16 hex digits, as {@link checksum} and writeTo give), the bytes
   * read are verified. Async. Throws TypeError/RangeError naming a bad
   * argument; rejects with JobBERTError `ERR_IO` (cannot open/read: missing
   * file, permissions) or `ERR_CORRUPT` (the file is too short, or the checksum
   * does not match), and `ERR_OUT_OF_MEMORY`.
   */
  static async fromFile(
    path: string,
    opts: { offset?: number; rows: number; cols: number; checksum?: string | null },
  ): Promise<ResidentMatrix> {
    const caller = callerStack();
    const { offset, rows, cols, checksum } = fileSliceArgs('ResidentMatrix.fromFile', path, opts);
    const native = await callNative(caller, () => addon.residentFromFile(path, offset, rows, cols, checksum));
    return wrap(native);
  }

  /**
   * A new resident holding the rows of `parts` (Matrix or ResidentMatrix, all
   * of one width), stacked in order. Async; plain matrices are copied before
   * this returns. Throws TypeError/RangeError for bad parts or unequal widths,
   * JobBERTError `ERR_DISPOSED` for a disposed part.
   */
  static async concat(parts: (Matrix | ResidentMatrix)[]): Promise<ResidentMatrix> {
    const fn = 'ResidentMatrix.concat';
    const caller = callerStack();
    if (!Array.isArray(parts))
      throw new TypeError(`${fn}: parts must be an array of Matrix or ResidentMatrix; received ${describe(parts)}`);
    if (parts.length === 0) throw new RangeError(`${fn}: parts must hold at least one matrix; received an empty array`);
    const args: MatrixArg[] = [];
    let rows = 0;
    let cols = 0;
    parts.forEach((p, i) => {
      const name = `parts[${i}]`;
      if (p instanceof ResidentMatrix) args.push(p.handle(fn, name));
      else {
        assertMatrix(fn, name, p);
        args.push(p);
      }
      if (i === 0) cols = p.cols;
      else if (p.cols !== cols) throw new RangeError(`${fn}: ${name}.cols must be ${cols} (parts[0].cols); received ${p.cols}`);
      rows += p.rows;
    });
    if (rows > MAX_DIM) throw new RangeError(`${fn}: parts hold ${rows} rows in all, more than 2^31 - 1`);
    return wrap(await callNative(caller, () => addon.residentConcat(args)));
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

  /**
   * Writes the values (rows·cols float32, little-endian, row-major) at byte
   * `offset` of the existing file `path`, leaving its other bytes as they are;
   * resolves to their checksum (16 hex digits, see {@link checksum}). Does not
   * fsync. Async; disposing the matrix meanwhile is safe (the write keeps its
   * memory until it ends). Rejects with JobBERTError `ERR_IO` (missing file,
   * disk full) or `ERR_DISPOSED`, TypeError/RangeError for bad arguments.
   */
  async writeTo(path: string, offset: number): Promise<string> {
    const fn = 'ResidentMatrix.writeTo';
    const caller = callerStack();
    const native = this.#live(fn);
    assertPath(fn, 'path', path);
    assertInteger(fn, 'offset', offset, 0);
    return callNative(caller, () => native.writeTo(path, offset));
  }

  /**
   * A new resident holding the listed rows of this one, in that order
   * (repeats allowed). Async. Throws TypeError for a non-array, RangeError
   * naming `rows[i]` for an index outside [0, rows), JobBERTError `ERR_DISPOSED`.
   */
  async take(rows: Int32Array | number[]): Promise<ResidentMatrix> {
    const fn = 'ResidentMatrix.take';
    const caller = callerStack();
    const native = this.#live(fn);
    if (!(rows instanceof Int32Array) && !Array.isArray(rows)) {
      throw new TypeError(`${fn}: rows must be an Int32Array or an array of row indices; received ${describe(rows)}`);
    }
    if (rows.length === 0) throw new RangeError(`${fn}: rows must hold at least one row index; received ${describe(rows)}`);
    const n = native.rows;
    const indices = rows instanceof Int32Array ? rows : new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r >= n) {
        const err = typeof r === 'number' ? RangeError : TypeError;
        throw new err(`${fn}: rows[${i}] must be a row index in [0, ${n - 1}]; received ${describe(r)}`);
      }
      indices[i] = r;
    }
    return wrap(await callNative(caller, () => native.take(indices)));
  }

  /** A copy of the values as a plain {@link Matrix} (owned by JS). Async. Rejects with `ERR_DISPOSED`. */
  async toMatrix(): Promise<Matrix> {
    const fn = 'ResidentMatrix.toMatrix';
    const caller = callerStack();
    const native = this.#live(fn);
    const data = await callNative(caller, () => native.toFloat32Array());
    return Object.freeze({ data, rows: native.rows, cols: native.cols });
  }

  #live(fn: string): NativeResident {
    if (this.#native.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the ResidentMatrix was disposed`);
    return this.#native;
  }

  /** The native handle, for the kernels facade. Throws JobBERTError ERR_DISPOSED after dispose(). */
  handle(fn: string, name: string): NativeResident {
    if (this.#native.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: ${name} is a ResidentMatrix that was disposed`);
    return this.#native;
  }
}

/** A matrix argument: plain (copied per call) or resident (shared). */
export type MatrixLike = Matrix | ResidentMatrix;

/**
 * checksum64 of the view's bytes as 16 lowercase hex digits: CRC32C of each
 * 1 MiB block, combined with the length (definition in
 * native/include/jobbert/store.h; the same value ResidentMatrix.writeTo gives
 * for the bytes it writes). Sync: meant for headers and metadata. Throws
 * TypeError for anything but an ArrayBufferView.
 */
export function checksum(bytes: ArrayBufferView): string {
  if (!ArrayBuffer.isView(bytes))
    throw new TypeError(`checksum: bytes must be an ArrayBufferView (a typed array, Buffer or DataView); received ${describe(bytes)}`);
  return addon.checksum(bytes);
}
