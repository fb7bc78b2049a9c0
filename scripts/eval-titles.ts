/**
 * For scripts/normalize-quality.ts: the JobBERT evaluation titles
 * (../shared/data/jobbert-eval/titles.csv), with the seeded split into two
 * halves and the occupation-level metrics that fit-calibration.ts uses too.
 */
import { join } from 'node:path';
import { readExamples } from '../src/normalize/examples.js';
import { type LabelledTitles, halves, scoreResults as score } from '../src/normalize/fit-calibration.js';

export { halves, score, type LabelledTitles };

/** titles.csv as read by the Normalizer's own examples reader. */
export async function loadTitles(data: string): Promise<LabelledTitles> {
  const { examples } = await readExamples(join(data, 'jobbert-eval', 'titles.csv'));
  return { titles: examples.map((e) => e.title), truth: examples.map((e) => e.uri) };
}
