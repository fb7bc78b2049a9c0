/**
 * Quality table for the LiteEncoder against the TF-IDF baseline, same run:
 *
 *   node --import tsx scripts/lite-quality.ts --data ../shared/data [--model models/lite]
 *
 * 1. job-title normalisation, jobbert-eval/titles.csv (15,463 vacancy titles vs
 *    the 3,039 ESCO occupations' English labels, occupation = best label):
 *    MRR, R@1, R@5, R@10.
 * 2. TalentCLEF Task A validation en/de (MAP, MRR, nDCG, P@5) — IN-DISTRIBUTION
 *    for the LiteEncoder, whose training pairs are ESCO labels (TalentCLEF's
 *    titles are ESCO labels too).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateTaskA } from '../src/eval/talentclef.js';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import { loadTalentCLEFTaskA } from '../src/eval/trec.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { evaluateVacancies, loadVacancySet } from '../src/lite/quality.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data' }, model: { type: 'string' } } });
const data = values.data!;
const lite = await LiteEncoder.load(values.model);
const set = await loadVacancySet(data);
const tfidf = TfIdfEncoder.fit(set.labels, { dim: 4096 });
const f = (x: number) => x.toFixed(4);
console.log(
  `Job-title normalisation, jobbert-eval/titles.csv (${set.titles.length} vacancy titles → ${new Set(set.labelUri).size} ESCO occupations, ${set.labels.length} English labels)`,
);
console.log('| encoder | MRR | R@1 | R@5 | R@10 |');
console.log('|---|---|---|---|---|');
for (const [name, enc] of [
  ['LiteEncoder (default model)', lite],
  ['TF-IDF char 2–4-grams (fit on ESCO labels)', tfidf],
] as const) {
  const r = await evaluateVacancies(enc, set);
  console.log(`| ${name} | ${f(r.mrr)} | ${f(r.r1)} | ${f(r.r5)} | ${f(r.r10)} |`);
}
console.log('\nTalentCLEF 2025 Task A validation (in-distribution for the LiteEncoder: its titles are ESCO labels)');
console.log('| encoder | lang | MAP | MRR | nDCG | P@5 |');
console.log('|---|---|---|---|---|---|');
for (const lang of ['en', 'de']) {
  const task = await loadTalentCLEFTaskA(join(data, 'talentclef-a', 'validation', lang));
  const corpusTfidf = TfIdfEncoder.fit(
    task.corpus.map((c) => c.text),
    { dim: 4096 },
  );
  for (const [name, enc] of [
    ['LiteEncoder', lite],
    ['TF-IDF (fit on corpus)', corpusTfidf],
  ] as const) {
    const { metrics: m } = await evaluateTaskA(enc, task);
    console.log(`| ${name} | ${lang} | ${f(m.map)} | ${f(m.mrr)} | ${f(m.ndcg)} | ${f(m.p5)} |`);
  }
}
await lite.dispose();
