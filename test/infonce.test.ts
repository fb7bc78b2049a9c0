import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels, type Matrix } from '../src/index.js';
import { infoNCERef, maxRelError, randomMatrix, rng, testSeed } from './reference.js';

const next = rng(testSeed('infonce.test'));

/** Rows with different norms: the kernel must not assume normalised inputs. */
function unnormalised(rows: number, cols: number): Matrix {
  const m = randomMatrix(next, rows, cols);
  for (let r = 0; r < rows; r++) {
    const s = 0.2 + 3 * next();
    for (let c = 0; c < cols; c++) m.data[r * cols + c] *= s;
  }
  return m;
}

const CASES: { B: number; d: number; N: number; scale: number; symmetric: boolean }[] = [
  { B: 1, d: 1, N: 0, scale: 20, symmetric: false },
  { B: 2, d: 3, N: 0, scale: 20, symmetric: true },
  { B: 3, d: 17, N: 1, scale: 20, symmetric: false },
  { B: 7, d: 64, N: 5, scale: 1, symmetric: true },
  { B: 33, d: 100, N: 0, scale: 50, symmetric: false },
  { B: 33, d: 100, N: 40, scale: 20, symmetric: true },
  { B: 300, d: 24, N: 7, scale: 20, symmetric: false },
  { B: 300, d: 24, N: 0, scale: 20, symmetric: true },
];

describe('kernels.infoNCE', () => {
  for (const { B, d, N, scale, symmetric } of CASES) {
    it(`matches float64 for B=${B} d=${d} negatives=${N} scale=${scale} symmetric=${symmetric}`, async () => {
      const a = unnormalised(B, d);
      const p = unnormalised(B, d);
      const neg = N ? unnormalised(N, d) : undefined;
      const r = await kernels.infoNCE(a, p, { scale, symmetric, negatives: neg });
      const ref = infoNCERef(a, p, neg ?? null, scale, symmetric);
      assert.ok(Math.abs(r.loss - ref.loss) <= 1e-4 * (1 + Math.abs(ref.loss)), `loss ${r.loss} vs ${ref.loss}`);
      const gscale = 1 / B; // gradients are means over the batch
      assert.ok(maxRelError(r.gradAnchors.data, ref.gradAnchors, gscale) < 1e-3, 'gradAnchors');
      assert.ok(maxRelError(r.gradPositives.data, ref.gradPositives, gscale) < 1e-3, 'gradPositives');
      if (neg) {
        assert.ok(r.gradNegatives, 'gradNegatives present');
        assert.equal(r.gradNegatives.rows, N);
        assert.ok(maxRelError(r.gradNegatives.data, ref.gradNegatives!, gscale) < 1e-3, 'gradNegatives');
      } else {
        assert.equal(r.gradNegatives, undefined);
      }
    });
  }

  it('defaults to scale 20, not symmetric', async () => {
    const a = unnormalised(9, 8);
    const p = unnormalised(9, 8);
    const r = await kernels.infoNCE(a, p);
    assert.ok(Math.abs(r.loss - infoNCERef(a, p, null, 20, false).loss) < 1e-4 * (1 + r.loss));
  });

  it('gradients agree with central finite differences of the loss', async () => {
    // scale 1 keeps float32 rounding in the loss far below the difference step.
    for (const symmetric of [false, true]) {
      const B = 5,
        d = 6;
      const a = unnormalised(B, d);
      const p = unnormalised(B, d);
      const neg = unnormalised(3, d);
      const opts = { scale: 1, symmetric, negatives: neg };
      const r = await kernels.infoNCE(a, p, opts);
      const eps = 1e-2;
      for (const [name, m, grad] of [
        ['anchors', a, r.gradAnchors],
        ['positives', p, r.gradPositives],
        ['negatives', neg, r.gradNegatives!],
      ] as const) {
        for (let t = 0; t < 4; t++) {
          const i = Math.floor(next() * m.data.length);
          const orig = m.data[i];
          m.data[i] = orig + eps;
          const plus = (await kernels.infoNCE(a, p, opts)).loss;
          m.data[i] = orig - eps;
          const minus = (await kernels.infoNCE(a, p, opts)).loss;
          m.data[i] = orig;
          const numeric = (plus - minus) / (2 * eps);
          assert.ok(
            Math.abs(numeric - grad.data[i]) < 2e-3 * (1 + Math.abs(numeric)),
            `${name}[${i}] symmetric=${symmetric}: ${grad.data[i]} vs ${numeric}`,
          );
        }
      }
    }
  });

  it('the float64 reference gradients agree with finite differences too', () => {
    const B = 4,
      d = 5;
    const a = { rows: B, cols: d, data: Float64Array.from(unnormalised(B, d).data) };
    const p = unnormalised(B, d);
    const neg = unnormalised(2, d);
    const ref = infoNCERef(a, p, neg, 20, true);
    const eps = 1e-6;
    for (let i = 0; i < a.data.length; i++) {
      const orig = a.data[i];
      a.data[i] = orig + eps;
      const plus = infoNCERef(a, p, neg, 20, true).loss;
      a.data[i] = orig - eps;
      const minus = infoNCERef(a, p, neg, 20, true).loss;
      a.data[i] = orig;
      const numeric = (plus - minus) / (2 * eps);
      assert.ok(Math.abs(numeric - ref.gradAnchors[i]) < 1e-6 * (1 + Math.abs(numeric)), `anchors[${i}]`);
    }
  });
});
