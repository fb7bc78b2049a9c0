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
import { open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { encodeHalf, halfTable } from './f16.js';
import { processAlive } from '../util/process.js';
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
  #locked: boolean;
  readonly #scratch: Uint16Array;

  private constructor(dir: string, dim: number, count: number) {
    this.dir = dir;
    this.dim = dim;
    this.#count = count;
    this.#locked = true;
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
    await lock(dir);
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
        const tmp = `${metaPath}.${process.pid}.tmp`;
        await writeFile(tmp, JSON.stringify({ format: FORMAT, version: 1, fingerprint, dim }));
        await rename(tmp, metaPath);
      } else if (meta.format !== FORMAT || meta.fingerprint !== fingerprint || meta.dim !== dim) {
        throw new JobBERTError(
          'ERR_BAD_CACHE',
          `embedding cache ${dir} belongs to another encoder or dimension (meta.json: ${JSON.stringify(meta)}); delete the folder to rebuild it`,
        );
      }
      const vectorBytes = await fileSize(join(dir, 'vectors.f16'));
      const rows = Math.floor(vectorBytes / (dim * 2));
      const cache = new EmbeddingCache(dir, dim, rows);
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
      await unlock(dir);
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
    if (!this.#locked) throw new JobBERTError('ERR_INTERNAL', 'EmbeddingCache.append after release()');
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
    if (!this.#locked) return;
    this.#locked = false;
    this.#rows.clear(); // lookups are done; the map is the cache's only large heap structure
    await unlock(this.dir);
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

/** Cache folders this process holds the lock of (a pid check cannot tell two runs in one process apart). */
const heldHere = new Set<string>();

async function lock(dir: string): Promise<void> {
  const path = join(dir, 'lock');
  if (heldHere.has(dir))
    throw new JobBERTError('ERR_BUSY', `embedding cache ${dir} is being written by another training run in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      heldHere.add(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new JobBERTError('ERR_IO', `cannot lock the embedding cache ${dir}: ${(e as Error).message}`, { cause: e });
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new JobBERTError('ERR_BUSY', `embedding cache ${dir} is being written by process ${pid}; wait for it to finish encoding`);
      }
      await rm(path, { force: true }); // left by a process that died
    }
  }
  throw new JobBERTError('ERR_BUSY', `embedding cache ${dir}: could not take its lock`);
}

async function unlock(dir: string): Promise<void> {
  heldHere.delete(dir);
  await rm(join(dir, 'lock'), { force: true });
}
