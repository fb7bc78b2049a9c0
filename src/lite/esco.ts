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

/** What a header that lacks a column holds, for the error: ESCO's CSVs are comma-separated, UTF-8 or UTF-16 with a byte-order mark. */
export function headerSeen(header: string[]): string {
  const shown = header.join(',');
  return `its header is '${shown.length > 120 ? `${shown.slice(0, 120)}…` : shown}'; ESCO's CSVs are comma-separated`;
}

/** {@link readCsvRows}' records without their lines. */
export function parseCsv(text: string, name = 'CSV'): string[][] {
  return readCsvRows(text, name).map((r) => r.cells);
}

/** The occupations of `dir/<lang>/occupations_<lang>.csv` (dir: the ESCO folder holding en/, de/, es/). */
export async function readOccupations(dir: string, lang: string): Promise<Occupation[]> {
  const path = join(dir, lang, `occupations_${lang}.csv`);
  let text: string;
  try {
    text = decodeText(await readFile(path));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new JobBERTError(missing ? 'ERR_NOT_FOUND' : 'ERR_IO', `readOccupations: cannot read ${path} (${(e as Error).message})`);
  }
  const [head, ...rows] = readCsvRows(text, path);
  const header = head?.cells ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new JobBERTError('ERR_BAD_DATA', `readOccupations: ${path} has no ${name} column (${headerSeen(header)})`);
    return i;
  };
  const u = col('conceptUri');
  const p = col('preferredLabel');
  const a = col('altLabels');
  const d = col('description');
  const h = header.indexOf('hiddenLabels');
  const g = header.indexOf('iscoGroup');
  const lines = (v: string | undefined) =>
    (v ?? '')
      .split('\n')
      .map((x) => x.trim())
      .filter(Boolean);
  const needed = Math.max(u, p) + 1;
  return rows
    .filter((r) => r.cells.some((c) => c.trim() !== ''))
    .map(({ cells: r, line }) => {
      // A row cut short (or without a URI) was dropped without a word.
      if (r.length < needed || !r[u].trim())
        throw new JobBERTError(
          'ERR_BAD_DATA',
          `readOccupations: ${path}:${line}: ${r.length < needed ? `${r.length} fields, fewer than the header's conceptUri and preferredLabel columns need` : 'no conceptUri'}`,
        );
      return r;
    })
    .map((r) => ({
      uri: r[u].trim(),
      preferred: r[p].trim(),
      alt: lines(r[a]),
      description: (r[d] ?? '').trim(),
      hidden: h < 0 ? [] : lines(r[h]),
      isco: g < 0 ? '' : (r[g] ?? '').trim(),
    }));
}
