/**
 * QuantizedMatrix.fromMatrix: int8 codes over rows in memory (a Matrix copied,
 * a ResidentMatrix shared), searched with the int8 scan and re-scored exactly:
 * results equal kernels.topK's (ids and bit-identical scores) for cosine and
 * dot, on every instruction set (kernels.configure({ isa }), and JOBBERT_ISA
 * in a child process), ties to the lower row, recall on clustered data, and
 * bad calls naming the argument.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { JobBERTError } from '../src/errors.js';
import * as kernels from '../src/kernels/index.js';
import type { Isa, Metric, TopKResult } from '../src/kernels/index.js';
import type { Matrix } from '../src/kernels/matrix.js';
import { INT8_MAX_COLS, QuantizedMatrix } from '../src/match/quantized.js';
import { clustered as clusteredFrom, randomMatrix, rng, scoresRef, testSeed } from './reference.js';

const next = rng(testSeed('quantized-matrix.test'));

/** clustered() of reference.ts, drawing from this file's generator. */
const clustered = (rows: number, cols: number, centers: number, noise: number) => clusteredFrom(next, rows, cols, centers, noise);

/** Rows scaled to unit length, as the Normalizer's label vectors are. */
function unitRows(m: Matrix): Matrix {
  const data = new Float32Array(m.data);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += data[r * m.cols + j] ** 2;
    const f = 1 / Math.sqrt(s);
    for (let j = 0; j < m.cols; j++) data[r * m.cols + j] *= f;
  }
  return { data, rows: m.rows, cols: m.cols };
}

function assertSameResult(got: TopKResult, want: TopKResult, what: string): void {
  assert.equal(got.k, want.k, `${what}: k`);
  assert.deepEqual(got.indices, want.indices, `${what}: indices`);
  // Bit-identical scores: compare the float32 bit patterns.
  assert.deepEqual(new Uint32Array(got.scores.buffer), new Uint32Array(want.scores.buffer), `${what}: scores`);
}

describe('QuantizedMatrix.fromMatrix', () => {
  const initial = kernels.info();
  after(() => kernels.configure({ isa: initial.isa, threads: 0 }));

  it('returns exactly kernels.topK’s ids and scores (cosine and dot, resident and plain, awkward shapes)', async () => {
    for (const [n, d, q, k] of [
      [1, 1, 1, 1],
      [15, 7, 3, 4],
      [17, 5, 9, 30], // k beyond the rows: clamped
      [1000, 96, 21, 32],
      [3001, 130, 8, 10],
    ]) {
      const corpus = randomMatrix(next, n, d);
      const queries = randomMatrix(next, q, d);
      const resident = kernels.resident(corpus);
      for (const source of [resident, corpus]) {
        const q8 = await QuantizedMatrix.fromMatrix(source);
        assert.equal(q8.rows, n);
        assert.equal(q8.cols, d);
        for (const metric of ['cosine', 'dot'] as Metric[]) {
          const want = await kernels.topK(queries, corpus, k, { metric, device: 'cpu' });
          const got = await q8.search(queries, k, { metric, pool: 4 * k + 64 }); // clamped to the rows
          assertSameResult(got, want, `n ${n} d ${d} ${metric} ${source === resident ? 'resident' : 'plain'}`);
        }
        q8.dispose();
      }
      resident.dispose();
    }
  });

  it('agrees with a float64 reference on the scores it returns', async () => {
    const corpus = unitRows(randomMatrix(next, 500, 40));
    const queries = unitRows(randomMatrix(next, 6, 40));
    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    const r = await q8.search(queries, 5, { metric: 'dot' });
    const ref = scoresRef(queries, corpus, 'dot');
    for (let i = 0; i < 6; i++) {
      const order = Array.from(ref[i].keys()).sort((a, b) => ref[i][b] - ref[i][a] || a - b);
      for (let j = 0; j < 5; j++) {
        assert.equal(r.indices[i * 5 + j], order[j]);
        assert.ok(Math.abs(r.scores[i * 5 + j] - ref[i][order[j]]) < 1e-6);
      }
    }
    q8.dispose();
  });

  it('keeps the corpus rows of a disposed ResidentMatrix it shares', async () => {
    const corpus = randomMatrix(next, 200, 24);
    const queries = randomMatrix(next, 3, 24);
    const want = await kernels.topK(queries, corpus, 5, { device: 'cpu' });
    const resident = kernels.resident(corpus);
    const q8 = await QuantizedMatrix.fromMatrix(resident);
    resident.dispose();
    assertSameResult(await q8.search(queries, 5), want, 'after the resident was disposed');
    q8.dispose();
  });

  it('sends ties to the lower row', async () => {
    const d = 12;
    const base = randomMatrix(next, 40, d);
    // Rows 3, 17 and 30 are the same vector; the query is that vector.
    for (const r of [17, 30]) base.data.set(base.data.subarray(3 * d, 4 * d), r * d);
    const query = { data: base.data.slice(3 * d, 4 * d), rows: 1, cols: d };
    const q8 = await QuantizedMatrix.fromMatrix(base);
    for (const metric of ['cosine', 'dot'] as Metric[]) {
      const r = await q8.search(query, 3, { metric });
      assert.deepEqual(Array.from(r.indices), [3, 17, 30], metric);
      assert.equal(r.scores[0], r.scores[1]);
      assert.equal(r.scores[1], r.scores[2]);
      // A pool of exactly k keeps the tie order too.
      assert.deepEqual(Array.from((await q8.search(query, 2, { metric, pool: 2 })).indices), [3, 17]);
    }
    q8.dispose();
  });

  it('finds the exact top 32 of unit rows (the Normalizer’s shape) with the default pool', async () => {
    const corpus = unitRows(clustered(20000, 96, 300, 0.5));
    const queries = unitRows(clustered(64, 96, 300, 0.5));
    const resident = kernels.resident(corpus);
    const q8 = await QuantizedMatrix.fromMatrix(resident);
    const want = await kernels.topK(queries, resident, 32, { metric: 'dot', device: 'cpu' });
    const got = await q8.search(queries, 32, { metric: 'dot' });
    let found = 0;
    for (let i = 0; i < queries.rows; i++) {
      const ids = new Set(got.indices.subarray(i * 32, (i + 1) * 32));
      for (const id of want.indices.subarray(i * 32, (i + 1) * 32)) found += ids.has(id) ? 1 : 0;
    }
    const recall = found / (queries.rows * 32);
    console.log(`# clustered unit rows, N 20,000, d 96: recall@32 ${recall.toFixed(4)} (default pool 128)`);
    assert.equal(recall, 1);
    assertSameResult(got, want, 'clustered');
    q8.dispose();
    resident.dispose();
  });

  it('stays exact when the int8 scores cannot separate the rows: the certificate widens the pool', async () => {
    // 3,000 rows that differ from one another by less than int8 can resolve:
    // the true top 5 are mostly outside an 8-row int8 pool, so only the
    // certificate's widening (up to every row) returns topK's answer.
    const n = 3000;
    const d = 96;
    const base = randomMatrix(next, 1, d);
    const data = new Float32Array(n * d);
    for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) data[r * d + j] = base.data[j] + 2e-4 * (next() * 2 - 1);
    const corpus = { data, rows: n, cols: d };
    const queries = randomMatrix(next, 6, d);
    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    try {
      for (const metric of ['dot', 'cosine'] as Metric[]) {
        const want = await kernels.topK(queries, corpus, 5, { metric, device: 'cpu' });
        assertSameResult(await q8.search(queries, 5, { pool: 8, metric }), want, `${metric}, pool 8`);
      }
    } finally {
      await q8.dispose();
    }
  });

  /** Checks a searchGroups result against the full topK order: exactly the rows above each floor, and the k best groups among them. */
  async function assertGroups(
    q8: QuantizedMatrix,
    corpus: Matrix,
    queries: Matrix,
    groupOf: Int32Array,
    k: number,
    metric: Metric,
    what: string,
  ) {
    const got = await q8.searchGroups(queries, groupOf, k, { metric });
    const all = await kernels.topK(queries, corpus, corpus.rows, { metric, device: 'cpu' });
    const groups = new Set(groupOf).size;
    let kept = 0;
    for (let q = 0; q < queries.rows; q++) {
      const floor = got.floors[q];
      const base = q * all.k;
      let n = 0;
      while (n < all.k && all.scores[base + n] > floor) n++;
      const b = got.offsets[q];
      const e = got.offsets[q + 1];
      kept += e - b;
      assert.deepEqual(got.rows.subarray(b, e), all.indices.subarray(base, base + n), `${what}, query ${q}: the rows above the floor`);
      assert.deepEqual(
        new Uint32Array(got.scores.slice(b, e).buffer),
        new Uint32Array(all.scores.slice(base, base + n).buffer),
        `${what}, query ${q}: bit-identical scores`,
      );
      const seen = new Set<number>();
      for (let j = 0; j < all.k && seen.size < k; j++) {
        const g = groupOf[all.indices[base + j]];
        if (seen.has(g)) continue;
        seen.add(g);
        assert.ok(all.scores[base + j] > floor, `${what}, query ${q}: group ${g} (one of the best ${k}) is above the floor`);
      }
      assert.equal(floor === Number.NEGATIVE_INFINITY, k > groups, `${what}, query ${q}: floor -Infinity exactly for fewer than k groups`);
    }
    return kept / queries.rows;
  }

  it('searchGroups: the rows that decide the k best groups, exactly, even where int8 cannot separate the rows', async () => {
    // 60 groups of 20 rows each within 2e-4 of their group's centre (far below
    // int8's resolution), groups named out of row order, copies across groups.
    const groups = 60;
    const per = 20;
    const d = 96;
    const n = groups * per;
    const data = new Float32Array(n * d);
    const groupOf = new Int32Array(n);
    for (let g = 0; g < groups; g++) {
      const centre = randomMatrix(next, 1, d).data;
      for (let j = 0; j < per; j++) {
        const r = g * per + j;
        groupOf[r] = (g * 17) % groups;
        for (let p = 0; p < d; p++) data[r * d + p] = centre[p] + 2e-4 * (next() * 2 - 1);
      }
    }
    for (let i = 0; i < n / 10; i++)
      data.copyWithin(Math.floor(next() * n) * d, Math.floor(next() * n) * d, Math.floor(next() * n) * d + d);
    const corpus = { data, rows: n, cols: d };
    const queries = randomMatrix(next, 12, d);
    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    try {
      for (const metric of ['dot', 'cosine'] as Metric[])
        for (const k of [1, 5, 30, groups + 1]) await assertGroups(q8, corpus, queries, groupOf, k, metric, `${metric}, k ${k}`);
    } finally {
      q8.dispose();
    }
  });

  it('searchGroups keeps few rows on the Normalizer’s shape and agrees on every instruction set', async () => {
    const corpus = unitRows(clustered(6000, 96, 300, 0.3));
    const groupOf = Int32Array.from({ length: corpus.rows }, (_, r) => Math.floor(r / 4));
    const queries = unitRows(clustered(40, 96, 300, 0.3));
    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    try {
      for (const isa of initial.isas as Isa[]) {
        kernels.configure({ isa });
        const kept = await assertGroups(q8, corpus, queries, groupOf, 5, 'dot', `isa ${isa}`);
        assert.ok(kept < corpus.rows / 4, `isa ${isa}: ${kept} rows kept a query of ${corpus.rows}`);
      }
    } finally {
      kernels.configure({ isa: initial.isa as Isa });
      q8.dispose();
    }
  });

  it('searchGroups with a probe: every list probed is the exhaustive answer; a few lists give exact scores of their rows, k groups', async () => {
    const corpus = unitRows(clustered(3000, 96, 150, 0.3));
    // Groups of 1 to 60 rows, so some are split into several lists.
    const groupOf = new Int32Array(corpus.rows);
    for (let r = 0, g = 0; r < corpus.rows; g++) for (let j = 0; j < 1 + ((g * 37) % 60) && r < corpus.rows; j++) groupOf[r++] = 5000 - g;
    const groups = new Set(groupOf).size;
    const queries = unitRows(clustered(30, 96, 150, 0.3));
    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    try {
      for (const isa of initial.isas as Isa[]) {
        kernels.configure({ isa });
        for (const k of [1, 5, groups + 1]) {
          const full = await q8.searchGroups(queries, groupOf, k, { metric: 'dot' });
          assert.deepEqual(await q8.searchGroups(queries, groupOf, k, { metric: 'dot', probe: corpus.rows }), full, `isa ${isa}, k ${k}`);
          const few = await q8.searchGroups(queries, groupOf, k, { metric: 'dot', probe: 4 });
          const all = await kernels.topK(queries, corpus, corpus.rows, { metric: 'dot', device: 'cpu' });
          for (let q = 0; q < queries.rows; q++) {
            const exact = new Float32Array(corpus.rows);
            for (let j = 0; j < all.k; j++) exact[all.indices[q * all.k + j]] = all.scores[q * all.k + j];
            const seen = new Set<number>();
            for (let j = few.offsets[q]; j < few.offsets[q + 1]; j++) {
              assert.equal(few.scores[j], exact[few.rows[j]], `isa ${isa}, k ${k}, query ${q}: row ${few.rows[j]}'s exact score`);
              if (j > few.offsets[q]) assert.ok(few.scores[j - 1] >= few.scores[j], 'best first');
              if (few.scores[j] > few.floors[q]) seen.add(groupOf[few.rows[j]]);
            }
            assert.ok(seen.size >= Math.min(k, groups), `isa ${isa}, k ${k}, query ${q}: ${seen.size} groups above the floor`);
          }
        }
      }
      await assert.rejects(
        q8.searchGroups(queries, groupOf, 5, { probe: 0 }),
        (e: unknown) => e instanceof RangeError && /probe/.test(e.message),
      );
      await assert.rejects(
        q8.searchGroups(queries, groupOf, 5, { probe: 2.5 }),
        (e: unknown) => e instanceof RangeError && /probe/.test(e.message),
      );
      await assert.rejects(
        q8.searchGroups(queries, groupOf, 5, { probe: '8' as unknown as number }),
        (e: unknown) => e instanceof TypeError && /probe/.test(e.message),
      );
    } finally {
      kernels.configure({ isa: initial.isa as Isa });
      q8.dispose();
    }
  });

  it("rows near float32's limit (int8 scores overflow) and an all-zero corpus: the same answers as topK, no crash, k groups listed", async () => {
    // Magnitudes ~3e37: the int8 scores overflow to ±Infinity. A pool short of rows scored -Infinity
    // (never offered) made search() sort past its end (a crash); searchGroups listed 396 of 600 rows under
    // a floor of -Infinity, and with a probe gave NaN floors and no rows.
    const n = 600;
    const d = 96;
    const data = new Float32Array(n * d).map((_, i) => Math.sin(i * 12.9898) * 3e37);
    const corpus = { data, rows: n, cols: d };
    const queries = { data: new Float32Array(6 * d).map((_, i) => Math.cos(i * 3.1)), rows: 6, cols: d };
    const groupOf = Int32Array.from({ length: n }, (_, i) => i % 30);
    const zero = { data: new Float32Array(40 * d), rows: 40, cols: d };
    const zeroGroups = Int32Array.from({ length: 40 }, (_, i) => i % 4);
    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    const z8 = await QuantizedMatrix.fromMatrix(zero);
    try {
      assertSameResult(
        await q8.search(queries, 3, { metric: 'dot' }),
        await kernels.topK(queries, corpus, 3, { metric: 'dot', device: 'cpu' }),
        'near the limit',
      );
      const all = await kernels.topK(queries, corpus, n, { metric: 'dot', device: 'cpu' });
      for (const [m, c, g, q, k] of [
        [q8, corpus, groupOf, queries, 5],
        [z8, zero, zeroGroups, queries, 3],
      ] as const) {
        const exact = await m.searchGroups(q, g, k, { metric: 'dot' });
        assert.deepEqual(await m.searchGroups(q, g, k, { metric: 'dot', probe: c.rows }), exact);
        for (const r of [exact, await m.searchGroups(q, g, k, { metric: 'dot', probe: 2 })])
          for (let i = 0; i < q.rows; i++) {
            const seen = new Set<number>();
            for (let j = r.offsets[i]; j < r.offsets[i + 1]; j++) if (r.scores[j] > r.floors[i]) seen.add(g[r.rows[j]]);
            assert.ok(!Number.isNaN(r.floors[i]) && seen.size >= k, `query ${i}: ${seen.size} groups above the floor ${r.floors[i]}`);
          }
        if (m === q8)
          for (let j = exact.offsets[0]; j < exact.offsets[1]; j++) {
            const at = [...all.indices.subarray(0, n)].indexOf(exact.rows[j]);
            assert.equal(exact.scores[j], all.scores[at], `row ${exact.rows[j]}: topK's score`);
          }
      }
      await assert.rejects(
        q8.searchGroups(queries, groupOf, 5, { probes: 2 } as never),
        (e: unknown) => e instanceof TypeError && /unknown option 'probes'/.test(String(e)),
      );
      await assert.rejects(
        q8.search(queries, 5, { pol: 8 } as never),
        (e: unknown) => e instanceof TypeError && /unknown option 'pol'/.test(String(e)),
      );
    } finally {
      q8.dispose();
      z8.dispose();
    }
  });

  it('gives the same results on every instruction set', async () => {
    const corpus = randomMatrix(next, 2000, 100);
    const queries = randomMatrix(next, 19, 100);
    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    const kernelsSeen = new Set<string>();
    for (const isa of initial.isas as Isa[]) {
      kernels.configure({ isa });
      kernelsSeen.add(QuantizedMatrix.kernel());
      for (const metric of ['cosine', 'dot'] as Metric[]) {
        const want = await kernels.topK(queries, corpus, 10, { metric, device: 'cpu' });
        assertSameResult(await q8.search(queries, 10, { metric }), want, `isa ${isa} ${metric}`);
      }
    }
    assert.ok(kernelsSeen.has('portable'), 'the portable kernel ran');
    if (initial.isas.includes('avx2')) assert.ok(kernelsSeen.has('avx2') || kernelsSeen.has('avx-vnni'), 'a 256-bit kernel ran');
    q8.dispose();
  });

  it('picks its kernel from JOBBERT_ISA', () => {
    const module = new URL('../src/match/quantized.ts', import.meta.url).href;
    const code = `import { QuantizedMatrix } from ${JSON.stringify(module)}; console.log(QuantizedMatrix.kernel());`;
    const want: Record<string, string[]> = {
      portable: ['portable'],
      avx2: ['avx2', 'avx-vnni'],
      avx512: ['avx512-vnni', 'avx-vnni', 'avx2'],
    };
    for (const isa of initial.isas) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, JOBBERT_ISA: isa },
      });
      assert.equal(child.status, 0, child.stderr);
      const kernel = child.stdout.trim().split('\n').pop()!;
      assert.ok(want[isa].includes(kernel), `JOBBERT_ISA=${isa}: kernel ${kernel}`);
    }
  });

  it('BAD CALL - refuses bad arguments, naming them', async () => {
    const corpus = randomMatrix(next, 30, 8);
    await assert.rejects(
      QuantizedMatrix.fromMatrix({ data: new Float32Array(5), rows: 2, cols: 3 }),
      (e: unknown) => e instanceof RangeError && /matrix/.test(e.message),
    );
    await assert.rejects(
      QuantizedMatrix.fromMatrix('rows' as unknown as Matrix),
      (e: unknown) => e instanceof TypeError && /matrix/.test(e.message),
    );
    await assert.rejects(
      QuantizedMatrix.fromMatrix({ data: new Float32Array(INT8_MAX_COLS + 1), rows: 1, cols: INT8_MAX_COLS + 1 }),
      (e: unknown) => e instanceof RangeError && /matrix/.test(e.message) && /65536/.test(e.message),
    );
    const nan = randomMatrix(next, 4, 8);
    nan.data[2 * 8 + 5] = Number.NaN;
    await assert.rejects(
      QuantizedMatrix.fromMatrix(nan),
      (e: unknown) => e instanceof RangeError && /matrix/.test(e.message) && /row 2/.test(e.message),
    );
    const disposed = kernels.resident(corpus);
    disposed.dispose();
    await assert.rejects(QuantizedMatrix.fromMatrix(disposed), (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_DISPOSED');

    const q8 = await QuantizedMatrix.fromMatrix(corpus);
    const q = randomMatrix(next, 2, 8);
    await assert.rejects(q8.search(q, 0), (e: unknown) => e instanceof RangeError && /k/.test(e.message));
    await assert.rejects(q8.search(q, 5, { pool: 4 }), (e: unknown) => e instanceof RangeError && /pool/.test(e.message));
    await assert.rejects(q8.search(q, 5, { metric: 'l2' as Metric }), (e: unknown) => e instanceof RangeError && /metric/.test(e.message));
    await assert.rejects(q8.search(randomMatrix(next, 1, 9), 5), (e: unknown) => e instanceof RangeError && /queries/.test(e.message));
    const groupOf = new Int32Array(30);
    await assert.rejects(q8.searchGroups(q, groupOf, 0), (e: unknown) => e instanceof RangeError && /k/.test(e.message));
    await assert.rejects(q8.searchGroups(q, new Int32Array(29), 3), (e: unknown) => e instanceof RangeError && /groupOf/.test(e.message));
    await assert.rejects(
      q8.searchGroups(q, Array.from(groupOf) as unknown as Int32Array, 3),
      (e: unknown) => e instanceof TypeError && /groupOf/.test(e.message),
    );
    await assert.rejects(
      q8.searchGroups(randomMatrix(next, 1, 9), groupOf, 3),
      (e: unknown) => e instanceof RangeError && /queries/.test(e.message),
    );
    await assert.rejects(
      q8.searchGroups(q, groupOf, 3, { metric: 'l2' as Metric }),
      (e: unknown) => e instanceof RangeError && /metric/.test(e.message),
    );
    const inf = randomMatrix(next, 1, 8);
    inf.data[3] = Number.POSITIVE_INFINITY;
    await assert.rejects(q8.search(inf, 5, { metric: 'dot' }), (e: unknown) => e instanceof RangeError && /queries/.test(e.message));
    const zero = { data: new Float32Array(8), rows: 1, cols: 8 };
    await assert.rejects(q8.search(zero, 5), (e: unknown) => e instanceof RangeError && /zero/.test(e.message));
    // A zero query under dot is fine: every score is 0, ties to the lower rows.
    assert.deepEqual(Array.from((await q8.search(zero, 3, { metric: 'dot' })).indices), [0, 1, 2]);

    // A zero corpus row: refused under cosine (as kernels.topK refuses it), fine under dot.
    const withZero = randomMatrix(next, 10, 8);
    withZero.data.fill(0, 4 * 8, 5 * 8);
    const z8 = await QuantizedMatrix.fromMatrix(withZero);
    await assert.rejects(z8.search(q, 3), (e: unknown) => e instanceof RangeError && /row 4/.test(e.message));
    assertSameResult(
      await z8.search(q, 3, { metric: 'dot' }),
      await kernels.topK(q, withZero, 3, { metric: 'dot', device: 'cpu' }),
      'zero row under dot',
    );
    z8.dispose();

    q8.dispose();
    await assert.rejects(q8.search(q, 5), (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_DISPOSED');
  });
});
