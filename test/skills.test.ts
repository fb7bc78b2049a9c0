import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Branch, Encoder } from '../src/encoders/encoder.js';
import { JobBERTError } from '../src/errors.js';
import { topK } from '../src/kernels/index.js';
import type { Matrix } from '../src/kernels/matrix.js';
import { SkillIndex, type Skill, type SkillMatch } from '../src/match/skills.js';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import { rng, testSeed } from './reference.js';

const next = rng(testSeed('skills.test'));

/** A deterministic encoder: each text has a hand-set vector (normalised here); records every call. */
class TableEncoder implements Encoder {
  readonly fingerprint = 'table';
  readonly calls: { texts: string[]; branch: Branch | undefined }[] = [];
  readonly #table: Map<string, number[]>;
  constructor(
    table: Record<string, number[]>,
    readonly dim = 3,
  ) {
    this.#table = new Map(Object.entries(table));
  }
  async encode(texts: string[], opts: { branch?: Branch } = {}): Promise<Matrix> {
    this.calls.push({ texts: [...texts], branch: opts.branch });
    const data = new Float32Array(texts.length * this.dim);
    texts.forEach((t, i) => {
      const v = this.#table.get(t);
      if (!v) throw new Error(`TableEncoder: no vector for '${t}'`);
      const norm = Math.hypot(...v);
      v.forEach((x, j) => (data[i * this.dim + j] = x / norm));
    });
    return { data, rows: texts.length, cols: this.dim };
  }
  async dispose(): Promise<void> {}
}

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} ≠ ${expected}`);
const brief = (m: SkillMatch) => [m.id, m.alias];

// Title T = (1, 0, 0). alpha's best alias is a1 (0.8), gamma's name equals a1's
// vector (a tie with alpha at 0.8), beta's alias b1 is T itself, delta is ≤ 0.
const table = {
  T: [1, 0, 0],
  a0: [0.6, 0.8, 0],
  a1: [0.8, 0.6, 0],
  b0: [0, 1, 0],
  b1: [1, 0, 0],
  c0: [0.8, 0.6, 0],
  d0: [0, 0, 1],
  d1: [-1, 0, 0],
  same1: [0.5, 0.5, 0.5],
  same2: [0.5, 0.5, 0.5],
};
const skills: Skill[] = [
  { id: 'alpha', name: 'a0', aliases: ['a1'] },
  { id: 'beta', name: 'b0', aliases: ['b1'] },
  { id: 'gamma', name: 'c0' },
  { id: 'delta', name: 'd0', aliases: ['d1', 'd0'] },
];

describe('SkillIndex.rank', () => {
  it('scores a skill by its best alias and ranks best first, ties to the earlier skill', async () => {
    const index = await SkillIndex.build(new TableEncoder(table), skills);
    assert.equal(index.size, 4);
    const [r] = await index.rank(['T']);
    assert.deepEqual(r.map(brief), [
      ['beta', 'b1'],
      ['alpha', 'a1'],
      ['gamma', 'c0'],
      ['delta', 'd0'],
    ]);
    assert.deepEqual(
      r.map((m) => m.name),
      ['b0', 'a0', 'c0', 'd0'],
    );
    [1, 0.8, 0.8, 0].forEach((s, i) => close(r[i].score, s, `score ${i}`));
    assert.equal(r[1].score, r[2].score);
    await index.dispose();
  });

  it('puts the earlier skill first on equal scores, whichever it is', async () => {
    const reordered = [skills[2], skills[0], skills[1], skills[3]];
    const index = await SkillIndex.build(new TableEncoder(table), reordered);
    const [r] = await index.rank(['T']);
    assert.deepEqual(
      r.map((m) => m.id),
      ['beta', 'gamma', 'alpha', 'delta'],
    );
    await index.dispose();
  });

  it('takes the first of equally good aliases (name, then aliases in order)', async () => {
    const index = await SkillIndex.build(new TableEncoder(table), [
      { id: 'x', name: 'same2', aliases: ['same1'] },
      { id: 'y', name: 'd0', aliases: ['same1', 'same2'] },
    ]);
    const [r] = await index.rank(['T']);
    assert.deepEqual(r.map(brief), [
      ['x', 'same2'],
      ['y', 'same1'],
    ]);
    await index.dispose();
  });

  it('clamps k to the number of skills and honours smaller k', async () => {
    const index = await SkillIndex.build(new TableEncoder(table), skills);
    assert.deepEqual(
      (await index.rank(['T', 'b0'], { k: 2 })).map((r) => r.map((m) => m.id)),
      [
        ['beta', 'alpha'],
        ['beta', 'alpha'],
      ],
    );
    assert.equal((await index.rank(['T'], { k: 1000 }))[0].length, 4);
    assert.deepEqual(await index.rank([]), []);
    await index.dispose();
  });

  it('encodes each alias once, with the branch asked for (default base), and titles with the same branch', async () => {
    for (const branch of [undefined, 'anchor', 'positive', 'base'] as const) {
      const encoder = new TableEncoder(table);
      const shared: Skill[] = [...skills, { id: 'epsilon', name: 'a1', aliases: ['b1', 'b1'] }];
      const index = await SkillIndex.build(encoder, shared, branch ? { branch } : {});
      assert.equal(index.branch, branch ?? 'base');
      await index.rank(['T']);
      await index.explain('T', 'b0');
      assert.deepEqual(
        encoder.calls.map((c) => c.branch),
        Array(3).fill(branch ?? 'base'),
      );
      assert.deepEqual(encoder.calls[0].texts, ['a0', 'a1', 'b0', 'b1', 'c0', 'd0', 'd1']);
      assert.deepEqual(
        encoder.calls.slice(1).map((c) => c.texts),
        [['T'], ['T', 'b0']],
      );
      // The shared texts still count for the skill that shares them.
      const [r] = await index.rank(['T']);
      assert.deepEqual(r.slice(0, 2).map(brief), [
        ['beta', 'b1'],
        ['epsilon', 'b1'],
      ]);
      await index.dispose();
    }
  });

  it('stays exact when the best aliases crowd into few skills (the search widens)', async () => {
    const crowd: Record<string, number[]> = { T: [1, 0, 0] };
    const many: Skill[] = [{ id: 'hub', name: 'hub', aliases: [] }];
    crowd.hub = [1, 0.01, 0];
    for (let j = 0; j < 30; j++) {
      crowd[`hub${j}`] = [1, 0.001 * j, 0];
      many[0].aliases!.push(`hub${j}`);
    }
    for (let s = 0; s < 100; s++) {
      crowd[`s${s}`] = [0.5, 1, 0.01 * s];
      many.push({ id: `s${s}`, name: `s${s}` });
    }
    const index = await SkillIndex.build(new TableEncoder(crowd), many);
    for (const k of [1, 5, 12, 101]) {
      const [r] = await index.rank(['T'], { k });
      assert.equal(r.length, k);
      assert.deepEqual(
        r.map((m) => m.id),
        ['hub', ...Array.from({ length: k - 1 }, (_, s) => `s${s}`)],
      );
      assert.equal(r[0].alias, 'hub0');
    }
    await index.dispose();
  });
});

describe('SkillIndex.explain', () => {
  // A = (1,0,0), B = (0,1,0). 'balanced' is 0.85 from both; 'lopsided' is 1 from A
  // and 0.8 from B: it wins on a sum (1.8 > 1.7) but not on the minimum.
  const c = 0.85,
    s = Math.sqrt(1 - c * c);
  const vectors = {
    A: [1, 0, 0],
    B: [0, 1, 0],
    oa: [1, 0, 0],
    l1: [1, 0, 0],
    l2: [0.6, 0.8, 0],
    b1: [c, s, 0],
    b2: [s, c, 0],
    none: [0, 0, 1],
    neg: [-1, 0, 0],
  };
  const catalogue: Skill[] = [
    { id: 'only-a', name: 'oa' },
    { id: 'lopsided', name: 'l1', aliases: ['l2'] },
    { id: 'balanced', name: 'b1', aliases: ['b2'] },
    { id: 'none', name: 'none' },
    { id: 'neg', name: 'neg' },
  ];

  it('ranks skills by min(scoreA, scoreB), best first, ties to the earlier skill', async () => {
    const index = await SkillIndex.build(new TableEncoder(vectors), catalogue);
    const r = await index.explain('A', 'B');
    assert.deepEqual(
      r.map((e) => e.skill.id),
      ['balanced', 'lopsided', 'only-a', 'none', 'neg'],
    );
    const expected = [
      { min: c, a: c, b: c, aliasA: 'b1', aliasB: 'b2', alias: 'b1' },
      { min: 0.8, a: 1, b: 0.8, aliasA: 'l1', aliasB: 'l2', alias: 'l2' },
      { min: 0, a: 1, b: 0, aliasA: 'oa', aliasB: 'oa', alias: 'oa' },
      { min: 0, a: 0, b: 0, aliasA: 'none', aliasB: 'none', alias: 'none' },
      { min: -1, a: -1, b: 0, aliasA: 'neg', aliasB: 'neg', alias: 'neg' },
    ];
    r.forEach((e, i) => {
      close(e.skill.score, expected[i].min, `min ${i}`);
      close(e.scoreA, expected[i].a, `scoreA ${i}`);
      close(e.scoreB, expected[i].b, `scoreB ${i}`);
      assert.equal(e.skill.score, Math.min(e.scoreA, e.scoreB));
      assert.deepEqual([e.aliasA, e.aliasB, e.skill.alias], [expected[i].aliasA, expected[i].aliasB, expected[i].alias]);
    });
    await index.dispose();
  });

  it('defaults to 5, clamps k, and reports the same per-title scores as rank', async () => {
    const index = await SkillIndex.build(new TableEncoder(vectors), [...catalogue, { id: 'extra', name: 'l2' }]);
    assert.equal((await index.explain('A', 'B')).length, 5);
    assert.deepEqual(
      (await index.explain('A', 'B', { k: 2 })).map((e) => e.skill.id),
      ['balanced', 'lopsided'],
    );
    const all = await index.explain('B', 'A', { k: 99 });
    assert.equal(all.length, 6);
    const [ra, rb] = await index.rank(['B', 'A'], { k: 99 });
    for (const e of all) {
      assert.equal(e.scoreA, ra.find((m) => m.id === e.skill.id)!.score);
      assert.equal(e.scoreB, rb.find((m) => m.id === e.skill.id)!.score);
    }
    await index.dispose();
  });
});

describe('SkillIndex against brute force (TfIdfEncoder)', () => {
  const vocab = [
    'data',
    'software',
    'python',
    'java',
    'sales',
    'nurse',
    'care',
    'project',
    'management',
    'cloud',
    'security',
    'design',
    'marketing',
    'finance',
    'audit',
    'logistics',
    'welding',
    'teaching',
    'analysis',
    'testing',
    'Pflege',
    'Verkauf',
    'gestión',
    'análisis',
    '数据',
    '软件',
  ];
  const pick = () => vocab[Math.floor(next() * vocab.length)];
  const phrase = () => Array.from({ length: 1 + Math.floor(next() * 3) }, pick).join(' ');
  const catalogue: Skill[] = Array.from({ length: 200 }, (_, i) => ({
    id: `skill-${i}`,
    name: phrase(),
    aliases: Array.from({ length: Math.floor(next() * 7) }, phrase),
  }));
  // Skills whose many aliases (shared between them) crowd the top of 'python data': the search must widen.
  for (const i of [7, 40, 41, 90, 150]) catalogue[i].aliases = Array.from({ length: 30 }, (_, j) => `python data ${j}`);
  const titles = Array.from({ length: 25 }, phrase).concat(['python data', 'Pflege care', '数据 软件']);

  /** Every alias scored by the kernel, then max per skill over its aliases, sorted (score desc, index asc). */
  async function bruteForce(encoder: Encoder): Promise<{ id: string; score: number; alias: string }[][]> {
    const owner: number[] = [];
    const texts: string[] = [];
    catalogue.forEach((s, i) => new Set([s.name, ...(s.aliases ?? [])]).forEach((t) => (owner.push(i), texts.push(t))));
    const aliases = await encoder.encode(texts, { branch: 'base' });
    const queries = await encoder.encode(titles, { branch: 'base' });
    const all = await topK(queries, aliases, texts.length, { device: 'cpu' }); // SkillIndex scores on the CPU: same kernel, same bits
    return titles.map((_, q) => {
      const score = new Float32Array(texts.length);
      for (let j = 0; j < all.k; j++) score[all.indices[q * all.k + j]] = all.scores[q * all.k + j];
      // float64 check of the kernel's cosines
      for (let r = 0; r < texts.length; r += 17) {
        let dot = 0;
        for (let d = 0; d < queries.cols; d++) dot += queries.data[q * queries.cols + d] * aliases.data[r * aliases.cols + d];
        assert.ok(Math.abs(dot - score[r]) < 1e-5, `cosine of title ${q} and alias ${r}`);
      }
      const best = catalogue.map(() => ({ score: -Infinity, alias: '' }));
      owner.forEach((s, r) => {
        if (score[r] > best[s].score) best[s] = { score: score[r], alias: texts[r] };
      });
      return best
        .map((b, s) => ({ s, id: catalogue[s].id, ...b }))
        .sort((x, y) => y.score - x.score || x.s - y.s)
        .map(({ id, score: sc, alias }) => ({ id, score: sc, alias }));
    });
  }

  it('rank equals brute force over all aliases with max aggregation, for k = 1, 10 and all', async () => {
    const encoder = TfIdfEncoder.fit(
      catalogue.flatMap((s) => [s.name, ...(s.aliases ?? [])]),
      { dim: 512 },
    );
    const index = await SkillIndex.build(encoder, catalogue);
    const expected = await bruteForce(encoder);
    for (const k of [1, 10, 200]) {
      const got = await index.rank(titles, { k });
      assert.equal(got.length, titles.length);
      got.forEach((r, q) =>
        assert.deepEqual(
          r.map(({ id, score, alias }) => ({ id, score, alias })),
          expected[q].slice(0, k),
          `title ${q}, k ${k}`,
        ),
      );
    }
    await index.dispose();
  });
});

describe('SkillIndex bad calls', () => {
  const encoder = new TableEncoder(table);
  const rejects = (p: Promise<unknown>, type: typeof TypeError | typeof RangeError, pattern: RegExp) =>
    assert.rejects(p, (e: unknown) => e instanceof type && pattern.test((e as Error).message));

  it('BAD CALL - build names the argument', async () => {
    await rejects(SkillIndex.build(null as never, skills), TypeError, /SkillIndex\.build: encoder must be an Encoder/);
    await rejects(SkillIndex.build(encoder, 'x' as never), TypeError, /skills must be an array/);
    await rejects(SkillIndex.build(encoder, []), RangeError, /skills must hold at least one skill/);
    await rejects(SkillIndex.build(encoder, [null as never]), TypeError, /skills\[0\] must be an object/);
    await rejects(SkillIndex.build(encoder, [{ id: 3, name: 'a0' } as never]), TypeError, /skills\[0\]\.id must be a string; received 3/);
    await rejects(SkillIndex.build(encoder, [{ id: '', name: 'a0' }]), RangeError, /skills\[0\]\.id must be a non-empty string/);
    await rejects(
      SkillIndex.build(encoder, [
        { id: 'a', name: 'a0' },
        { id: 'a', name: 'b0' },
      ]),
      RangeError,
      /skills\[1\]\.id must be unique; received 'a', already the id of skills\[0\]/,
    );
    await rejects(SkillIndex.build(encoder, [{ id: 'a', name: '' }]), RangeError, /skills\[0\]\.name must be a non-empty string/);
    await rejects(SkillIndex.build(encoder, [{ id: 'a' } as never]), TypeError, /skills\[0\]\.name must be a string; received undefined/);
    await rejects(
      SkillIndex.build(encoder, [{ id: 'a', name: 'a0', aliases: 'a1' as never }]),
      TypeError,
      /skills\[0\]\.aliases must be an array/,
    );
    await rejects(
      SkillIndex.build(encoder, [{ id: 'a', name: 'a0', aliases: ['a1', 7 as never] }]),
      TypeError,
      /skills\[0\]\.aliases\[1\] must be a string; received 7/,
    );
    await rejects(
      SkillIndex.build(encoder, [{ id: 'a', name: 'a0', aliases: ['  '] }]),
      RangeError,
      /skills\[0\]\.aliases\[0\] must be a non-empty string/,
    );
    await rejects(
      SkillIndex.build(encoder, skills, { branch: 'title' as never }),
      RangeError,
      /branch must be one of 'anchor', 'positive', 'base'; received 'title'/,
    );
    await rejects(SkillIndex.build(encoder, skills, 3 as never), TypeError, /options must be an object/);
  });

  it('BAD CALL - rank and explain name the argument', async () => {
    const index = await SkillIndex.build(encoder, skills);
    await rejects(index.rank('T' as never), TypeError, /SkillIndex\.rank: titles must be an array of strings; received 'T'/);
    await rejects(index.rank([1 as never]), TypeError, /titles\[0\] must be a string; received 1/);
    await rejects(index.rank(['T', '']), RangeError, /titles\[1\] must be a non-empty string; received ''/);
    await rejects(index.rank(['T'], { k: 0 }), RangeError, /k must be an integer in \[1, \d+\]; received 0/);
    await rejects(index.rank(['T'], { k: 1.5 }), RangeError, /k must be an integer/);
    await rejects(index.rank(['T'], { k: '3' as never }), TypeError, /k must be an integer; received '3'/);
    await rejects(index.explain(3 as never, 'T'), TypeError, /SkillIndex\.explain: a must be a string; received 3/);
    await rejects(index.explain('T', ' '), RangeError, /SkillIndex\.explain: b must be a non-empty string/);
    await rejects(index.explain('T', 'b0', { k: -1 }), RangeError, /SkillIndex\.explain: k must be an integer/);
    // A hole is no title (forEach skipped it, and the encoder named it as its own texts[0]).
    await rejects(index.rank(new Array(1)), TypeError, /SkillIndex\.rank: titles\[0\] must be a string; received undefined/);
    await index.dispose();
    await rejects(
      SkillIndex.build(encoder, [{ id: 'a', name: 'T', aliases: new Array(2) }]),
      TypeError,
      /SkillIndex\.build: skills\[0\]\.aliases\[0\] must be a string; received undefined/,
    );
  });

  it('BAD CALL - an alias the encoder gives a zero vector is refused at build, by name (every rank failed after it, naming a corpus row)', async () => {
    const zeros = new TableEncoder({ T: [1, 0, 0], z: [0, 0, 0] });
    // (TableEncoder normalises: 0/0 is NaN, a vector that is not finite; a zero one is built by hand.)
    const zero: Encoder = {
      dim: 3,
      fingerprint: 'zero',
      encode: async (texts) => ({
        data: Float32Array.from(texts.flatMap((t) => (t === 'z' ? [0, 0, 0] : [1, 0, 0]))),
        rows: texts.length,
        cols: 3,
      }),
      dispose: async () => {},
    };
    await rejects(
      SkillIndex.build(zero, [{ id: 'a', name: 'T', aliases: ['z'] }]),
      RangeError,
      /SkillIndex\.build: the encoder gives 'z' \(of skill 'a'\) a zero vector/,
    );
    await rejects(SkillIndex.build(zeros, [{ id: 'b', name: 'z' }]), RangeError, /gives 'z' \(of skill 'b'\) a vector that is not finite/);
  });

  it('BAD CALL - an encoder that returns the wrong shape is named', async () => {
    const wrong: Encoder = {
      dim: 3,
      fingerprint: 'x',
      encode: async () => ({ data: new Float32Array(3), rows: 1, cols: 3 }),
      dispose: async () => {},
    };
    await rejects(SkillIndex.build(wrong, skills), RangeError, /SkillIndex\.build: the encoder output\.rows must be 7; received 1/);
  });
});

describe('SkillIndex.dispose', () => {
  it('rejects later calls with ERR_DISPOSED, lets running calls finish, and is idempotent', async () => {
    const index = await SkillIndex.build(new TableEncoder(table), skills);
    const running = index.rank(['T']);
    const done = index.dispose();
    assert.deepEqual(
      (await running)[0].map((m) => m.id),
      ['beta', 'alpha', 'gamma', 'delta'],
    );
    await done;
    await index.dispose();
    const disposed = (e: unknown) =>
      e instanceof JobBERTError && e.code === 'ERR_DISPOSED' && /the SkillIndex was disposed/.test(e.message);
    await assert.rejects(index.rank(['T']), disposed);
    await assert.rejects(index.explain('T', 'b0'), disposed);
    assert.equal(index.size, 4);
  });
});
