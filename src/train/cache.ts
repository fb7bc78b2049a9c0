/**
 * The on-disk embedding cache: pooled (base) vectors of texts under one frozen
 * encoder, computed once and reused by every later run. One folder per encoder
 * fingerprint holding
 *   vectors.f16  rows of `dim` float16 values, append-only;
 *   index.bin    20-byte entries [16 bytes of sha256(text)][u32 row], append-only;
 *   meta.json    { format, version, fingerprint, dim }.
 * Vectors are appended before their index entries and an entry pointing past
 * the end of vectors.f16 is ignored, so a crash mid-append loses at most the
 * rows being written, never the cache. Training reads rows back with
 * positioned reads (the page cache, not the heap, holds the vectors), which
 * keeps a run over millions of pairs within a few hundred MB of RSS.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../util/output-file.js';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { encodeHalf, halfTable } from './f16.js';
import { takePidLock } from '../util/pid-lock.js';
import { makeDirs } from '../util/make-dirs.js';

const ENTRY = 20;
const FORMAT = 'jobbert-embedding-cache';

/** The cache key of a text: 16 bytes of its UTF-8 sha256, base64. */
export function textKey(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest().subarray(0, 16).toString('base64');
}

/** The folder name for an encoder fingerprint (anything unsafe in a file name becomes '_'). */
export function cacheFolder(root: string, fingerprint: string): string {
  return join(root, fingerprint.replace(/[^\w.-]/g, '_'));
}

export class EmbeddingCache {
  readonly dir: string;
  readonly dim: number;
  readonly #rows = new Map<string, number>();
  #count: number;
  #fd: number | undefined;
  /** Gives the write lock back; null once release() has. */
  #unlock: (() => Promise<void>) | null;
  readonly #scratch: Uint16Array;

  private constructor(dir: string, dim: number, count: number, unlock: () => Promise<void>) {
    this.dir = dir;
    this.dim = dim;
    this.#count = count;
    this.#unlock = unlock;
    this.#scratch = new Uint16Array(dim);
  }

  /**
   * Opens (creating when needed) the cache for `fingerprint` under `root`,
   * taking its write lock; call release() once appends are done. Async.
   * Rejects with JobBERTError ERR_BUSY while another live process holds the
   * lock and ERR_BAD_CACHE for a cache of another dimension or format.
   */
  static async open(root: string, fingerprint: string, dim: number): Promise<EmbeddingCache> {
    const dir = cacheFolder(root, fingerprint);
    // A file in the way (--cache-dir FILE) was an uncaught ENOTDIR with its stack.
    await makeDirs(dir).catch((e: Error) => {
      throw new JobBERTError('ERR_IO', `cannot make the embedding cache folder ${dir}: ${e.message}`, { cause: e });
    });
    const unlock = await lock(dir);
    try {
      const metaPath = join(dir, 'meta.json');
      let meta: { format?: unknown; fingerprint?: unknown; dim?: unknown } | undefined;
      try {
        meta = JSON.parse(await readFile(metaPath, 'utf8'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') meta = {};
      }
      if (meta === undefined) {
        await rm(join(dir, 'vectors.f16'), { force: true });
        await rm(join(dir, 'index.bin'), { force: true });
        await writeFileAtomic(metaPath, JSON.stringify({ format: FORMAT, version: 1, fingerprint, dim }));
      } else if (meta.format !== FORMAT || meta.fingerprint !== fingerprint || meta.dim !== dim) {
        throw new JobBERTError(
          'ERR_BAD_CACHE',
          `embedding cache ${dir} belongs to another encoder or dimension (meta.json: ${JSON.stringify(meta)}); delete the folder to rebuild it`,
        );
      }
      const vectorBytes = await fileSize(join(dir, 'vectors.f16'));
      const rows = Math.floor(vectorBytes / (dim * 2));
      const cache = new EmbeddingCache(dir, dim, rows, unlock);
      let index: Buffer;
      try {
        index = await readFile(join(dir, 'index.bin'));
      } catch {
        index = Buffer.alloc(0);
      }
      for (let at = 0; at + ENTRY <= index.length; at += ENTRY) {
        const row = index.readUInt32LE(at + 16);
        if (row < rows) cache.#rows.set(index.subarray(at, at + 16).toString('base64'), row);
      }
      return cache;
    } catch (e) {
      await unlock();
      throw e;
    }
  }

  /** Rows stored. */
  get size(): number {
    return this.#count;
  }

  /** The row holding `key`'s vector, if cached. */
  row(key: string): number | undefined {
    return this.#rows.get(key);
  }

  /**
   * Appends `keys.length` vectors (rows of `vectors`, float32, rounded to
   * float16) and resolves to their rows. Async; needs the write lock.
   */
  async append(keys: string[], vectors: Float32Array): Promise<number[]> {
    if (!this.#unlock) throw new JobBERTError('ERR_INTERNAL', 'EmbeddingCache.append after release()');
    if (vectors.length !== keys.length * this.dim)
      throw new RangeError(`EmbeddingCache.append: vectors must hold ${keys.length} × ${this.dim} values; received ${vectors.length}`);
    const halves = new Uint16Array(vectors.length);
    encodeHalf(vectors, halves);
    const first = this.#count;
    await appendAt(join(this.dir, 'vectors.f16'), Buffer.from(halves.buffer), first * this.dim * 2);
    const entries = Buffer.alloc(keys.length * ENTRY);
    const rows = keys.map((key, i) => {
      Buffer.from(key, 'base64').copy(entries, i * ENTRY);
      entries.writeUInt32LE(first + i, i * ENTRY + 16);
      return first + i;
    });
    const indexPath = join(this.dir, 'index.bin');
    const indexBytes = await fileSize(indexPath);
    await appendAt(indexPath, entries, indexBytes - (indexBytes % ENTRY));
    keys.forEach((key, i) => this.#rows.set(key, first + i));
    this.#count += keys.length;
    return rows;
  }

  /** Gives up the write lock (reads go on). Async; idempotent. */
  async release(): Promise<void> {
    const unlock = this.#unlock;
    if (!unlock) return;
    this.#unlock = null;
    this.#rows.clear(); // lookups are done; the map is the cache's only large heap structure
    await unlock();
  }

  /** Reads rows `rows[i]` into out[(offset + i) · dim …] as float32. Sync (positioned reads). */
  readRows(rows: ArrayLike<number>, out: Float32Array, offset = 0): void {
    if (this.#fd === undefined) this.#fd = openSync(join(this.dir, 'vectors.f16'), 'r');
    const dim = this.dim;
    const half = this.#scratch;
    const bytes = new Uint8Array(half.buffer);
    const table = halfTable();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!(row >= 0 && row < this.#count))
        throw new JobBERTError('ERR_INTERNAL', `embedding cache row ${row} is out of range (${this.#count} rows)`);
      const got = readSync(this.#fd, bytes, 0, bytes.length, row * dim * 2);
      if (got !== bytes.length) throw new JobBERTError('ERR_BAD_CACHE', `${join(this.dir, 'vectors.f16')} is truncated at row ${row}`);
      const base = (offset + i) * dim;
      for (let j = 0; j < dim; j++) out[base + j] = table[half[j]];
    }
  }

  /** Releases the lock and closes the file. Async; idempotent. */
  async close(): Promise<void> {
    await this.release();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Writes `bytes` at `position` (truncating whatever a crash left beyond it) and flushes. */
async function appendAt(path: string, bytes: Buffer, position: number): Promise<void> {
  let file: FileHandle;
  try {
    file = await open(path, 'r+');
  } catch {
    file = await open(path, 'w+');
  }
  try {
    await file.truncate(position);
    await file.write(bytes, 0, bytes.length, position);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Takes the write lock of the cache folder `dir`; resolves to the function that gives it back. */
function lock(dir: string): Promise<() => Promise<void>> {
  return takePidLock(join(dir, 'lock'), {
    busy: (holder) =>
      new JobBERTError(
        'ERR_BUSY',
        holder === 'this process'
          ? `embedding cache ${dir} is being written by another training run in this process`
          : typeof holder === 'number'
            ? `embedding cache ${dir} is being written by process ${holder}; wait for it to finish encoding`
            : `embedding cache ${dir}: could not take its lock`,
      ),
    io: (e) => new JobBERTError('ERR_IO', `cannot lock the embedding cache ${dir}: ${e.message}`, { cause: e }),
  });
}
