/**
 * Trains the default LiteEncoder model shipped in models/lite/.
 *
 *   node --import tsx scripts/train-default-model.ts --data ../shared/data --out models/lite
 *
 * Training pairs (written to a temp JSONL file, never into the repository):
 * for every ESCO occupation, every label (preferred + alternative, en/de/es)
 * paired with another label of the same occupation drawn at random from all
 * three languages, `--rounds` times (group = the occupation, so no two pairs of
 * one occupation share a batch), plus the built-in catalogue's titles paired
 * across en/de/es/zh (group = the catalogue id). Both sides go through the
 * anchor head (titles on both sides, as at search time).
 * Options: --epochs N --batch-size N --lr X --rounds N --seed N --dim N --buckets N --eval (prints vacancy-set MRR).
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { catalogue } from '../src/catalogue/index.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { readOccupations } from '../src/lite/esco.js';
import { evaluateVacancies, loadVacancySet } from '../src/lite/quality.js';
import { rng, trainLiteEncoder, type Pair } from '../src/lite/train.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data' },
    out: { type: 'string', default: 'models/lite' },
    epochs: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '512' },
    lr: { type: 'string', default: '0.003' },
    rounds: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
    dim: { type: 'string', default: '96' },
    buckets: { type: 'string', default: String(1 << 17) },
    eval: { type: 'boolean', default: false },
  },
});

const seed = Number(values.seed);
const random = rng(seed);
const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];

const started = Date.now();
const esco = join(values.data!, 'esco');
const byUri = new Map<string, string[]>();
for (const lang of ['en', 'de', 'es']) {
  for (const o of await readOccupations(esco, lang)) {
    const labels = byUri.get(o.uri) ?? [];
    for (const l of [o.preferred, ...o.alt]) if (l && !labels.includes(l)) labels.push(l);
    byUri.set(o.uri, labels);
  }
}
const pairs: Pair[] = [];
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [uri, labels] of byUri) {
    if (labels.length < 2) continue;
    for (const a of labels) {
      let p = pick(labels);
      while (p === a) p = pick(labels);
      pairs.push({ anchor: a, positive: p, group: uri });
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
const tmp = await mkdtemp(join(tmpdir(), 'jobbert-lite-'));
const data = join(tmp, 'pairs.jsonl');
await writeFile(data, `${pairs.map((p) => JSON.stringify(p)).join('\n')}\n`);
console.log(`${pairs.length} pairs from ${byUri.size} occupations and ${catalogue.length} catalogue titles`);

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
  dim: Number(values.dim),
  buckets: Number(values.buckets),
  positiveBranch: 'anchor',
  trainedWith: {
    command: `node --import tsx scripts/train-default-model.ts ${process.argv.slice(2).join(' ')}`.trim(),
    data: 'ESCO v1.2.0 occupations en/de/es + built-in catalogue',
  },
  onProgress: (p) => {
    if (p.step - last >= 50 || p.step === p.steps) {
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
  const r = await evaluateVacancies(enc, await loadVacancySet(values.data!));
  console.log(`vacancies: MRR ${r.mrr.toFixed(4)} R@1 ${r.r1.toFixed(4)} R@5 ${r.r5.toFixed(4)} R@10 ${r.r10.toFixed(4)}`);
  await enc.dispose();
}
