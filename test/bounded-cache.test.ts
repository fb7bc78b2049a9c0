import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedCache } from '../src/util/bounded-cache.js';

const size = (key: string, value: number[]) => key.length + 8 * value.length;

test('BoundedCache keeps recent entries within its budget and promotes old hits', () => {
  const c = new BoundedCache<number[]>(100, size); // 50 bytes a generation
  c.set('aa', [1, 2]); // 18
  c.set('bb', [3]); // 10 → young 28
  c.set('cc', [4, 5]); // 18 → 46
  assert.deepEqual(c.get('aa'), [1, 2]);
  c.set('dd', [6]); // 10 would make 56: young becomes old
  assert.equal(c.size, 4);
  assert.deepEqual(c.get('bb'), [3]); // promoted from old
  c.set('ee', [7, 8, 9, 10]); // 34 → young 10 + 10 + 34 = 54 > 50: young (dd, bb) becomes old, aa and cc dropped
  assert.equal(c.get('aa'), undefined);
  assert.equal(c.get('cc'), undefined);
  assert.deepEqual(c.get('dd'), [6]);
  assert.deepEqual(c.get('ee'), [7, 8, 9, 10]);
  assert.ok(c.size <= 4);
});

test('BoundedCache never exceeds its budget under churn, and skips oversized entries', () => {
  const c = new BoundedCache<number[]>(1000, size);
  let held = 0;
  for (let i = 0; i < 20_000; i++) {
    c.set(`key${i}`, [i]);
    if (i % 3 === 0) c.get(`key${i >> 1}`);
    held = Math.max(held, c.bytes);
  }
  assert.ok(held <= 1000 && held > 900, `held ${held}`);
  for (let i = 19_970; i < 20_000; i++) assert.deepEqual(c.get(`key${i}`), [i]);
  assert.deepEqual(c.get('key19999'), [19999]);
  c.set('huge', new Array(100).fill(0));
  assert.equal(c.get('huge'), undefined);
  c.set('key19999', [0]); // held already: kept as it was
  assert.deepEqual(c.get('key19999'), [19999]);
  c.clear();
  assert.equal(c.size, 0);
  assert.equal(c.bytes, 0);
  assert.throws(() => new BoundedCache(0, size), RangeError);
});

test('BoundedCache keeps spaces apart: one key in two spaces is two entries, under one budget', () => {
  const c = new BoundedCache<number[]>(100, size); // 50 bytes a generation
  c.set('k', [1], 'en\u00005');
  c.set('k', [2], 'de\u00005');
  assert.deepEqual(c.get('k', 'en\u00005'), [1]);
  assert.deepEqual(c.get('k', 'de\u00005'), [2]);
  assert.equal(c.get('k'), undefined);
  assert.equal(c.size, 2);
  assert.equal(c.bytes, 18);
  c.set('long', [1, 2, 3, 4], 'x'); // 36 → 54 > 50: both spaces' entries become old, still found
  assert.deepEqual(c.get('k', 'de\u00005'), [2]); // promoted
  c.set('more', [1, 2, 3, 4], 'x'); // the young generation (long, k in de) becomes old; k in en dropped
  assert.equal(c.get('k', 'en\u00005'), undefined);
  assert.deepEqual(c.get('k', 'de\u00005'), [2]);
  assert.ok(c.size <= 4 && c.bytes <= 100);
});
