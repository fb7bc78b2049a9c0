/** Reading ESCO occupations_<lang>.csv (RFC 4180 CSV with multi-line fields). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';

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

/** RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines; CRLF or LF rows. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The occupations of `dir/<lang>/occupations_<lang>.csv` (dir: the ESCO folder holding en/, de/, es/). */
export async function readOccupations(dir: string, lang: string): Promise<Occupation[]> {
  const path = join(dir, lang, `occupations_${lang}.csv`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new JobBERTError('ERR_BAD_DATA', `readOccupations: cannot read ${path} (${(e as Error).message})`);
  }
  const [header, ...rows] = parseCsv(text);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new JobBERTError('ERR_BAD_DATA', `readOccupations: ${path} has no ${name} column`);
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
  return rows
    .filter((r) => r.length > p && r[u])
    .map((r) => ({
      uri: r[u],
      preferred: r[p].trim(),
      alt: lines(r[a]),
      description: (r[d] ?? '').trim(),
      hidden: h < 0 ? [] : lines(r[h]),
      isco: g < 0 ? '' : (r[g] ?? '').trim(),
    }));
}
