/**
 * Quality table for the LiteEncoder against the TF-IDF baseline, same run:
 *
 *   node --import tsx scripts/lite-quality.ts --data ../shared/data [--model models/lite] [--lite-only]
 *
 * 1. job-title normalisation, jobbert-eval/titles.csv (15,463 vacancy titles vs
 *    the 3,039 ESCO occupations, occupation = its best label), zero-shot: the
 *    default model never sees these titles in training. Two corpora: the
 *    English labels, and all en/de/es labels (what the Normalizer indexes).
 *    MRR, acc@1 (= R@1, one true occupation per title), acc@5, R@10.
 * 2. TalentCLEF Task A validation en/de (MAP, MRR, nDCG, P@5) — IN-DISTRIBUTION
 *    for the LiteEncoder, whose training pairs are ESCO labels (TalentCLEF's
 *    titles are ESCO labels too).
 * --lite-only skips the TF-IDF rows (quicker, for training experiments).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateTaskA } from '../src/eval/talentclef.js';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import { loadTalentCLEFTaskA } from '../src/eval/trec.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { evaluateVacancies, loadVacancySet } from '../src/lite/quality.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data' },
    model: { type: 'string' },
    'lite-only': { type: 'boolean', default: false },
  },
});
const data = values.data!;
const liteOnly = values['lite-only']!;
const lite = await LiteEncoder.load(values.model);
const f = (x: number) => x.toFixed(4);
for (const langs of [['en'], ['en', 'de', 'es']]) {
  const set = await loadVacancySet(data, langs);
  console.log(
    `Job-title normalisation, jobbert-eval/titles.csv (${set.titles.length} vacancy titles → ${new Set(set.labelUri).size} ESCO occupations, ${set.labels.length} ${langs.join('/')} labels)`,
  );
  console.log('| encoder | corpus | MRR | acc@1 | acc@5 | R@10 |');
  console.log('|---|---|---|---|---|---|');
  const encoders: [string, LiteEncoder | TfIdfEncoder][] = [['LiteEncoder', lite]];
  if (!liteOnly) encoders.push(['TF-IDF char 2–4-grams (fit on the corpus labels)', TfIdfEncoder.fit(set.labels, { dim: 4096 })]);
  for (const [name, enc] of encoders) {
    const r = await evaluateVacancies(enc, set);
    console.log(`| ${name} | ${langs.join('+')} | ${f(r.mrr)} | ${f(r.r1)} | ${f(r.r5)} | ${f(r.r10)} |`);
  }
  console.log('');
}
console.log('TalentCLEF 2025 Task A validation (in-distribution for the LiteEncoder: its titles are ESCO labels)');
console.log('| encoder | lang | MAP | MRR | nDCG | P@5 |');
console.log('|---|---|---|---|---|---|');
for (const lang of ['en', 'de']) {
  const task = await loadTalentCLEFTaskA(join(data, 'talentclef-a', 'validation', lang));
  const encoders: [string, LiteEncoder | TfIdfEncoder][] = [['LiteEncoder', lite]];
  if (!liteOnly)
    encoders.push([
      'TF-IDF (fit on corpus)',
      TfIdfEncoder.fit(
        task.corpus.map((c) => c.text),
        { dim: 4096 },
      ),
    ]);
  for (const [name, enc] of encoders) {
    const { metrics: m } = await evaluateTaskA(enc, task);
    console.log(`| ${name} | ${lang} | ${f(m.map)} | ${f(m.mrr)} | ${f(m.ndcg)} | ${f(m.p5)} |`);
  }
}
await lite.dispose();
