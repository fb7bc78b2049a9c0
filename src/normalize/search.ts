/**
 * The Normalizer's search: the best k distinct occupations of each query over
 * one corpus (labels and examples), exactly as a kernels.topK over every index
 * row ranks them — higher score first, equal scores by the lower index row —
 * walked until k distinct occupations are found. Cost: the scan, 2·Q·U·d flops
 * for Q queries over U distinct vectors (d = 96: 12.5 MFLOP a title over the
 * built-in ESCO); the rest is O(Q·pool).
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
 * The scan the Normalizer uses: int8 where the instruction set in force has an
 * int8 dot-product kernel, float32 on the portable one (where int8 is slower).
 */
export const defaultScan: Scan = (queries, corpus, pool) =>
  (QuantizedMatrix.kernel() === 'portable' ? exactScan : int8Scan)(queries, corpus, pool);

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
  /** The int8 codes of `matrix`, once int8Scan has built them. */
  quantized?: Promise<QuantizedMatrix>;
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
 * For each query, its best `k` distinct occupations as a flat list [row, score,
 * row, score, …] (row: the index row that scored the occupation best; its
 * occupation is `occupationOf[row]`), best first; fewer than k only when the
 * corpus holds fewer occupations. Equal query vectors (titles that differ only
 * in case or punctuation, for the LiteEncoder) are searched once and share
 * their list. Async.
 */
export async function searchOccupations(
  queries: Matrix,
  corpus: Corpus,
  occupationOf: Int32Array,
  k: number,
  scan: Scan = defaultScan,
): Promise<number[][]> {
  const { owner, first } = distinctRows(queries);
  if (first.length === queries.rows) return searchDistinct(queries, corpus, occupationOf, k, scan);
  const d = queries.cols;
  const data = new Float32Array(first.length * d);
  first.forEach((row, v) => data.set(queries.data.subarray(row * d, (row + 1) * d), v * d));
  const lists = await searchDistinct({ data, rows: first.length, cols: d }, corpus, occupationOf, k, scan);
  return Array.from(owner, (v) => lists[v]);
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
  const seen = new Set<number>();
  const tied: number[] = [];
  for (;;) {
    const r = await scan(batch, corpus, pool);
    // A pool that holds every vector is complete; otherwise a vector outside it
    // may score as much as the last one inside, so the walk stops before that score.
    const complete = r.k >= distinct;
    const short: number[] = [];
    for (let p = 0; p < pending.length; p++) {
      const base = p * r.k;
      const floor = complete ? Number.NEGATIVE_INFINITY : r.scores[base + r.k - 1];
      const list: number[] = [];
      seen.clear();
      let j = 0;
      while (j < r.k && list.length < 2 * k) {
        const score = r.scores[base + j];
        if (!(score > floor)) break;
        const v = r.indices[base + j];
        if (j + 1 < r.k && r.scores[base + j + 1] === score) {
          // Equal scores from several vectors: their rows interleave in index order.
          tied.length = 0;
          let e = j;
          while (e < r.k && r.scores[base + e] === score) {
            const u = r.indices[base + e++];
            for (let m = corpus.start[u]; m < corpus.start[u + 1]; m++) tied.push(corpus.members[m]);
          }
          tied.sort((a, b) => a - b);
          for (const row of tied) take(list, seen, occupationOf, k, row, score);
          j = e;
        } else {
          for (let m = corpus.start[v]; m < corpus.start[v + 1]; m++) take(list, seen, occupationOf, k, corpus.members[m], score);
          j++;
        }
      }
      out[pending[p]] = list;
      if (list.length < 2 * k && !complete) short.push(pending[p]);
    }
    if (short.length === 0) return out;
    // Rare: the pool held fewer than k distinct occupations; search those queries again, wider.
    pending = short;
    pool = Math.min(distinct, pool * 4);
    const d = queries.cols;
    const data = new Float32Array(short.length * d);
    short.forEach((i, j) => data.set(queries.data.subarray(i * d, (i + 1) * d), j * d));
    batch = { data, rows: short.length, cols: d };
  }
}

/** Appends (row, score) to `list` when the row's occupation is new and the list holds fewer than k. */
function take(list: number[], seen: Set<number>, occupationOf: Int32Array, k: number, row: number, score: number): void {
  if (list.length === 2 * k) return;
  const occupation = occupationOf[row];
  if (seen.has(occupation)) return;
  seen.add(occupation);
  list.push(row, score);
}
