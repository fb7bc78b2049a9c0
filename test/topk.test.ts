import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels, matrix, type Matrix } from '../src/index.js';
import { randomMatrix, rng, scoresRef, testSeed } from './reference.js';

const next = rng(testSeed('topk.test'));

/**
 * Checks a top-k result against float64 brute force: scores within 1e-5 (plus,
 * under dot, 4·2⁻²⁴ of Σ|q_d·c_d|, the scale of a float32 sum's rounding: GPU and
 * CPU sum in different orders), and each returned index is a correct choice —
 * its reference score equals the reference score at that rank, up to float32
 * rounding of near-ties.
 */
function checkTopK(q: Matrix, c: Matrix, k: number, metric: 'cosine' | 'dot', r: { k: number; indices: Int32Array; scores: Float32Array }) {
  const kk = Math.min(k, c.rows);
  assert.equal(r.k, kk);
  assert.equal(r.indices.length, q.rows * kk);
  const ref = scoresRef(q, c, metric);
  for (let i = 0; i < q.rows; i++) {
    const order = Array.from(ref[i].keys()).sort((x, y) => ref[i][y] - ref[i][x] || x - y);
    const seen = new Set<number>();
    for (let j = 0; j < kk; j++) {
      const got = r.indices[i * kk + j];
      const score = r.scores[i * kk + j];
      assert.ok(got >= 0 && got < c.rows && !seen.has(got), `query ${i} rank ${j}: index ${got}`);
      seen.add(got);
      const tol = 1e-5 * (1 + Math.abs(ref[i][got])) + (metric === 'dot' ? 4 * 2 ** -24 * absDot(q, i, c, got) : 0);
      assert.ok(Math.abs(score - ref[i][got]) <= tol, `query ${i} rank ${j}: score ${score} vs ${ref[i][got]}`);
      assert.ok(
        Math.abs(ref[i][got] - ref[i][order[j]]) <= 2 * tol,
        `query ${i} rank ${j}: index ${got} (${ref[i][got]}) where ${order[j]} (${ref[i][order[j]]}) ranks`,
      );
      if (j > 0) assert.ok(r.scores[i * kk + j - 1] >= score, 'scores descend');
    }
  }
}

/** Σ_d |q[i][d]·c[j][d]|. */
function absDot(q: Matrix, i: number, c: Matrix, j: number): number {
  let sum = 0;
  for (let d = 0; d < q.cols; d++) sum += Math.abs(q.data[i * q.cols + d] * c.data[j * c.cols + d]);
  return sum;
}

describe('kernels.topK', () => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 2, 3, 10],
    [3, 31, 17, 10],
    [50, 1000, 64, 10],
    [4, 1000, 1024, 1000],
    [50, 5000, 3, 7],
    [2, 300, 100, 300],
  ];
  for (const [Q, N, d, k] of shapes) {
    for (const metric of ['cosine', 'dot'] as const) {
      it(`matches brute force for Q=${Q} N=${N} d=${d} k=${k} ${metric}`, async () => {
        const q = randomMatrix(next, Q, d);
        const c = randomMatrix(next, N, d);
        checkTopK(q, c, k, metric, await kernels.topK(q, c, k, { metric }));
      });
    }
  }

  it('clamps k to the corpus size', async () => {
    const q = randomMatrix(next, 2, 5);
    const c = randomMatrix(next, 3, 5);
    const r = await kernels.topK(q, c, 10);
    assert.equal(r.k, 3);
    checkTopK(q, c, 10, 'cosine', r);
  });

  it('breaks ties by the lower index, across the whole corpus', async () => {
    const d = 19,
      N = 6000;
    const c = randomMatrix(next, N, d);
    // Exact copies of row 5000 placed before and far after it.
    for (const at of [17, 2999, 5999]) c.data.copyWithin(at * d, 5000 * d, 5001 * d);
    const target = { rows: 1, cols: d, data: c.data.slice(5000 * d, 5001 * d) };
    for (const metric of ['cosine', 'dot'] as const) {
      const r = await kernels.topK(target, c, 4, { metric });
      assert.deepEqual(Array.from(r.indices), [17, 2999, 5000, 5999]);
      assert.equal(new Set(r.scores).size, 1);
    }
    // All-equal scores: the first k indices in order.
    const ones = { rows: 100, cols: 4, data: new Float32Array(400).fill(1) };
    const r = await kernels.topK({ rows: 1, cols: 4, data: new Float32Array([1, 2, 3, 4]) }, ones, 5);
    assert.deepEqual(Array.from(r.indices), [0, 1, 2, 3, 4]);
  });

  it('scores cosine independently of vector length, and dot by it', async () => {
    const c = { rows: 2, cols: 2, data: new Float32Array([10, 0, 0.6, 0.8]) };
    const q = { rows: 1, cols: 2, data: new Float32Array([0.6, 0.8]) };
    const cos = await kernels.topK(q, c, 2);
    assert.deepEqual(Array.from(cos.indices), [1, 0]);
    assert.ok(Math.abs(cos.scores[0] - 1) < 1e-6 && Math.abs(cos.scores[1] - 0.6) < 1e-6);
    const dot = await kernels.topK(q, c, 2, { metric: 'dot' });
    assert.deepEqual(Array.from(dot.indices), [0, 1]);
    assert.ok(Math.abs(dot.scores[0] - 6) < 1e-5);
  });
});

describe('topK cosine with huge finite inputs', () => {
  // Elements near float32's limit overflow a float32 dot product (3e38·3e38),
  // but their cosines are ordinary numbers in [-1, 1].
  for (const [Q, N, d] of [
    [1, 5, 8],
    [40, 300, 33],
  ] as const) {
    it(`gives the cosines of vectors of 3e38, not Infinity (Q=${Q} N=${N} d=${d})`, async () => {
      const lcg = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      const next = lcg(Q * 7 + d);
      const big = (n: number) => Float32Array.from({ length: n }, () => next() * 3e38);
      const queries = matrix(big(Q * d), Q, d);
      const corpus = matrix(big(N * d), N, d);
      const { indices, scores } = await kernels.topK(queries, corpus, 3, { device: 'cpu' });
      for (let q = 0; q < Q; q++) {
        const cos = (j: number) => {
          let dot = 0;
          let nq = 0;
          let nc = 0;
          for (let p = 0; p < d; p++) {
            const a = queries.data[q * d + p];
            const b = corpus.data[j * d + p];
            dot += a * b;
            nq += a * a;
            nc += b * b;
          }
          return dot / Math.sqrt(nq * nc);
        };
        const best = Array.from({ length: N }, (_, j) => j).sort((a, b) => cos(b) - cos(a) || a - b);
        for (let r = 0; r < 3; r++) {
          const s = scores[q * 3 + r];
          assert.ok(Number.isFinite(s) && Math.abs(s) <= 1 + 1e-6, `score ${s} for query ${q}`);
          assert.ok(Math.abs(s - cos(best[r])) < 1e-5, `query ${q} rank ${r}: ${s} vs ${cos(best[r])}`);
          assert.ok(Math.abs(cos(indices[q * 3 + r]) - cos(best[r])) < 1e-5);
        }
      }
    });
  }
});
