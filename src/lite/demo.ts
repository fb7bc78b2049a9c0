/**
 * `jobbert demo` and the default matcher: the shipped LiteEncoder model over the
 * built-in catalogue (or, with `--esco DIR`, over the ESCO occupations), with
 * no network and no data directory. The lead wires `demoCommand` and
 * `matchDefault` into the CLI.
 */
import { join } from 'node:path';
import { parseArgs, UsageError } from '../cli/args.js';
import { CATALOGUE_LANGS, catalogue, catalogueEntries, type CatalogueLang } from '../catalogue/index.js';
import { MatchIndex, type MatchResult } from '../match-index.js';
import { LiteEncoder } from './encoder.js';
import { readOccupations } from './esco.js';

type Out = (line: string) => void;

export const DEMO_QUERIES: readonly string[] = ['Senior Softwareentwickler (m/w/d)', 'ICU nurse', 'Contable senior', '高级数据科学家', 'Kfz-Mechaniker', 'camarera de restaurante', 'Head of Sales DACH', '幼儿园教师'];

let cached: { key: string; index: Promise<MatchIndex> } | null = null;

/** The ESCO occupations of `dir` (preferred + alternative labels in en/de/es as present) as match entries; id = `<concept URI>#<lang><label number>`. */
async function escoEntries(dir: string): Promise<{ id: string; text: string; lang: string }[]> {
  const entries: { id: string; text: string; lang: string }[] = [];
  for (const lang of ['en', 'de', 'es']) {
    let occ;
    try {
      occ = await readOccupations(dir, lang);
    } catch {
      if (lang === 'en') throw new UsageError(`--esco ${dir}: no en/occupations_en.csv there`);
      continue;
    }
    for (const o of occ) [o.preferred, ...o.alt].forEach((l, n) => entries.push({ id: `${o.uri}#${lang}${n}`, text: l, lang }));
  }
  return entries;
}

/** The default index: the catalogue (or ESCO at `esco`) encoded with the default model; built once per process. */
export function defaultIndex(opts: { esco?: string } = {}): Promise<MatchIndex> {
  const key = opts.esco ?? '<catalogue>';
  if (cached?.key !== key) {
    const index = (async () => {
      const encoder = await LiteEncoder.load();
      const entries = opts.esco ? await escoEntries(opts.esco) : catalogueEntries();
      return MatchIndex.build(encoder, entries);
    })();
    cached = { key, index };
    index.catch(() => {
      if (cached?.index === index) cached = null;
    });
  }
  return cached!.index;
}

/**
 * Matches queries against the built-in catalogue (all four languages, or only
 * `lang`) with the default model; results keep each catalogue title's best
 * language (ids `<entry id>#<lang>`), or, with `esco`, each occupation's best label.
 */
export async function matchDefault(queries: string[], opts: { k?: number; lang?: string; esco?: string } = {}): Promise<MatchResult[][]> {
  if (!Array.isArray(queries) || queries.some((q) => typeof q !== 'string')) throw new TypeError('matchDefault: queries must be an array of strings');
  const k = opts.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`matchDefault: k must be an integer >= 1; received ${k}`);
  const index = await defaultIndex({ esco: opts.esco });
  // Keep one result per catalogue entry / occupation: fetch k·6 labels, and more
  // while a query that has more labels left still lacks k distinct groups.
  const best = (rs: MatchResult[]) => {
    const seen = new Set<string>();
    const out: MatchResult[] = [];
    for (const r of rs) {
      const group = r.id.slice(0, r.id.lastIndexOf('#'));
      if (seen.has(group)) continue;
      seen.add(group);
      out.push(r);
      if (out.length === k) break;
    }
    return out;
  };
  for (let fetch = k * 6; ; fetch *= 4) {
    const raw = await index.search(queries, { k: fetch, lang: opts.lang });
    const grouped = raw.map(best);
    if (grouped.every((g, i) => g.length === k || raw[i].length < fetch)) return grouped;
  }
}

const width = (s: string) => [...s].reduce((w, ch) => w + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1), 0);
const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - width(s)));

/** `jobbert demo [QUERY...] [--k N] [--esco DIR] [--json]`: a readable table of matches. */
export async function demoCommand(argv: string[], out: Out): Promise<number> {
  const { options, positionals } = parseArgs(argv, { options: { k: 'integer', esco: 'string', json: 'boolean', lang: 'string' } });
  const queries = positionals.length ? positionals : [...DEMO_QUERIES];
  const k = (options.k as number | undefined) ?? 3;
  const esco = options.esco as string | undefined;
  const lang = options.lang as string | undefined;
  if (lang !== undefined && !esco && !CATALOGUE_LANGS.includes(lang as CatalogueLang)) throw new UsageError(`--lang must be one of ${CATALOGUE_LANGS.join(', ')}; received '${lang}'`);
  const started = Date.now();
  const results = await matchDefault(queries, { k, esco, lang });
  if (options.json) {
    out(JSON.stringify({ results }));
    return 0;
  }
  const byId = new Map(catalogue.map((c) => [c.id, c]));
  const what = esco ? `ESCO occupations in ${esco}` : `the built-in catalogue (${catalogue.length} job titles × en/de/es/zh)`;
  out(`jobbert demo — default LiteEncoder model, matching against ${what}`);
  out('');
  const qw = Math.max(5, ...queries.map(width)) + 2;
  out(`${pad('query', qw)}${pad('#', 3)} score   match`);
  out('-'.repeat(qw + 3 + 8 + 40));
  queries.forEach((q, i) => {
    results[i].forEach((r, j) => {
      let text = r.text;
      if (!esco) {
        const c = byId.get(r.id.split('#')[0]);
        if (c) text = `${r.text}  (en: ${c.en} · de: ${c.de} · es: ${c.es} · zh: ${c.zh})`;
      }
      out(`${pad(j === 0 ? q : '', qw)}${pad(String(j + 1), 3)} ${r.score.toFixed(3)}   ${text}`);
    });
    if (results[i].length === 0) out(`${pad(q, qw)}   (no match)`);
  });
  out('');
  out(`${queries.length} queries in ${Date.now() - started} ms (the first call in a process also loads the model and encodes the catalogue). Try: jobbert match "Softwareentwickler" --k 5`);
  return 0;
}
