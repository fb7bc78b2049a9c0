/**
 * Streaming reader for user row files: JSON Lines (one object a line),
 * CSV/TSV with a header (parsed by csv-parse, RFC 4180 quoting), or plain
 * text with one title a line, from a path
 * or a stream such as stdin. Yields one item per data row with its 1-based
 * line number in the file, or an error for a row that cannot be read (bad
 * JSON, a malformed CSV record) — the caller decides whether that aborts. A
 * gzip-compressed input (by its first bytes) is decompressed as it streams; a
 * ZIP archive (an Excel workbook) is refused. Memory stays flat whatever the
 * file's size.
 */
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { ioError, openBytes, peekHead } from '../util/open-bytes.js';
import { splitLines } from '../util/read-lines.js';

/** The formats {@link readRows} understands ('lines': plain text, one title a line, no header). */
export type RowFormat = 'jsonl' | 'csv' | 'tsv' | 'lines';

/** Every {@link RowFormat}, for checking a user's `--input-format`. */
export const ROW_FORMATS: readonly RowFormat[] = ['jsonl', 'csv', 'tsv', 'lines'];

/** One row of a file: its fields (strings for CSV/TSV, any JSON for JSON Lines), or why it could not be read. */
export type Row =
  | { line: number; bytes: number; record: Record<string, unknown>; error?: undefined }
  | { line: number; bytes: number; record?: undefined; error: string };

/**
 * The format of `path`: by extension (.jsonl/.ndjson/.json, .csv, .tsv/.tab,
 * each also with .gz), else by its first line (decompressed if it is gzip):
 * JSON Lines when it starts with '{', else TSV when it holds a tab, else CSV
 * — or, for a .txt/.text/.lst name, 'lines' (one title a line, no header)
 * where that would be CSV: Excel's "Text" and "Unicode Text" exports are
 * tab-separated .txt files. Async. JobBERTError ERR_NOT_FOUND / ERR_IO when it
 * cannot be read, ERR_BAD_FILE for a ZIP archive such as an Excel workbook.
 */
export async function detectFormat(path: string): Promise<RowFormat> {
  const named = namedFormat(path);
  if (named !== undefined && named !== 'lines') return named;
  const { stream } = await openBytes(path);
  let sniffed: RowFormat;
  try {
    sniffed = formatOfHead((await peekHead(stream, path)).head);
  } finally {
    stream.destroy();
  }
  return sniffed === 'csv' && named === 'lines' ? 'lines' : sniffed;
}

/** The format each file extension names (a .txt only where its first line is not TSV or JSON Lines: {@link detectFormat}). */
const EXTENSIONS: Record<string, RowFormat> = {
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'jsonl',
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  txt: 'lines',
  text: 'lines',
  lst: 'lines',
};

/** The format `path`'s extension (before any .gz) names, or undefined for a name without a known one. */
export function namedFormat(path: string): RowFormat | undefined {
  const ext = /\.([a-z]+)(?:\.gz)?$/i.exec(path)?.[1]?.toLowerCase();
  return ext !== undefined && Object.hasOwn(EXTENSIONS, ext) ? EXTENSIONS[ext] : undefined;
}

/** The format a file's first bytes show: JSON Lines when its first line that is not blank starts with '{', else TSV when it holds a tab, else CSV. */
function formatOfHead(head: Buffer): RowFormat {
  const first = firstLine(head).text;
  if (first.trimStart().startsWith('{')) return 'jsonl';
  return first.includes('\t') ? 'tsv' : 'csv';
}

/**
 * The first line that is not blank of a file's first bytes, without a
 * byte-order mark, and its number (from 1): blank lines before it are skipped
 * by every reader, so they must not decide the format (a JSON Lines file with
 * a leading blank line was read as CSV, its first record as the header).
 */
function firstLine(head: Buffer): { text: string; line: number } {
  const lines = head
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim() !== '');
  return at < 0 ? { text: '', line: 1 } : { text: lines[at], line: at + 1 };
}

/**
 * The format of a byte stream such as stdin, by its first line (or first 4 KiB),
 * and a stream that yields all of it again, those bytes included, as
 * {@link openBytes} reads it (decompressed, and decoded to UTF-8 from
 * `encoding` or a UTF-16 byte-order mark). Async.
 */
export async function detectStreamFormat(
  input: Readable,
  name = 'stdin',
  encoding?: string,
): Promise<{ format: RowFormat; stream: Readable }> {
  const { head, stream } = await peekHead((await openBytes(input, name, encoding)).stream, name);
  return { format: formatOfHead(head), stream };
}

/**
 * A CSV file's delimiter, by its header line: the most frequent of `,`, `;` and
 * `|` outside double quotes, `,` on a tie or when there is none. Excel saves
 * "CSV" with `;` where the decimal separator is a comma (German, French,
 * Spanish locales).
 */
export function csvDelimiter(header: string): string {
  const counts = new Map([
    [',', 0],
    [';', 0],
    ['|', 0],
  ]);
  let quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ',';
  for (const [ch, n] of counts) if (n > counts.get(best)!) best = ch;
  return best;
}

/**
 * The rows of a line-oriented stream: `row(text, line, bytes)` for each line
 * (1-based, and the bytes read through it), skipped where it gives undefined.
 * Read errors as {@link ioError}; the stream is closed at the end.
 */
async function* lineRows(
  stream: Readable,
  name: string,
  row: (text: string, line: number, bytes: number) => Row | undefined,
): AsyncGenerator<Row> {
  let line = 0;
  let bytes = 0;
  try {
    for await (const text of splitLines(stream)) {
      line++;
      bytes += Buffer.byteLength(text) + 1;
      const r = row(text, line, bytes);
      if (r) yield r;
    }
  } catch (e) {
    throw ioError(name, e);
  } finally {
    stream.destroy();
  }
}

/** JSON Lines: a row per non-blank line, an object, or why it is not one. */
function jsonRow(text: string, line: number, bytes: number): Row | undefined {
  if (!text.trim()) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { line, bytes, error: `not valid JSON (${(e as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { line, bytes, error: 'not a JSON object' };
  return { line, bytes, record: value as Record<string, unknown> };
}

/** Plain text: every line a row `{ title }`, an empty one too, so that row n is line n. */
const titleRow = (title: string, line: number, bytes: number): Row => ({ line, bytes, record: { title } });

async function* delimited(input: Readable, name: string, format: 'csv' | 'tsv'): AsyncGenerator<Row> {
  let stream = input;
  let delimiter = '\t';
  let fromLine = 1;
  if (format === 'csv') {
    const peeked = await peekHead(input, name);
    stream = peeked.stream;
    const first = firstLine(peeked.head);
    // A first line "sep=;" is Excel's way to name the delimiter; the header follows it.
    const sep = /^sep=(.)\s*$/i.exec(first.text)?.[1];
    delimiter = sep ?? csvDelimiter(first.text);
    if (sep) fromLine = first.line + 1;
  }
  const skipped: Row[] = [];
  // The line the last whole record ended on: where a quote that never closes began.
  let lastLine = fromLine - 1;
  const parser = parse({
    delimiter,
    from_line: fromLine,
    bom: true,
    info: true,
    skip_empty_lines: true,
    relax_column_count: true,
    // TSV is not quoted in practice (titles hold quotes); CSV is RFC 4180 — but a quote inside a field,
    // or after a quoted part (`"Sales Manager" (m/w/d)`), is kept as written: strict parsing refused such
    // a row and, after a closing quote, lost its way and read every later row into one field.
    quote: delimiter === '\t' ? false : '"',
    relax_quotes: true,
    skip_records_with_error: true,
    on_record: (record, context) => {
      lastLine = context.lines;
      return record;
    },
    on_skip: (err: Error | undefined) => {
      const e = err as (Error & { code?: string; lines?: number }) | undefined;
      const line = e?.lines ?? 0;
      const error =
        e?.code === 'CSV_QUOTE_NOT_CLOSED'
          ? `a quote opened after line ${lastLine} is never closed, so lines ${lastLine + 1}–${line} were read as one field and are lost: close the quote, or double a quote inside a quoted field ("")`
          : (e?.message ?? 'malformed record');
      skipped.push({ line, bytes: 0, error });
    },
  });
  stream.on('error', (e) => parser.destroy(ioError(name, e)));
  stream.pipe(parser);
  let header: string[] | undefined;
  for await (const item of parser as AsyncIterable<{ info: { lines: number; bytes: number }; record: string[] }>) {
    while (skipped.length) yield skipped.shift()!;
    const { info, record: fields } = item;
    if (!header) {
      header = fields.map((h) => h.trim());
      continue;
    }
    // More fields than the header: a delimiter inside an unquoted field ("Sales, Marketing"),
    // which would otherwise cut the title short without a word. Empty extra fields (a trailing delimiter) are harmless.
    if (fields.length > header.length && fields.slice(header.length).some((f) => f.trim() !== '')) {
      yield {
        line: info.lines,
        bytes: info.bytes,
        // TSV is read as written, quotes and all, so quoting a field would not help there.
        error: `${fields.length} fields where the header has ${header.length} (${delimiter === '\t' ? 'a tab inside a field? TSV fields are read as written, unquoted: remove the tab' : `a '${delimiter}' inside a field that is not quoted?`})`,
      };
      continue;
    }
    // Every header column is a key, in header order; a short row leaves the missing ones undefined.
    // Of two columns with the same name, the first is the one read (as pickColumn takes the first).
    const record: Record<string, string | undefined> = {};
    for (let c = 0; c < header.length; c++) if (!Object.hasOwn(record, header[c])) record[header[c]] = fields[c];
    yield { line: info.lines, bytes: info.bytes, record };
  }
  while (skipped.length) yield skipped.shift()!;
}

/**
 * The rows of `input` (a path, or a byte stream such as stdin, which then needs
 * `format`: see {@link detectStreamFormat}) in file order, streamed; its bytes
 * in `encoding` (any WHATWG label: 'windows-1252' for a Windows Excel export;
 * default UTF-8, or UTF-16 after its byte-order mark), gzip decompressed
 * ({@link openBytes}). Async generator; rejects with JobBERTError ERR_NOT_FOUND /
 * ERR_IO when the input cannot be read. A bad row is yielded as `{ line, error }`, not thrown.
 */
export async function* readRows(
  input: string | Readable,
  format?: RowFormat,
  encoding?: string,
  name = typeof input === 'string' ? input : 'stdin',
): AsyncGenerator<Row> {
  if (typeof input !== 'string' && format === undefined) throw new TypeError('readRows: a stream needs its format');
  if (typeof input === 'string' && format === undefined && isPipe(input)) {
    const opened = await openRows(input, undefined, encoding);
    yield* opened.rows;
    return;
  }
  const f = format ?? (await detectFormat(input as string));
  const { stream, ownBytes } = await openBytes(input, name, encoding);
  const rows =
    f === 'jsonl' ? lineRows(stream, name, jsonRow) : f === 'lines' ? lineRows(stream, name, titleRow) : delimited(stream, name, f);
  // Of gzip or another encoding, how far into the file: its own bytes read (progress against its size).
  if (!ownBytes) yield* rows;
  else
    for await (const row of rows) {
      if (row.bytes) row.bytes = ownBytes();
      yield row;
    }
}

/** Rows opened by {@link openRows}: their format, the rows, and the size in bytes of a regular file (null for a stream or a pipe). */
export interface OpenedRows {
  format: RowFormat;
  rows: AsyncGenerator<Row>;
  size: number | null;
}

/**
 * Whether `path` is a pipe, FIFO, character device or socket (`--input <(…)`,
 * /dev/stdin): a source that can be read only once, so its format must be
 * sniffed from the bytes it then goes on to yield, not by opening it twice.
 */
export function isPipe(path: string): boolean {
  try {
    const s = statSync(path);
    return s.isFIFO() || s.isCharacterDevice() || s.isSocket();
  } catch {
    return false; // a missing or unreadable path: reading it says why
  }
}

/**
 * The format of `input` and its rows, reading it once. A regular file's format
 * is its `format`, else {@link detectFormat}'s; a stream's (stdin) or a pipe's
 * is sniffed from its first bytes, which its rows then include (for a pipe the
 * extension still names the format as detectFormat lets it). Async; rejects as
 * {@link readRows} does.
 */
export async function openRows(input: string | Readable, format?: RowFormat, encoding?: string): Promise<OpenedRows> {
  if (typeof input === 'string' && !isPipe(input)) {
    let size: number;
    try {
      size = statSync(input).size; // first: a missing file named .csv was a stack trace (detectFormat does not open it)
    } catch (e) {
      throw ioError(input, e);
    }
    const f = format ?? (await detectFormat(input));
    return { format: f, rows: readRows(input, f, encoding), size };
  }
  const name = typeof input === 'string' ? input : 'stdin';
  const stream = typeof input === 'string' ? createReadStream(input) : input;
  if (format !== undefined) return { format, rows: readRows(stream, format, encoding, name), size: null };
  const sniffed = await detectStreamFormat(stream, name, encoding);
  const named = typeof input === 'string' ? namedFormat(input) : undefined;
  const f = named !== undefined && named !== 'lines' ? named : sniffed.format === 'csv' && named === 'lines' ? 'lines' : sniffed.format;
  // Already decompressed and decoded to UTF-8.
  return { format: f, rows: readRows(sniffed.stream, f, undefined, name), size: null };
}

/**
 * A row's id as a result gives it: a string or number `given` as a string,
 * `position` where it is absent (undefined, null or ''), and undefined for any
 * other value (an object, an array, a boolean), which the caller refuses
 * (with {@link ID_RULE}) — an integer beyond 2^53 too: JSON parsing has
 * already rounded it (12345678901234567890 reads as 12345678901234567000),
 * and a changed id would silently point at another record.
 */
export function rowId(given: unknown, position: number): string | undefined {
  // An empty CSV cell is no id: as its text, every such row would share the id "".
  if (given === undefined || given === null || given === '') return String(position);
  // Beyond 2^53 (rounded already), or NaN / Infinity (no id at all).
  if (typeof given === 'number' && !Number.isSafeInteger(given) && (Number.isInteger(given) || !Number.isFinite(given))) return undefined;
  return typeof given === 'string' || typeof given === 'number' ? String(given) : undefined;
}

/** What {@link rowId} takes, for the message that refuses a row's id. */
export const ID_RULE = 'must be a string or a number (an integer beyond 2^53 only as a string: JSON numbers that large are rounded)';

/**
 * The header names read as a row's title (CSV/TSV) when no column is named, in
 * this order: English, then the German and Spanish names of a job title column
 * in spreadsheets of our users' languages. Not names that also mean something
 * else there ("Position", a line number in German; "Titel", an academic title;
 * "cargo", freight in English).
 */
export const TITLE_COLUMNS = [
  'title',
  'vacancyTitle',
  'jobtitle',
  'job_title',
  'positionTitle',
  'Stellenbezeichnung',
  'Stellentitel',
  'Berufsbezeichnung',
  'puesto',
  'nombreDelPuesto',
] as const;

/** Where rows of titles keep theirs: the title field, a field to read where that one is absent, and the id field. */
export interface TitleFields {
  title: string;
  fallback?: string;
  id?: string;
}

/**
 * The title and id fields of rows in `format` whose (first) record has the
 * keys `columns`: JSON Lines `column`, else `title` (`text` where that is
 * absent), and `id`; a list, its title; CSV/TSV, the column `column` names,
 * else one of {@link TITLE_COLUMNS} ({@link pickColumn}), and an `id` column if
 * there is one. Undefined when a CSV/TSV header has no such column.
 */
export function titleFields(format: RowFormat, columns: string[], column?: string): TitleFields | undefined {
  if (format === 'jsonl') return column === undefined ? { title: 'title', fallback: 'text', id: 'id' } : { title: column, id: 'id' };
  if (format === 'lines') return { title: 'title' };
  const title = pickColumn(columns, column !== undefined ? [column] : TITLE_COLUMNS);
  if (title === undefined) return undefined;
  const id = pickColumn(columns, ['id']);
  return id === undefined ? { title } : { title, id };
}

/** A row's title by `fields` (undefined where it has none). */
export const titleOf = (record: Record<string, unknown>, fields: TitleFields): unknown =>
  record[fields.title] ?? (fields.fallback === undefined ? undefined : record[fields.fallback]);

/**
 * The column that the first of `names` names, or undefined: compared
 * case-insensitively, and failing that also ignoring spaces, '_' and '-' (so
 * `jobtitle` finds a spreadsheet's "Job Title"); of columns that read the
 * same, the first.
 */
export function pickColumn(columns: string[], names: readonly string[]): string | undefined {
  for (const key of [(s: string) => s.toLowerCase(), (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '')]) {
    const byKey = new Map<string, string>();
    for (const c of columns) if (!byKey.has(key(c))) byKey.set(key(c), c);
    for (const n of names) {
      const c = byKey.get(key(n));
      if (c !== undefined) return c;
    }
  }
  return undefined;
}

/**
 * Warns (JOBBERT_NOT_UTF8, once per reader: call it for the first such row)
 * that line `line` of `path` holds U+FFFD, the mark of bytes that were not
 * UTF-8: `what` names the field, `rows` what the file holds.
 */
export function warnNotUtf8(path: string, line: number, what: string, rows: string): void {
  process.emitWarning(
    `${path}:${line}: the ${what} holds U+FFFD, the mark of bytes that are not UTF-8; the ${rows} are read as UTF-8 (re-save a Windows/Excel export as UTF-8, e.g. iconv -f windows-1252 -t utf-8)`,
    { code: 'JOBBERT_NOT_UTF8' },
  );
}
