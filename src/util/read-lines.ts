/** Reading a user's line-oriented text file (entries, skills) with the errors the CLI and service report. */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { JobBERTError } from '../errors.js';

/**
 * The lines of the UTF-8 text file at `path` (LF or CRLF; a leading BOM
 * dropped). Async. Rejects with JobBERTError ERR_NOT_FOUND for a missing file
 * and ERR_IO for any other read failure, naming the path.
 */
export async function readLines(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_IO';
    throw new JobBERTError(code, `${path}: ${(e as Error).message}`, { cause: e });
  }
  return text.replace(/^\uFEFF/, '').split(/\r?\n/);
}

/**
 * The non-blank lines of a JSON Lines file, streamed, with 1-based line
 * numbers (a leading BOM dropped, CRLF accepted). Async iterable. Rejects
 * with JobBERTError ERR_NOT_FOUND for a missing file and ERR_IO for anything
 * that is not a readable regular file (a directory, a FIFO), naming `fn` and the path.
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
  const input = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim()) yield { line, lineNo };
    }
  } catch (e) {
    throw new JobBERTError('ERR_IO', `${fn}: ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    lines.close();
    input.destroy();
  }
}
