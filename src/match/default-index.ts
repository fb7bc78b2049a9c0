/**
 * The default matcher: the shipped LiteEncoder model over the built-in
 * catalogue (or, with `esco`, over the ESCO occupations of a folder), with no
 * network and no data directory. `jobbert demo` and `jobbert match` use it.
 */
import { catalogueEntries } from '../catalogue/index.js';
import { JobBERTError } from '../errors.js';
import { LiteEncoder } from '../lite/encoder.js';
import { readOccupations } from '../lite/esco.js';
import { MatchIndex, type MatchResult } from './match-index.js';
import { describe } from '../util/validate.js';

let cached: { key: string; index: Promise<MatchIndex> } | null = null;

/**
 * The ESCO occupations of `dir` (preferred + alternative labels in en/de/es as
 * present) as match entries; id = `<concept URI>#<lang><label number>`, the
 * numbers running on where a URI has several rows. A missing de/es file is
 * skipped; any other fault of a file (a bad row, a missing column) is an error.
 */
async function escoEntries(dir: string): Promise<{ id: string; text: string; lang: string }[]> {
  const entries: { id: string; text: string; lang: string }[] = [];
  for (const lang of ['en', 'de', 'es']) {
    let occ;
    try {
      occ = await readOccupations(dir, lang);
    } catch (e) {
      if ((e as JobBERTError).code !== 'ERR_NOT_FOUND') throw e;
      if (lang === 'en') throw new JobBERTError('ERR_NOT_FOUND', `${dir}: no en/occupations_en.csv there`);
      continue;
    }
    const next = new Map<string, number>();
    for (const o of occ) {
      let n = next.get(o.uri) ?? 0;
      for (const text of [o.preferred, ...o.alt]) if (text) entries.push({ id: `${o.uri}#${lang}${n++}`, text, lang });
      next.set(o.uri, n);
    }
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
  if (!Array.isArray(queries) || queries.some((q) => typeof q !== 'string'))
    throw new TypeError('matchDefault: queries must be an array of strings');
  const k = opts.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`matchDefault: k must be an integer >= 1; received ${k}`);
  const index = await defaultIndex({ esco: opts.esco });
  const langs = index.languages.filter((l) => l !== '');
  if (opts.lang !== undefined && !langs.includes(opts.lang))
    throw new RangeError(`matchDefault: lang must be one of ${langs.map((l) => `'${l}'`).join(', ')}; received ${describe(opts.lang)}`);
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
  // At most every entry: k · 6 beyond the index's size was refused by the search, naming a k the caller never gave.
  for (let fetch = Math.min(k * 6, index.size); ; fetch = Math.min(fetch * 4, index.size)) {
    const raw = await index.search(queries, { k: fetch, lang: opts.lang });
    const grouped = raw.map(best);
    if (fetch === index.size || grouped.every((g, i) => g.length === k || raw[i].length < fetch)) return grouped;
  }
}
