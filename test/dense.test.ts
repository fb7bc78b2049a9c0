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

describe('kernels.dense with an out buffer', () => {
  it('writes the result into the caller’s Float32Array and resolves to it', async () => {
    const x = randomMatrix(next, 37, 100);
    const w = randomMatrix(next, 129, 100, 0.1);
    const bias = randomMatrix(next, 1, 129).data;
    const out = new Float32Array(37 * 129).fill(NaN); // poisoned: every element must be written
    const y = await kernels.dense(x, w, bias, { activation: 'tanh', out });
    assert.equal(y.data, out);
    assert.deepEqual([y.rows, y.cols], [37, 129]);
    assert.ok(maxRelError(out, denseRef(x, w, bias, 'tanh')) < 2e-5);
  });

  it('gives bitwise the same values as a new output, with plain and resident operands', async () => {
    const x = randomMatrix(next, 300, 200);
    const w = randomMatrix(next, 150, 200, 0.05);
    const fresh = await kernels.dense(x, w, null);
    const rx = kernels.resident(x);
    const rw = kernels.resident(w);
    try {
      for (const [a, b] of [
        [x, w],
        [rx, rw],
        [x, rw],
      ] as const) {
        const out = new Float32Array(300 * 150).fill(-7);
        await kernels.dense(a, b, null, { out });
        assert.deepEqual(out, fresh.data);
      }
    } finally {
      rx.dispose();
      rw.dispose();
    }
  });

  it('reuses one buffer across calls, each call overwriting the last', async () => {
    const w = randomMatrix(next, 16, 8);
    const out = new Float32Array(5 * 16);
    for (let i = 0; i < 3; i++) {
      const x = randomMatrix(next, 5, 8);
      await kernels.dense(x, w, null, { out });
      assert.ok(maxRelError(out, denseRef(x, w, null, 'identity')) < 2e-5, `call ${i}`);
    }
  });

  it('takes a view into a larger buffer and writes only inside it', async () => {
    const x = randomMatrix(next, 3, 4);
    const w = randomMatrix(next, 2, 4);
    const backing = new Float32Array(20).fill(99);
    const out = backing.subarray(4, 10);
    await kernels.dense(x, w, null, { out });
    assert.ok(maxRelError(out, denseRef(x, w, null, 'identity')) < 2e-5);
    assert.deepEqual([...backing.subarray(0, 4), ...backing.subarray(10)], new Array(14).fill(99));
  });

  it('keeps the buffer from being transferred while (and after) the kernel writes it', async () => {
    const x = randomMatrix(next, 64, 32);
    const w = randomMatrix(next, 48, 32);
    const out = new Float32Array(64 * 48);
    const pending = kernels.dense(x, w, null, { out });
    try {
      structuredClone(out.buffer, { transfer: [out.buffer] }); // Node 20 copies, later versions throw
    } catch (e) {
      assert.equal((e as Error).name, 'DataCloneError');
    }
    assert.equal(out.buffer.byteLength, 64 * 48 * 4, 'out stays attached');
    await pending;
    assert.ok(maxRelError(out, denseRef(x, w, null, 'identity')) < 2e-5);
  });
});
