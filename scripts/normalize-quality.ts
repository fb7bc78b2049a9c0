/**
 * Quality of the Normalizer on jobbert-eval/titles.csv (15,463 vacancy titles
 * tagged with ESCO occupations), occupation level, with the TF-IDF normaliser
 * (the same pipeline over character 2–4-gram TF-IDF vectors) as the peer in
 * the same run:
 *
 *   node --import tsx scripts/normalize-quality.ts --data ../shared/data [--model models/lite]
 *
 * 1. zero-shot: the built-in ESCO (labels in en/de/es), no examples.
 * 2. with examples, 2-fold: titles of one seeded half are examples, the other
 *    half is evaluated, then swapped; figures over all titles.
 * MRR counts the first 100 alternatives (an occupation further down scores 0).
 * 3. the --fast search against the exact one at the product's k (5), both ways.
 */
import { parseArgs } from 'node:util';
import {
  type Encoder,
  LiteEncoder,
  loadBuiltinTaxonomy,
  Normalizer,
  type NormalizeOptions,
  type NormalizeResult,
  type NormalizerSearch,
  TfIdfEncoder,
} from '../src/index.js';
import { halves, loadTitles, score, type LabelledTitles } from './eval-titles.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data' }, model: { type: 'string' } } });
const set = await loadTitles(values.data!);
const [A, B] = halves(set);
const lite = await LiteEncoder.load(values.model);
const taxonomy = await loadBuiltinTaxonomy();
const labels = taxonomy.occupations.flatMap((o) => [...Object.values(o.preferred), ...Object.values(o.alt).flat()]);
const K = 100;
const f = (x: number) => x.toFixed(4);

type Row = { mrr: number; acc1: number; acc5: number; n: number };
async function results(
  encoder: Encoder,
  evalSet: LabelledTitles,
  examples?: LabelledTitles,
  opts: NormalizeOptions = {},
  search: NormalizerSearch = 'exact',
): Promise<NormalizeResult[]> {
  const n = await Normalizer.load({ encoder, search, examples: examples?.titles.map((title, i) => ({ title, uri: examples.truth[i] })) });
  try {
    return await n.normalize(evalSet.titles, { k: K, ...opts });
  } finally {
    await n.dispose();
  }
}
async function run(encoder: Encoder, evalSet: LabelledTitles, examples?: LabelledTitles, opts: NormalizeOptions = {}): Promise<Row> {
  return score(await results(encoder, evalSet, examples, opts), evalSet.truth);
}
const merge = (a: Row, b: Row): Row => {
  const n = a.n + b.n;
  return { n, mrr: (a.mrr * a.n + b.mrr * b.n) / n, acc1: (a.acc1 * a.n + b.acc1 * b.n) / n, acc5: (a.acc5 * a.n + b.acc5 * b.n) / n };
};
const line = (name: string, r: Row, peer?: Row) =>
  console.log(`| ${name} | ${f(r.mrr)} | ${f(r.acc1)} | ${f(r.acc5)} |${peer ? ` ×${(r.mrr / peer.mrr).toFixed(2)} |` : ' |'}`);

const t0 = performance.now();
console.log(
  `Normalising ${set.titles.length} vacancy titles (jobbert-eval/titles.csv) to ${taxonomy.occupations.length} ESCO occupations (${labels.length} labels en/de/es); occupation level, MRR over the top ${K}`,
);
console.log('\n| zero-shot | MRR | acc@1 | acc@5 | MRR vs TF-IDF |');
console.log('|---|---|---|---|---|');
const tfidf = TfIdfEncoder.fit(labels, { dim: 4096 });
const tfZero = await run(tfidf, set);
line('LiteEncoder (built-in), labels en/de/es', await run(lite, set), tfZero);
line("LiteEncoder (built-in), English labels only (lang: 'en')", await run(lite, set, undefined, { lang: 'en' }), tfZero);
line('TF-IDF char 2–4-grams (fit on the labels)', tfZero);

console.log('\n| with examples, 2-fold | MRR | acc@1 | acc@5 | MRR vs TF-IDF |');
console.log('|---|---|---|---|---|');
const liteEx = merge(await run(lite, B, A), await run(lite, A, B));
const tfFold = async (ex: LabelledTitles, ev: LabelledTitles) => run(TfIdfEncoder.fit([...labels, ...ex.titles], { dim: 4096 }), ev, ex);
const tfEx = merge(await tfFold(A, B), await tfFold(B, A));
line('LiteEncoder (built-in) + examples', liteEx, tfEx);
line('TF-IDF char 2–4-grams (fit on labels + examples) + examples', tfEx);

// --fast against the exact search at the product's k (5), where it probes FAST_PROBE lists.
console.log(`\n| LiteEncoder, k = 5 | acc@1 | acc@5 | same first | same five (uri and score) |`);
console.log('|---|---|---|---|---|');
const versus = async (name: string, folds: [LabelledTitles, LabelledTitles | undefined][]) => {
  const row = { exact: [0, 0], fast: [0, 0], first: 0, five: 0, n: 0 };
  for (const [evalSet, examples] of folds) {
    const exact = await results(lite, evalSet, examples, { k: 5 });
    const fast = await results(lite, evalSet, examples, { k: 5 }, 'fast');
    const key = (r: NormalizeResult) => r.alternatives.map((a) => `${a.uri} ${a.score}`).join(',');
    evalSet.truth.forEach((truth, i) => {
      for (const [which, r] of [
        ['exact', exact[i]],
        ['fast', fast[i]],
      ] as const) {
        if (r.alternatives[0]?.uri === truth) row[which][0]++;
        if (r.alternatives.some((a) => a.uri === truth)) row[which][1]++;
      }
      if (fast[i].alternatives[0]?.uri === exact[i].alternatives[0]?.uri) row.first++;
      if (key(fast[i]) === key(exact[i])) row.five++;
    });
    row.n += evalSet.titles.length;
  }
  const pct = (x: number) => `${((100 * x) / row.n).toFixed(2)}%`;
  console.log(`| ${name}, exact | ${f(row.exact[0] / row.n)} | ${f(row.exact[1] / row.n)} | | |`);
  console.log(`| ${name}, --fast | ${f(row.fast[0] / row.n)} | ${f(row.fast[1] / row.n)} | ${pct(row.first)} | ${pct(row.five)} |`);
};
await versus('zero-shot', [[set, undefined]]);
await versus('with examples, 2-fold', [
  [B, A],
  [A, B],
]);
console.log(`\n(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
await lite.dispose();
