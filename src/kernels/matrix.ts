/** Row-major float32 matrices: the shape every kernel takes and returns. */
import { describe } from '../util/validate.js';

/** A row-major matrix: element (r, c) is `data[r * cols + c]`. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Makes a {@link Matrix}. From `number[][]` the shape is taken from the rows
 * (all of one length); from a `Float32Array` the data is used as is (no copy),
 * shaped by `rows` and/or `cols` (one of them is enough; neither means one row).
 * Throws TypeError/RangeError for ragged rows, non-numbers or a length that
 * does not match the shape.
 */
export function matrix(data: Float32Array | number[][], rows?: number, cols?: number): Matrix {
  if (Array.isArray(data)) {
    const r = data.length;
    if (r === 0) throw new RangeError('matrix: data must have at least one row; received an empty array');
    const first = data[0];
    if (!Array.isArray(first)) throw new TypeError(`matrix: data[0] must be an array of numbers; received ${describe(first)}`);
    const c = first.length;
    if (c === 0) throw new RangeError('matrix: data[0] must have at least one column; received an empty row');
    if (rows !== undefined && rows !== r) throw new RangeError(`matrix: rows must be ${r} (data.length); received ${rows}`);
    if (cols !== undefined && cols !== c) throw new RangeError(`matrix: cols must be ${c} (data[0].length); received ${cols}`);
    const out = new Float32Array(r * c);
    for (let i = 0; i < r; i++) {
      const row = data[i];
      if (!Array.isArray(row) || row.length !== c) {
        throw new RangeError(`matrix: every row must have ${c} numbers; data[${i}] has ${Array.isArray(row) ? row.length : describe(row)}`);
      }
      for (let j = 0; j < c; j++) {
        const v = row[j];
        if (typeof v !== 'number') throw new TypeError(`matrix: data[${i}][${j}] must be a number; received ${describe(v)}`);
        out[i * c + j] = v;
      }
    }
    return Object.freeze({ data: out, rows: r, cols: c });
  }
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`matrix: data must be a Float32Array or number[][]; received ${describe(data)}`);
  }
  const n = data.length;
  for (const [name, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      throw new RangeError(`matrix: ${name} must be a positive integer; received ${describe(v)}`);
    }
  }
  let r = rows;
  let c = cols;
  if (r === undefined && c === undefined) {
    r = 1;
    c = n;
  } else if (r === undefined) {
    r = n / c!;
  } else if (c === undefined) {
    c = n / r;
  }
  if (!Number.isInteger(r) || !Number.isInteger(c) || r! * c! !== n || n === 0) {
    throw new RangeError(`matrix: data.length must equal rows × cols; received length ${n} for rows ${rows ?? '?'} × cols ${cols ?? '?'}`);
  }
  return Object.freeze({ data, rows: r!, cols: c! });
}

/** Row `i` of `m` as a view (no copy). */
export function row(m: Matrix, i: number): Float32Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

/**
 * L2-normalises each row of row-major `data` in place. A zero row has no
 * direction: `'keep'` leaves it zero (as torch.nn.functional.normalize and so
 * sentence-transformers do), `'unit'` makes it e₀ (for encoders whose vectors
 * must have a norm under cosine).
 */
export function normalizeRows(data: Float32Array, cols: number, zeroRow: 'keep' | 'unit'): void {
  for (let o = 0; o < data.length; o += cols) {
    let s = 0;
    for (let d = 0; d < cols; d++) s += data[o + d] * data[o + d];
    if (s === 0) {
      if (zeroRow === 'unit') data[o] = 1;
      continue;
    }
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < cols; d++) data[o + d] *= inv;
  }
}

/**
 * The first row of `m` cosine similarity cannot use: one holding a value that
 * is not finite (with its column), or a zero row (norm below 1e-15, as the
 * kernels' kMinSquaredNorm); null when every row is usable.
 */
export function unusableRow(m: Matrix): { row: number; column?: number } | null {
  const { data, cols } = m;
  for (let r = 0; r < m.rows; r++) {
    let sum = 0;
    for (let j = r * cols; j < (r + 1) * cols; j++) {
      if (!Number.isFinite(data[j])) return { row: r, column: j - r * cols };
      sum += data[j] * data[j];
    }
    if (!(sum >= 1e-30)) return { row: r };
  }
  return null;
}
