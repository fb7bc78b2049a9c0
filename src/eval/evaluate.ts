/**
 * Ranking metrics for job-title matching, with the semantics of the TalentCLEF
 * 2025 official scorer (which calls ranx): MAP, MRR, nDCG over the whole ranked
 * list, and P@5 / P@10 / P@100, all with binary relevance and averaged over the
 * queries of the qrels.
 *
 * Exact semantics, per query `q` of `qrels` (R = the relevant set of q):
 *
 * 1. Ranking. `run.get(q)` is ranked by score, descending. Equal scores keep
 *    the order the run gives them (a stable sort; ±0 count as equal).
 * 2. Duplicates. A doc id that occurs more than once in one query's list counts
 *    once, at its first position *in the ranked order* (so the copy with the
 *    highest score, or the earliest of equally scored copies); later copies are
 *    removed before ranks are assigned, so they take no rank and push nothing
 *    down. Ranks run 1..n over the distinct ids.
 * 3. Metrics, with rel_i = 1 when the doc at rank i is in R, else 0:
 *    - AP   = (Σ_{i: rel_i = 1} P@i) / |R|   (relevant docs never retrieved add 0)
 *    - RR   = 1 / (rank of the first relevant doc), 0 when none is retrieved
 *    - nDCG = DCG / IDCG, DCG = Σ_{i=1..n} rel_i / log2(i + 1) (Järvelin &
 *      Kekäläinen gains, ranx's `ndcg`), IDCG = Σ_{i=1..|R|} 1 / log2(i + 1)
 *      (the ideal list holds every relevant doc; no cutoff)
 *    - P@k  = |{i ≤ k: rel_i = 1}| / k — always divided by k, also when fewer
 *      than k docs were retrieved
 * 4. A query of `qrels` that the run lacks, or whose list is empty, scores 0 on
 *    every metric and still counts in the means.
 * 5. A query whose relevant set is empty scores 0 on every metric and still
 *    counts in the means — what ranx does (its metrics return 0.0 when a
 *    query's cleaned qrels are empty, and nDCG guards IDCG = 0).
 * 6. Run queries that are not in `qrels` are ignored (ranx's make_comparable).
 *
 * Means are plain arithmetic means over `qrels.size` queries, in float64.
 */
import { describe } from '../util/validate.js';

/** One retrieved document: its id and the score it was ranked by (higher is better). */
export interface RunEntry {
  readonly id: string;
  readonly score: number;
}

/** Relevance judgements: query id → ids of the relevant documents (binary). */
export type Qrels = ReadonlyMap<string, ReadonlySet<string>>;

/** A run: query id → retrieved documents, in any order (they are ranked by score). */
export type Run = ReadonlyMap<string, readonly RunEntry[]>;

/** Mean metrics over the queries of the qrels. */
export interface EvaluateResult {
  /** Mean average precision over the whole ranked list. */
  map: number;
  /** Mean reciprocal rank of the first relevant document. */
  mrr: number;
  /** Mean nDCG over the whole ranked list (binary gains, log2(i + 1) discount). */
  ndcg: number;
  /** Mean precision at 5 (divided by 5). */
  p5: number;
  /** Mean precision at 10 (divided by 10). */
  p10: number;
  /** Mean precision at 100 (divided by 100). */
  p100: number;
  /** Number of queries averaged over: the number of queries in `qrels`. */
  queries: number;
}

/** The per-query scores that {@link evaluate} averages. */
export interface QueryScores {
  ap: number;
  rr: number;
  ndcg: number;
  p5: number;
  p10: number;
  p100: number;
}

const FN = 'evaluate';

function assertQrels(qrels: unknown): asserts qrels is Qrels {
  if (!(qrels instanceof Map)) {
    throw new TypeError(`${FN}: qrels must be a Map<string, Set<string>> (query id → relevant doc ids); received ${describe(qrels)}`);
  }
  if (qrels.size === 0) {
    throw new RangeError(`${FN}: qrels must hold at least one query; received an empty Map`);
  }
  for (const [q, rel] of qrels as Map<unknown, unknown>) {
    if (typeof q !== 'string') {
      throw new TypeError(`${FN}: qrels keys must be query id strings; received ${describe(q)}`);
    }
    if (!(rel instanceof Set)) {
      throw new TypeError(`${FN}: qrels.get('${q}') must be a Set<string> of relevant doc ids; received ${describe(rel)}`);
    }
    for (const d of rel as Set<unknown>) {
      if (typeof d !== 'string') {
        throw new TypeError(`${FN}: qrels.get('${q}') must hold doc id strings; received ${describe(d)}`);
      }
    }
  }
}

function assertRun(run: unknown): asserts run is Run {
  if (!(run instanceof Map)) {
    throw new TypeError(
      `${FN}: run must be a Map<string, { id: string; score: number }[]> (query id → retrieved docs); received ${describe(run)}`,
    );
  }
  for (const [q, list] of run as Map<unknown, unknown>) {
    if (typeof q !== 'string') {
      throw new TypeError(`${FN}: run keys must be query id strings; received ${describe(q)}`);
    }
    if (!Array.isArray(list)) {
      throw new TypeError(`${FN}: run.get('${q}') must be an array of { id: string, score: number }; received ${describe(list)}`);
    }
    for (let i = 0; i < list.length; i++) {
      const e: unknown = list[i];
      if (typeof e !== 'object' || e === null) {
        throw new TypeError(`${FN}: run.get('${q}')[${i}] must be an object { id: string, score: number }; received ${describe(e)}`);
      }
      const { id, score } = e as { id?: unknown; score?: unknown };
      if (typeof id !== 'string') {
        throw new TypeError(`${FN}: run.get('${q}')[${i}].id must be a string; received ${describe(id)}`);
      }
      if (typeof score !== 'number') {
        throw new TypeError(`${FN}: run.get('${q}')[${i}].score must be a number; received ${describe(score)}`);
      }
      if (!Number.isFinite(score)) {
        throw new RangeError(`${FN}: run.get('${q}')[${i}].score must be a finite number; received ${describe(score)}`);
      }
    }
  }
}

/**
 * The distinct doc ids of one query's run in rank order: sorted by score,
 * descending, equal scores in the given order, each id kept at its first
 * position in that order. Shared with the TREC run writer so a written run
 * ranks exactly as {@link evaluate} ranks it. Does not validate its input.
 */
export function rankRun(entries: readonly RunEntry[]): RunEntry[] {
  const n = entries.length;
  const scores = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    scores[i] = entries[i].score;
    order[i] = i;
  }
  // Explicit index tie-break: stable whatever the engine's sort does. Scores
  // are finite, so the difference is never NaN (it may be ±Infinity, which
  // still has the right sign); +0 and -0 compare equal.
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const seen = new Set<string>();
  const ranked: RunEntry[] = [];
  for (const i of order) {
    const e = entries[i];
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    ranked.push(e);
  }
  return ranked;
}

/**
 * Scores one query: `entries` is its run (any order; ranked here) and
 * `relevant` its relevant set. See the module comment for the exact rules.
 * Does not validate its input.
 */
export function scoreQuery(relevant: ReadonlySet<string>, entries: readonly RunEntry[] | undefined): QueryScores {
  const out: QueryScores = { ap: 0, rr: 0, ndcg: 0, p5: 0, p10: 0, p100: 0 };
  const nRel = relevant.size;
  if (nRel === 0 || entries === undefined || entries.length === 0) return out;
  const ranked = rankRun(entries);
  let hits = 0;
  let sumPrec = 0;
  let dcg = 0;
  let h5 = 0;
  let h10 = 0;
  let h100 = 0;
  for (let i = 0; i < ranked.length && hits < nRel; i++) {
    if (!relevant.has(ranked[i].id)) continue;
    const rank = i + 1;
    hits++;
    sumPrec += hits / rank;
    dcg += 1 / Math.log2(rank + 1);
    if (hits === 1) out.rr = 1 / rank;
    if (rank <= 5) h5++;
    if (rank <= 10) h10++;
    if (rank <= 100) h100++;
  }
  let idcg = 0;
  for (let i = 1; i <= nRel; i++) idcg += 1 / Math.log2(i + 1);
  out.ap = sumPrec / nRel;
  out.ndcg = dcg / idcg;
  out.p5 = h5 / 5;
  out.p10 = h10 / 10;
  out.p100 = h100 / 100;
  return out;
}

/**
 * Mean MAP, MRR, nDCG (whole list) and P@5/10/100 of `run` against `qrels`,
 * with binary relevance, averaged over the queries of `qrels`, as the
 * TalentCLEF 2025 official scorer (ranx) computes them. A query missing from
 * the run scores 0; run queries not in `qrels` are ignored; equal scores keep
 * the run's order; a doc id repeated in one query's run counts once, at its
 * first position in ranked order. See the module comment for every rule.
 *
 * @throws TypeError when `qrels` or `run` is not shaped as declared (ids must be
 *   strings, scores numbers); RangeError when a score is NaN or ±Infinity or
 *   `qrels` is empty.
 */
export function evaluate(
  qrels: ReadonlyMap<string, ReadonlySet<string>>,
  run: ReadonlyMap<string, readonly { id: string; score: number }[]>,
): EvaluateResult {
  assertQrels(qrels);
  assertRun(run);
  let map = 0;
  let mrr = 0;
  let ndcg = 0;
  let p5 = 0;
  let p10 = 0;
  let p100 = 0;
  for (const [q, relevant] of qrels) {
    const s = scoreQuery(relevant, run.get(q));
    map += s.ap;
    mrr += s.rr;
    ndcg += s.ndcg;
    p5 += s.p5;
    p10 += s.p10;
    p100 += s.p100;
  }
  const n = qrels.size;
  return { map: map / n, mrr: mrr / n, ndcg: ndcg / n, p5: p5 / n, p10: p10 / n, p100: p100 / n, queries: n };
}
