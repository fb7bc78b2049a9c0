/**
 * The MatchIndex file format, version 1. All integers little-endian.
 *
 *   offset 0   8 bytes   magic "JBINDEX\0"
 *   offset 8   u32       format version (1)
 *   offset 12  u32       header length H in bytes
 *   offset 16  16 bytes  checksum of the header, 16 ASCII hex digits
 *   offset 32  H bytes   header, UTF-8 JSON (below)
 *   then, each at a 64-byte-aligned offset named in the header: every
 *   partition's vectors (rows × dim float32, row-major), then the entries
 *   segment (UTF-8 JSON: [[id, text, lang?], ...] in entry order).
 *
 * Header: { format, version, dim, count, metric: 'cosine', storage: 'fp32',
 *   fingerprint, encoder (a spec to rebuild it, or null), fileBytes, entries: { offset, bytes, checksum },
 *   partitions: [{ lang, rows: number[] (entry numbers), offset, count, checksum }] }.
 * Checksums are jobbert's checksum64 (native/include/jobbert/store.h) as hex.
 * Loading verifies the magic, version, header checksum, file size and every
 * segment's checksum before anything is returned. With storage 'int8' the
 * partitions' vectors are streamed into QuantizedMatrix codes instead (the
 * checksums verified the same way), and the file is kept open for re-scoring.
 */
import { constants } from 'node:buffer';
import { constants as fsConstants, existsSync } from 'node:fs';
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { JobBERTError } from '../errors.js';
import type { EncoderSpec } from '../encoders/encoder.js';
import type { MatchEntry } from './match-index.js';
import { QuantizedMatrix } from './quantized.js';
import { checksum, ResidentMatrix } from '../kernels/resident.js';
import { replaceableTarget } from '../util/output-file.js';
import { removeLeftovers } from '../util/process.js';

export const MAGIC = Buffer.from('JBINDEX\0', 'latin1');
export const FORMAT_VERSION = 1;
const PREAMBLE = 32;
const ALIGN = 64;
const ZERO_SUM = '0'.repeat(16);

export interface IndexFileContents {
  dim: number;
  fingerprint: string;
  encoder: EncoderSpec | null;
  entries: MatchEntry[];
  partitions: { lang: string; vectors: ResidentMatrix; rows: Int32Array }[];
}

interface Header {
  format: 'jobbert-index';
  version: number;
  dim: number;
  count: number;
  metric: 'cosine';
  storage: 'fp32';
  fingerprint: string;
  encoder: EncoderSpec | null;
  fileBytes: number;
  entries: { offset: number; bytes: number; checksum: string };
  partitions: { lang: string; rows: number[]; offset: number; count: number; checksum: string }[];
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Writes contents to `path` atomically: a temp file beside it, fsync, rename, fsync the folder. */
export async function writeIndexFile(fn: string, path: string, contents: IndexFileContents): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`${fn}: path must be a non-empty string; received ${typeof path}`);
  const entriesJson = Buffer.from(
    JSON.stringify(contents.entries.map((e) => (e.lang === undefined ? [e.id, e.text] : [e.id, e.text, e.lang]))),
    'utf8',
  );
  const header: Header = {
    format: 'jobbert-index',
    version: FORMAT_VERSION,
    dim: contents.dim,
    count: contents.entries.length,
    metric: 'cosine',
    storage: 'fp32',
    fingerprint: contents.fingerprint,
    encoder: contents.encoder,
    fileBytes: 0,
    entries: { offset: 0, bytes: entriesJson.length, checksum: checksum(entriesJson) },
    partitions: contents.partitions.map((p) => ({
      lang: p.lang,
      rows: Array.from(p.rows),
      offset: 0,
      count: p.rows.length,
      checksum: ZERO_SUM,
    })),
  };
  // Offsets depend on the header's length, which depends on the offsets' digits:
  // iterate until stable (two rounds at most in practice).
  let headerBytes = Buffer.alloc(0);
  for (let round = 0; round < 8; round++) {
    let at = align(PREAMBLE + headerBytes.length);
    for (const p of header.partitions) {
      p.offset = at;
      at = align(at + p.count * contents.dim * 4);
    }
    header.entries.offset = at;
    header.fileBytes = at + entriesJson.length;
    const next = Buffer.from(JSON.stringify(header), 'utf8');
    if (next.length === headerBytes.length) {
      headerBytes = next;
      break;
    }
    headerBytes = next;
  }

  // (A folder is refused: its temp file would go in the folder's parent.)
  const target = await replaceableTarget(fn, path, 'the index');
  const dir = dirname(target);
  await removeOrphanTemps(dir, basename(target));
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let file;
  try {
    file = await open(temp, 'wx');
  } catch (e) {
    throw ioError(fn, path, e, true);
  }
  try {
    // Vectors first (their checksums go into the header), straight from native memory.
    for (let i = 0; i < header.partitions.length; i++) {
      header.partitions[i].checksum = await contents.partitions[i].vectors.writeTo(temp, header.partitions[i].offset);
    }
    const finalHeader = Buffer.from(JSON.stringify(header), 'utf8');
    if (finalHeader.length !== headerBytes.length) throw new JobBERTError('ERR_INTERNAL', `${fn}: header length changed while writing`);
    const preamble = Buffer.alloc(PREAMBLE);
    MAGIC.copy(preamble, 0);
    preamble.writeUInt32LE(FORMAT_VERSION, 8);
    preamble.writeUInt32LE(finalHeader.length, 12);
    preamble.write(checksum(finalHeader), 16, 'latin1');
    await file.write(preamble, 0, PREAMBLE, 0);
    await file.write(finalHeader, 0, finalHeader.length, PREAMBLE);
    await file.write(entriesJson, 0, entriesJson.length, header.entries.offset);
    await file.truncate(header.fileBytes);
    await file.sync();
    await file.close();
    file = undefined;
    await rename(temp, target);
  } catch (e) {
    await file?.close().catch(() => {});
    await rm(temp, { force: true }).catch(() => {});
    throw e instanceof JobBERTError ? e : ioError(fn, path, e);
  }
  // Make the rename itself durable.
  try {
    const d = await open(dir, 'r');
    await d.sync().catch(() => {});
    await d.close();
  } catch {
    // Some platforms cannot open a folder; the data is already synced.
  }
}

/**
 * Removes the temp files that saves to the same path left behind when their
 * process was killed (`.NAME.PID.HEX.tmp` whose PID is no longer running).
 * A temp file of a live process, this one included, is another save in
 * progress and is left alone. Best effort: a failure here never fails a save.
 */
function removeOrphanTemps(dir: string, name: string): Promise<void> {
  const prefix = `.${name}.`;
  return removeLeftovers(dir, (n) => {
    const m = n.startsWith(prefix) ? /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(n.slice(prefix.length)) : null;
    return m ? Number(m[1]) : undefined;
  });
}

/** How a loaded index holds its vectors: float32, or int8 codes with exact re-scoring from the file. */
export type Storage = 'fp32' | 'int8';

/**
 * The longest JSON segment (header or entries) a reader accepts: V8's longest
 * string, since the bytes become one. A length field past it (or past the
 * file) is refused before anything is allocated or read.
 */
const MAX_JSON_BYTES = constants.MAX_STRING_LENGTH;
const CHECKSUM = /^[0-9a-f]{16}$/;
/** The widest vectors a file may hold (JobBERT-V3's are 1,024). */
const MAX_DIM = 1 << 20;

type Corrupt = (why: string) => JobBERTError;

/**
 * Opens `path` for reading without blocking on a FIFO or device, and refuses
 * anything but a regular file (ERR_IO): an index path that names a pipe would
 * otherwise wait for a writer forever. Resolves with the open file and its size.
 */
async function openRegular(fn: string, path: string): Promise<{ file: FileHandle; size: number }> {
  let file: FileHandle;
  try {
    file = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    throw ioError(fn, path, e);
  }
  try {
    const st = await file.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new JobBERTError('ERR_IO', `${fn}: ${path} is ${kind}; an index must be a regular file`);
    }
    return { file, size: st.size };
  } catch (e) {
    await file.close().catch(() => {});
    throw e instanceof JobBERTError ? e : ioError(fn, path, e);
  }
}

/** Reads exactly `length` bytes at `position` (the caller has bounded both by the file's size); short reads are corruption. */
async function readExactly(file: FileHandle, length: number, position: number, what: string, corrupt: Corrupt): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(out, done, Math.min(length - done, 1 << 30), position + done);
    if (bytesRead === 0) throw corrupt(`${what} is cut short (the file shrank while being read)`);
    done += bytesRead;
  }
  return out;
}

/** Reads and checks the preamble and header; everything is bounded by `size` before it is allocated. */
async function readHeader(file: FileHandle, size: number, corrupt: Corrupt, fn: string, path: string): Promise<Header> {
  if (size < PREAMBLE) throw corrupt(`the file is ${size} bytes, shorter than the ${PREAMBLE}-byte preamble`);
  const preamble = await readExactly(file, PREAMBLE, 0, 'the preamble', corrupt);
  if (!preamble.subarray(0, 8).equals(MAGIC)) throw corrupt('missing magic bytes (not an index file, or truncated)');
  const version = preamble.readUInt32LE(8);
  if (version > FORMAT_VERSION) {
    throw new JobBERTError(
      'ERR_UNSUPPORTED_VERSION',
      `${fn}: ${path} uses index format ${version}; this jobbert reads format ${FORMAT_VERSION} (upgrade jobbert)`,
    );
  }
  if (version < 1) throw corrupt(`format version ${version}`);
  const headerLength = preamble.readUInt32LE(12);
  if (headerLength < 2 || headerLength > size - PREAMBLE)
    throw corrupt(`its header length ${headerLength} does not fit in a file of ${size} bytes (truncated or damaged)`);
  if (headerLength > MAX_JSON_BYTES)
    throw corrupt(`its header length ${headerLength} exceeds the largest readable header (${MAX_JSON_BYTES})`);
  const sum = preamble.subarray(16, 32).toString('latin1');
  if (!CHECKSUM.test(sum)) throw corrupt('the header checksum is not 16 hex digits');
  const headerBytes = await readExactly(file, headerLength, PREAMBLE, 'the header', corrupt);
  if (checksum(headerBytes) !== sum) throw corrupt('header checksum mismatch');
  let raw: unknown;
  try {
    raw = JSON.parse(headerBytes.toString('utf8'));
  } catch {
    throw corrupt('header is not valid JSON');
  }
  return checkHeader(raw, version, size, PREAMBLE + headerLength, corrupt);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The structural validator: every field has its type, every segment lies
 * inside the file after the header without overlapping another, every entry
 * number is listed by exactly one partition, in increasing order, and every
 * checksum is present. Whatever passes can be loaded without a TypeError.
 */
function checkHeader(raw: unknown, version: number, size: number, headerEnd: number, corrupt: Corrupt): Header {
  if (!isRecord(raw)) throw corrupt('the header is not a JSON object');
  const h = raw as unknown as Header;
  if (h.format !== 'jobbert-index') throw corrupt(`header format is ${JSON.stringify(h.format)}, not "jobbert-index"`);
  if (h.version !== version) throw corrupt(`header version ${JSON.stringify(h.version)} differs from the preamble's ${version}`);
  if (!Number.isInteger(h.dim) || h.dim < 1 || h.dim > MAX_DIM)
    throw corrupt(`dim ${JSON.stringify(h.dim)} is not an integer in [1, ${MAX_DIM}]`);
  if (!isOffset(h.count)) throw corrupt(`count ${JSON.stringify(h.count)} is not a non-negative integer`);
  // Each entry has at least one vector of dim floats in the file: a larger count is a lie, not an allocation to try.
  if (h.count * h.dim * 4 > size) throw corrupt(`count ${h.count} entries of ${h.dim} floats cannot fit in a file of ${size} bytes`);
  if (h.metric !== 'cosine' || h.storage !== 'fp32') throw corrupt('metric and storage must be "cosine" and "fp32"');
  if (typeof h.fingerprint !== 'string') throw corrupt('fingerprint is not a string');
  if (h.encoder !== null && h.encoder !== undefined && !isRecord(h.encoder)) throw corrupt('encoder is neither null nor an object');
  if (h.fileBytes !== size)
    throw corrupt(`file is ${size} bytes; its header says ${JSON.stringify(h.fileBytes)} (truncated or appended to)`);
  const e = h.entries as unknown;
  if (!isRecord(e) || !isOffset(e.offset) || !isOffset(e.bytes) || typeof e.checksum !== 'string' || !CHECKSUM.test(e.checksum))
    throw corrupt('the entries segment needs an offset, a length and a 16-hex-digit checksum');
  const entriesAt = e.offset as number;
  const entriesBytes = e.bytes as number;
  if (entriesAt < headerEnd || entriesAt + entriesBytes !== size)
    throw corrupt('the entries segment does not end the file after the header');
  if (entriesBytes < 2 || entriesBytes > MAX_JSON_BYTES) throw corrupt(`the entries segment's length ${entriesBytes} is out of range`);
  if (!Array.isArray(h.partitions)) throw corrupt('partitions is not an array');
  // Each entry number in exactly one partition; the partitions' vectors in order, aligned, between the header and the entries.
  const owner = new Uint8Array(h.count);
  const langs = new Set<string>();
  let end = headerEnd;
  let listed = 0;
  h.partitions.forEach((p: unknown, i) => {
    if (!isRecord(p)) throw corrupt(`partition ${i} is not an object`);
    const { lang, rows, offset, count, checksum: sum } = p;
    if (typeof lang !== 'string') throw corrupt(`partition ${i} has no lang string`);
    if (langs.has(lang)) throw corrupt(`language '${lang}' has two partitions`);
    langs.add(lang);
    if (!Array.isArray(rows) || !Number.isInteger(count) || (count as number) < 1 || rows.length !== count)
      throw corrupt(`partition '${lang}' lists ${Array.isArray(rows) ? rows.length : 'no'} rows for ${JSON.stringify(count)} vectors`);
    if (typeof sum !== 'string' || !CHECKSUM.test(sum)) throw corrupt(`partition '${lang}' has no 16-hex-digit checksum`);
    let previous = -1;
    for (const r of rows) {
      if (!Number.isInteger(r) || r <= previous || r >= h.count)
        throw corrupt(`partition '${lang}' names entries out of range or out of order (${JSON.stringify(r)})`);
      if (owner[r]) throw corrupt(`entry ${r} is listed by two partitions`);
      owner[r] = 1;
      previous = r;
    }
    listed += rows.length;
    const bytes = (count as number) * h.dim * 4;
    if (!isOffset(offset) || offset % ALIGN !== 0 || offset < end || offset + bytes > entriesAt)
      throw corrupt(`partition '${lang}' lies outside its place in the file (offset ${JSON.stringify(offset)}, ${bytes} bytes)`);
    end = offset + bytes;
  });
  if (listed !== h.count) throw corrupt(`the partitions list ${listed} of the ${h.count} entries`);
  return h;
}

/** Parses and checks the entries segment: [[id, text, lang?], ...], ids unique, each in its partition's language. */
function checkEntries(json: Buffer, header: Header, corrupt: Corrupt): MatchEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString('utf8'));
  } catch {
    throw corrupt('the entries segment is not valid JSON');
  }
  if (!Array.isArray(raw)) throw corrupt('the entries segment is not an array');
  if (raw.length !== header.count) throw corrupt(`header says ${header.count} entries, found ${raw.length}`);
  const ids = new Set<string>();
  const entries = raw.map((row: unknown, i): MatchEntry => {
    if (!Array.isArray(row) || row.length < 2 || row.length > 3) throw corrupt(`entry ${i} is not [id, text, lang?]`);
    const [id, text, lang] = row as unknown[];
    if (
      typeof id !== 'string' ||
      id === '' ||
      typeof text !== 'string' ||
      (lang !== undefined && lang !== null && typeof lang !== 'string')
    )
      throw corrupt(`entry ${i} is not [id, text, lang?] of strings`);
    if (ids.has(id)) throw corrupt(`entry id '${id}' appears twice`);
    ids.add(id);
    return lang === undefined || lang === null ? { id, text } : { id, text, lang };
  });
  for (const p of header.partitions) {
    for (const r of p.rows)
      if ((entries[r].lang ?? '') !== p.lang)
        throw corrupt(`partition '${p.lang}' lists entry ${r}, whose language is '${entries[r].lang ?? ''}'`);
  }
  return entries;
}

/**
 * The encoder description in an index file's header (null when it has none),
 * after the same checks as a load: a pipe, a damaged length or a bad
 * checksum are refused (ERR_IO, ERR_CORRUPT) before anything is allocated. Async.
 */
export async function readIndexEncoderSpec(fn: string, path: string): Promise<EncoderSpec | null> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`${fn}: path must be a non-empty string; received ${typeof path}`);
  const { file, size } = await openRegular(fn, path);
  const corrupt = (why: string) => new JobBERTError('ERR_CORRUPT', `${fn}: ${path} is not a valid jobbert index: ${why}`);
  try {
    return (await readHeader(file, size, corrupt, fn, path)).encoder ?? null;
  } catch (e) {
    throw e instanceof JobBERTError ? e : ioError(fn, path, e);
  } finally {
    await file.close().catch(() => {});
  }
}

/** What readIndexFile gives: the caller owns the vectors. */
interface IndexFileRead {
  dim: number;
  fingerprint: string;
  encoder: EncoderSpec | null;
  entries: MatchEntry[];
  partitions: { lang: string; vectors: ResidentMatrix | QuantizedMatrix; rows: Int32Array }[];
}

/** How many times a load reads a file that keeps being replaced while it reads it. */
const REREADS = 10;

/** The file a path names now (device and inode), or null when there is none. */
const identity = (path: string) =>
  stat(path).then(
    (s) => `${s.dev}:${s.ino}`,
    () => null,
  );

/**
 * Reads and verifies an index file; the caller owns the returned vectors.
 * Where the system names open files (Linux's /proc/self/fd), the partitions
 * are read through the file the header was read from, so a save that replaces
 * the path meanwhile (an atomic rename) leaves this read whole. Elsewhere each
 * partition is read by opening the path again, which mixed two files and
 * failed as ERR_CORRUPT: there a read during which the path came to name
 * another file is read again (up to REREADS times in all).
 */
export async function readIndexFile(fn: string, path: string, storage: Storage = 'fp32'): Promise<IndexFileRead> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`${fn}: path must be a non-empty string; received ${typeof path}`);
  for (let attempt = 1; ; attempt++) {
    const before = await identity(path);
    let read: IndexFileRead & { whole: boolean };
    try {
      read = await readIndexFileOnce(fn, path, storage);
    } catch (e) {
      if (attempt < REREADS && before !== null && (await identity(path)) !== before) continue;
      throw e;
    }
    if (!read.whole && attempt < REREADS && (await identity(path)) !== before) {
      for (const p of read.partitions) p.vectors.dispose();
      continue;
    }
    return read;
  }
}

/** Whether this system names a process's open files (/proc/self/fd/N opens the file N names, not the path it had). */
const OPEN_FILES_NAMED = process.platform === 'linux' && existsSync('/proc/self/fd');

/** One read of an index file; `whole`: every part came from one file, whatever its path names since. */
async function readIndexFileOnce(fn: string, path: string, storage: Storage): Promise<IndexFileRead & { whole: boolean }> {
  const { file, size } = await openRegular(fn, path);
  const corrupt = (why: string) => new JobBERTError('ERR_CORRUPT', `${fn}: ${path} is not a valid jobbert index: ${why}`);
  const partitions: { lang: string; vectors: ResidentMatrix | QuantizedMatrix; rows: Int32Array }[] = [];
  try {
    let header: Header;
    let entries: MatchEntry[];
    try {
      header = await readHeader(file, size, corrupt, fn, path);
      const entriesJson = await readExactly(file, header.entries.bytes, header.entries.offset, 'the entries segment', corrupt);
      if (checksum(entriesJson) !== header.entries.checksum) throw corrupt('entries checksum mismatch');
      entries = checkEntries(entriesJson, header, corrupt);
    } catch (e) {
      throw e instanceof JobBERTError ? e : ioError(fn, path, e);
    }
    // The native readers open what they are given: the file open here, while it is, where the system can name it.
    const source = OPEN_FILES_NAMED ? `/proc/self/fd/${file.fd}` : path;
    try {
      for (const p of header.partitions) {
        const where = { offset: p.offset, rows: p.count, cols: header.dim, checksum: p.checksum };
        const vectors = storage === 'int8' ? await QuantizedMatrix.fromFile(source, where) : await ResidentMatrix.fromFile(source, where);
        partitions.push({ lang: p.lang, vectors, rows: Int32Array.from(p.rows) });
      }
    } catch (e) {
      if (e instanceof Error) e.message = e.message.replaceAll(source, path); // the user's path, not the descriptor's
      if (e instanceof JobBERTError && e.code === 'ERR_CORRUPT') throw corrupt(e.message);
      throw e;
    }
    const read = { dim: header.dim, fingerprint: header.fingerprint, encoder: header.encoder ?? null, entries, partitions };
    return { ...read, whole: OPEN_FILES_NAMED };
  } catch (e) {
    partitions.forEach((p) => p.vectors.dispose());
    throw e;
  } finally {
    await file.close().catch(() => {});
  }
}

function ioError(fn: string, path: string, e: unknown, writing = false): JobBERTError {
  const code = (e as NodeJS.ErrnoException)?.code;
  // Writing, ENOENT means the folder is missing, not the file (or, in /proc, that no file can be made there).
  if (code === 'ENOENT' && !(writing && existsSync(dirname(path))))
    return new JobBERTError('ERR_NOT_FOUND', `${fn}: ${writing ? `the folder of ${path}` : path} does not exist`, { cause: e });
  return new JobBERTError('ERR_IO', `${fn}: ${path}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}
