/**
 * The user's labelled titles ({title, uri}), which join the taxonomy's labels
 * as extra ways to reach an occupation. Read from an array or a file (JSON
 * Lines {"title","uri"}, or CSV/TSV with a title|vacancyTitle|jobtitle column
 * and a uri|conceptUri|occupation column: the JobBERT evaluation CSV reads as
 * it is).
 *
 * An example whose URI is not in the taxonomy is skipped with a warning (the
 * Normalizer's `skippedExamples` lists each with its line): labelled data
 * often lags a taxonomy release by a few deprecated concepts, and one such row
 * should not stop a million good ones. A row without a title or URI, or one
 * that cannot be parsed, is an error naming its line.
 */
import { JobBERTError } from '../errors.js';
import { describe } from '../util/validate.js';
import { pickColumn, readRows, TITLE_COLUMNS, warnNotUtf8 } from './rows.js';

/** A labelled vacancy title. */
export interface Example {
  title: string;
  uri: string;
}

/** An example left out, and why. `line` is the file line (files) or the array index (arrays). */
export interface SkippedExample {
  line: number;
  uri: string;
  reason: string;
}

export const URI_COLUMNS = ['uri', 'conceptUri', 'occupation'] as const;

/** Checks an examples array; TypeError naming `examples[i].title` / `.uri` for a bad element. */
export function checkExamples(fn: string, examples: unknown): Example[] {
  if (!Array.isArray(examples))
    throw new TypeError(`${fn}: examples must be a file path or an array of { title, uri }; received ${describe(examples)}`);
  // Array.from visits holes (new Array(3)) as undefined; map skipped them, and an empty slot was no error.
  return Array.from(examples as unknown[], (e, i) => {
    if (typeof e !== 'object' || e === null)
      throw new TypeError(`${fn}: examples[${i}] must be an object { title, uri }; received ${describe(e)}`);
    const { title, uri } = e as Record<string, unknown>;
    if (typeof title !== 'string' || !title.trim())
      throw new TypeError(`${fn}: examples[${i}].title must be a non-empty string; received ${describe(title)}`);
    if (typeof uri !== 'string' || !uri.trim())
      throw new TypeError(`${fn}: examples[${i}].uri must be a non-empty string; received ${describe(uri)}`);
    return { title: title.trim(), uri: uri.trim() };
  });
}

/**
 * Reads an examples file (format by extension or first line). Async; returns
 * the examples with their file lines. JobBERTError ERR_BAD_FILE naming
 * `file:line` for a row without title or URI or one that cannot be parsed;
 * ERR_NOT_FOUND / ERR_IO when the file cannot be read.
 */
export async function readExamples(path: string): Promise<{ examples: Example[]; lines: number[] }> {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`readExamples: path must be a non-empty file path; received ${describe(path)}`);
  const examples: Example[] = [];
  const lines: number[] = [];
  let titleCol: string | undefined;
  let uriCol: string | undefined;
  let warned = false; // of bytes that are not UTF-8, once a file
  for await (const row of readRows(path)) {
    if (row.error !== undefined) throw new JobBERTError('ERR_BAD_FILE', `${path}:${row.line}: ${row.error}`);
    if (titleCol === undefined || uriCol === undefined) {
      const cols = Object.keys(row.record);
      titleCol = pickColumn(cols, TITLE_COLUMNS);
      uriCol = pickColumn(cols, URI_COLUMNS);
      if (titleCol === undefined || uriCol === undefined)
        throw new JobBERTError(
          'ERR_BAD_FILE',
          `${path}:${row.line}: an example needs a title (${TITLE_COLUMNS.join('|')}) and a URI (${URI_COLUMNS.join('|')}); found ${cols.join(', ') || 'no fields'}`,
        );
    }
    const title = row.record[titleCol];
    const uri = row.record[uriCol];
    for (const [what, col, v] of [
      ['title', titleCol, title],
      ['URI', uriCol, uri],
    ] as const) {
      if (v !== undefined && v !== null && typeof v !== 'string')
        throw new JobBERTError('ERR_BAD_FILE', `${path}:${row.line}: the ${what} (${col}) must be text; received ${describe(v)}`);
      if (typeof v !== 'string' || !v.trim())
        throw new JobBERTError('ERR_BAD_FILE', `${path}:${row.line}: the ${what} (${col}) is missing or empty`);
    }
    const [t, u] = [title as string, uri as string];
    if (!warned && t.includes('\uFFFD')) {
      warned = true;
      warnNotUtf8(path, row.line, 'title', 'examples');
    }
    examples.push({ title: t.trim(), uri: u.trim() });
    lines.push(row.line);
  }
  return { examples, lines };
}
