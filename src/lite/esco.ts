/** Reading ESCO occupations_<lang>.csv (RFC 4180 CSV with multi-line fields). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { decodeText } from '../util/open-bytes.js';

export interface Occupation {
  uri: string;
  preferred: string;
  alt: string[];
  description: string;
  /** Hidden labels (misspellings, older or gender-inclusive spellings); [] when the file has no such column. */
  hidden: string[];
  /** The ISCO-08 unit group code ('2512'); '' when the file has no iscoGroup column. */
  isco: string;
}

/** A CSV record and the line it starts on (from 1). */
export interface CsvRow {
  cells: string[];
  line: number;
}

/**
 * RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines;
 * CRLF or LF rows; a leading byte-order mark is dropped. Throws JobBERTError
 * ERR_BAD_DATA naming `name` and the line of a quote that never closes (it
 * read the rest of the file into one field).
 */
export function readCsvRows(text: string, name: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let quoteLine = 0;
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') {
      quoted = true;
      quoteLine = line;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
        line++;
      }
      row.push(field);
      rows.push({ cells: row, line: rowLine });
      row = [];
      field = '';
      rowLine = line;
    } else field += c;
  }
  if (quoted)
    throw new JobBERTError('ERR_BAD_DATA', `${name}:${quoteLine}: a quote opens a field that never closes (through line ${line})`);
  if (field !== '' || row.length) {
    row.push(field);
    rows.push({ cells: row, line: rowLine });
  }
  return rows;
}

/** {@link readCsvRows}' records without their lines. */
export function parseCsv(text: string, name = 'CSV'): string[][] {
  return readCsvRows(text, name).map((r) => r.cells);
}

/** An ESCO CSV file: its header, its records that are not blank, and checks that name the file and line. */
export interface CsvTable {
  header: string[];
  rows: CsvRow[];
  /** The index of column `name`; JobBERTError ERR_BAD_DATA showing the header when it has none. */
  col(name: string): number;
  /**
   * `row`'s cells, checked to reach column `last` and to hold a value in column
   * `key`; JobBERTError ERR_BAD_DATA naming the line otherwise (such a row, cut
   * short or without its URI, was dropped without a word).
   */
  cells(row: CsvRow, key: number, last: number): string[];
}

/**
 * Reads the CSV file `path` as ESCO writes them (comma-separated; UTF-8, or
 * UTF-16 after its byte-order mark). Async; JobBERTError ERR_NOT_FOUND /
 * ERR_IO when it cannot be read, ERR_BAD_DATA (from `fn`) for a quote that
 * never closes.
 */
export async function readCsvTable(fn: string, path: string): Promise<CsvTable> {
  let text: string;
  try {
    text = decodeText(await readFile(path));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new JobBERTError(missing ? 'ERR_NOT_FOUND' : 'ERR_IO', `${fn}: cannot read ${path} (${(e as Error).message})`);
  }
  const [head, ...rows] = readCsvRows(text, path);
  const header = head?.cells ?? [];
  const bad = (why: string) => new JobBERTError('ERR_BAD_DATA', `${fn}: ${path}${why}`);
  return {
    header,
    rows: rows.filter((r) => r.cells.some((c) => c.trim() !== '')),
    col(name) {
      const i = header.indexOf(name);
      if (i >= 0) return i;
      const shown = header.join(',');
      throw bad(
        ` has no ${name} column (its header is '${shown.length > 120 ? `${shown.slice(0, 120)}…` : shown}'; ESCO's CSVs are comma-separated)`,
      );
    },
    cells({ cells, line }, key, last) {
      if (cells.length <= last)
        throw bad(`:${line}: ${cells.length} fields, where the header's ${header[last]} column is field ${last + 1}`);
      if (!cells[key].trim()) throw bad(`:${line}: no ${header[key]}`);
      return cells;
    },
  };
}

/** The occupations of `dir/<lang>/occupations_<lang>.csv` (dir: the ESCO folder holding en/, de/, es/). */
export async function readOccupations(dir: string, lang: string): Promise<Occupation[]> {
  const t = await readCsvTable('readOccupations', join(dir, lang, `occupations_${lang}.csv`));
  const u = t.col('conceptUri');
  const p = t.col('preferredLabel');
  const a = t.col('altLabels');
  const d = t.col('description');
  const h = t.header.indexOf('hiddenLabels');
  const g = t.header.indexOf('iscoGroup');
  const lines = (v: string | undefined) =>
    (v ?? '')
      .split('\n')
      .map((x) => x.trim())
      .filter(Boolean);
  return t.rows
    .map((row) => t.cells(row, u, Math.max(u, p)))
    .map((r) => ({
      uri: r[u].trim(),
      preferred: r[p].trim(),
      alt: lines(r[a]),
      description: (r[d] ?? '').trim(),
      hidden: h < 0 ? [] : lines(r[h]),
      isco: g < 0 ? '' : (r[g] ?? '').trim(),
    }));
}
