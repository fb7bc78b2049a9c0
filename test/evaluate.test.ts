/**
 * evaluate(): hand-computed cases for every metric, the edge cases of the
 * ranx / TalentCLEF semantics (ties, duplicates, missing queries, empty runs,
 * empty relevant sets), argument errors, and a cross-check against an
 * independent formulation on random runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, type EvaluateResult } from '../src/eval/evaluate.js';
import { rng, testSeed } from './reference.js';

type Entry = { id: string; score: number };
const L2 = Math.log2;

function close(got: number, want: number, what: string, tol = 1e-12): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want}`);
}

function check(got: EvaluateResult, want: Omit<EvaluateResult, 'queries'> & { queries: number }): void {
  for (const key of ['map', 'mrr', 'ndcg', 'p5', 'p10', 'p100'] as const) close(got[key], want[key], key);
  assert.equal(got.queries, want.queries);
}

const ZERO = { map: 0, mrr: 0, ndcg: 0, p5: 0, p10: 0, p100: 0 };

const qrels = (o: Record<string, string[]>) => new Map(Object.entries(o).map(([q, ids]) => [q, new Set(ids)]));
const run = (o: Record<string, [string, number][]>) =>
  new Map(Object.entries(o).map(([q, list]) => [q, list.map(([id, score]) => ({ id, score }))]));

// Query A: relevant {a, c, e}; the run (given out of order) ranks
//   1 a*  2 b  3 c*  4 d  5 e*  6 f          (* = relevant)
//   AP   = (1/1 + 2/3 + 3/5) / 3 = (15/15 + 10/15 + 9/15) / 3 = 34/45 = 0.755556
//   RR   = 1/1 = 1
//   DCG  = 1/log2(2) + 1/log2(4) + 1/log2(6) = 1 + 0.5 + 0.386853 = 1.886853
//   IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.630930 + 0.5 = 2.130930
//   nDCG = 1.886853 / 2.130930 = 0.885460
//   P@5 = 3/5, P@10 = 3/10, P@100 = 3/100
const A = {
  rel: ['a', 'c', 'e'],
  run: [
    ['d', 0.6],
    ['a', 0.9],
    ['f', 0.4],
    ['c', 0.7],
    ['b', 0.8],
    ['e', 0.5],
  ] as [string, number][],
  want: {
    map: 34 / 45,
    mrr: 1,
    ndcg: (1 + 1 / L2(4) + 1 / L2(6)) / (1 + 1 / L2(3) + 1 / L2(4)),
    p5: 3 / 5,
    p10: 3 / 10,
    p100: 3 / 100,
  },
};
// Query B: relevant {x, y}; the run ranks 1 p  2 x*  3 q; y is never retrieved.
//   AP   = (1/2) / 2 = 0.25          (y adds 0 but counts in the denominator)
//   RR   = 1/2
//   DCG  = 1/log2(3) = 0.630930;  IDCG = 1 + 1/log2(3) = 1.630930;  nDCG = 0.386853
//   P@5 = 1/5, P@10 = 1/10, P@100 = 1/100   (divided by k although 3 < k were retrieved)
const B = {
  rel: ['x', 'y'],
  run: [
    ['p', 3],
    ['x', 2],
    ['q', 1],
  ] as [string, number][],
  want: { map: 0.25, mrr: 0.5, ndcg: 1 / L2(3) / (1 + 1 / L2(3)), p5: 0.2, p10: 0.1, p100: 0.01 },
};

describe('evaluate: hand-computed metrics', () => {
  it('one query, relevant docs at ranks 1, 3, 5 (query A)', () => {
    check(evaluate(qrels({ A: A.rel }), run({ A: A.run })), { ...A.want, queries: 1 });
  });

  it('one query, one of two relevant docs retrieved at rank 2 (query B)', () => {
    check(evaluate(qrels({ B: B.rel }), run({ B: B.run })), { ...B.want, queries: 1 });
  });

  it('means over the qrels queries; a query missing from the run scores 0 and still counts', () => {
    // mean over {A, B, C}; C has no run → 0 on every metric.
    //   map = (34/45 + 0.25 + 0) / 3, mrr = (1 + 0.5 + 0) / 3, p5 = (0.6 + 0.2 + 0) / 3, ...
    const got = evaluate(qrels({ A: A.rel, B: B.rel, C: ['z'] }), run({ A: A.run, B: B.run }));
    const want = { queries: 3 } as EvaluateResult;
    for (const k of ['map', 'mrr', 'ndcg', 'p5', 'p10', 'p100'] as const) want[k] = (A.want[k] + B.want[k] + 0) / 3;
    check(got, want);
  });

  it('P@100 on a long list: relevant at ranks 1, 50, 100, 101, 150', () => {
    const relRanks = [1, 50, 100, 101, 150];
    const list: [string, number][] = [];
    for (let r = 1; r <= 150; r++) list.push([relRanks.includes(r) ? `rel${r}` : `n${r}`, 1000 - r]);
    // AP = (1/1 + 2/50 + 3/100 + 4/101 + 5/150) / 5
    // P@5 = 1/5, P@10 = 1/10, P@100 = 3/100 (ranks 1, 50, 100), RR = 1
    // nDCG = Σ 1/log2(r+1) over those ranks / (1/log2(2) + ... + 1/log2(6))
    const idcg = [1, 2, 3, 4, 5].reduce((s, i) => s + 1 / L2(i + 1), 0);
    check(evaluate(qrels({ q: relRanks.map((r) => `rel${r}`) }), run({ q: list })), {
      map: (1 + 2 / 50 + 3 / 100 + 4 / 101 + 5 / 150) / 5,
      mrr: 1,
      ndcg: relRanks.reduce((s, r) => s + 1 / L2(r + 1), 0) / idcg,
      p5: 1 / 5,
      p10: 1 / 10,
      p100: 3 / 100,
      queries: 1,
    });
  });

  it('a perfect ranking gives map = mrr = ndcg = 1', () => {
    // relevant {a, b}, ranked a, b, c: AP = (1/1 + 2/2)/2 = 1, DCG = IDCG, P@5 = 2/5
    check(
      evaluate(
        qrels({ q: ['a', 'b'] }),
        run({
          q: [
            ['a', 3],
            ['b', 2],
            ['c', 1],
          ],
        }),
      ),
      {
        map: 1,
        mrr: 1,
        ndcg: 1,
        p5: 0.4,
        p10: 0.2,
        p100: 0.02,
        queries: 1,
      },
    );
  });

  it('fewer docs retrieved than relevant: IDCG still uses every relevant doc, P@k still divides by k', () => {
    // relevant {a, b, c}; the run holds only a (rank 1)
    //   AP = (1/1) / 3 = 1/3, RR = 1
    //   nDCG = 1 / (1/log2(2) + 1/log2(3) + 1/log2(4)) = 1 / 2.130930 = 0.469278
    //   P@5 = 1/5, P@10 = 1/10, P@100 = 1/100
    check(evaluate(qrels({ q: ['a', 'b', 'c'] }), run({ q: [['a', 1]] })), {
      map: 1 / 3,
      mrr: 1,
      ndcg: 1 / (1 + 1 / L2(3) + 0.5),
      p5: 0.2,
      p10: 0.1,
      p100: 0.01,
      queries: 1,
    });
  });

  it('negative and mixed-sign scores rank by value', () => {
    // ranked: b (0.5), a (-0.1), c (-2) → relevant a at rank 2: AP = (1/2)/1, RR = 1/2
    check(
      evaluate(
        qrels({ q: ['a'] }),
        run({
          q: [
            ['c', -2],
            ['a', -0.1],
            ['b', 0.5],
          ],
        }),
      ),
      {
        map: 0.5,
        mrr: 0.5,
        ndcg: 1 / L2(3),
        p5: 0.2,
        p10: 0.1,
        p100: 0.01,
        queries: 1,
      },
    );
  });
});

describe('evaluate: edge cases', () => {
  it('nothing relevant retrieved → 0 on every metric', () => {
    check(
      evaluate(
        qrels({ q: ['a', 'b'] }),
        run({
          q: [
            ['x', 1],
            ['y', 0.5],
          ],
        }),
      ),
      { ...ZERO, queries: 1 },
    );
  });

  it('equal scores keep the run order (stable)', () => {
    // relevant {b}; a and b tie: given [a, b] → b at rank 2 (RR 1/2); given [b, a] → rank 1
    const q = qrels({ q: ['b'] });
    close(
      evaluate(
        q,
        run({
          q: [
            ['a', 1],
            ['b', 1],
          ],
        }),
      ).mrr,
      0.5,
      'a first',
    );
    close(
      evaluate(
        q,
        run({
          q: [
            ['b', 1],
            ['a', 1],
          ],
        }),
      ).mrr,
      1,
      'b first',
    );
    // ties among others: [c 0.5, a 1, d 1, b 1] ranks a, d, b, c → b at rank 3
    close(
      evaluate(
        q,
        run({
          q: [
            ['c', 0.5],
            ['a', 1],
            ['d', 1],
            ['b', 1],
          ],
        }),
      ).mrr,
      1 / 3,
      'three-way tie',
    );
    // +0 and -0 are equal scores: [a -0, b +0] keeps a first
    close(
      evaluate(
        q,
        run({
          q: [
            ['a', -0],
            ['b', 0],
          ],
        }),
      ).mrr,
      0.5,
      '±0 tie',
    );
    // a long tie (engine sorts switch algorithm past ~10 elements): all equal, b given 20th
    const list: [string, number][] = [];
    for (let i = 0; i < 40; i++) list.push([i === 19 ? 'b' : `n${i}`, 7]);
    close(evaluate(q, run({ q: list })).mrr, 1 / 20, '40-way tie');
  });

  it('a repeated doc id counts once, at its first ranked position; later copies take no rank', () => {
    // relevant {a, b}; run a .9, x .8, a .7, b .6 → ranked a, x, (a dropped), b at rank 3
    //   AP = (1/1 + 2/3) / 2 = 5/6, P@5 = 2/5 (a counted once), RR = 1
    //   nDCG = (1 + 1/log2(4)) / (1 + 1/log2(3))
    check(
      evaluate(
        qrels({ q: ['a', 'b'] }),
        run({
          q: [
            ['a', 0.9],
            ['x', 0.8],
            ['a', 0.7],
            ['b', 0.6],
          ],
        }),
      ),
      {
        map: 5 / 6,
        mrr: 1,
        ndcg: (1 + 0.5) / (1 + 1 / L2(3)),
        p5: 0.4,
        p10: 0.2,
        p100: 0.02,
        queries: 1,
      },
    );
    // The first position is in ranked order, not in the given order: a's later copy
    // scores higher (0.95), so a ranks 1st and x 2nd.
    close(
      evaluate(
        qrels({ q: ['a'] }),
        run({
          q: [
            ['x', 0.9],
            ['a', 0.5],
            ['a', 0.95],
          ],
        }),
      ).mrr,
      1,
      'best copy',
    );
    // A non-relevant duplicate does not push relevant docs down:
    // x .9, x .8, a .7 → ranked x, a → a at rank 2
    close(
      evaluate(
        qrels({ q: ['a'] }),
        run({
          q: [
            ['x', 0.9],
            ['x', 0.8],
            ['a', 0.7],
          ],
        }),
      ).mrr,
      0.5,
      'dup pushes nothing',
    );
    // Three copies of the one relevant doc: P@5 = 1/5, AP = 1 (not 3/5, not > 1)
    const r = evaluate(
      qrels({ q: ['a'] }),
      run({
        q: [
          ['a', 1],
          ['a', 1],
          ['a', 1],
        ],
      }),
    );
    close(r.p5, 0.2, 'p5');
    close(r.map, 1, 'map');
    close(r.ndcg, 1, 'ndcg');
  });

  it('run queries absent from qrels are ignored', () => {
    const base = evaluate(qrels({ A: A.rel }), run({ A: A.run }));
    const extra = evaluate(qrels({ A: A.rel }), run({ A: A.run, Z: [['a', 1]], Y: [] }));
    assert.deepEqual(extra, base);
    assert.equal(extra.queries, 1);
  });

  it('an empty run list or an empty run scores 0 and counts', () => {
    check(evaluate(qrels({ q: ['a'] }), new Map([['q', []]])), { ...ZERO, queries: 1 });
    check(evaluate(qrels({ q: ['a'], r: ['b'] }), new Map()), { ...ZERO, queries: 2 });
  });

  it('a query with an empty relevant set scores 0 on every metric and still counts (ranx)', () => {
    // {A, E}: E has no relevant docs → means are A's halved, queries = 2
    const got = evaluate(
      qrels({ A: A.rel, E: [] }),
      run({
        A: A.run,
        E: [
          ['a', 1],
          ['b', 0],
        ],
      }),
    );
    const want = { queries: 2 } as EvaluateResult;
    for (const k of ['map', 'mrr', 'ndcg', 'p5', 'p10', 'p100'] as const) want[k] = A.want[k] / 2;
    check(got, want);
    for (const v of Object.values(got)) assert.ok(Number.isFinite(v), 'no NaN from IDCG = 0');
  });

  it('does not modify its inputs', () => {
    const r = run({ A: A.run });
    const before = JSON.stringify([...r]);
    evaluate(qrels({ A: A.rel }), r);
    assert.equal(JSON.stringify([...r]), before);
  });
});

describe('evaluate: argument errors', () => {
  const goodQ = qrels({ q: ['a'] });
  const goodR = run({ q: [['a', 1]] });
  const cases: [string, unknown, unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    ['qrels not a Map', { q: new Set(['a']) }, goodR, TypeError, /evaluate: qrels must be a Map.*received an object \(Object\)/],
    ['qrels an array', [['q', new Set()]], goodR, TypeError, /evaluate: qrels must be a Map.*received an array of length 1/],
    ['qrels empty', new Map(), goodR, RangeError, /evaluate: qrels must hold at least one query; received an empty Map/],
    [
      'qrels key not a string',
      new Map([[1, new Set(['a'])]]),
      goodR,
      TypeError,
      /evaluate: qrels keys must be query id strings; received 1/,
    ],
    [
      'qrels value an array',
      new Map([['q', ['a']]]),
      goodR,
      TypeError,
      /evaluate: qrels.get\('q'\) must be a Set<string>.*received an array of length 1/,
    ],
    [
      'qrels doc id a number',
      new Map([['q', new Set([7])]]),
      goodR,
      TypeError,
      /evaluate: qrels.get\('q'\) must hold doc id strings; received 7/,
    ],
    ['run undefined', goodQ, undefined, TypeError, /evaluate: run must be a Map.*received undefined/],
    [
      'run value not an array',
      goodQ,
      new Map([['q', { id: 'a', score: 1 }]]),
      TypeError,
      /evaluate: run.get\('q'\) must be an array.*received an object/,
    ],
    ['run entry null', goodQ, new Map([['q', [null]]]), TypeError, /evaluate: run.get\('q'\)\[0\] must be an object.*received null/],
    [
      'run id a number',
      goodQ,
      new Map([['q', [{ id: 3, score: 1 }]]]),
      TypeError,
      /evaluate: run.get\('q'\)\[0\].id must be a string; received 3/,
    ],
    [
      'run score a string',
      goodQ,
      new Map([['q', [{ id: 'a', score: '1' }]]]),
      TypeError,
      /evaluate: run.get\('q'\)\[0\].score must be a number; received '1'/,
    ],
    [
      'run score NaN',
      goodQ,
      new Map([
        [
          'q',
          [
            { id: 'a', score: 1 },
            { id: 'b', score: NaN },
          ],
        ],
      ]),
      RangeError,
      /evaluate: run.get\('q'\)\[1\].score must be a finite number; received NaN/,
    ],
    [
      'run score Infinity',
      goodQ,
      new Map([['z', [{ id: 'a', score: -Infinity }]]]),
      RangeError,
      /evaluate: run.get\('z'\)\[0\].score must be a finite number; received -Infinity/,
    ],
  ];
  for (const [name, q, r, type, message] of cases) {
    it(name, () => {
      assert.throws(
        () => evaluate(q as never, r as never),
        (e: unknown) => {
          assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
          assert.match((e as Error).message, message);
          return true;
        },
      );
    });
  }
});

// ---------------------------------------------------------------------------
// Independent formulation: dedupe first by picking each id's representative
// (highest score, then earliest given index — exactly the copy a stable sort
// puts first), then sort representatives by (score desc, index asc); metrics
// from each relevant doc's rank rather than a running loop.
function reference(qr: Map<string, Set<string>>, rn: Map<string, Entry[]>): Omit<EvaluateResult, 'queries'> {
  const sums = { map: 0, mrr: 0, ndcg: 0, p5: 0, p10: 0, p100: 0 };
  for (const [q, rel] of qr) {
    const list = rn.get(q) ?? [];
    const rep = new Map<string, { score: number; index: number }>();
    list.forEach((e, index) => {
      const cur = rep.get(e.id);
      if (cur === undefined || e.score > cur.score) rep.set(e.id, { score: e.score, index });
    });
    const ranked = [...rep.entries()].sort((x, y) => y[1].score - x[1].score || x[1].index - y[1].index).map(([id]) => id);
    if (rel.size === 0) continue;
    const ranks = [...rel]
      .map((d) => ranked.indexOf(d) + 1)
      .filter((r) => r > 0)
      .sort((x, y) => x - y);
    // AP: the relevant doc at the j-th smallest rank r sees j relevant docs in the top r
    sums.map += ranks.reduce((s, r, j) => s + (j + 1) / r, 0) / rel.size;
    sums.mrr += ranks.length > 0 ? 1 / ranks[0] : 0;
    const dcg = (rs: number[]) => rs.reduce((s, r) => s + Math.LN2 / Math.log(r + 1), 0);
    sums.ndcg += dcg(ranks) / dcg(Array.from({ length: rel.size }, (_, i) => i + 1));
    const pAt = (k: number) => ranked.slice(0, k).filter((d) => rel.has(d)).length / k;
    sums.p5 += pAt(5);
    sums.p10 += pAt(10);
    sums.p100 += pAt(100);
  }
  const n = qr.size;
  return { map: sums.map / n, mrr: sums.mrr / n, ndcg: sums.ndcg / n, p5: sums.p5 / n, p10: sums.p10 / n, p100: sums.p100 / n };
}

describe('evaluate: cross-check against an independent formulation', () => {
  it('agrees on 400 random qrels/runs with ties, duplicates, missing and extra queries', () => {
    const next = rng(testSeed('evaluate.test'));
    const int = (n: number) => Math.floor(next() * n);
    for (let trial = 0; trial < 400; trial++) {
      const pool = 1 + int(160);
      const nq = 1 + int(6);
      const qr = new Map<string, Set<string>>();
      const rn = new Map<string, Entry[]>();
      for (let q = 0; q < nq; q++) {
        const rel = new Set<string>();
        const nRel = int(4) === 0 ? 0 : 1 + int(Math.min(pool, 20));
        while (rel.size < nRel) rel.add(`d${int(pool)}`);
        qr.set(`q${q}`, rel);
        if (int(5) === 0) continue; // missing from the run
        const len = int(pool * 1.5);
        // few distinct scores → many ties; ids drawn with replacement → duplicates
        const levels = 1 + int(8);
        rn.set(
          `q${q}`,
          Array.from({ length: len }, () => ({ id: `d${int(pool)}`, score: int(levels) / 4 - 0.5 })),
        );
      }
      if (int(3) === 0) rn.set('extra', [{ id: 'd0', score: 1 }]);
      const got = evaluate(qr, rn);
      const want = reference(qr, rn);
      assert.equal(got.queries, nq);
      for (const k of ['map', 'mrr', 'ndcg', 'p5', 'p10', 'p100'] as const) close(got[k], want[k], `trial ${trial} ${k}`, 1e-12);
      for (const k of ['map', 'mrr', 'ndcg', 'p5', 'p10', 'p100'] as const) assert.ok(got[k] >= 0 && got[k] <= 1, `${k} in [0, 1]`);
    }
  });
});
