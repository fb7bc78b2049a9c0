/**
 * The ESCO occupations a Normalizer maps titles to: URIs, ISCO codes,
 * preferred and alternative labels per language, ISCO group labels. Two
 * sources: the compact ESCO v1.2.0 build shipped in the package
 * (models/esco/occupations.json.gz, made by scripts/build-esco.ts), or a
 * folder of ESCO CSVs (occupations_<lang>.csv, ISCOGroups_<lang>.csv, either
 * directly in the folder or in <lang>/ subfolders, as ESCO's download has them).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { JobBERTError } from '../errors.js';
import { readCsvTable } from '../lite/esco.js';

/** One occupation: its URI, ISCO unit group code and labels per language. */
export interface TaxonomyOccupation {
  uri: string;
  isco: string;
  /** Preferred label per language ('en', 'de', ...). */
  preferred: Record<string, string>;
  /** Alternative labels per language. */
  alt: Record<string, string[]>;
}

/** A taxonomy of occupations (ESCO), with the ISCO group labels. */
export interface Taxonomy {
  /** Where it came from, e.g. 'ESCO v1.2.0 (built in)' or the folder read. */
  source: string;
  /** The label languages present, first = the fallback for output labels. */
  langs: string[];
  occupations: TaxonomyOccupation[];
  /** ISCO code → label per language. */
  iscoGroups: Record<string, Record<string, string>>;
}

/** One label of an occupation, as {@link labelRows} lists it. */
export interface LabelRow {
  /** Position of the occupation in the taxonomy. */
  occupation: number;
  text: string;
  lang: string;
  /**
   * Whether it is the occupation's whole preferred label in `lang`: not a form
   * of it ({@link preferredForms}) nor an alternative label. The confidence
   * counts forms with the alternative labels: on English titles a form match
   * is mostly a cross-language coincidence ("Promoter", a German form).
   */
  preferred: boolean;
}

/**
 * The forms a preferred label names when it pairs them with a slash, as
 * ESCO's German and Spanish preferred labels do ("Elektriker/Elektrikerin",
 * "camarero/camarera", "waiter/waitress"): a vacancy names one form, and the
 * masculine form alone is often another occupation's alternative label
 * ("camarero" of *bartender*), which would otherwise score 1 against the
 * pair's < 1. A slash after a hyphen joins a compound ("Import-/Exportmanager")
 * and separates nothing; each form's first word needs three letters in a row,
 * so a bare suffix pairs nothing ("Lehrer/in", "Schichtleiter/in Bergbau",
 * "redactor/a de revista"). [] for a label that pairs nothing. Sync.
 */
export function preferredForms(label: string): string[] {
  const forms = label
    .split(/(?<!-)\//)
    .map((f) => f.trim())
    .filter((f) => f.length > 0);
  return forms.length > 1 && forms.every((f) => /\p{L}{3}/u.test(f.split(/\s/, 1)[0])) ? forms : [];
}

/**
 * The taxonomy's labels as the Normalizer indexes them: each occupation's
 * labels once per occupation (case-insensitively), in three parts — every
 * preferred label, then the forms of those that pair forms with a slash
 * ({@link preferredForms}: "Elektriker", "Elektrikerin"), then every
 * alternative label —, each part in occupation and language order. The order
 * decides ties (equal scores go to the earlier row), so a label text shared by
 * several occupations (2,577 in the built-in ESCO; "policy officer" is the
 * preferred label of one and an alternative of three) goes first to the one
 * that prefers it (titles.csv zero-shot MRR .3583 → .3631 over occupation
 * order), and a form only after every whole preferred label ("Promoter", a
 * form of the German *promotions demonstrator*, after the English preferred
 * label "promoter"). Sync.
 */
export function labelRows(tax: Taxonomy): LabelRow[] {
  const rows: LabelRow[] = [];
  // Lower-cased texts per occupation (with one Set of 69,400 `${i}\0${text}` keys labelRows took 154 ms at load, 103 so).
  const seen = tax.occupations.map(() => new Set<string>());
  const texts = [
    (o: TaxonomyOccupation, lang: string) => (o.preferred[lang] ? [o.preferred[lang]] : []),
    (o: TaxonomyOccupation, lang: string) => (o.preferred[lang] ? preferredForms(o.preferred[lang]) : []),
    (o: TaxonomyOccupation, lang: string) => o.alt[lang] ?? [],
  ];
  texts.forEach((textsOf, part) => {
    tax.occupations.forEach((o, i) => {
      for (const lang of tax.langs) {
        for (const text of textsOf(o, lang)) {
          if (!text) continue;
          const key = text.toLowerCase();
          if (seen[i].has(key)) continue;
          seen[i].add(key);
          rows.push({ occupation: i, text, lang, preferred: part === 0 });
        }
      }
    });
  });
  return rows;
}

/** The compact build's on-disk form (gzip'd JSON): URIs without the common prefix. */
interface CompactTaxonomy {
  format: 'jobbert-esco';
  version: 1;
  source: string;
  uriPrefix: string;
  langs: string[];
  /** [uri suffix, isco, {lang: preferred}, {lang: alt[]}] */
  occupations: [string, string, Record<string, string>, Record<string, string[]>][];
  iscoGroups: Record<string, Record<string, string>>;
}

/** The folder of the ESCO build shipped in the package (models/esco). */
export function builtinTaxonomyDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'esco');
}

/** Name of the shipped taxonomy source, part of a calibration's key. */
export const BUILTIN_TAXONOMY = 'ESCO v1.2.0 (built in)';

/** Serialises a taxonomy to the compact gzip'd JSON form (scripts/build-esco.ts). */
export function compactTaxonomy(t: Taxonomy): CompactTaxonomy {
  const prefix = 'http://data.europa.eu/esco/occupation/';
  return {
    format: 'jobbert-esco',
    version: 1,
    source: t.source,
    uriPrefix: prefix,
    langs: t.langs,
    occupations: t.occupations.map((o) => [o.uri.startsWith(prefix) ? o.uri.slice(prefix.length) : o.uri, o.isco, o.preferred, o.alt]),
    iscoGroups: t.iscoGroups,
  };
}

/** Reads the compact build (models/esco/occupations.json.gz by default). Async; JobBERTError ERR_BAD_DATA if damaged. */
export async function loadBuiltinTaxonomy(path = join(builtinTaxonomyDir(), 'occupations.json.gz')): Promise<Taxonomy> {
  let c: CompactTaxonomy;
  try {
    c = JSON.parse(gunzipSync(await readFile(path)).toString('utf8')) as CompactTaxonomy;
  } catch (e) {
    throw new JobBERTError('ERR_BAD_DATA', `Normalizer: cannot read the built-in ESCO taxonomy ${path} (${(e as Error).message})`);
  }
  if (c.format !== 'jobbert-esco' || c.version !== 1 || !Array.isArray(c.occupations))
    throw new JobBERTError('ERR_BAD_DATA', `Normalizer: ${path} is not a jobbert ESCO build (format ${String(c.format)})`);
  return {
    source: c.source,
    langs: c.langs,
    occupations: c.occupations.map(([u, isco, preferred, alt]) => ({
      uri: u.includes('://') ? u : c.uriPrefix + u,
      isco,
      preferred,
      alt,
    })),
    iscoGroups: c.iscoGroups,
  };
}

/** An ISCO-08 unit group code, as ESCO's iscoGroup column holds it. */
const ISCO_CODE = /^\d{4}$/;

function findCsv(dir: string, kind: 'occupations' | 'ISCOGroups', lang: string): string | null {
  for (const p of [join(dir, `${kind}_${lang}.csv`), join(dir, lang, `${kind}_${lang}.csv`)]) if (existsSync(p)) return p;
  return null;
}

/** JobBERTError ERR_NOT_FOUND unless `dir` exists, ERR_IO unless it is a folder. */
function checkTaxonomyDir(dir: string): void {
  if (!existsSync(dir)) throw new JobBERTError('ERR_NOT_FOUND', `readTaxonomy: ${dir} does not exist`);
  if (!statSync(dir).isDirectory())
    throw new JobBERTError('ERR_IO', `readTaxonomy: ${dir} is a file; name the folder that holds occupations_<lang>.csv`);
}

/** The languages of the occupations_<lang>.csv files in `dir` or `dir/<lang>/`, English first. */
function taxonomyLangs(dir: string): string[] {
  const candidates = new Set<string>();
  const scan = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const m = /^occupations_([a-z]{2,3})\.csv$/.exec(e.name);
      if (e.isFile() && m) candidates.add(m[1]);
      else if (e.isDirectory() && d === dir && /^[a-z]{2,3}$/.test(e.name)) scan(join(d, e.name));
    }
  };
  scan(dir);
  return [...candidates].sort((a, b) => (a === 'en' ? -1 : b === 'en' ? 1 : a.localeCompare(b)));
}

/**
 * The languages of the taxonomy in `dir`, English first, as {@link readTaxonomy}
 * finds them, without reading the files. Sync; the JobBERTErrors readTaxonomy
 * gives for a missing folder, a file, or a folder without occupations.
 */
export function taxonomyLanguages(dir: string): string[] {
  checkTaxonomyDir(dir);
  const langs = taxonomyLangs(dir);
  if (langs.length === 0) throw new JobBERTError('ERR_NOT_FOUND', `readTaxonomy: ${dir} holds no occupations_<lang>.csv`);
  return langs;
}

/**
 * The files {@link readTaxonomy} reads from `dir` (each language's occupations
 * CSV and ISCO groups CSV, in `dir` or `dir/<lang>/`), in a stable order: what a
 * fingerprint of the taxonomy must cover. Sync.
 */
export function taxonomyFiles(dir: string): string[] {
  checkTaxonomyDir(dir);
  return taxonomyLangs(dir)
    .flatMap((lang) => [findCsv(dir, 'occupations', lang), findCsv(dir, 'ISCOGroups', lang)])
    .filter((p): p is string => p !== null);
}

/**
 * Reads a folder of ESCO CSVs: every occupations_<lang>.csv found (in `dir`
 * or `dir/<lang>/`) and the matching ISCOGroups_<lang>.csv when present.
 * English first when present. An occupation's ISCO code is the first its rows
 * give; rows whose code is not 4 digits, or differs from that first one, are
 * reported in a JOBBERT_TAXONOMY_ISCO warning (file:line of the first). Async;
 * JobBERTError ERR_NOT_FOUND when the folder holds no occupations file,
 * ERR_BAD_DATA for a malformed one (naming its line), ERR_IO for a `dir` that
 * is a file or a file that cannot be read.
 */
export async function readTaxonomy(dir: string): Promise<Taxonomy> {
  const langs = taxonomyLanguages(dir);
  const byUri = new Map<string, TaxonomyOccupation>();
  const iscoGroups: Record<string, Record<string, string>> = {};
  // ISCO codes as found, the first a URI gives (else a later one, where the first row had none); odd ones reported.
  const iscoFrom = new Map<string, string>();
  const malformed: string[] = [];
  const conflicting: string[] = [];
  for (const lang of langs) {
    const file = findCsv(dir, 'occupations', lang)!;
    const t = await readCsvTable('readTaxonomy', file);
    const [u, g, p, a] = [t.col('conceptUri'), t.col('iscoGroup'), t.col('preferredLabel'), t.col('altLabels')];
    for (const row of t.rows) {
      const r = t.cells(row, u, Math.max(u, p));
      const uri = r[u].trim();
      const isco = (r[g] ?? '').trim();
      const where = `${file}:${row.line}`;
      if (!ISCO_CODE.test(isco)) malformed.push(`${where}: ${isco ? `'${isco}'` : 'none'}`);
      let o = byUri.get(uri);
      if (!o) byUri.set(uri, (o = { uri, isco, preferred: {}, alt: {} }));
      else if (isco && o.isco && isco !== o.isco)
        conflicting.push(`${where}: '${isco}' for ${uri}, where ${iscoFrom.get(uri)} gave '${o.isco}'`);
      else if (isco && !o.isco) o.isco = isco;
      if (isco && !iscoFrom.has(uri)) iscoFrom.set(uri, where);
      // A URI on a second row adds its labels (they replaced the first row's); its preferred label, if another, is an alternative.
      let pref = r[p].trim();
      const extra: string[] = [];
      if (pref && o.preferred[lang] && o.preferred[lang] !== pref) extra.push(pref);
      else if (pref) o.preferred[lang] = pref;
      pref = o.preferred[lang] ?? '';
      const alt = [...(o.alt[lang] ?? []), ...extra, ...(r[a] ?? '').split('\n').map((s) => s.trim())].filter((s) => s && s !== pref);
      if (alt.length) o.alt[lang] = [...new Set(alt)];
    }
    const groups = findCsv(dir, 'ISCOGroups', lang);
    if (groups) {
      const t = await readCsvTable('readTaxonomy', groups);
      const [c, l] = [t.col('code'), t.col('preferredLabel')];
      for (const { cells: r } of t.rows) if (r[c] && r[l]) (iscoGroups[r[c].trim()] ??= {})[lang] = r[l].trim();
    }
  }
  if (malformed.length)
    process.emitWarning(
      `readTaxonomy: ${malformed.length} row(s) without a 4-digit ISCO-08 code in iscoGroup (first: ${malformed[0]}); results show the code as found`,
      { code: 'JOBBERT_TAXONOMY_ISCO' },
    );
  if (conflicting.length)
    process.emitWarning(
      `readTaxonomy: ${conflicting.length} row(s) give an occupation another ISCO code than before (first: ${conflicting[0]}); the first is kept`,
      { code: 'JOBBERT_TAXONOMY_ISCO' },
    );
  const occupations = [...byUri.values()].sort((x, y) => (x.uri < y.uri ? -1 : x.uri > y.uri ? 1 : 0));
  return { source: resolve(dir), langs, occupations, iscoGroups };
}
