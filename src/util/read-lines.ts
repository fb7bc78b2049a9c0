/** Reading a user's line-oriented text file (entries, skills) with the errors the CLI and service report. */
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { JobBERTError } from '../errors.js';
import { ioError, openBytes } from './open-bytes.js';

/**
 * The lines of a UTF-8 stream (Buffers or strings), split at "\n" only, a "\r"
 * before it dropped, and a byte-order mark at the stream's start dropped; a
 * last line without "\n" is yielded too. Not node:readline:
 * Node 24's (not 22's) also ends a line at U+2028 and U+2029, which JSON.stringify
 * leaves unescaped inside strings (and scraped titles hold), so a valid JSON
 * Lines row would be cut in two. Async generator; the stream's errors reject it.
 */
export async function* splitLines(stream: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  // The pieces of a line that spans chunks, joined once its end arrives (no quadratic concatenation).
  let pending: string[] = [];
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    let text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (first && text) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      let line = text.slice(start, end);
      if (pending.length) {
        line = pending.join('') + line;
        pending = [];
      }
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
      start = end + 1;
    }
    if (start < text.length) pending.push(text.slice(start));
  }
  const last = pending.join('') + decoder.end();
  if (last) yield last.endsWith('\r') ? last.slice(0, -1) : last;
}

/**
 * The lines of the text file at `path` (LF or CRLF; a leading BOM dropped), as
 * {@link openBytes} reads it: gzip-compressed or UTF-16 after its byte-order
 * mark too, an Excel workbook refused. Async. Rejects with JobBERTError
 * ERR_NOT_FOUND for a missing file, ERR_BAD_FILE for a workbook and ERR_IO for
 * any other read failure, naming the path.
 */
export async function readLines(path: string): Promise<string[]> {
  const { stream } = await openBytes(path);
  const lines: string[] = [];
  try {
    for await (const line of splitLines(stream)) lines.push(line);
  } catch (e) {
    throw ioError(path, e);
  } finally {
    stream.destroy();
  }
  return lines;
}

/**
 * The non-blank lines of a JSON Lines file, streamed, with 1-based line
 * numbers, opened as {@link openBytes} opens it (gzip-compressed, or UTF-16
 * after its byte-order mark, told by the bytes and not the name; a leading
 * BOM dropped, CRLF accepted). Async iterable. Rejects with JobBERTError
 * ERR_NOT_FOUND for a missing file, ERR_IO for anything that is not a
 * readable regular file (a directory, a FIFO: checked before it is opened,
 * where a FIFO would block) or a gzip stream that is corrupt or cut short,
 * and ERR_BAD_FILE for an Excel workbook, naming `fn` and the path.
 */
export async function* jsonLines(fn: string, path: string): AsyncGenerator<{ line: string; lineNo: number }> {
  try {
    const st = await stat(path);
    if (!st.isFile())
      throw new JobBERTError(
        'ERR_IO',
        `${fn}: ${path} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; expected a JSON Lines file`,
      );
  } catch (e) {
    if (e instanceof JobBERTError) throw e;
    const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_IO';
    throw new JobBERTError(code, `${fn}: ${path}: ${code === 'ERR_NOT_FOUND' ? 'does not exist' : (e as Error).message}`, { cause: e });
  }
  let input: Readable;
  try {
    input = (await openBytes(path)).stream;
  } catch (e) {
    const j = e as JobBERTError;
    throw new JobBERTError(j.code ?? 'ERR_IO', `${fn}: ${j.message}`, { cause: e });
  }
  let lineNo = 0;
  try {
    for await (const raw of splitLines(input)) {
      lineNo++;
      if (raw.trim()) yield { line: raw, lineNo };
    }
  } catch (e) {
    // zlib's codes (Z_DATA_ERROR, Z_BUF_ERROR): the file starts as gzip does but is not whole gzip data.
    const gzip = /^Z_/.test(String((e as NodeJS.ErrnoException).code)) ? ' as gzip (corrupt or cut short)' : '';
    throw new JobBERTError('ERR_IO', `${fn}: cannot read ${path}${gzip}: ${(e as Error).message}`, { cause: e });
  } finally {
    input.destroy();
  }
}
