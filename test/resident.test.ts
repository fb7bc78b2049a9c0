import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobBERTError, kernels, ResidentMatrix } from '../src/index.js';
import { randomMatrix, rng, testSeed } from './reference.js';

const next = rng(testSeed('resident.test'));

describe('kernels.resident', () => {
  it('gives the same results as the plain matrix it holds, in every kernel', async () => {
    const corpus = randomMatrix(next, 700, 48);
    const queries = randomMatrix(next, 9, 48);
    const held = kernels.resident(corpus);
    assert.ok(held instanceof ResidentMatrix);
    assert.deepEqual([held.rows, held.cols, held.disposed], [700, 48, false]);
    assert.deepEqual(await kernels.topK(queries, held, 7), await kernels.topK(queries, corpus, 7));
    const plainWeight = randomMatrix(next, 30, 48);
    const weight = kernels.resident(plainWeight);
    assert.deepEqual(await kernels.dense(queries, weight, null), await kernels.dense(queries, plainWeight, null));
    const a = randomMatrix(next, 9, 48);
    assert.deepEqual(await kernels.infoNCE(a, kernels.resident(queries)), await kernels.infoNCE(a, queries));
  });

  it('is not changed by later writes to the source array', async () => {
    const corpus = randomMatrix(next, 50, 8);
    const queries = randomMatrix(next, 3, 8);
    const expected = await kernels.topK(queries, corpus, 5);
    const held = kernels.resident(corpus);
    corpus.data.fill(1);
    assert.deepEqual(await kernels.topK(queries, held, 5), expected);
  });

  it('is refused after dispose, while a call already running finishes', async () => {
    const held = kernels.resident(randomMatrix(next, 20_000, 64));
    const queries = randomMatrix(next, 64, 64);
    const expected = await kernels.topK(queries, held, 3);
    const running = kernels.topK(queries, held, 3);
    held.dispose();
    held.dispose(); // idempotent
    assert.equal(held.disposed, true);
    assert.deepEqual(await running, expected);
    await assert.rejects(
      () => kernels.topK(queries, held, 3),
      (e: unknown) =>
        e instanceof JobBERTError && e.code === 'ERR_DISPOSED' && /corpus is a ResidentMatrix that was disposed/.test(e.message),
    );
  });

  it('checks shapes against the other arguments', async () => {
    const held = kernels.resident(randomMatrix(next, 10, 5));
    await assert.rejects(() => kernels.topK(randomMatrix(next, 2, 4), held, 1), /corpus\.cols must be 4; received 5/);
    assert.throws(() => kernels.resident({ rows: 2, cols: 2, data: new Float32Array(3) }), RangeError);
  });
});
