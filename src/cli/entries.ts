/** Reading index entries for the CLI: JSON Lines, TSV or CSV files. */
import { JobBERTError } from '../errors.js';
import type { MatchEntry } from '../match/match-index.js';
import { detectFormat, pickColumn, readRows } from '../normalize/rows.js';

/** Header names read as an entry's id, text and language (compared as {@link pickColumn} does), first match wins. */
const ID_COLUMNS = ['id', 'c_id', 'q_id', 'conceptUri', 'uri', 'code', 'key'];
const TEXT_COLUMNS = ['text', 'jobtitle', 'title', 'name', 'label', 'preferredLabel'];
const LANG_COLUMNS = ['lang', 'language', 'locale'];

/**
 * Reads entries from `path`, in the formats `jobbert normalize` reads (by
 * extension, else by the first line; gzip-compressed and UTF-16 after a
 * byte-order mark too):
 * - JSON Lines: one `{"id", "text", "lang"?}` object per line;
 * - TSV or CSV (`,`, `;` or `|`, RFC 4180 quoting) with a header row: the id
 *   and text columns by name (`id`/`c_id`/…, `text`/`jobtitle`/`title`/…),
 *   else the first and second columns; a `lang` (or `language`) column if
 *   there is one. The TalentCLEF `corpus_elements` and `queries` files read as
 *   they are.
 * An entry without its own language gets `lang`.
 * Async. Throws JobBERTError ERR_NOT_FOUND / ERR_IO when the file cannot be
 * read, ERR_BAD_FILE naming the line for a row that is not an entry, and
 * ERR_BAD_FILE for a file with no entries.
 */
export async function readEntries(path: string, lang?: string): Promise<MatchEntry[]> {
  const bad = (n: number, why: string) => new JobBERTError('ERR_BAD_FILE', `${path}:${n}: ${why}`);
  const out: MatchEntry[] = [];
  let columns: { id: string; text: string; lang?: string } | undefined;
  const format = await detectFormat(path);
  for await (const row of readRows(path, format)) {
    if (row.error !== undefined) throw bad(row.line, row.error);
    const { record } = row;
    let id: unknown;
    let text: unknown;
    let entryLang: unknown;
    if (format === 'jsonl') {
      ({ id, text, lang: entryLang } = record as { id?: unknown; text?: unknown; lang?: unknown });
      if ((typeof id !== 'string' && typeof id !== 'number') || typeof text !== 'string')
        throw bad(row.line, 'expected {"id": string or number, "text": string, "lang"?: string}');
    } else {
      columns ??= delimitedColumns(Object.keys(record), (why) => bad(1, why));
      id = record[columns.id];
      text = record[columns.text];
      entryLang = columns.lang === undefined ? undefined : record[columns.lang];
      if (!id || !text) throw bad(row.line, `expected an id ('${columns.id}') and a text ('${columns.text}')`);
    }
    const l = typeof entryLang === 'string' && entryLang !== '' ? entryLang : lang;
    out.push(l === undefined ? { id: String(id), text: text as string } : { id: String(id), text: text as string, lang: l });
  }
  if (out.length === 0)
    throw new JobBERTError('ERR_BAD_FILE', `${path}: no entries (expected a header row and one entry a row, or JSON Lines)`);
  return out;
}

/** The id, text and language columns of a TSV/CSV header. */
function delimitedColumns(header: string[], fail: (why: string) => Error): { id: string; text: string; lang?: string } {
  if (header.length < 2)
    throw fail('expected a header row naming an id and a text column (id<TAB>text[<TAB>lang], or the same with commas)');
  const lang = pickColumn(header, LANG_COLUMNS);
  const id = pickColumn(header, ID_COLUMNS) ?? header.find((c) => c !== lang)!;
  const text = pickColumn(header, TEXT_COLUMNS) ?? header.find((c) => c !== id && c !== lang);
  if (text === undefined || text === id) throw fail(`no text column in the header (${header.join(', ')})`);
  return lang === undefined ? { id, text } : { id, text, lang };
}
