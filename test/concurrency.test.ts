import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels } from '../src/index.js';
import { randomMatrix, rng, testSeed } from './reference.js';

const next = rng(testSeed('concurrency.test'));

describe('concurrent kernel calls', () => {
  it('give the same results as sequential calls', async () => {
    const jobs = Array.from({ length: 12 }, (_, i) => {
      const d = 32 + i * 7;
      const x = randomMatrix(next, 40 + i, d);
      const w = randomMatrix(next, 30, d);
      const a = randomMatrix(next, 20 + i, d);
      const p = randomMatrix(next, 20 + i, d);
      const c = randomMatrix(next, 500 + 50 * i, d);
      return {
        dense: () => kernels.dense(x, w, null, { activation: 'tanh' }),
        infoNCE: () => kernels.infoNCE(a, p, { symmetric: i % 2 === 0 }),
        topK: () => kernels.topK(x, c, 5 + i),
      };
    });
    const sequential = [];
    for (const j of jobs) sequential.push([await j.dense(), await j.infoNCE(), await j.topK()]);
    const concurrent = await Promise.all(jobs.map((j) => Promise.all([j.dense(), j.infoNCE(), j.topK()])));
    assert.deepEqual(concurrent, sequential);
  });
});
