/**
 * Quality measurements for the LiteEncoder (and any Encoder):
 * - job-title normalisation on jobbert-eval/titles.csv: each vacancy title
 *   against the ESCO occupations' English labels (preferred + alternative) —
 *   or those of en, de and es together, as the Normalizer indexes them —, an
 *   occupation scored by its best label; MRR, R@1, R@5, R@10. Occupations
 *   whose best label is outside the top `pool` labels count as not retrieved.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Encoder } from '../encoders/encoder.js';
import * as kernels from '../kernels/index.js';
import { parseCsv, readOccupations } from './esco.js';

export interface VacancyResult {
  queries: number;
  mrr: number;
  r1: number;
  r5: number;
  r10: number;
}

export interface VacancySet {
  titles: string[];
  truth: string[];
  labels: string[];
  labelUri: string[];
}

/**
 * The vacancy titles of `dataDir/jobbert-eval/titles.csv` and, as the corpus,
 * every preferred and alternative label of the ESCO occupations in `langs`
 * (default English only; ['en', 'de', 'es'] is the Normalizer's index).
 */
export async function loadVacancySet(dataDir: string, langs: readonly string[] = ['en']): Promise<VacancySet> {
  const rows = parseCsv(await readFile(join(dataDir, 'jobbert-eval', 'titles.csv'), 'utf8'))
    .slice(1)
    .filter((r) => r.length >= 3 && r[1]);
  const labels: string[] = [];
  const labelUri: string[] = [];
  for (const lang of langs)
    for (const o of await readOccupations(join(dataDir, 'esco'), lang))
      for (const l of [o.preferred, ...o.alt]) {
        labels.push(l);
        labelUri.push(o.uri);
      }
  return { titles: rows.map((r) => r[1]), truth: rows.map((r) => r[2]), labels, labelUri };
}

export async function evaluateVacancies(encoder: Encoder, set: VacancySet, pool = 2000): Promise<VacancyResult> {
  const labels = await encoder.encode(set.labels);
  const corpus = kernels.resident(labels);
  let mrr = 0,
    r1 = 0,
    r5 = 0,
    r10 = 0;
  const chunk = 2048;
  try {
    for (let s = 0; s < set.titles.length; s += chunk) {
      const titles = set.titles.slice(s, s + chunk);
      const q = await encoder.encode(titles);
      const { k, indices } = await kernels.topK(q, corpus, pool, { metric: 'dot', device: 'cpu' });
      for (let i = 0; i < titles.length; i++) {
        const seen = new Set<string>();
        const want = set.truth[s + i];
        for (let j = 0; j < k; j++) {
          const uri = set.labelUri[indices[i * k + j]];
          if (seen.has(uri)) continue;
          seen.add(uri);
          if (uri === want) {
            const rank = seen.size;
            mrr += 1 / rank;
            if (rank <= 1) r1++;
            if (rank <= 5) r5++;
            if (rank <= 10) r10++;
            break;
          }
        }
      }
    }
  } finally {
    corpus.dispose();
  }
  const n = set.titles.length;
  return { queries: n, mrr: mrr / n, r1: r1 / n, r5: r5 / n, r10: r10 / n };
}
