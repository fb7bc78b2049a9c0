/**
 * Trains the default LiteEncoder model shipped in models/lite/.
 *
 *   node --import tsx scripts/train-default-model.ts --data ../shared/data --out models/lite
 *
 * Training pairs (written to a temp JSONL file, never into the repository),
 * all from ESCO v1.2.0 (en/de/es) and the built-in catalogue — never from
 * jobbert-eval/titles.csv, the zero-shot dev set:
 * - clean: every ESCO label (preferred, alternative, hidden; en/de/es) paired
 *   with another label of the same occupation drawn from all three languages,
 *   `--rounds` times, and `--mono` more times with a label of the same language;
 * - noisy (`--noise` rounds): every label turned into a vacancy-style title by
 *   src/lite/augment.ts (seniority, "(m/w/d)", "Entwickler/in", abbreviations,
 *   typos, work modes, places, ...) paired with the clean label itself
 *   (`--self` of the time) or another label of its occupation; `--drop X`:
 *   also drop one modifier word from X of them ("senior software developer" →
 *   "software developer"), as vacancy titles are often less specific;
 * - ISCO (`--isco` rounds): a label paired with the preferred label of its
 *   ISCO-08 unit group in the same language (group = the ISCO code);
 * - descriptions (`--describe` rounds): a label paired with the first sentence
 *   of its occupation's description;
 * - technology titles (`--tech` rounds): "Java Developer", "Python-Entwickler",
 *   "Desarrollador React", "SAP Consultant" (src/lite/tech-titles.ts: ESCO names
 *   no programming language or product), half of them with vacancy noise, each
 *   paired with a label of its occupation in the same language;
 * - the built-in catalogue's titles paired across en/de/es/zh (3 rounds);
 * - `--examples FILE` (not in the shipped model): your labelled titles, in the
 *   Normalizer's examples formats (CSV/TSV with a title and a URI column, or
 *   JSON Lines { title, uri }), each paired with an English label of its
 *   occupation (any label where it has none), `--example-rounds` times (3).
 *   For a model of your own domain, and for scripts/in-domain-ceiling.ts; the
 *   script refuses to write such a model into models/lite.
 * Pairs of one occupation carry its URI as group, so no two meet in a batch.
 * The rounds draw some pairs more than once (15,824 of the 362,120 written with
 * the defaults): the recipe keeps every copy (`keepDuplicates`), as the shipped
 * model was trained, where training would otherwise drop exact duplicates.
 * Both sides go through the anchor head (titles on both sides, as at search time).
 * Options (defaults: the shipped recipe): --epochs N (3) --batch-size N (512) --lr X (0.003)
 *   --rounds N (2) --mono N (1) --noise N (2) --self X (0.5) --drop X (0.25) --isco N (2)
 *   --describe N (1) --tech N (8) --hidden (on; --no-hidden leaves ESCO's hidden labels out) --symmetric (off)
 *   --scale X (20) --seed N (42) --dim N (96) --buckets N (131072)
 *   --examples FILE --example-rounds N (3): see above
 *   --eval: afterwards print the dev figures (titles.csv MRR/acc@k against en and en+de+es labels,
 *   TalentCLEF validation en/de) — evaluation only; titles.csv never enters the shipped model.
 * A seed gives a bit-identical model. The shipped weights came from the trainer
 * of commit dee4d24; today's gives other bits of the same quality (README).
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { catalogue } from '../src/catalogue/index.js';
import { evaluateTaskA } from '../src/eval/talentclef.js';
import { loadTalentCLEFTaskA } from '../src/eval/trec.js';
import { type AugmentLang, DEFAULT_NOISE, noisyTitle } from '../src/lite/augment.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { parseCsv, readOccupations } from '../src/lite/esco.js';
import { evaluateVacancies, loadVacancySet } from '../src/lite/quality.js';
import { readExamples } from '../src/normalize/examples.js';
import { TECH_GROUPS, techTitle } from '../src/lite/tech-titles.js';
import { rng, trainLiteEncoder, type Pair } from '../src/lite/train.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data' },
    out: { type: 'string', default: 'models/lite' },
    epochs: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '512' },
    lr: { type: 'string', default: '0.003' },
    rounds: { type: 'string', default: '2' },
    mono: { type: 'string', default: '1' },
    noise: { type: 'string', default: '2' },
    self: { type: 'string', default: '0.5' },
    drop: { type: 'string', default: '0.25' },
    isco: { type: 'string', default: '2' },
    describe: { type: 'string', default: '1' },
    tech: { type: 'string', default: '8' },
    hidden: { type: 'boolean', default: true },
    'no-hidden': { type: 'boolean', default: false },
    symmetric: { type: 'boolean', default: false },
    scale: { type: 'string', default: '20' },
    seed: { type: 'string', default: '42' },
    dim: { type: 'string', default: '96' },
    buckets: { type: 'string', default: String(1 << 17) },
    eval: { type: 'boolean', default: false },
    examples: { type: 'string' },
    'example-rounds': { type: 'string', default: '3' },
  },
});
if (values.examples && resolve(values.out!) === resolve(import.meta.dirname, '..', 'models', 'lite')) {
  console.error('--examples: the shipped model (models/lite) is trained from ESCO alone; give another --out');
  process.exit(2);
}

const seed = Number(values.seed);
const random = rng(seed);
const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
const LANGS: AugmentLang[] = ['en', 'de', 'es'];

const started = Date.now();
const esco = join(values.data!, 'esco');
interface Label {
  text: string;
  lang: AugmentLang;
}
const byUri = new Map<string, Label[]>();
const iscoOf = new Map<string, string>();
const descriptions = new Map<string, Label[]>();
const iscoLabel = new Map<string, string>(); // `${lang}:${code}` → preferred label
const uriOfEnglish = new Map<string, string>(); // English preferred label, lower-cased → URI
for (const lang of LANGS) {
  for (const o of await readOccupations(esco, lang)) {
    const labels = byUri.get(o.uri) ?? [];
    for (const l of [o.preferred, ...o.alt, ...(values.hidden && !values['no-hidden'] ? o.hidden : [])])
      if (l && !labels.some((x) => x.text === l)) labels.push({ text: l, lang });
    byUri.set(o.uri, labels);
    if (o.isco) iscoOf.set(o.uri, o.isco);
    if (lang === 'en' && o.preferred) uriOfEnglish.set(o.preferred.trim().toLowerCase(), o.uri);
    const first = o.description.split(/(?<=\.)\s/)[0]?.trim();
    if (first) descriptions.set(o.uri, [...(descriptions.get(o.uri) ?? []), { text: first.split(/\s+/).slice(0, 24).join(' '), lang }]);
  }
  if (Number(values.isco) > 0) {
    const [header, ...rows] = parseCsv(await readFile(join(esco, lang, `ISCOGroups_${lang}.csv`), 'utf8'));
    const c = header.indexOf('code');
    const p = header.indexOf('preferredLabel');
    for (const r of rows) if (r[c] && r[p]) iscoLabel.set(`${lang}:${r[c].trim()}`, r[p].trim());
  }
}
const pairs: Pair[] = [];
const other = (labels: Label[], a: Label) => {
  let p = pick(labels);
  while (p === a) p = pick(labels);
  return p;
};
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [uri, labels] of byUri) {
    if (labels.length < 2) continue;
    for (const a of labels) pairs.push({ anchor: a.text, positive: other(labels, a).text, group: uri });
  }
}
for (let r = 0; r < Number(values.mono); r++) {
  for (const [uri, labels] of byUri) {
    for (const a of labels) {
      const same = labels.filter((l) => l.lang === a.lang);
      if (same.length >= 2) pairs.push({ anchor: a.text, positive: other(same, a).text, group: uri });
    }
  }
}
let noisy = 0;
const rates = { ...DEFAULT_NOISE, dropWord: Number(values.drop) };
for (let r = 0; r < Number(values.noise); r++) {
  for (const [uri, labels] of byUri) {
    for (const a of labels) {
      const anchor = noisyTitle(a.text, a.lang, random, rates);
      const positive = labels.length < 2 || random() < Number(values.self) ? a : other(labels, a);
      if (anchor === positive.text) continue;
      pairs.push({ anchor, positive: positive.text, group: uri });
      noisy++;
    }
  }
}
let isco = 0;
for (let r = 0; r < Number(values.isco); r++) {
  for (const [uri, labels] of byUri) {
    const code = iscoOf.get(uri);
    if (!code) continue;
    const a = pick(labels);
    const g = iscoLabel.get(`${a.lang}:${code}`);
    if (g && g !== a.text) {
      pairs.push({ anchor: a.text, positive: g, group: `isco:${code}` });
      isco++;
    }
  }
}
let described = 0;
for (let r = 0; r < Number(values.describe); r++) {
  for (const [uri, labels] of byUri) {
    const ds = descriptions.get(uri);
    if (!ds) continue;
    const d = pick(ds);
    const same = labels.filter((l) => l.lang === d.lang);
    if (!same.length) continue;
    pairs.push({ anchor: pick(same).text, positive: d.text, group: uri });
    described++;
  }
}
let tech = 0;
for (let r = 0; r < Number(values.tech); r++) {
  for (const g of TECH_GROUPS) {
    const uri = uriOfEnglish.get(g.occupation.toLowerCase());
    if (!uri) throw new Error(`tech-titles.ts: no ESCO occupation has the English preferred label '${g.occupation}'`);
    const labels = byUri.get(uri)!;
    for (const t of g.techs) {
      for (const lang of LANGS) {
        const same = labels.filter((l) => l.lang === lang);
        if (!same.length) continue;
        const title = techTitle(t, pick(g.roles[lang]), lang, random);
        const anchor = random() < 0.5 ? noisyTitle(title, lang, random, DEFAULT_NOISE) : title;
        pairs.push({ anchor, positive: pick(same).text, group: uri });
        tech++;
      }
    }
  }
}
for (let r = 0; r < 3; r++) {
  for (const c of catalogue) {
    const names = [c.en, c.de, c.es, c.zh];
    for (const a of names) {
      let p = pick(names);
      while (p === a) p = pick(names);
      pairs.push({ anchor: a, positive: p, group: `catalogue:${c.id}` });
    }
  }
}
let examples = 0;
if (values.examples) {
  const read = (await readExamples(values.examples)).examples;
  const unknown = read.filter((e) => !byUri.has(e.uri)).length;
  if (unknown) console.log(`--examples: ${unknown} of ${read.length} example(s) name no ESCO occupation and are left out`);
  for (let r = 0; r < Number(values['example-rounds']); r++) {
    for (const e of read) {
      const labels = byUri.get(e.uri);
      if (!labels) continue;
      const english = labels.filter((l) => l.lang === 'en');
      pairs.push({ anchor: e.title, positive: pick(english.length ? english : labels).text, group: e.uri });
      examples++;
    }
  }
}
const tmp = await mkdtemp(join(tmpdir(), 'jobbert-lite-'));
const data = join(tmp, 'pairs.jsonl');
await writeFile(data, `${pairs.map((p) => JSON.stringify(p)).join('\n')}\n`);
console.log(
  `${pairs.length} pairs (${noisy} noisy, ${isco} ISCO, ${described} description, ${tech} technology${values.examples ? `, ${examples} from --examples` : ''}) from ${byUri.size} occupations and ${catalogue.length} catalogue titles`,
);

let last = 0;
const result = await trainLiteEncoder({
  data,
  // A fresh folder (training refuses a non-empty out without resume), moved over --out once done.
  out: join(tmp, 'model'),
  epochs: Number(values.epochs),
  batchSize: Number(values['batch-size']),
  lr: Number(values.lr),
  warmupSteps: 50,
  seed,
  // The rounds draw some pairs more than once (15,824 of 362,120 with the defaults); the shipped model was trained on every copy.
  keepDuplicates: true,
  scale: Number(values.scale),
  symmetric: values.symmetric,
  dim: Number(values.dim),
  buckets: Number(values.buckets),
  positiveBranch: 'anchor',
  trainedWith: {
    command: `node --import tsx scripts/train-default-model.ts ${process.argv.slice(2).join(' ')}`.trim(),
    data: `ESCO v1.2.0 occupations en/de/es (labels, vacancy-style augmentations) + technology titles (src/lite/tech-titles.ts) + built-in catalogue${values.examples ? ` + labelled titles from ${values.examples}` : ''}`,
  },
  onProgress: (p) => {
    if (p.step - last >= 200 || p.step === p.steps) {
      last = p.step;
      console.log(`step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} ${Math.round(p.pairsPerSecond)} pairs/s`);
    }
  },
});
await mkdir(values.out!, { recursive: true });
for (const f of await readdir(result.out)) if (!f.startsWith('checkpoint-')) await copyFile(join(result.out, f), join(values.out!, f));
await rm(tmp, { recursive: true, force: true });
console.log(`trained ${result.steps} steps in ${((Date.now() - started) / 1000).toFixed(1)} s → ${values.out}`);
if (values.eval) {
  const enc = await LiteEncoder.load(values.out);
  const f = (x: number) => x.toFixed(4);
  for (const langs of [['en'], ['en', 'de', 'es']]) {
    const r = await evaluateVacancies(enc, await loadVacancySet(values.data!, langs));
    console.log(`vacancies vs ${langs.join('+')} labels: MRR ${f(r.mrr)} acc@1 ${f(r.r1)} acc@5 ${f(r.r5)} R@10 ${f(r.r10)}`);
  }
  for (const lang of ['en', 'de']) {
    const { metrics: m } = await evaluateTaskA(enc, await loadTalentCLEFTaskA(join(values.data!, 'talentclef-a', 'validation', lang)));
    console.log(`TalentCLEF ${lang}: MAP ${f(m.map)} MRR ${f(m.mrr)} nDCG ${f(m.ndcg)} P@5 ${f(m.p5)}`);
  }
  await enc.dispose();
}
