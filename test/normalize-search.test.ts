/**
 * The Normalizer's search (src/normalize/search.ts): a corpus that holds each
 * distinct vector once must rank occupations exactly as a topK over every
 * index row does — ties between vectors, duplicate rows under several
 * occupations, pools too small for k distinct occupations — and the scan is
 * the one function that decides the candidates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as kernels from '../src/kernels/index.js';
import type { Matrix } from '../src/kernels/matrix.js';
import { LiteEncoder, loadBuiltinTaxonomy } from '../src/index.js';
import { buildCorpus, disposeCorpus, exactScan, int8Scan, type Scan, searchOccupations } from '../src/normalize/search.js';
import { rng } from '../src/util/random.js';

/** The reference: every index row scored (topK over all of them), walked until k distinct occupations. */
async function reference(queries: Matrix, vectors: Matrix, occupationOf: Int32Array, k: number): Promise<number[][]> {
  const r = await kernels.topK(queries, vectors, vectors.rows, { metric: 'dot', device: 'cpu' });
  const out: number[][] = [];
  for (let q = 0; q < queries.rows; q++) {
    const seen = new Set<number>();
    const list: number[] = [];
    for (let j = 0; j < r.k && list.length < 2 * k; j++) {
      const row = r.indices[q * r.k + j];
      if (seen.has(occupationOf[row])) continue;
      seen.add(occupationOf[row]);
      list.push(row, r.scores[q * r.k + j]);
    }
    out.push(list);
  }
  return out;
}

/**
 * A corpus of `occupations` × `perOccupation` rows with small-integer values
 * (so that distinct vectors often score exactly alike), a share of rows
 * copied from other rows (the same label under several occupations), and
 * rows of one occupation close together (so a pool of 8k rows can hold fewer
 * than k occupations).
 */
function corpus(seed: number, occupations: number, perOccupation: number, d: number) {
  const r = rng(seed);
  const n = occupations * perOccupation;
  const data = new Float32Array(n * d);
  const occupationOf = new Int32Array(n);
  for (let o = 0; o < occupations; o++) {
    const base = Array.from({ length: d }, () => Math.floor(r() * 3));
    for (let j = 0; j < perOccupation; j++) {
      const row = o * perOccupation + j;
      occupationOf[row] = o;
      for (let p = 0; p < d; p++) data[row * d + p] = base[p] + (r() < 0.2 ? Math.floor(r() * 2) : 0);
    }
  }
  for (let i = 0; i < n / 5; i++) {
    const from = Math.floor(r() * n);
    const to = Math.floor(r() * n);
    data.copyWithin(to * d, from * d, (from + 1) * d);
  }
  const queries = new Float32Array(64 * d);
  for (let i = 0; i < queries.length; i++) queries[i] = Math.floor(r() * 3) - (r() < 0.1 ? 1 : 0);
  return { vectors: { data, rows: n, cols: d }, occupationOf, queries: { data: queries, rows: 64, cols: d } };
}

test('buildCorpus keeps each distinct vector once and lists the rows it stands for, ascending', () => {
  const d = 3;
  // rows 0, 2, 4 alike; 1 and 5 alike; 3 alone
  const data = Float32Array.from([1, 2, 3, 4, 5, 6, 1, 2, 3, 7, 8, 9, 1, 2, 3, 4, 5, 6]);
  const c = buildCorpus({ data, rows: 6, cols: d }, [10, 11, 12, 13, 14, 15]);
  assert.equal(c.rows, 6);
  assert.equal(c.matrix.rows, 3);
  assert.deepEqual([...c.start], [0, 3, 5, 6]);
  assert.deepEqual([...c.members], [10, 12, 14, 11, 15, 13]);
  c.matrix.dispose();
  // -0 and 0 are different bits: kept apart, as the kernel may score them alike but the rows are not "the same vector".
  const z = buildCorpus({ data: Float32Array.from([0, 1, -0, 1]), rows: 2, cols: 2 }, [0, 1]);
  assert.equal(z.matrix.rows, 2);
  z.matrix.dispose();
});

for (const [seed, occupations, per, d, k] of [
  [1, 40, 6, 8, 5],
  [2, 12, 30, 5, 5],
  [3, 7, 4, 16, 10],
  [4, 200, 3, 7, 2],
  [5, 3, 20, 4, 1],
] as const) {
  test(`searchOccupations equals a topK over every row: float32 and int8 scans, int8 group search (seed ${seed}: ${occupations} occupations × ${per} rows, d ${d}, k ${k})`, async () => {
    const { vectors, occupationOf, queries } = corpus(seed, occupations, per, d);
    const expected = await reference(queries, vectors, occupationOf, k);
    const rows = Array.from({ length: vectors.rows }, (_, i) => i);
    for (const [name, scan] of [
      ['float32', exactScan],
      ['int8', int8Scan],
      ['int8 group', 'groups'],
    ] as const) {
      const c = buildCorpus({ ...vectors, data: vectors.data.slice() }, rows);
      assert.ok(c.matrix.rows < vectors.rows, 'the fixture has duplicate rows');
      const got = await searchOccupations(queries, c, occupationOf, k, scan);
      await disposeCorpus(c);
      assert.deepEqual(got, expected, `seed ${seed}, ${name} scan`);
      assert.ok(
        got.every((l) => l.length === 2 * Math.min(k, occupations)),
        'k distinct occupations (or all)',
      );
    }
  });
}

test('a corpus over a subset of index rows reports those rows', async () => {
  const { vectors, occupationOf, queries } = corpus(9, 30, 5, 6);
  const rows = Array.from({ length: vectors.rows }, (_, i) => i).filter((i) => i % 3 !== 1);
  const d = vectors.cols;
  const sub = new Float32Array(rows.length * d);
  rows.forEach((row, j) => sub.set(vectors.data.subarray(row * d, (row + 1) * d), j * d));
  const occSub = Int32Array.from(rows, (row) => occupationOf[row]);
  const expected = (await reference(queries, { data: sub.slice(), rows: rows.length, cols: d }, occSub, 4)).map((l) =>
    l.map((x, j) => (j % 2 === 0 ? rows[x] : x)),
  );
  const c = buildCorpus({ data: sub, rows: rows.length, cols: d }, rows);
  assert.deepEqual(await searchOccupations(queries, c, occupationOf, 4), expected);
  c.matrix.dispose();
});

test('the scan is the one function that scores: a swapped-in scan decides the candidates', async () => {
  const { vectors, occupationOf, queries } = corpus(11, 20, 4, 8);
  const c = buildCorpus(
    { ...vectors, data: vectors.data.slice() },
    Array.from({ length: vectors.rows }, (_, i) => i),
  );
  const calls: number[] = [];
  const counting: Scan = async (q, m, pool) => {
    calls.push(pool);
    return exactScan(q, m, pool);
  };
  assert.deepEqual(await searchOccupations(queries, c, occupationOf, 3, counting), await searchOccupations(queries, c, occupationOf, 3));
  assert.ok(calls.length >= 1);
  // A scan that always answers distinct vector 0 gives only its rows' occupations.
  const stuck: Scan = async (q, _m, pool) => ({
    k: Math.min(pool, c.matrix.rows),
    indices: new Int32Array(q.rows * Math.min(pool, c.matrix.rows)),
    scores: new Float32Array(q.rows * Math.min(pool, c.matrix.rows)).fill(1),
  });
  const got = await searchOccupations(queries, c, occupationOf, 3, stuck);
  const own = new Set(Array.from(c.members.subarray(c.start[0], c.start[1]), (row) => occupationOf[row]));
  for (const l of got) for (let j = 0; j < l.length; j += 2) assert.ok(own.has(occupationOf[l[j]]));
  c.matrix.dispose();
});

test('equal scores at the edge of the pool: a vector left out of the pool cannot lose its place to a later row', async () => {
  // Every row scores 1 for the query (1, 0). Rows 0–31: 32 distinct vectors of
  // occupation 0; row 32: another vector, occupation 1; rows 33–40: copies of
  // row 0, occupation 2. A pool of 32 vectors leaves out row 32's, which ranks
  // before the copies.
  const data: number[] = [];
  const occupationOf: number[] = [];
  for (let i = 0; i < 32; i++) {
    data.push(1, i + 1);
    occupationOf.push(0);
  }
  data.push(1, 100);
  occupationOf.push(1);
  for (let i = 0; i < 8; i++) {
    data.push(1, 1);
    occupationOf.push(2);
  }
  const vectors = { data: Float32Array.from(data), rows: occupationOf.length, cols: 2 };
  const occ = Int32Array.from(occupationOf);
  const queries = { data: Float32Array.from([1, 0]), rows: 1, cols: 2 };
  const expected = await reference(queries, vectors, occ, 2);
  assert.deepEqual(expected, [[0, 1, 32, 1]]);
  const c = buildCorpus(
    { ...vectors, data: vectors.data.slice() },
    Array.from({ length: vectors.rows }, (_, i) => i),
  );
  assert.equal(c.matrix.rows, 33);
  assert.deepEqual(await searchOccupations(queries, c, occ, 2), expected);
  c.matrix.dispose();
});

test('equal query vectors are scanned once and get the same hits as alone', async () => {
  const { vectors, occupationOf, queries } = corpus(13, 25, 4, 8);
  const d = queries.cols;
  // rows 0–9 of the queries, then rows 0–9 again, then row 3 twice more
  const order = [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => i), 3, 3];
  const repeated = new Float32Array(order.length * d);
  order.forEach((row, j) => repeated.set(queries.data.subarray(row * d, (row + 1) * d), j * d));
  const q = { data: repeated, rows: order.length, cols: d };
  const c = buildCorpus(
    { ...vectors, data: vectors.data.slice() },
    Array.from({ length: vectors.rows }, (_, i) => i),
  );
  const scanned: number[] = [];
  const counting: Scan = async (x, m, pool) => {
    scanned.push(x.rows);
    return exactScan(x, m, pool);
  };
  const got = await searchOccupations(q, c, occupationOf, 3, counting);
  assert.deepEqual(got, await reference(q, vectors, occupationOf, 3));
  assert.equal(scanned[0], 10, 'the first scan gets the 10 distinct queries');
  c.matrix.dispose();
});

test('the int8 scan gives the float32 scan’s hits on LiteEncoder vectors of ESCO labels and noisy titles', async () => {
  const lite = await LiteEncoder.load();
  try {
    const taxonomy = await loadBuiltinTaxonomy();
    const labels: string[] = [];
    const occupationOf: number[] = [];
    taxonomy.occupations.slice(0, 600).forEach((o, i) => {
      for (const l of [...Object.values(o.preferred), ...Object.values(o.alt).flat()]) {
        labels.push(l);
        occupationOf.push(i);
      }
    });
    const vectors = await lite.encode(labels);
    const r = rng(77);
    const noisy = Array.from({ length: 400 }, () => {
      const l = labels[Math.floor(r() * labels.length)];
      return `${r() < 0.5 ? 'Senior ' : ''}${l.slice(0, Math.max(3, Math.floor(l.length * (0.6 + 0.4 * r()))))}${r() < 0.3 ? ' (m/w/d)' : ''}`;
    });
    const queries = await lite.encode(noisy);
    const rows = labels.map((_, i) => i);
    const occ = Int32Array.from(occupationOf);
    const results: number[][][] = [];
    for (const scan of [exactScan, int8Scan]) {
      const c = buildCorpus({ ...vectors, data: vectors.data.slice() }, rows);
      results.push(await searchOccupations(queries, c, occ, 5, scan));
      await disposeCorpus(c);
    }
    assert.equal(results[0].length, 400);
    assert.deepEqual(results[1], results[0]);
  } finally {
    await lite.dispose();
  }
});
