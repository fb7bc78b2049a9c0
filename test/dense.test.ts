import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { kernels, type Isa } from '../src/index.js';
import { denseBackwardRef, denseRef, maxRelError, randomMatrix, rng, testSeed } from './reference.js';

const next = rng(testSeed('dense.test'));
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [3, 17, 33],
  [13, 64, 40],
  [37, 100, 129],
  [129, 768, 35],
  [200, 31, 1024],
];

describe('kernels.dense', () => {
  for (const [m, inn, out] of SHAPES) {
    for (const activation of ['identity', 'tanh'] as const) {
      for (const withBias of [true, false]) {
        it(`matches float64 for ${m}×${inn}→${out}, ${activation}, ${withBias ? 'bias' : 'no bias'}`, async () => {
          const x = randomMatrix(next, m, inn);
          const w = randomMatrix(next, out, inn, 1 / Math.sqrt(inn));
          const bias = withBias ? randomMatrix(next, 1, out).data : null;
          const y = await kernels.dense(x, w, bias, { activation });
          assert.equal(y.rows, m);
          assert.equal(y.cols, out);
          assert.ok(maxRelError(y.data, denseRef(x, w, bias, activation)) < 2e-5);
        });
      }
    }
  }

  it('defaults to identity without bias', async () => {
    const x = randomMatrix(next, 5, 9);
    const w = randomMatrix(next, 4, 9);
    const y = await kernels.dense(x, w, null);
    assert.ok(maxRelError(y.data, denseRef(x, w, null, 'identity')) < 2e-5);
  });
});

describe('kernels.denseBackward', () => {
  for (const [m, inn, out] of SHAPES) {
    for (const activation of ['identity', 'tanh'] as const) {
      it(`matches float64 for ${m}×${inn}→${out}, ${activation}`, async () => {
        const x = randomMatrix(next, m, inn);
        const w = randomMatrix(next, out, inn, 1 / Math.sqrt(inn));
        const y = await kernels.dense(x, w, null, { activation });
        const gradY = randomMatrix(next, m, out);
        const g = await kernels.denseBackward(x, w, y, gradY, { activation });
        const ref = denseBackwardRef(x, w, y.data, gradY, activation);
        assert.deepEqual([g.gradX.rows, g.gradX.cols, g.gradWeight.rows, g.gradWeight.cols, g.gradBias.length], [m, inn, out, inn, out]);
        const scale = Math.sqrt(m); // sums over m rows grow like √m
        assert.ok(maxRelError(g.gradX.data, ref.gradX) < 2e-5);
        assert.ok(maxRelError(g.gradWeight.data, ref.gradW, scale) < 2e-5);
        assert.ok(maxRelError(g.gradBias, ref.gradB, scale) < 2e-5);
      });
    }
  }
});

describe('CPU code paths', () => {
  const initial = kernels.info();
  after(() => kernels.configure({ isa: initial.isa, threads: 0 }));

  it('every instruction set gives the same results within float tolerance', async () => {
    const x = randomMatrix(next, 57, 300);
    const w = randomMatrix(next, 70, 300, 0.05);
    const bias = randomMatrix(next, 1, 70).data;
    const ref = denseRef(x, w, bias, 'tanh');
    for (const isa of initial.isas as Isa[]) {
      kernels.configure({ isa });
      assert.equal(kernels.info().isa, isa);
      const y = await kernels.dense(x, w, bias, { activation: 'tanh' });
      assert.ok(maxRelError(y.data, ref) < 2e-5, `isa ${isa}`);
    }
  });

  it('gives bitwise-identical results on 1 and 2 threads', async () => {
    const x = randomMatrix(next, 300, 200);
    const w = randomMatrix(next, 150, 200);
    kernels.configure({ threads: 1 });
    const one = await kernels.dense(x, w, null);
    kernels.configure({ threads: 2 });
    const two = await kernels.dense(x, w, null);
    assert.deepEqual(one.data, two.data);
  });
});
