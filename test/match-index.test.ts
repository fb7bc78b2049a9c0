import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, readdir, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Encoder } from '../src/encoders/encoder.js';
import { JobBERTError } from '../src/errors.js';
import { MatchIndex, type MatchEntry } from '../src/match/match-index.js';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import type { Matrix } from '../src/kernels/matrix.js';
import { randomMatrix, rng, scoresRef, testSeed } from './reference.js';

const next = rng(testSeed('match-index.test'));

/** A deterministic encoder: each text's vector is seeded by its characters (not normalised on purpose). */
class HashEncoder implements Encoder {
  readonly fingerprint: string;
  calls = 0;
  constructor(
    readonly dim: number,
    salt = 0,
  ) {
    this.fingerprint = `hash:${dim}:${salt}`;
  }
  async encode(texts: string[]): Promise<Matrix> {
    this.calls++;
    const data = new Float32Array(texts.length * this.dim);
    texts.forEach((t, i) => {
      let h = 2166136261 ^ this.dim;
      for (const ch of t) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619);
      const r = rng(h >>> 0);
      for (let j = 0; j < this.dim; j++) data[i * this.dim + j] = r() * 2 - 1;
    });
    return { data, rows: texts.length, cols: this.dim };
  }
  async dispose(): Promise<void> {}
}

const LANGS = ['en', 'de', 'es', undefined];
function entries(n: number, prefix = 'e'): MatchEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const lang = LANGS[i % LANGS.length];
    return lang ? { id: `${prefix}${i}`, text: `title ${prefix} ${i}`, lang } : { id: `${prefix}${i}`, text: `title ${prefix} ${i}` };
  });
}

/** Brute force over the entries' vectors: (id, score) best first, ties to the lower entry. */
function bruteForce(vectors: Matrix, list: MatchEntry[], queries: Matrix, k: number, lang?: string) {
  const scores = scoresRef(queries, vectors, 'cosine');
  return scores.map((row) =>
    list
      .map((e, i) => ({ i, e, s: row[i] }))
      .filter(({ e }) => lang === undefined || (e.lang ?? '') === lang)
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .slice(0, k)
      .map(({ e, s }) => ({ id: e.id, s })),
  );
}

function assertSame(got: { id: string; score: number }[][], want: { id: string; s: number }[][]) {
  assert.equal(got.length, want.length);
  got.forEach((row, q) => {
    assert.deepEqual(
      row.map((r) => r.id),
      want[q].map((w) => w.id),
      `query ${q}`,
    );
    row.forEach((r, j) => assert.ok(Math.abs(r.score - want[q][j].s) < 1e-5, `query ${q} rank ${j}`));
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-index-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('MatchIndex search', () => {
  it('matches brute force, with and without a language filter', async () => {
    const list = entries(300);
    const vectors = randomMatrix(next, 300, 24);
    const index = await MatchIndex.fromVectors(list, vectors);
    const queries = randomMatrix(next, 7, 24);
    for (const k of [1, 10, 300, 1000]) {
      assertSame(await index.searchVectors(queries, { k }), bruteForce(vectors, list, queries, k));
      for (const lang of ['en', 'de', ''])
        assertSame(await index.searchVectors(queries, { k, lang }), bruteForce(vectors, list, queries, k, lang));
    }
    assert.deepEqual(
      await index.searchVectors(queries, { lang: 'zh' }),
      Array.from({ length: 7 }, () => []),
    );
    // No queries, no lists, as search([]) (it was a RangeError from the kernel).
    assert.deepEqual(await index.searchVectors({ data: new Float32Array(0), rows: 0, cols: 24 }), []);
    assert.deepEqual(index.languages.sort(), ['', 'de', 'en', 'es']);
  });

  it('breaks ties by the lower entry across languages', async () => {
    const list = entries(8);
    const v = new Float32Array(8 * 2).fill(1);
    const index = await MatchIndex.fromVectors(list, { data: v, rows: 8, cols: 2 });
    const r = await index.searchVectors({ data: new Float32Array([1, 1]), rows: 1, cols: 2 }, { k: 5 });
    assert.deepEqual(
      r[0].map((x) => x.id),
      ['e0', 'e1', 'e2', 'e3', 'e4'],
    );
  });

  it('encodes text queries with the anchor branch and defaults to k = 10', async () => {
    const enc = new HashEncoder(16);
    const list = entries(40);
    const index = await MatchIndex.build(enc, list);
    const r = await index.search(['title e 7', 'something else']);
    assert.equal(r[0].length, 10);
    assert.equal(r[0][0].id, 'e7');
    assert.ok(Math.abs(r[0][0].score - 1) < 1e-6);
    assert.equal(r[0][0].text, 'title e 7');
  });

  it('works with the TF-IDF encoder on real-looking titles', async () => {
    const titles = [
      'Software Engineer',
      'Senior Software Developer',
      'Data Scientist',
      'Produktmanager',
      'Softwareentwickler',
      'Nurse',
      'Registered Nurse',
    ];
    const enc = TfIdfEncoder.fit(titles);
    const index = await MatchIndex.build(
      enc,
      titles.map((t, i) => ({ id: String(i), text: t })),
    );
    const [hits] = await index.search(['software engineer'], { k: 2 });
    assert.equal(hits[0].text, 'Software Engineer');
  });
});

describe('MatchIndex add and remove', () => {
  it('gives the same results as an index built in one go', async () => {
    const enc = new HashEncoder(12);
    const all = entries(90);
    const whole = await MatchIndex.build(enc, all);
    const grown = await MatchIndex.build(enc, all.slice(0, 30));
    await grown.add(all.slice(30, 70));
    await grown.add(all.slice(70));
    assert.equal(grown.size, 90);
    const q = ['title e 3', 'title e 88', 'x'];
    assert.deepEqual(await grown.search(q, { k: 20 }), await whole.search(q, { k: 20 }));
    assert.deepEqual(await grown.search(q, { k: 20, lang: 'de' }), await whole.search(q, { k: 20, lang: 'de' }));
  });

  it('removes entries, keeping the order of the rest', async () => {
    const enc = new HashEncoder(12);
    const all = entries(60);
    const index = await MatchIndex.build(enc, all);
    const drop = new Set(['e0', 'e5', 'e6', 'e59', 'e2']);
    assert.equal(await index.remove([...drop, 'missing']), 5);
    assert.equal(index.size, 55);
    assert.equal(index.get('e5'), undefined);
    const kept = all.filter((e) => !drop.has(e.id));
    const fresh = await MatchIndex.build(enc, kept);
    const q = ['title e 1', 'title e 5'];
    assert.deepEqual(await index.search(q, { k: 60 }), await fresh.search(q, { k: 60 }));
    // Removing every entry of a language drops the language.
    await index.remove(kept.filter((e) => e.lang === 'es').map((e) => e.id));
    assert.ok(!index.languages.includes('es'));
    assert.equal(await index.remove([]), 0);
  });

  it('concurrent adds, removes, saves and searches give what the same calls one after another give', async () => {
    const enc = new HashEncoder(16);
    const all = entries(4000);
    const index = await MatchIndex.build(enc, all);
    // A search while a remove renumbers the entries still names the entries it scored.
    const queries = all.slice(2000, 2050).map((e) => e.text);
    const [found] = await Promise.all([index.search(queries, { k: 1 }), index.remove(['e0', 'e1', 'e2'])]);
    assert.deepEqual(
      found.map((r) => r[0].id),
      all.slice(2000, 2050).map((e) => e.id),
    );
    // Adds and removes at once: none lost, none numbered twice, a duplicate id refused.
    const results = await Promise.allSettled([
      index.add([{ id: 'n1', text: 'nurse one', lang: 'en' }]),
      index.add([{ id: 'n2', text: 'nurse two', lang: 'en' }]),
      index.remove(['e3']),
      index.remove(['e4']),
      index.add([{ id: 'n1', text: 'another text', lang: 'de' }]),
      index.save(join(dir, 'concurrent.jbi')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[4] as PromiseRejectedResult).reason), /entries\[0\]\.id 'n1' is already in the index/);
    assert.equal(index.size, 4000 - 5 + 2);
    for (const id of ['e3', 'e4']) assert.equal(index.get(id), undefined);
    assert.deepEqual(
      (await index.search(['nurse one', 'nurse two'], { k: 1 })).map((r) => r[0].id),
      ['n1', 'n2'],
    );
    const sequential = await MatchIndex.build(enc, [
      ...all.filter((e) => !['e0', 'e1', 'e2', 'e3', 'e4'].includes(e.id)),
      { id: 'n1', text: 'nurse one', lang: 'en' },
      { id: 'n2', text: 'nurse two', lang: 'en' },
    ]);
    const q = ['title e 7', 'nurse', 'title e 3999'];
    assert.deepEqual(await index.search(q, { k: 20 }), await sequential.search(q, { k: 20 }));
    // The save waited its turn: the file loads and holds what the index held then.
    const saved = await MatchIndex.load(join(dir, 'concurrent.jbi'), enc);
    assert.equal(saved.size, 4000 - 5 + 2);
    await Promise.all([saved.dispose(), sequential.dispose(), index.dispose()]);
  });

  it('refuses duplicate ids and malformed entries, naming them', async () => {
    const enc = new HashEncoder(4);
    await assert.rejects(
      () =>
        MatchIndex.build(enc, [
          { id: 'a', text: 'x' },
          { id: 'a', text: 'y' },
        ]),
      /entries\[1\]\.id 'a' is already in the index/,
    );
    await assert.rejects(() => MatchIndex.build(enc, [{ id: '', text: 'x' }]), TypeError);
    await assert.rejects(() => MatchIndex.build(enc, [{ id: 'a', text: 3 } as never]), /entries\[0\]\.text must be a string/);
    await assert.rejects(() => MatchIndex.build({} as never, []), /encoder must be an Encoder/);
    // Vectors made elsewhere are checked where they come in, not by every later search.
    const two = [
      { id: 'a', text: 'x', lang: 'en' },
      { id: 'b', text: 'y', lang: 'de' },
    ];
    await assert.rejects(() => MatchIndex.fromVectors(two, { data: new Float32Array([1, NaN, 1, 1]), rows: 2, cols: 2 }), {
      name: 'RangeError',
      message: /MatchIndex\.fromVectors: vectors must hold only finite numbers; received NaN at row 0, column 1/,
    });
    await assert.rejects(
      () => MatchIndex.fromVectors(two, { data: new Float32Array([1, 1]), rows: 2, cols: 2 }),
      /vectors\.data must hold rows × cols = 4 elements; received 2/,
    );
    await assert.rejects(
      () => MatchIndex.fromVectors(two, { data: new Float32Array([1, 1, 0, 0]), rows: 2, cols: 2 }),
      /vectors row 1 is a zero vector/,
    );
    await assert.rejects(
      () => MatchIndex.fromVectors(two, { data: new Float32Array(4), rows: 2, cols: -4 }),
      /vectors\.cols must be an integer/,
    );
    const fromVectors = await MatchIndex.fromVectors(two, { data: new Float32Array([1, 0, 0, 1]), rows: 2, cols: 2 });
    await assert.rejects(
      () => fromVectors.addVectors([{ id: 'c', text: 'z' }], { data: new Float32Array([Infinity, 0]), rows: 1, cols: 2 }),
      /finite/,
    );
    await fromVectors.dispose();
    await assert.rejects(
      () => MatchIndex.build({ dim: -1, fingerprint: 'neg', encode: (t: string[]) => enc.encode(t), dispose: async () => {} }, []),
      /encoder must be an Encoder/,
    );
    // An encoder that breaks its contract is named, not indexed: its own save() would write a file load() refuses.
    const narrow: Encoder = { dim: 8, fingerprint: 'narrow', encode: (t) => new HashEncoder(4).encode(t), dispose: async () => {} };
    await assert.rejects(
      () => MatchIndex.build(narrow, [{ id: 'a', text: 'x' }]),
      /MatchIndex\.build: the encoder output\.cols must be 8; received 4/,
    );
    const oneRow: Encoder = { dim: enc.dim, fingerprint: 'one', encode: () => enc.encode(['x']), dispose: async () => {} };
    await assert.rejects(
      () =>
        MatchIndex.build(oneRow, [
          { id: 'a', text: 'x' },
          { id: 'b', text: 'y' },
        ]),
      /the encoder output\.rows must be 2; received 1/,
    );
    const index = await MatchIndex.build(enc, [{ id: 'a', text: 'x' }]);
    await assert.rejects(() => index.add([{ id: 'a', text: 'z' }]), RangeError);
    await assert.rejects(() => index.search(['x'], { k: 0 }), /k must be an integer/);
    await assert.rejects(() => index.search('x' as never), /queries must be an array/);
    await assert.rejects(() => index.searchVectors(randomMatrix(next, 1, 5)), /query vectors must have 4 columns/);
    await index.dispose();
    await assert.rejects(
      () => index.search(['x']),
      (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_DISPOSED',
    );
  });
});

describe('MatchIndex persistence', () => {
  it('save → load is bit-identical and keeps languages, ids and texts', async () => {
    const enc = new HashEncoder(20);
    const list = entries(123).map((e, i) => ({ ...e, text: `${e.text} — ünïcødé ${'汉字'.repeat(i % 3)}` }));
    const index = await MatchIndex.build(enc, list);
    const path = join(dir, 'a.jbi');
    await index.save(path);
    const loaded = await MatchIndex.load(path, enc);
    assert.equal(loaded.size, 123);
    assert.deepEqual(loaded.get('e7'), index.get('e7'));
    const q = ['title e 5', 'zzz'];
    for (const lang of [undefined, 'en', '']) {
      assert.deepEqual(await loaded.search(q, { k: 200, lang }), await index.search(q, { k: 200, lang }));
    }
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp files left',
    );
    // Without an encoder only vector search works.
    const bare = await MatchIndex.load(path);
    await assert.rejects(
      () => bare.search(['x']),
      (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_NO_ENCODER',
    );
    assert.deepEqual(await bare.searchVectors(await enc.encode(q), { k: 5 }), await index.search(q, { k: 5 }));
  });

  it('refuses truncated, corrupt, foreign and mismatched files with codes', async () => {
    const enc = new HashEncoder(8);
    const index = await MatchIndex.build(enc, entries(50));
    const path = join(dir, 'b.jbi');
    await index.save(path);
    const good = await readFile(path);
    const code = async (p: string, e?: Encoder) => {
      try {
        await MatchIndex.load(p, e);
        return 'loaded';
      } catch (err) {
        assert.ok(err instanceof JobBERTError, String(err));
        return err.code;
      }
    };
    assert.equal(await code(path, new HashEncoder(8, 1)), 'ERR_ENCODER_MISMATCH');
    assert.equal(await code(join(dir, 'missing.jbi')), 'ERR_NOT_FOUND');
    // Saving onto a folder is refused before anything is written.
    await assert.rejects(index.save(dir), { code: 'ERR_IO', message: /is a directory; name a file/ });
    // Saving into a folder that does not exist says which is missing.
    await assert.rejects(index.save(join(dir, 'nodir', 'x.jbi')), {
      code: 'ERR_NOT_FOUND',
      message: /the folder of .*nodir.x\.jbi does not exist/,
    });
    const bad = join(dir, 'bad.jbi');
    await writeFile(bad, good.subarray(0, good.length - 10));
    assert.equal(await code(bad), 'ERR_CORRUPT');
    await writeFile(bad, good.subarray(0, 20));
    assert.equal(await code(bad), 'ERR_CORRUPT');
    await writeFile(bad, 'hello, not an index');
    assert.equal(await code(bad), 'ERR_CORRUPT');
    for (const at of [40, 2000, good.length - 5]) {
      const flipped = Buffer.from(good);
      flipped[at] ^= 0x10;
      await writeFile(bad, flipped);
      assert.equal(await code(bad), 'ERR_CORRUPT', `flipped byte ${at}`);
    }
    const newer = Buffer.from(good);
    newer.writeUInt32LE(99, 8);
    await writeFile(bad, newer);
    assert.equal(await code(bad), 'ERR_UNSUPPORTED_VERSION');
    await truncate(bad, 0);
    assert.equal(await code(bad), 'ERR_CORRUPT');
  });

  it('a failed save leaves the previous file intact', async () => {
    const enc = new HashEncoder(8);
    const first = await MatchIndex.build(enc, entries(10));
    const path = join(dir, 'c.jbi');
    await first.save(path);
    const before = await readFile(path);
    const second = await MatchIndex.build(enc, entries(20));
    await second.dispose();
    await assert.rejects(
      () => second.save(path),
      (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_DISPOSED',
    );
    await assert.rejects(
      () => first.save(join(dir, 'no-such-dir', 'x.jbi')),
      (e: unknown) => e instanceof JobBERTError,
    );
    // Fails mid-save: the vectors go away after the temp file was created.
    const third = await MatchIndex.build(enc, entries(30));
    const saving = third.save(path);
    void third.dispose();
    await assert.rejects(saving, (e: unknown) => e instanceof JobBERTError);
    assert.deepEqual(await readFile(path), before);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });
});
