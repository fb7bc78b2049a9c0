/**
 * Shared by scripts/calibrate.ts and scripts/normalize-quality.ts: the JobBERT
 * evaluation titles (../shared/data/jobbert-eval/titles.csv), a seeded split
 * into two halves, and occupation-level metrics of Normalizer results.
 */
import { join } from 'node:path';
import type { NormalizeResult } from '../src/index.js';
import { readExamples } from '../src/normalize/examples.js';
import { rng } from '../src/util/random.js';

export interface LabelledTitles {
  titles: string[];
  truth: string[];
}

/** titles.csv as read by the Normalizer's own examples reader. */
export async function loadTitles(data: string): Promise<LabelledTitles> {
  const { examples } = await readExamples(join(data, 'jobbert-eval', 'titles.csv'));
  return { titles: examples.map((e) => e.title), truth: examples.map((e) => e.uri) };
}

/** A seeded half/half split (by a shuffled index order): [A, B]. */
export function halves(set: LabelledTitles, seed = 42): [LabelledTitles, LabelledTitles] {
  const r = rng(seed);
  const order = set.titles.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const pick = (ix: number[]) => ({ titles: ix.map((i) => set.titles[i]), truth: ix.map((i) => set.truth[i]) });
  const mid = Math.floor(order.length / 2);
  return [pick(order.slice(0, mid)), pick(order.slice(mid))];
}

/** MRR (over the alternatives given; absent = 0), acc@1, acc@5, and per title whether the top alternative is right (1) or not (0). */
export function score(results: NormalizeResult[], truth: string[]) {
  let mrr = 0;
  let a1 = 0;
  let a5 = 0;
  const correct: number[] = [];
  results.forEach((r, i) => {
    const rank = r.alternatives.findIndex((a) => a.uri === truth[i]) + 1;
    if (rank > 0) mrr += 1 / rank;
    if (rank === 1) a1++;
    if (rank > 0 && rank <= 5) a5++;
    correct.push(rank === 1 ? 1 : 0);
  });
  const n = results.length;
  return { n, mrr: mrr / n, acc1: a1 / n, acc5: a5 / n, correct };
}
