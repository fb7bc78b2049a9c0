/**
 * Reader for the safetensors format (an 8-byte little-endian header length, a
 * JSON header mapping tensor names to { dtype, shape, data_offsets }, then the
 * raw little-endian data). The header is validated in full before any tensor
 * is read; tensors are read lazily, one at a time, and F16/BF16 are widened to
 * float32 (what onnxruntime and the kernels take).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { JobBERTError } from '../errors.js';

/** Element types this reader converts to float32. */
export type FloatDType = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

// A header bigger than this is corrupt, not a model (the real JobBERT-V3 header is ~20 KB).
const MAX_HEADER = 100 * 1024 * 1024;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range inside the data section. */
  readonly begin: number;
  readonly end: number;
}

/** A float32 tensor read from a safetensors file. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

function bad(path: string, why: string): JobBERTError {
  return new JobBERTError('ERR_BAD_MODEL', `safetensors file ${path} is invalid: ${why}`);
}

/** Parses and validates a header; throws ERR_BAD_MODEL naming `path`. Sync. Exported for tests. */
export function parseHeader(path: string, json: string, dataBytes: number): Map<string, TensorInfo> {
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch (e) {
    throw bad(path, `its header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(path, 'its header is not a JSON object');
  const out = new Map<string, TensorInfo>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof v !== 'object' || v === null) throw bad(path, `tensor ${name} has no description`);
    if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_BYTES))
      throw bad(path, `tensor ${name} has unknown dtype ${JSON.stringify(v.dtype)}`);
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(path, `tensor ${name} has a malformed shape`);
    const offsets = v.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(path, `tensor ${name} has malformed data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const numel = (v.shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end > dataBytes) throw bad(path, `tensor ${name} lies outside the file (bytes ${begin}..${end} of ${dataBytes})`);
    if (end - begin !== numel * DTYPE_BYTES[v.dtype]) {
      throw bad(
        path,
        `tensor ${name} holds ${end - begin} bytes but its shape [${(v.shape as number[]).join(', ')}] of ${v.dtype} needs ${numel * DTYPE_BYTES[v.dtype]}`,
      );
    }
    out.set(name, { name, dtype: v.dtype, shape: v.shape as number[], begin, end });
  }
  // Tensors must not share bytes: a write through one would change another, and it is never what a writer meant.
  const spans = [...out.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].begin < spans[i - 1].end)
      throw bad(path, `tensors ${spans[i - 1].name} and ${spans[i].name} overlap (bytes ${spans[i].begin}..${spans[i - 1].end})`);
  }
  return out;
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Widens raw little-endian F16 or BF16 bytes into float32. */
function toFloat32(bytes: Uint8Array, dtype: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / 2;
  const out = new Float32Array(n);
  if (dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
  } else {
    // bfloat16 is the upper half of a float32
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  }
  return out;
}

/** An open safetensors file. Close it with `close()`. */
export class SafeTensors {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** Total file size in bytes. */
  readonly size: number;
  readonly #file: FileHandle;
  readonly #dataStart: number;

  private constructor(path: string, file: FileHandle, tensors: Map<string, TensorInfo>, dataStart: number, size: number) {
    this.path = path;
    this.#file = file;
    this.tensors = tensors;
    this.#dataStart = dataStart;
    this.size = size;
  }

  /**
   * Opens and validates `path`. Async. Rejects with JobBERTError ERR_NOT_FOUND
   * for a missing file and ERR_BAD_MODEL for a corrupt header.
   */
  static async open(path: string): Promise<SafeTensors> {
    let file: FileHandle;
    try {
      file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new JobBERTError('ERR_NOT_FOUND', `safetensors file ${path} cannot be opened: ${(e as Error).message}`, { cause: e });
    }
    try {
      const st = await file.stat();
      if (!st.isFile()) throw bad(path, `it is ${st.isDirectory() ? 'a directory' : 'not a regular file'}`);
      const size = st.size;
      if (size < 8) throw bad(path, `it is ${size} bytes long, shorter than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      await file.read(lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(Math.min(MAX_HEADER, size - 8)))
        throw bad(path, `its header length ${headerLen} exceeds the file (${size} bytes)`);
      const n = Number(headerLen);
      const headerBuf = Buffer.alloc(n);
      await file.read(headerBuf, 0, n, 8);
      const tensors = parseHeader(path, headerBuf.toString('utf8'), size - 8 - n);
      return new SafeTensors(path, file, tensors, 8 + n, size);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /**
   * Reads tensor `name` as float32, checking its shape when `shape` is given.
   * Async. Rejects with ERR_BAD_MODEL for a missing tensor, a wrong shape or a
   * non-float dtype.
   */
  async read(name: string, shape?: readonly number[]): Promise<Tensor> {
    const info = this.tensors.get(name);
    const file = basename(this.path);
    if (!info) throw new JobBERTError('ERR_BAD_MODEL', `${this.path}: tensor ${name} is missing`);
    if (shape && (shape.length !== info.shape.length || shape.some((d, i) => d !== info.shape[i]))) {
      throw new JobBERTError(
        'ERR_BAD_MODEL',
        `${this.path}: tensor ${name} has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}]`,
      );
    }
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new JobBERTError(
        'ERR_BAD_MODEL',
        `${file}: tensor ${name} has dtype ${info.dtype}; only F32, F16 and BF16 weights are supported`,
      );
    }
    const length = info.end - info.begin;
    // F32 is read straight into the result (no second copy of a 768 MB embedding table)
    const out = info.dtype === 'F32' ? new Float32Array(length / 4) : undefined;
    const bytes = out ? new Uint8Array(out.buffer) : Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#file.read(bytes, done, Math.min(length - done, 1 << 30), this.#dataStart + info.begin + done);
      if (bytesRead === 0) throw bad(this.path, `tensor ${name} is truncated`);
      done += bytesRead;
    }
    return { shape: info.shape, data: out ?? toFloat32(bytes, info.dtype) };
  }

  /** Closes the file. Async. */
  async close(): Promise<void> {
    await this.#file.close();
  }
}

/** Opens `path`, runs `fn`, and closes the file whatever happens. Async. */
export async function withSafeTensors<T>(path: string, fn: (st: SafeTensors) => Promise<T>): Promise<T> {
  const st = await SafeTensors.open(path);
  try {
    return await fn(st);
  } finally {
    await st.close();
  }
}

// --- writer (appended; its imports sit here so the reader above stays untouched) ---
import { rename as renameFile, unlink as unlinkFile } from 'node:fs/promises';

/** A float32 tensor to write: `data` holds the product of `shape` elements, row-major. */
export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Serialises float32 tensors as safetensors bytes (header padded with spaces
 * to a multiple of 8, as the Rust implementation does; tensors in the order
 * given, little-endian). Sync. Throws RangeError when a tensor's data does not
 * match its shape.
 */
export function encodeSafeTensors(
  tensors: ReadonlyMap<string, TensorToWrite>,
  metadata: Record<string, string> = { format: 'pt' },
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.data instanceof Float32Array) || t.data.length !== numel) {
      throw new RangeError(
        `encodeSafeTensors: tensor ${name} must hold ${numel} float32 values for shape [${t.shape.join(', ')}]; received ${t.data?.length}`,
      );
    }
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  for (const t of tensors.values()) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (littleEndian) out.set(bytes, at);
    else for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i], at + 4 * i);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Writes float32 tensors to `path` as safetensors, atomically (a temporary
 * file beside it, flushed, then renamed over `path`). Async.
 */
export async function writeSafeTensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = encodeSafeTensors(tensors, metadata);
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await renameFile(tmp, path);
  } catch (e) {
    await unlinkFile(tmp).catch(() => undefined);
    throw e;
  }
}
