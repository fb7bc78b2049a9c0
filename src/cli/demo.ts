/** `jobbert demo`: a readable table of the default matcher's answers (src/match/default-index.ts). */
import { parseArgs, UsageError } from './args.js';
import { CATALOGUE_LANGS, catalogue, type CatalogueLang } from '../catalogue/index.js';
import { matchDefault } from '../match/default-index.js';

type Out = (line: string) => void;

export const DEMO_QUERIES: readonly string[] = [
  'Senior Softwareentwickler (m/w/d)',
  'ICU nurse',
  'Contable senior',
  '高级数据科学家',
  'Kfz-Mechaniker',
  'camarera de restaurante',
  'Head of Sales DACH',
  '幼儿园教师',
];

const width = (s: string) =>
  [...s].reduce(
    (w, ch) => w + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1),
    0,
  );
const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - width(s)));

/** `jobbert demo [QUERY...] [--k N] [--esco DIR] [--json]`: a readable table of matches. */
export async function demoCommand(argv: string[], out: Out): Promise<number> {
  const { options, positionals } = parseArgs(argv, { options: { k: 'integer', esco: 'string', json: 'boolean', lang: 'string' } });
  const queries = positionals.length ? positionals : [...DEMO_QUERIES];
  const k = (options.k as number | undefined) ?? 3;
  const esco = options.esco as string | undefined;
  const lang = options.lang as string | undefined;
  if (lang !== undefined && !esco && !CATALOGUE_LANGS.includes(lang as CatalogueLang))
    throw new UsageError(`--lang must be one of ${CATALOGUE_LANGS.join(', ')}; received '${lang}'`);
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
  out(
    `${queries.length} queries in ${Date.now() - started} ms (the first call in a process also loads the model and encodes the catalogue). Try: jobbert match "Softwareentwickler" --k 5`,
  );
  return 0;
}
