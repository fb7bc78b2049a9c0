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
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { JobBERTError } from '../errors.js';
import type { EncoderSpec } from '../encoders/encoder.js';
import type { MatchEntry } from './match-index.js';
import { QuantizedMatrix } from './quantized.js';
import { checksum, ResidentMatrix } from '../kernels/resident.js';

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

  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let file;
  try {
    file = await open(temp, 'wx');
  } catch (e) {
    throw ioError(fn, path, e);
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
    await rename(temp, path);
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

/** How a loaded index holds its vectors: float32, or int8 codes with exact re-scoring from the file. */
export type Storage = 'fp32' | 'int8';

/** Reads and verifies an index file; the caller owns the returned vectors. */
export async function readIndexFile(
  fn: string,
  path: string,
  storage: Storage = 'fp32',
): Promise<{
  dim: number;
  fingerprint: string;
  encoder: EncoderSpec | null;
  entries: MatchEntry[];
  partitions: { lang: string; vectors: ResidentMatrix | QuantizedMatrix; rows: Int32Array }[];
}> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`${fn}: path must be a non-empty string; received ${typeof path}`);
  let file;
  try {
    file = await open(path, 'r');
  } catch (e) {
    throw ioError(fn, path, e);
  }
  const corrupt = (why: string) => new JobBERTError('ERR_CORRUPT', `${fn}: ${path} is not a valid jobbert index: ${why}`);
  let header: Header;
  let entriesJson: Buffer;
  try {
    const size = (await file.stat()).size;
    const preamble = Buffer.alloc(PREAMBLE);
    const { bytesRead } = await file.read(preamble, 0, PREAMBLE, 0);
    if (bytesRead < PREAMBLE || !preamble.subarray(0, 8).equals(MAGIC))
      throw corrupt('missing magic bytes (not an index file, or truncated)');
    const version = preamble.readUInt32LE(8);
    if (version > FORMAT_VERSION) {
      throw new JobBERTError(
        'ERR_UNSUPPORTED_VERSION',
        `${fn}: ${path} uses index format ${version}; this jobbert reads format ${FORMAT_VERSION} (upgrade jobbert)`,
      );
    }
    if (version < 1) throw corrupt(`format version ${version}`);
    const headerLength = preamble.readUInt32LE(12);
    if (PREAMBLE + headerLength > size) throw corrupt('truncated header');
    const headerBytes = Buffer.alloc(headerLength);
    await file.read(headerBytes, 0, headerLength, PREAMBLE);
    if (checksum(headerBytes) !== preamble.subarray(16, 32).toString('latin1')) throw corrupt('header checksum mismatch');
    header = JSON.parse(headerBytes.toString('utf8')) as Header;
    if (header.fileBytes !== size) throw corrupt(`file is ${size} bytes; its header says ${header.fileBytes} (truncated or appended to)`);
    entriesJson = Buffer.alloc(header.entries.bytes);
    await file.read(entriesJson, 0, entriesJson.length, header.entries.offset);
    if (checksum(entriesJson) !== header.entries.checksum) throw corrupt('entries checksum mismatch');
  } catch (e) {
    await file.close().catch(() => {});
    if (e instanceof JobBERTError) throw e;
    if (e instanceof SyntaxError) throw corrupt('header is not valid JSON');
    throw ioError(fn, path, e);
  }
  await file.close();
  const raw = JSON.parse(entriesJson.toString('utf8')) as [string, string, string?][];
  const entries: MatchEntry[] = raw.map(([id, text, lang]) => (lang === undefined || lang === null ? { id, text } : { id, text, lang }));
  if (entries.length !== header.count) throw corrupt(`header says ${header.count} entries, found ${entries.length}`);
  const partitions: { lang: string; vectors: ResidentMatrix | QuantizedMatrix; rows: Int32Array }[] = [];
  try {
    for (const p of header.partitions) {
      if (p.rows.length !== p.count) throw corrupt(`partition '${p.lang}' lists ${p.rows.length} rows for ${p.count} vectors`);
      if (p.rows.some((r) => !Number.isInteger(r) || r < 0 || r >= entries.length))
        throw corrupt(`partition '${p.lang}' names entries out of range`);
      const where = { offset: p.offset, rows: p.count, cols: header.dim, checksum: p.checksum };
      const vectors = storage === 'int8' ? await QuantizedMatrix.fromFile(path, where) : await ResidentMatrix.fromFile(path, where);
      partitions.push({ lang: p.lang, vectors, rows: Int32Array.from(p.rows) });
    }
  } catch (e) {
    partitions.forEach((p) => p.vectors.dispose());
    if (e instanceof JobBERTError && e.code === 'ERR_CORRUPT') throw corrupt((e as Error).message);
    throw e;
  }
  return { dim: header.dim, fingerprint: header.fingerprint, encoder: header.encoder ?? null, entries, partitions };
}

function ioError(fn: string, path: string, e: unknown): JobBERTError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new JobBERTError('ERR_NOT_FOUND', `${fn}: ${path} does not exist`, { cause: e });
  return new JobBERTError('ERR_IO', `${fn}: ${path}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}
