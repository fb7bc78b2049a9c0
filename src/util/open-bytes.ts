/**
 * Opening a user's input file or stream as UTF-8 text, whatever form it came
 * in: gzip-compressed (told by its first bytes), in another encoding (named,
 * or UTF-16 told by its byte-order mark), and an Excel workbook refused with
 * a word on what to do. Shared by the row reader (normalize, examples, batch)
 * and the line readers (index entries, skills).
 */
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { JobBERTError } from '../errors.js';

/** An input opened as text. */
export interface Bytes {
  /** Its text in UTF-8. */
  stream: Readable;
  /**
   * Where that text's bytes are not the input's own (gzip, or another encoding
   * than UTF-8): how many of the input's own bytes have been read so far.
   */
  ownBytes?: () => number;
}

/**
 * `input` (a path, or a byte stream such as stdin) as a stream of its text in
 * UTF-8: decompressed when its first two bytes are gzip's (1f 8b), then decoded
 * from `encoding` (any WHATWG label) when that is given and not UTF-8, else
 * from UTF-16 when its (decompressed) text starts with UTF-16's byte-order
 * mark (what Excel's "Unicode Text" export writes). Async. JobBERTError
 * ERR_NOT_FOUND / ERR_IO when it cannot be read (a corrupt gzip stream fails as it is read),
 * ERR_BAD_FILE for an Excel workbook (.xlsx, a ZIP archive; .xls, an OLE2
 * file): it has no rows until saved as CSV.
 */
export async function openBytes(
  input: string | Readable,
  name = typeof input === 'string' ? input : 'stdin',
  encoding?: string,
): Promise<Bytes> {
  const raw = typeof input === 'string' ? createReadStream(input) : input;
  const { head, stream } = await peekHead(raw, name);
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  const workbook = starts(0x50, 0x4b, 3, 4)
    ? 'a ZIP archive (an Excel .xlsx workbook?)'
    : starts(0xd0, 0xcf, 0x11, 0xe0)
      ? 'an OLE2 file (an Excel .xls workbook?)'
      : '';
  if (workbook) {
    stream.destroy();
    raw.destroy();
    throw new JobBERTError('ERR_BAD_FILE', `${name} is ${workbook}, not JSON Lines, CSV or TSV: save it as CSV (UTF-8) first`);
  }
  const compressed = starts(0x1f, 0x8b);
  const utf16 = starts(0xff, 0xfe) ? 'utf-16le' : starts(0xfe, 0xff) ? 'utf-16be' : undefined;
  const decode = encoding !== undefined ? (isUtf8(encoding) ? undefined : encoding) : compressed ? undefined : utf16;
  const stages: Transform[] = [];
  if (compressed) stages.push(createGunzip());
  if (decode) stages.push(toUtf8(decode));
  // Compressed: a UTF-16 byte-order mark can only be seen once decompressed.
  else if (compressed && encoding === undefined) stages.push(utf16ByMark());
  if (!stages.length) return { stream };
  let read = 0;
  stream.on('data', (b: Buffer) => {
    read += b.length;
  });
  let from: Readable = stream;
  for (const t of stages) {
    from.on('error', (e) => t.destroy(e));
    from = from.pipe(t);
  }
  from.on('close', () => {
    for (const t of stages) t.destroy();
    stream.destroy();
    raw.destroy();
  });
  return { stream: from, ownBytes: () => read };
}

/** How much of a stream's start {@link peekHead} reads. */
const HEAD_BYTES = 4096;

/** A stream's start up to its first line that is not blank (or its first 4 KiB), and a stream that yields every byte of it again, those included. Async. */
export async function peekHead(stream: Readable, name: string): Promise<{ head: Buffer; stream: Readable }> {
  const it: AsyncIterator<Buffer | string> = stream[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  try {
    // Up to the end of the first line that is not blank (or HEAD_BYTES): what the format is sniffed from.
    while (size < HEAD_BYTES && !/\S[^\n]*\n/.test(Buffer.concat(head).toString('latin1'))) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      head.push(b);
      size += b.length;
    }
  } catch (e) {
    throw ioError(name, e);
  }
  async function* again() {
    try {
      yield* head;
      if (ended) return;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } finally {
      // Destroying the replay (a reader that stops early) closes the source too.
      await it.return?.();
    }
  }
  return { head: Buffer.concat(head), stream: Readable.from(again(), { objectMode: false }) };
}

/** A read failure of `path` as JobBERTError: ERR_NOT_FOUND for a missing file, else ERR_IO. */
export function ioError(path: string, e: unknown): JobBERTError {
  const code = (e as NodeJS.ErrnoException).code;
  return new JobBERTError(code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_IO', `cannot read ${path} (${(e as Error).message})`);
}

/** Whether `label` names UTF-8 (by TextDecoder); RangeError for a label TextDecoder does not know. */
export function isUtf8(label: string): boolean {
  return new TextDecoder(label).encoding === 'utf-8';
}

/** A stream that re-encodes bytes in `encoding` as UTF-8, chunk by chunk (a character cut between chunks is kept whole). */
function toUtf8(encoding: string): Transform {
  const decoder = new TextDecoder(encoding);
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      done(null, decoder.decode(chunk, { stream: true }));
    },
    flush(done) {
      done(null, decoder.decode());
    },
  });
}

/**
 * A stream that decodes UTF-16 to UTF-8 when its first bytes are UTF-16's
 * byte-order mark (LE or BE), and passes any other bytes on unchanged.
 */
function utf16ByMark(): Transform {
  let head: Buffer | null = Buffer.alloc(0);
  let decoder: TextDecoder | null = null;
  const pass = (b: Buffer) => (decoder ? decoder.decode(b, { stream: true }) : b);
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (head === null) return done(null, pass(chunk));
      head = Buffer.concat([head, chunk]);
      if (head.length < 2) return done();
      const label = head[0] === 0xff && head[1] === 0xfe ? 'utf-16le' : head[0] === 0xfe && head[1] === 0xff ? 'utf-16be' : null;
      if (label) decoder = new TextDecoder(label);
      const first = head;
      head = null;
      done(null, pass(first));
    },
    flush(done) {
      done(null, head?.length ? head : decoder ? decoder.decode() : undefined);
    },
  });
}

/** A whole file's text: UTF-16 (LE or BE) after its byte-order mark, else UTF-8; the mark dropped. Sync. */
export function decodeText(bytes: Buffer): string {
  const label = bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : 'utf-8';
  return new TextDecoder(label).decode(bytes); // TextDecoder drops the byte-order mark
}
