/**
 * QuantizedMatrix: float32 rows held in native memory as int8 codes with one
 * scale per row — a quarter of the float32 size — and searched exactly: an
 * int8 scan (AVX512-VNNI, AVX-VNNI, AVX2 or portable kernels; the queries quantised the
 * same way) picks a candidate pool per query, whose exact float32 rows are
 * scored with the same kernel as `kernels.topK`, so the scores are
 * bit-identical to `kernels.topK` over the float32 rows. The answer is
 * certified: a row outside the pool scores at most the pool's lowest int8
 * score plus a bound on the quantisation and rounding error (from the query's
 * and the rows' own errors); a query whose k-th exact score does not clear
 * that is searched again with a 4× pool, up to every row.
 *
 * The exact rows live in a file (`fromFile`: a MatchIndex partition, read back
 * per candidate) or in memory (`fromMatrix`: a ResidentMatrix's rows, shared).
 *
 * Quantisation is symmetric per row: scale = max|x| / 127, code = round(x /
 * scale) (to nearest, ties to even). The file stays open (its descriptor) so
 * an atomic save over the path does not disturb a loaded matrix; a file
 * changed in place (size, mtime, or a candidate row that no longer matches
 * its codes) makes searches reject with JobBERTError ERR_CORRUPT.
 */
import { addon, type MatrixArg, type NativeQuantized } from '../kernels/binding.js';
import { callerStack, callNative, JobBERTError } from '../errors.js';
import type { Metric, TopKResult } from '../kernels/index.js';
import { fileSliceArgs, ResidentMatrix, type MatrixLike } from '../kernels/resident.js';
import { assertChoice, assertInteger, assertMatrix, assertOptions, describe } from '../util/validate.js';

/** The widest rows int8 storage takes (every integer dot of the scan stays inside int32). */
export const INT8_MAX_COLS = 65536;
const METRICS: readonly Metric[] = ['cosine', 'dot'];

/** The default candidate pool for k results: max(4k, k + 64). */
export function defaultPool(k: number): number {
  return Math.max(4 * k, k + 64);
}

/**
 * For each query, the rows that decide its k best groups (QuantizedMatrix.searchGroups):
 * query q's are `rows`/`scores` [offsets[q], offsets[q + 1]), best first, ties to the lower row.
 */
export interface GroupSearchResult {
  /** queries.rows + 1 entries. */
  offsets: Int32Array;
  rows: Int32Array;
  /** Exact float32 scores, as `kernels.topK` gives them. */
  scores: Float32Array;
  /** Per query: every row not listed scores at most this; every listed row above it (-Infinity: all rows listed). */
  floors: Float64Array;
}

export class QuantizedMatrix {
  readonly #native: NativeQuantized;
  readonly rows: number;
  readonly cols: number;

  private constructor(native: NativeQuantized, rows: number, cols: number) {
    this.#native = native;
    this.rows = rows;
    this.cols = cols;
  }

  /**
   * Streams `rows × cols` float32 values at byte `offset` of `path` (8 MiB at
   * a time, never all in memory) into int8 codes, verifying `checksum` (16
   * hex digits) over the bytes read when given. Async. Throws
   * TypeError/RangeError for bad arguments; rejects with JobBERTError ERR_IO
   * (cannot open or read), ERR_CORRUPT (too short, checksum mismatch),
   * ERR_OUT_OF_MEMORY.
   */
  static async fromFile(
    path: string,
    opts: { offset?: number; rows: number; cols: number; checksum?: string | null },
  ): Promise<QuantizedMatrix> {
    const caller = callerStack();
    const { offset, rows, cols, checksum } = fileSliceArgs('QuantizedMatrix.fromFile', path, opts);
    const native = await callNative(caller, () => addon.quantizedFromFile(path, offset, rows, cols, checksum));
    return new QuantizedMatrix(native, rows, cols);
  }

  /**
   * Quantises `matrix` into int8 codes, keeping its float32 rows for the exact
   * re-scoring: a ResidentMatrix is shared (not copied; its rows stay alive
   * while this matrix does, even if it is disposed), a plain Matrix is copied.
   * Async. Throws TypeError/RangeError naming `matrix` for a bad matrix or more
   * than {@link INT8_MAX_COLS} columns, JobBERTError ERR_DISPOSED for a
   * disposed ResidentMatrix; rejects with RangeError for NaN/±Infinity (naming
   * its row and column), ERR_OUT_OF_MEMORY.
   */
  static async fromMatrix(matrix: MatrixLike): Promise<QuantizedMatrix> {
    const fn = 'QuantizedMatrix.fromMatrix';
    const caller = callerStack();
    let arg: MatrixArg;
    if (matrix instanceof ResidentMatrix) arg = matrix.handle(fn, 'matrix');
    else {
      assertMatrix(fn, 'matrix', matrix);
      arg = matrix;
    }
    if (matrix.cols > INT8_MAX_COLS)
      throw new RangeError(`${fn}: matrix must have at most ${INT8_MAX_COLS} columns for int8 storage; received ${matrix.cols}`);
    const native = await callNative(caller, () => addon.quantizedFromMatrix(arg));
    return new QuantizedMatrix(native, matrix.rows, matrix.cols);
  }

  /**
   * The int8 scan kernel the active instruction set runs: 'avx512-vnni',
   * 'avx-vnni', 'avx2' or 'portable' (kernels.configure({ isa }) and
   * JOBBERT_ISA choose). Sync.
   */
  static kernel(): string {
    return addon.int8ScanKernel();
  }

  /** Bytes of native memory held (codes, scales, norms; not the float32 rows it shares); 0 once disposed. */
  get bytes(): number {
    return addon.quantizedInfo(this.#native).bytes;
  }

  get disposed(): boolean {
    return addon.quantizedInfo(this.#native).disposed;
  }

  /**
   * The rows that decide each query's `k` best groups, where `groupOf[row]`
   * names each row's group (an Int32Array of one integer per row) and a
   * group scores as its best row: every row whose exact float32 score exceeds
   * the query's floor, best first (ties to the lower row), with the scores
   * `kernels.topK` gives; every row left out scores at most the floor, and the
   * k best groups' best rows score above it. Walking a query's rows in order
   * and taking each new group gives its k best groups exactly as a walk over
   * all rows would. Certified like search(): the int8 scan keeps each row
   * whose int8 score is within twice the error bound of the k-th best group's.
   * Where the rows hold fewer than k groups the floor is -Infinity and every
   * row is listed.
   *
   * `probe` (an integer >= 1; default: search every row) trades that
   * certainty for time. Each group's rows are split into lists of about 16
   * (k-means on their directions, within the group), each list scored first
   * by its prototype (the unit mean of its rows' directions), and only the
   * rows of the best lists are searched — about `probe` of them (their
   * prototypes above a threshold estimated from a sample of prototypes: half
   * to twice as many; more where they span fewer than k groups) — as above:
   * the k best groups *among those rows*, with the same scores. A row
   * outside a query's probed lists cannot count, even where it would change
   * the k best. Where lists are left out nothing is certified: the floors are
   * -Infinity, and the int8 scan keeps the rows within a quarter of the
   * certified margin (the error bound is far wider than the real errors:
   * --fast's answers were the same over 200,000 bench titles). The layout
   * this needs (the codes regrouped and padded, with the prototypes: about
   * twice the codes' size) is built on the first call with a probe for a
   * groupOf and kept for the next.
   * Async. Throws TypeError/RangeError for bad arguments; rejects as search()
   * does.
   */
  async searchGroups(
    queries: MatrixLike,
    groupOf: Int32Array,
    k: number,
    opts: { metric?: Metric; probe?: number } = {},
  ): Promise<GroupSearchResult> {
    const fn = 'QuantizedMatrix.searchGroups';
    const caller = callerStack();
    const arg = this.#queries(fn, queries);
    if (!(groupOf instanceof Int32Array)) throw new TypeError(`${fn}: groupOf must be an Int32Array; received ${describe(groupOf)}`);
    if (groupOf.length !== this.rows)
      throw new RangeError(`${fn}: groupOf must hold one group per row (${this.rows}); received ${groupOf.length}`);
    assertInteger(fn, 'k', k, 1);
    assertOptions(fn, opts, ['metric', 'probe']);
    const metric = opts.metric ?? 'cosine';
    assertChoice(fn, 'metric', metric, METRICS);
    if (opts.probe !== undefined) assertInteger(fn, 'probe', opts.probe, 1);
    const probe = opts.probe === undefined ? undefined : Math.min(opts.probe, this.rows);
    return callNative(caller, () => addon.quantizedSearchGroups(this.#native, arg, groupOf, Math.min(k, this.rows), metric, probe));
  }

  /** The queries argument as the addon takes it, checked (ERR_DISPOSED for a disposed matrix). */
  #queries(fn: string, queries: MatrixLike): MatrixArg {
    if (this.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the QuantizedMatrix was disposed`);
    if (queries instanceof ResidentMatrix) {
      if (queries.cols !== this.cols) throw new RangeError(`${fn}: queries must have ${this.cols} columns; received ${queries.cols}`);
      return queries.handle(fn, 'queries');
    }
    assertMatrix(fn, 'queries', queries, { cols: this.cols });
    return queries;
  }

  /** Frees the codes and closes the file once running searches end. Sync; idempotent. */
  dispose(): void {
    addon.quantizedDispose(this.#native);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The k rows most similar to each query by `metric` ('cosine', the default,
   * or 'dot'), best first, ties to the lower row, with exact float32 scores:
   * the indices and scores `kernels.topK(queries, rows, k, { metric, device:
   * 'cpu' })` gives, certified (see above); k is clamped to `rows`. `pool` (an
   * integer >= k; default max(4k, k + 64); clamped to rows) is how many
   * candidates the int8 scan keeps per query at first: a larger one costs
   * more re-scoring, a smaller one more re-searches. Async. Throws
   * TypeError/RangeError for bad arguments; rejects with ERR_DISPOSED,
   * ERR_CORRUPT (file changed since loading), ERR_IO, RangeError for a
   * non-finite query, or a zero query or corpus row under cosine.
   */
  async search(queries: MatrixLike, k: number, opts: { pool?: number; metric?: Metric } = {}): Promise<TopKResult> {
    const fn = 'QuantizedMatrix.search';
    const caller = callerStack();
    const arg = this.#queries(fn, queries);
    assertInteger(fn, 'k', k, 1);
    assertOptions(fn, opts, ['pool', 'metric']);
    if (opts.pool !== undefined) {
      assertInteger(fn, 'pool', opts.pool, 1);
      if (opts.pool < k) throw new RangeError(`${fn}: pool must be an integer >= k (${k}); received ${opts.pool}`);
    }
    const metric = opts.metric ?? 'cosine';
    assertChoice(fn, 'metric', metric, METRICS);
    const kUsed = Math.min(k, this.rows);
    const pool = Math.min(this.rows, opts.pool ?? defaultPool(kUsed));
    const r = await callNative(caller, () => addon.quantizedSearch(this.#native, arg, kUsed, pool, metric));
    return { k: r.k, indices: r.indices, scores: r.scores };
  }
}
