/**
 * Float64 references for the kernel tests: written from the definitions in
 * the README (the kernels section), independently of the native code, with no tiling or tricks.
 */
import type { Matrix } from '../src/index.js';

/** A matrix in float32 (what the kernels take) or float64 (for finite differences). */
export interface AnyMatrix {
  readonly data: Float32Array | Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/** Seeded PRNG (mulberry32). The seed is printed so a failure can be replayed. */
export { rng } from '../src/util/random.js';

/** JOBBERT_SEED or a fixed default; logged once per file. */
export function testSeed(file: string): number {
  const seed = process.env.JOBBERT_SEED ? Number(process.env.JOBBERT_SEED) : 20261126;
  console.log(`# ${file}: seed ${seed} (set JOBBERT_SEED to replay)`);
  return seed;
}

export function randomMatrix(next: () => number, rows: number, cols: number, scale = 1): Matrix {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = (next() * 2 - 1) * scale;
  return { data, rows, cols };
}

/** `centers` random centres, each row one of them plus uniform noise of ±`noise`: near neighbours are close together. */
export function clustered(next: () => number, rows: number, cols: number, centers: number, noise: number): Matrix {
  const c = randomMatrix(next, centers, cols);
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const k = Math.floor(next() * centers);
    for (let j = 0; j < cols; j++) data[r * cols + j] = c.data[k * cols + j] + noise * (next() * 2 - 1);
  }
  return { data, rows, cols };
}

export function at(m: AnyMatrix, r: number, c: number): number {
  return m.data[r * m.cols + c];
}

/** y = act(x·Wᵀ + b) in float64. */
export function denseRef(x: Matrix, w: Matrix, bias: Float32Array | null, activation: 'identity' | 'tanh'): Float64Array {
  const out = new Float64Array(x.rows * w.rows);
  for (let i = 0; i < x.rows; i++) {
    for (let o = 0; o < w.rows; o++) {
      let s = bias ? bias[o] : 0;
      for (let p = 0; p < x.cols; p++) s += at(x, i, p) * at(w, o, p);
      out[i * w.rows + o] = activation === 'tanh' ? Math.tanh(s) : s;
    }
  }
  return out;
}

/** Gradients of the dense layer in float64, from its float64 output y. */
export function denseBackwardRef(x: Matrix, w: Matrix, y: ArrayLike<number>, gradY: Matrix, activation: 'identity' | 'tanh') {
  const m = x.rows,
    out = w.rows,
    inn = x.cols;
  const gz = new Float64Array(m * out);
  for (let i = 0; i < m * out; i++) gz[i] = gradY.data[i] * (activation === 'tanh' ? 1 - y[i] * y[i] : 1);
  const gradX = new Float64Array(m * inn);
  const gradW = new Float64Array(out * inn);
  const gradB = new Float64Array(out);
  for (let i = 0; i < m; i++) {
    for (let o = 0; o < out; o++) {
      const g = gz[i * out + o];
      gradB[o] += g;
      for (let p = 0; p < inn; p++) {
        gradX[i * inn + p] += g * at(w, o, p);
        gradW[o * inn + p] += g * at(x, i, p);
      }
    }
  }
  return { gradX, gradW, gradB };
}

function normalised(m: AnyMatrix): { unit: Float64Array[]; norm: number[] } {
  const unit: Float64Array[] = [];
  const norm: number[] = [];
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let c = 0; c < m.cols; c++) s += at(m, r, c) ** 2;
    const n = Math.sqrt(s);
    norm.push(n);
    const u = new Float64Array(m.cols);
    for (let c = 0; c < m.cols; c++) u[c] = at(m, r, c) / n;
    unit.push(u);
  }
  return { unit, norm };
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);

/** InfoNCE loss and gradients in float64 with the full score matrix (the README's semantics: scale·cosine, candidates = positives then negatives). */
export function infoNCERef(a: AnyMatrix, p: AnyMatrix, neg: AnyMatrix | null, scale: number, symmetric: boolean) {
  const B = a.rows,
    d = a.cols,
    N = neg ? neg.rows : 0;
  const A = normalised(a);
  const P = normalised(p);
  const G = neg ? normalised(neg) : { unit: [], norm: [] };
  const cand = [...P.unit, ...G.unit];
  const gA = A.unit.map(() => new Float64Array(d));
  const gC = cand.map(() => new Float64Array(d));
  const weight = symmetric ? 0.5 : 1;
  let loss = 0;
  // anchors → candidates
  for (let i = 0; i < B; i++) {
    const s = cand.map((c) => scale * dot(A.unit[i], c));
    const m = Math.max(...s);
    const lse = m + Math.log(s.reduce((acc, v) => acc + Math.exp(v - m), 0));
    loss += (weight * (lse - s[i])) / B;
    for (let j = 0; j < B + N; j++) {
      const g = (weight * (Math.exp(s[j] - lse) - (i === j ? 1 : 0))) / B;
      for (let c = 0; c < d; c++) {
        gA[i][c] += g * scale * cand[j][c];
        gC[j][c] += g * scale * A.unit[i][c];
      }
    }
  }
  if (symmetric) {
    // positives → anchors
    for (let j = 0; j < B; j++) {
      const s = A.unit.map((u) => scale * dot(u, P.unit[j]));
      const m = Math.max(...s);
      const lse = m + Math.log(s.reduce((acc, v) => acc + Math.exp(v - m), 0));
      loss += (0.5 * (lse - s[j])) / B;
      for (let i = 0; i < B; i++) {
        const g = (0.5 * (Math.exp(s[i] - lse) - (i === j ? 1 : 0))) / B;
        for (let c = 0; c < d; c++) {
          gC[j][c] += g * scale * A.unit[i][c];
          gA[i][c] += g * scale * P.unit[j][c];
        }
      }
    }
  }
  // chain through x̂ = x/‖x‖: dL/dx = (g − (g·x̂)x̂)/‖x‖
  const raw = (g: Float64Array[], unit: Float64Array[], norm: number[]) => {
    const out = new Float64Array(g.length * d);
    g.forEach((gi, r) => {
      const proj = dot(gi, unit[r]);
      for (let c = 0; c < d; c++) out[r * d + c] = (gi[c] - proj * unit[r][c]) / norm[r];
    });
    return out;
  };
  return {
    loss,
    gradAnchors: raw(gA, A.unit, A.norm),
    gradPositives: raw(gC.slice(0, B), P.unit, P.norm),
    gradNegatives: N ? raw(gC.slice(B), G.unit, G.norm) : null,
  };
}

/** Brute-force scores [Q × N] in float64. */
export function scoresRef(q: Matrix, c: Matrix, metric: 'cosine' | 'dot'): Float64Array[] {
  const Q = metric === 'cosine' ? normalised(q).unit : rows64(q);
  const C = metric === 'cosine' ? normalised(c).unit : rows64(c);
  return Q.map((qi) => Float64Array.from(C, (cj) => dot(qi, cj)));
}

function rows64(m: Matrix): Float64Array[] {
  return Array.from({ length: m.rows }, (_, r) => Float64Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)));
}

/** Max of |got − want| / (|want| + floor). */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (Math.abs(want[i]) + floor);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
