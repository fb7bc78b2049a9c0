/** Reading index entries for the CLI: JSON Lines, TSV or CSV files. */
import { JobBERTError } from '../errors.js';
import type { MatchEntry } from '../match/match-index.js';
import { openRows, pickColumn, warnNotUtf8 } from '../normalize/rows.js';

/** Header names read as an entry's id, text and language (compared as {@link pickColumn} does), first match wins. */
const ID_COLUMNS = ['id', 'c_id', 'q_id', 'conceptUri', 'uri', 'code', 'key'];
const TEXT_COLUMNS = ['text', 'jobtitle', 'title', 'name', 'label', 'preferredLabel'];
const LANG_COLUMNS = ['lang', 'language', 'locale'];

/** Which columns (or JSON keys) hold an entry's id and text, where the caller names them. */
export interface EntryColumns {
  /** The id column: `--id-column`. Default: found by name, else the first column. */
  id?: string;
  /** The text column: `--text-column`. Default: found by name, else the next column. */
  text?: string;
}

/**
 * Reads entries from `path`, in the formats `jobbert normalize` reads (by
 * extension, else by the first line; gzip-compressed and UTF-16 after a
 * byte-order mark too):
 * - JSON Lines: one `{"id", "text", "lang"?}` object per line; the text may
 *   also be under a name the header of a spreadsheet may use (`title`,
 *   `jobtitle`, …), so a `jobbert normalize` input (`{"id", "title"}`) reads as
 *   it is;
 * - TSV or CSV (`,`, `;` or `|`, RFC 4180 quoting) with a header row: the id
 *   and text columns by name (`id`/`c_id`/…, `text`/`jobtitle`/`title`/…),
 *   else the first and second columns; a `lang` (or `language`) column if
 *   there is one. The TalentCLEF `corpus_elements` and `queries` files read as
 *   they are.
 * `columns` names the id and text columns (JSON keys) instead, compared as
 * {@link pickColumn} does. An entry without its own language gets `lang`.
 * Async. Throws JobBERTError ERR_NOT_FOUND / ERR_IO when the file cannot be
 * read, ERR_BAD_FILE naming the line for a row that is not an entry or that
 * repeats an id, and ERR_BAD_FILE for a header without the columns named or
 * needed, and for a file with no entries.
 */
export async function readEntries(path: string, lang?: string, columns: EntryColumns = {}): Promise<MatchEntry[]> {
  const bad = (n: number, why: string) => new JobBERTError('ERR_BAD_FILE', `${path}:${n}: ${why}`);
  const badHeader = (why: string) => new JobBERTError('ERR_BAD_FILE', `${path}: ${why}`);
  const out: MatchEntry[] = [];
  let named: { id: string; text: string; lang?: string } | undefined;
  /** The line each id was read on. */
  const lines = new Map<string, number>();
  let warned = false; // of bytes that are not UTF-8, once a file
  const { format, rows } = await openRows(path);
  // One title a line (a .txt) has no ids: said as such, not as a header "title" the file does not have.
  if (format === 'lines')
    throw badHeader('one text a line has no ids: entries need a header naming an id and a text column (TSV or CSV), or JSON Lines');
  for await (const row of rows) {
    if (row.error !== undefined) throw bad(row.line, row.error);
    const { record } = row;
    let id: unknown;
    let text: unknown;
    let entryLang: unknown;
    if (format === 'jsonl') {
      const keys = Object.keys(record);
      id = record[pickColumn(keys, [columns.id ?? 'id']) ?? ''];
      text = record[pickColumn(keys, columns.text === undefined ? TEXT_COLUMNS : [columns.text]) ?? ''];
      entryLang = record[pickColumn(keys, LANG_COLUMNS) ?? ''];
      if ((typeof id !== 'string' && typeof id !== 'number') || typeof text !== 'string')
        throw bad(row.line, `expected {"${columns.id ?? 'id'}": string or number, "${columns.text ?? 'text'}": string, "lang"?: string}`);
      // JSON has already rounded an integer beyond 2^53 (12345678901234567890 reads as …7000): the id would name another record.
      if (typeof id === 'number' && (!Number.isFinite(id) || (Number.isInteger(id) && !Number.isSafeInteger(id))))
        throw bad(row.line, `the id ${String(id)} is a number JSON cannot hold exactly; write it as a string`);
    } else {
      named ??= delimitedColumns(Object.keys(record), columns, badHeader);
      id = record[named.id];
      text = record[named.text];
      entryLang = named.lang === undefined ? undefined : record[named.lang];
    }
    // Empty (or blank) ids and texts alike in every format: JSON Lines took "" (a usage error for the id, an entry for the text).
    if (id === undefined || !String(id).trim() || typeof text !== 'string' || !text.trim())
      throw bad(
        row.line,
        `expected an id ('${named?.id ?? columns.id ?? 'id'}') and a text ('${named?.text ?? columns.text ?? 'text'}'), neither empty`,
      );
    if (!warned && (text as string).includes('\uFFFD')) {
      warned = true;
      warnNotUtf8(path, row.line, 'text', 'entries');
    }
    const seenOn = lines.get(String(id));
    if (seenOn !== undefined) throw bad(row.line, `id '${String(id)}' is already on line ${seenOn} (ids must be unique)`);
    lines.set(String(id), row.line);
    const l = typeof entryLang === 'string' && entryLang !== '' ? entryLang : lang;
    out.push(l === undefined ? { id: String(id), text: text as string } : { id: String(id), text: text as string, lang: l });
  }
  if (out.length === 0)
    throw new JobBERTError('ERR_BAD_FILE', `${path}: no entries (expected a header row and one entry a row, or JSON Lines)`);
  return out;
}

/** The id, text and language columns of a TSV/CSV header: those `columns` names, else found by name or position. */
function delimitedColumns(
  header: string[],
  columns: EntryColumns,
  fail: (why: string) => Error,
): { id: string; text: string; lang?: string } {
  const named = (flag: string, name: string) => {
    const c = pickColumn(header, [name]);
    if (c === undefined) throw fail(`no column '${name}' (${flag}) in the header (columns: ${header.join(', ')})`);
    return c;
  };
  if (header.length < 2)
    throw fail(
      `expected a header row naming an id and a text column (id<TAB>text[<TAB>lang], or the same with commas); the header is '${header.join('')}'`,
    );
  const lang = pickColumn(header, LANG_COLUMNS);
  const id =
    columns.id !== undefined ? named('--id-column', columns.id) : (pickColumn(header, ID_COLUMNS) ?? header.find((c) => c !== lang)!);
  const text =
    columns.text !== undefined
      ? named('--text-column', columns.text)
      : (pickColumn(header, TEXT_COLUMNS) ?? header.find((c) => c !== id && c !== lang));
  if (text !== undefined && text === id)
    throw fail(`the id and the text would both be column '${id}'; name them apart with --id-column and --text-column`);
  if (text === undefined) throw fail(`no text column in the header (columns: ${header.join(', ')}); name it with --text-column`);
  return lang === undefined || lang === id || lang === text ? { id, text } : { id, text, lang };
}
