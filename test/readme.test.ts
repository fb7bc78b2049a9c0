/** The README's usage example, run as written, with the output it promises. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { kernels, matrix } from '../src/index.js';

it('the README example gives the results it shows', async () => {
  const corpus = matrix([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.5, 0.5, 0.0]]);
  const queries = matrix([[1, 0, 0]]);
  const { k, indices, scores } = await kernels.topK(queries, corpus, 2);
  assert.equal(k, 2);
  assert.deepEqual(Array.from(indices), [1, 2]);
  assert.deepEqual(Array.from(scores, (s) => Number(s.toFixed(4))), [0.9847, 0.7071]);

  const head = matrix(new Float32Array(1024 * 3).fill(0.01), 1024, 3);
  const y = await kernels.dense(corpus, head, null, { activation: 'tanh' });
  assert.deepEqual([y.rows, y.cols], [3, 1024]);

  const { loss, gradAnchors, gradPositives } = await kernels.infoNCE(queries, matrix([[0.9, 0.1, 0]]), { scale: 20 });
  assert.equal(loss, 0);  // one pair: the positive is the only candidate
  assert.equal(gradAnchors.rows, 1);
  assert.equal(gradPositives.cols, 3);
});
