/**
 * How far in-domain supervision takes the LiteEncoder: the default recipe
 * (scripts/train-default-model.ts) retrained with one seeded half of
 * jobbert-eval/titles.csv added as labelled titles (`--examples`), then
 * evaluated on the other half; both folds, figures over all titles. A
 * diagnostic for the #15 targets, not a model to ship: the models are written
 * to a temp folder and removed.
 *
 *   node --import tsx scripts/in-domain-ceiling.ts --data ../shared/data [--example-rounds 3]
 *
 * Rows (occupation level, MRR over the top 100, as scripts/normalize-quality.ts):
 * the shipped model, the ones retrained with the other half and the shipped
 * model adapted to it in seconds (`jobbert adapt`, src/train/adapt.ts), each
 * zero-shot (the evaluated half unseen) and with the training half also given
 * as the Normalizer's examples; the TF-IDF normaliser with the same examples as
 * the peer. ~8 minutes on 2 cores.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { adaptLiteEncoder, type Encoder, LiteEncoder, loadBuiltinTaxonomy, Normalizer, TfIdfEncoder } from '../src/index.js';
import { halves, type LabelledTitles, loadTitles, score } from './eval-titles.js';

const { values } = parseArgs({
  options: { data: { type: 'string', default: '../shared/data' }, 'example-rounds': { type: 'string', default: '3' } },
});
const set = await loadTitles(values.data!);
const [A, B] = halves(set);
const taxonomy = await loadBuiltinTaxonomy();
const labels = taxonomy.occupations.flatMap((o) => [...Object.values(o.preferred), ...Object.values(o.alt).flat()]);
const shipped = await LiteEncoder.load();
const tmp = await mkdtemp(join(tmpdir(), 'jobbert-ceiling-'));

type Row = { mrr: number; acc1: number; acc5: number; n: number };
const rows = new Map<string, Row>();
const add = (name: string, r: Row) => {
  const o = rows.get(name);
  if (!o) return void rows.set(name, r);
  const n = o.n + r.n;
  rows.set(name, {
    n,
    mrr: (o.mrr * o.n + r.mrr * r.n) / n,
    acc1: (o.acc1 * o.n + r.acc1 * r.n) / n,
    acc5: (o.acc5 * o.n + r.acc5 * r.n) / n,
  });
};
async function evaluate(encoder: Encoder, evalSet: LabelledTitles, examples?: LabelledTitles): Promise<Row> {
  const n = await Normalizer.load({ encoder, examples: examples?.titles.map((title, i) => ({ title, uri: examples.truth[i] })) });
  try {
    return score(await n.normalize(evalSet.titles, { k: 100 }), evalSet.truth);
  } finally {
    await n.dispose();
  }
}

try {
  for (const [train, test, name] of [
    [A, B, 'A'],
    [B, A, 'B'],
  ] as const) {
    const file = join(tmp, `half-${name}.jsonl`);
    await writeFile(file, train.titles.map((title, i) => JSON.stringify({ title, uri: train.truth[i] })).join('\n'));
    const out = join(tmp, `model-${name}`);
    const args = ['--import', 'tsx', join(import.meta.dirname, 'train-default-model.ts'), '--data', values.data!, '--out', out];
    const run = spawnSync(process.execPath, [...args, '--examples', file, '--example-rounds', values['example-rounds']!], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (run.status !== 0) throw new Error(`train-default-model.ts exited with ${run.status ?? run.signal}`);
    const trained = await LiteEncoder.load(out);
    const adaptedDir = join(tmp, `adapted-${name}`);
    const t0 = performance.now();
    await adaptLiteEncoder({ examples: file, out: adaptedDir });
    console.error(`fold ${name}: adapted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const adapted = await LiteEncoder.load(adaptedDir);
    add('shipped model, zero-shot', await evaluate(shipped, test));
    add('retrained with the other half, zero-shot', await evaluate(trained, test));
    add('shipped model + the other half as examples', await evaluate(shipped, test, train));
    add('retrained with the other half + it as examples', await evaluate(trained, test, train));
    add('adapted to the other half (jobbert adapt), zero-shot', await evaluate(adapted, test));
    add('adapted to the other half + it as examples', await evaluate(adapted, test, train));
    await adapted.dispose();
    add(
      'TF-IDF normaliser + the other half as examples',
      await evaluate(TfIdfEncoder.fit([...labels, ...train.titles], { dim: 4096 }), test, train),
    );
    await trained.dispose();
    console.error(`fold ${name} done`);
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
const peer = rows.get('TF-IDF normaliser + the other half as examples')!;
console.log(`\n| titles.csv, 2-fold, --example-rounds ${values['example-rounds']} | MRR | acc@1 | acc@5 | MRR vs TF-IDF + examples |`);
console.log('|---|---|---|---|---|');
for (const [name, r] of rows)
  console.log(`| ${name} | ${r.mrr.toFixed(4)} | ${r.acc1.toFixed(4)} | ${r.acc5.toFixed(4)} | ×${(r.mrr / peer.mrr).toFixed(3)} |`);
await shipped.dispose();
