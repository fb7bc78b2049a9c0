/** Reading a user's line-oriented text file (entries, skills) with the errors the CLI and service report. */
import { readFile } from 'node:fs/promises';
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
