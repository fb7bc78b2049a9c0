/**
 * The Normalizer's search: the best k distinct occupations of each query over
 * one corpus (labels and examples), exactly as a kernels.topK over every
 * index row ranks them — higher score first, equal scores by the lower index
 * row — walked until k distinct occupations are found.
 *
 * Two ways to find the candidates, with the same answer bit for bit: a Scan
 * (the best 64 vectors by float32 or certified int8 scores, searched again
 * wider where they hold fewer than k occupations), or the int8 group search
 * (QuantizedMatrix.searchGroups: one pass that keeps only the vectors within
 * the int8 error bound of the k-th best occupation, ~40 a title on the
 * built-in ESCO where the pool scan keeps 128). Cost: the int8 pass, Q·U·d
 * multiply-adds for Q queries over U distinct vectors (d = 96: 6.3 M a title
 * over the built-in ESCO), plus the kept vectors re-scored in float32.
 *
 * Index rows with bit-identical vectors (the same label text under several
 * occupations, "Drahtzieher" in two, "Inspizientin" in three; 5% of the
 * built-in rows) are scanned once: the corpus holds each distinct vector once
 * and lists the index rows it stands for, and the walk expands them in index
 * order, so the hits are the ones the full matrix gives.
 */
import * as kernels from '../kernels/index.js';
import type { Matrix } from '../kernels/matrix.js';
import type { ResidentMatrix } from '../kernels/resident.js';
import { QuantizedMatrix } from '../match/quantized.js';

/**
 * The scoring backend: for each query row, the `pool` best rows of
 * `corpus.matrix` by dot product (clamped to its rows), best first, equal
 * scores by the lower row, with the scores kernels.topK computes. The walk
 * below needs only this contract: exactScan and int8Scan both keep it.
 */
export type Scan = (queries: Matrix, corpus: Corpus, pool: number) => Promise<kernels.TopKResult>;

/** The exact float32 scan. On the CPU, where the labels live: under device 'auto' a GPU machine would copy them on every call. */
export const exactScan: Scan = (queries, corpus, pool) => kernels.topK(queries, corpus.matrix, pool, { metric: 'dot', device: 'cpu' });

/**
 * The int8 scan (AVX512-VNNI, AVX-VNNI or AVX2) with its candidates re-scored
 * in float32: the same indices and bit-identical scores as exactScan, which
 * QuantizedMatrix.search certifies per query (it widens its pool where the
 * int8 scores cannot prove the order), at 2–3× less scan time. The codes
 * (d bytes a vector) are built on first use and kept with the corpus.
 */
export const int8Scan: Scan = async (queries, corpus, pool) => {
  corpus.quantized ??= QuantizedMatrix.fromMatrix(corpus.matrix);
  return (await corpus.quantized).search(queries, pool, {
    metric: 'dot',
    pool: Math.min(corpus.matrix.rows, Math.max(2 * pool, pool + 64)),
  });
};

/**
 * How searchOccupations finds each query's candidates: a Scan (the best
 * vectors in a pool, searched again wider where the pool holds fewer than k
 * occupations), or 'groups': QuantizedMatrix.searchGroups over the int8 codes,
 * which keeps exactly the vectors whose occupation can still be among the k
 * best (the rows within twice the int8 error bound of the k-th occupation's
 * score), so no query is searched twice and no pool is wider than it must be.
 */
export type Strategy = Scan | 'groups';

/**
 * The strategy the Normalizer uses: the int8 group search where the
 * instruction set in force has an int8 dot-product kernel, the float32 scan on
 * the portable one (where int8 is slower). Checked per call.
 */
export const defaultStrategy = (): Strategy => (QuantizedMatrix.kernel() === 'portable' ? exactScan : 'groups');

/** Frees a corpus's native memory (its vectors and int8 codes). Async; idempotent. */
export async function disposeCorpus(corpus: Corpus): Promise<void> {
  corpus.matrix.dispose();
  const q = corpus.quantized;
  corpus.quantized = undefined;
  if (q) (await q).dispose();
}

/** A searchable corpus: its distinct vectors, and the index rows each stands for. */
export interface Corpus {
  /** [distinct vectors × dim], in the order of the first index row of each. */
  readonly matrix: ResidentMatrix;
  /** Distinct vector v stands for index rows members[start[v]] … members[start[v + 1] - 1], ascending. */
  readonly start: Int32Array;
  readonly members: Int32Array;
  /** Index rows covered. */
  readonly rows: number;
  /** The int8 codes of `matrix`, once int8Scan or the group search has built them. */
  quantized?: Promise<QuantizedMatrix>;
  /** Per distinct vector, the occupation of its first row (the group search's groups), for `of`. */
  groups?: { of: Int32Array; groups: Int32Array };
}

/**
 * A corpus over `rows` (index rows, ascending) whose vectors are the rows of
 * `vectors`, in the same order: identical vectors (bit for bit) become one.
 * Consumes `vectors`: its buffer is compacted in place (no second copy at
 * load). Sync.
 */
export function buildCorpus(vectors: Matrix, rows: readonly number[]): Corpus {
  const { data, cols: d } = vectors;
  const n = vectors.rows;
  const { owner, first } = distinctRows(vectors);
  const distinct = first.length;
  const start = new Int32Array(distinct + 1);
  for (let i = 0; i < n; i++) start[owner[i] + 1]++;
  for (let v = 0; v < distinct; v++) start[v + 1] += start[v];
  const fill = start.slice(0, distinct);
  const members = new Int32Array(n);
  for (let i = 0; i < n; i++) members[fill[owner[i]]++] = rows[i];
  // first[] ascends, so each distinct row moves down (or stays): in place is safe.
  for (let v = 0; v < distinct; v++) if (first[v] !== v) data.copyWithin(v * d, first[v] * d, (first[v] + 1) * d);
  const matrix = kernels.resident({ data: data.subarray(0, distinct * d), rows: distinct, cols: d });
  return { matrix, start, members, rows: n };
}

/** The distinct rows of `m` (bit for bit): owner[i] is row i's distinct row, first[v] the first row of distinct row v (ascending). Sync. */
export function distinctRows(m: Matrix): { owner: Int32Array; first: number[] } {
  const { data, cols: d } = m;
  const n = m.rows;
  const bits = new Int32Array(data.buffer, data.byteOffset, n * d);
  // FNV-1a over the bits → the distinct vectors with that hash, compared in full.
  const byHash = new Map<number, number[]>();
  const first: number[] = [];
  const owner = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0x811c9dc5;
    for (let p = i * d; p < (i + 1) * d; p++) h = Math.imul(h ^ bits[p], 0x01000193);
    let same = byHash.get(h);
    let v = -1;
    if (same) {
      for (const u of same) {
        const a = first[u] * d;
        let p = 0;
        while (p < d && bits[a + p] === bits[i * d + p]) p++;
        if (p === d) {
          v = u;
          break;
        }
      }
    } else {
      same = [];
      byHash.set(h, same);
    }
    if (v < 0) {
      v = first.length;
      first.push(i);
      same.push(v);
    }
    owner[i] = v;
  }
  return { owner, first };
}

/**
 * About how many lists of labels the 'fast' search probes (QuantizedMatrix.searchGroups'
 * `probe`): lists of about 16 vectors, so ~1% of the built-in ESCO's. Chosen
 * on titles.csv (docs/normalize-experiments.md): accuracy at 1 and 5 as the
 * exact search's, zero-shot and with examples; 85% of titles get the same five
 * alternatives, 98.4% the same first, for ~45% less CPU a title in the CLI
 * (30–31 against 56–57 µs over the bench's 1,000,000 titles).
 */
export const FAST_PROBE = 64;

/**
 * For each query, its best `k` distinct occupations as a flat list [row, score,
 * row, score, …] (row: the index row that scored the occupation best; its
 * occupation is `occupationOf[row]`), best first; fewer than k only when the
 * corpus holds fewer occupations. Equal query vectors (titles that differ only
 * in case or punctuation, for the LiteEncoder) are searched once and share
 * their list. `probe` (the group search only): search only about that many
 * lists of vectors, those whose prototypes score best — inexact, see
 * FAST_PROBE. Async.
 */
export async function searchOccupations(
  queries: Matrix,
  corpus: Corpus,
  occupationOf: Int32Array,
  k: number,
  strategy: Strategy = defaultStrategy(),
  probe?: number,
): Promise<number[][]> {
  const { owner, first } = distinctRows(queries);
  const search = (q: Matrix) =>
    strategy === 'groups' ? searchGroups(q, corpus, occupationOf, k, probe) : searchDistinct(q, corpus, occupationOf, k, strategy);
  if (first.length === queries.rows) return search(queries);
  const lists = await search(pick(queries, first));
  return Array.from(owner, (v) => lists[v]);
}

/** The queries `rows` of `queries`, as a matrix of their own. */
function pick(queries: Matrix, rows: readonly number[]): Matrix {
  const d = queries.cols;
  const data = new Float32Array(rows.length * d);
  rows.forEach((i, j) => data.set(queries.data.subarray(i * d, (i + 1) * d), j * d));
  return { data, rows: rows.length, cols: d };
}

/**
 * The group search: one int8 pass that keeps, per query, every distinct
 * vector that can decide its k best occupations. A vector's group is its
 * first row's occupation; a vector standing for rows of several occupations
 * counts once, which only lowers the k-th group's score and keeps more
 * vectors. The walk then runs over the kept vectors above the query's floor,
 * which is all of them that score above it (certified by searchGroups).
 */
async function searchGroups(queries: Matrix, corpus: Corpus, occupationOf: Int32Array, k: number, probe?: number): Promise<number[][]> {
  corpus.quantized ??= QuantizedMatrix.fromMatrix(corpus.matrix);
  if (corpus.groups?.of !== occupationOf) {
    const groups = Int32Array.from({ length: corpus.matrix.rows }, (_, v) => occupationOf[corpus.members[corpus.start[v]]]);
    corpus.groups = { of: occupationOf, groups };
  }
  const r = await (await corpus.quantized).searchGroups(queries, corpus.groups.groups, k, { metric: 'dot', probe });
  const out: number[][] = new Array(queries.rows);
  const walker = new Walker(corpus, occupationOf, k);
  const short: number[] = [];
  for (let q = 0; q < queries.rows; q++) {
    out[q] = walker.walk(r.rows, r.scores, r.offsets[q], r.offsets[q + 1], r.floors[q]);
    if (out[q].length < 2 * k && r.floors[q] !== Number.NEGATIVE_INFINITY) short.push(q);
  }
  // Not expected (the floor sits below k groups' best vectors), but should
  // rounding ever leave a query short, the float32 search answers it.
  if (short.length) {
    const again = await searchDistinct(pick(queries, short), corpus, occupationOf, k, exactScan);
    short.forEach((q, j) => (out[q] = again[j]));
  }
  return out;
}

async function searchDistinct(queries: Matrix, corpus: Corpus, occupationOf: Int32Array, k: number, scan: Scan): Promise<number[][]> {
  const distinct = corpus.matrix.rows;
  const out: number[][] = new Array(queries.rows);
  let pending = Array.from({ length: queries.rows }, (_, i) => i);
  // ESCO has ~22 labels an occupation, many close together: the best 40
  // vectors held fewer than 5 occupations for 22% of synthetic titles, and
  // their second, wider scan cost as much as the first. 64 leaves ~4% short,
  // at ~15% more scan time than 40 (the selection heaps are larger).
  let pool = Math.min(distinct, Math.max(64, 8 * k));
  let batch = queries;
  const walker = new Walker(corpus, occupationOf, k);
  for (;;) {
    const r = await scan(batch, corpus, pool);
    // A pool that holds every vector is complete; otherwise a vector outside it
    // may score as much as the last one inside, so the walk stops before that score.
    const complete = r.k >= distinct;
    const short: number[] = [];
    for (let p = 0; p < pending.length; p++) {
      const base = p * r.k;
      const floor = complete ? Number.NEGATIVE_INFINITY : r.scores[base + r.k - 1];
      const list = walker.walk(r.indices, r.scores, base, base + r.k, floor);
      out[pending[p]] = list;
      if (list.length < 2 * k && !complete) short.push(pending[p]);
    }
    if (short.length === 0) return out;
    // Rare: the pool held fewer than k distinct occupations; search those queries again, wider.
    pending = short;
    pool = Math.min(distinct, pool * 4);
    batch = pick(queries, short);
  }
}

/** Walks for at most this many occupations look up the ones taken in the list itself (Walker.#take). */
const SHORT_WALK = 16;

/** Walks a best-first list of distinct vectors into a query's k best occupations. */
class Walker {
  readonly #seen = new Set<number>();
  readonly #tied: number[] = [];

  constructor(
    readonly corpus: Corpus,
    readonly occupationOf: Int32Array,
    readonly k: number,
  ) {}

  /**
   * [row, score, …] for the vectors indices[begin … end) (best first, their
   * scores in `scores`) that score above `floor`: each vector's rows in index
   * order (equal scores from several vectors interleave their rows in index
   * order), each new occupation taken, until k.
   */
  walk(indices: Int32Array, scores: Float32Array, begin: number, end: number, floor: number): number[] {
    const { corpus, k } = this;
    const list: number[] = [];
    this.#seen.clear();
    let j = begin;
    while (j < end && list.length < 2 * k) {
      const score = scores[j];
      if (!(score > floor)) break;
      const v = indices[j];
      if (j + 1 < end && scores[j + 1] === score) {
        const tied = this.#tied;
        tied.length = 0;
        let e = j;
        while (e < end && scores[e] === score) {
          const u = indices[e++];
          for (let m = corpus.start[u]; m < corpus.start[u + 1]; m++) tied.push(corpus.members[m]);
        }
        tied.sort((a, b) => a - b);
        for (const row of tied) this.#take(list, row, score);
        j = e;
      } else {
        for (let m = corpus.start[v]; m < corpus.start[v + 1]; m++) this.#take(list, corpus.members[m], score);
        j++;
      }
    }
    return list;
  }

  /**
   * Appends (row, score) to `list` when the row's occupation is new and the
   * list holds fewer than k. Up to SHORT_WALK occupations a look through the
   * list is cheaper than a Set (most walks: k = 5).
   */
  #take(list: number[], row: number, score: number): void {
    if (list.length === 2 * this.k) return;
    const { occupationOf } = this;
    const occupation = occupationOf[row];
    if (this.k <= SHORT_WALK) {
      for (let j = 0; j < list.length; j += 2) if (occupationOf[list[j]] === occupation) return;
    } else {
      if (this.#seen.has(occupation)) return;
      this.#seen.add(occupation);
    }
    list.push(row, score);
  }
}
