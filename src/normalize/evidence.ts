/**
 * What the user's examples say beyond their single best match. A title's best
 * occupations are found by their best row (search.ts); with examples in the
 * index, the first {@link EVIDENCE_POOL} (5) of them are then re-ranked by
 *
 *   score = best row's cosine + 0.2 · max(0, cos(title, centroid)) + 0.01 · ln(1 + n)
 *
 * where `centroid` is the unit mean of the vectors of the occupation's n
 * examples (each counted as often as the user gave it). The centroid reads like
 * a vote of all of an occupation's examples, not only the nearest; n is how
 * often the user's data names the occupation. On titles.csv (seeded 2-fold,
 * README "Quality") this lifts MRR .4942 → .5300 and acc@1 .3687 → .4178 with
 * the built-in model; the weights are the best of a small grid there
 * (docs/normalize-experiments.md). A pool of 20 gave a little more (acc@1
 * .4189) but needs a search for 20 occupations, which took twice the time;
 * 5 is the default k's own search. Occupations with no example get nothing,
 * and without examples nothing is re-ranked.
 *
 * The bonus is ≥ 0, so every re-ranked score stays at or above the pool's last
 * plain score, which is at or above every later one: the whole list stays
 * sorted by the score it shows, and the list for k is the first k of the list
 * for any larger k.
 */
import { type Matrix, normalizeRows } from '../kernels/matrix.js';

/** How many of a title's best occupations the examples' evidence re-ranks. */
export const EVIDENCE_POOL = 5;
/** Weight of the cosine to an occupation's examples' centroid. */
export const CENTROID_WEIGHT = 0.2;
/** Weight of ln(1 + the occupation's number of examples). */
export const PRIOR_WEIGHT = 0.01;

/**
 * Per occupation with examples: the unit centroid of their vectors and ln(1 +
 * their number). Only those occupations hold a centroid, so a large taxonomy
 * with few examples costs little.
 */
export interface ExampleEvidence {
  readonly dim: number;
  /** Occupation → its slot in `centroid` and `prior`, or -1 when it has no example. */
  readonly slot: Int32Array;
  /** [slots × dim] unit centroids. */
  readonly centroid: Float32Array;
  readonly prior: Float64Array;
}

/**
 * The evidence of the example rows among `rows` (vectors: the rows' unit
 * vectors, in order; count[i]: how many of the user's examples row i stands
 * for), over `occupations` occupations; null when there is no example. Sync.
 */
export function exampleEvidence(
  rows: readonly { occupation: number; source: string }[],
  count: ArrayLike<number>,
  vectors: Matrix,
  occupations: number,
): ExampleEvidence | null {
  const d = vectors.cols;
  const slot = new Int32Array(occupations).fill(-1);
  let slots = 0;
  for (const r of rows) if (r.source === 'example' && slot[r.occupation] < 0) slot[r.occupation] = slots++;
  if (slots === 0) return null;
  const sum = new Float64Array(slots * d);
  const n = new Float64Array(slots);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].source !== 'example') continue;
    const at = slot[rows[i].occupation];
    const c = count[i];
    n[at] += c;
    for (let j = 0; j < d; j++) sum[at * d + j] += c * vectors.data[i * d + j];
  }
  const centroid = Float32Array.from(sum);
  normalizeRows(centroid, d, 'keep');
  return { dim: d, slot, centroid, prior: n.map(Math.log1p) };
}

/**
 * A hit list [row, score, …] (best first, as searchOccupations gives it)
 * re-ranked by the evidence for the title whose vector is q[at … at + dim):
 * its first {@link EVIDENCE_POOL} occupations get their bonus and are sorted
 * again (equal scores keep their order), the rest follow unchanged; cut to
 * `keep` occupations. A new array. Sync.
 */
export function weigh(
  hits: readonly number[],
  q: Float32Array,
  at: number,
  occupationOf: Int32Array,
  evidence: ExampleEvidence,
  keep: number,
): number[] {
  const { dim: d, slot, centroid, prior } = evidence;
  const pool = Math.min(hits.length / 2, EVIDENCE_POOL);
  const scored: { row: number; score: number }[] = new Array(pool);
  for (let j = 0; j < pool; j++) {
    const row = hits[2 * j];
    const s = slot[occupationOf[row]];
    let score = hits[2 * j + 1];
    if (s >= 0) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += q[at + i] * centroid[s * d + i];
      score += CENTROID_WEIGHT * Math.max(0, dot) + PRIOR_WEIGHT * prior[s];
    }
    scored[j] = { row, score };
  }
  scored.sort((a, b) => b.score - a.score);
  const out: number[] = [];
  for (let j = 0; j < pool && out.length < 2 * keep; j++) out.push(scored[j].row, scored[j].score);
  for (let j = 2 * pool; j < hits.length && out.length < 2 * keep; j++) out.push(hits[j]);
  return out;
}
