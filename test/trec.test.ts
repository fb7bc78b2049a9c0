/**
 * TREC / TalentCLEF readers and writers: parsing rules and their errors, the
 * atomic run writer (round trips in a temp dir), and — when the data is there —
 * the real TalentCLEF 2025 Task A validation sets.
 *
 * The real data is read from ../shared/data relative to the repository, or from
 * the data root named by JOBBERT_DATA (the folder that holds talentclef-a/).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { evaluate } from '../src/eval/evaluate.js';
import { loadTalentCLEFTaskA, readQrels, readRun, readTitles, writeRun } from '../src/eval/trec.js';
import { rejectsWith } from './rejects.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-trec-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const sets = (m: Map<string, Set<string>>) => Object.fromEntries([...m].map(([q, s]) => [q, [...s].sort()]));

describe('readQrels', () => {
  it('reads TalentCLEF tab-separated qrels (q_id 0 c_id 1)', async () => {
    const path = await file('qrels.tsv', '1\t0\t143\t1\n1\t0\t150\t1\n2\t0\t7\t1\n');
    assert.deepEqual(sets(await readQrels(path)), { 1: ['143', '150'], 2: ['7'] });
  });

  it('reads whitespace-separated TREC qrels; relevance > 0 is relevant, ≤ 0 is not; CRLF, no trailing newline', async () => {
    const path = await file('qrels.trec', 'q1 0 d1 2\r\nq1  0   d2 0\r\nq2 Q0 d3 -1\r\n\r\nq1 0 d4 1');
    const q = await readQrels(path);
    // q2 only has a non-relevant judgement: kept, with an empty set (counts as 0 in evaluate)
    assert.deepEqual(sets(q), { q1: ['d1', 'd4'], q2: [] });
  });

  it('a later line for the same pair wins', async () => {
    const path = await file('qrels.dup', 'q 0 a 1\nq 0 a 0\nq 0 b 0\nq 0 b 1\n');
    assert.deepEqual(sets(await readQrels(path)), { q: ['b'] });
  });

  it('refuses malformed lines with ERR_BAD_FILE naming the file and line', async () => {
    const p1 = await file('bad1.tsv', '1\t0\t2\t1\n1\t0\t3\n');
    await rejectsWith(readQrels(p1), 'ERR_BAD_FILE', p1, 'line 2', 'expected 4 fields');
    const p2 = await file('bad2.tsv', 'q_id\titer\tc_id\trel\n1\t0\t3\t1\n');
    await rejectsWith(readQrels(p2), 'ERR_BAD_FILE', p2, 'line 1', 'relevance must be a number');
  });

  it('a missing file is ERR_NOT_FOUND naming the path; a bad path is a TypeError', async () => {
    const missing = join(dir, 'nope', 'qrels.tsv');
    await rejectsWith(readQrels(missing), 'ERR_NOT_FOUND', missing);
    await assert.rejects(readQrels(42 as never), { name: 'TypeError', message: /readQrels: path must be a path string; received 42/ });
    await assert.rejects(readQrels(''), { name: 'RangeError', message: /readQrels: path must be a non-empty path string/ });
  });
});

describe('readTitles', () => {
  it('reads a header + id\\tjobtitle file, in order, titles as written', async () => {
    const path = await file('queries', 'q_id\tjobtitle\n1\tnanny\n2\tfood technologist\n10\tSteuerberaterin (m/w/d)\n');
    assert.deepEqual(await readTitles(path), [
      { id: '1', text: 'nanny' },
      { id: '2', text: 'food technologist' },
      { id: '10', text: 'Steuerberaterin (m/w/d)' },
    ]);
  });

  it('tolerates CRLF, a BOM, no trailing newline and blank lines', async () => {
    const path = await file('corpus', '\uFEFFc_id\tjobtitle\r\n1\trecording engineer\r\n\r\n2\t高级软件开发人员');
    assert.deepEqual(await readTitles(path), [
      { id: '1', text: 'recording engineer' },
      { id: '2', text: '高级软件开发人员' },
    ]);
  });

  it('a header-only file is an empty list', async () => {
    assert.deepEqual(await readTitles(await file('empty-list', 'q_id\tjobtitle\n')), []);
  });

  it('refuses malformed files with ERR_BAD_FILE naming the file and line', async () => {
    const p1 = await file('t1', 'q_id\tjobtitle\n1\tnanny\n2 food technologist\n');
    await rejectsWith(readTitles(p1), 'ERR_BAD_FILE', p1, 'line 3', 'expected 2 tab-separated fields', 'found 1');
    const p2 = await file('t2', 'q_id\tjobtitle\n1\tnanny\textra\n');
    await rejectsWith(readTitles(p2), 'ERR_BAD_FILE', p2, 'line 2', 'found 3');
    const p3 = await file('t3', 'q_id\tjobtitle\n1\tnanny\n1\tbabysitter\n');
    await rejectsWith(readTitles(p3), 'ERR_BAD_FILE', p3, 'line 3', "id '1' already appeared on line 2");
    const p4 = await file('t4', 'q_id\tjobtitle\n\tnanny\n');
    await rejectsWith(readTitles(p4), 'ERR_BAD_FILE', p4, 'line 2', 'the id is empty');
    const p5 = await file('t5', 'q_id\tjobtitle\n1\t \n');
    await rejectsWith(readTitles(p5), 'ERR_BAD_FILE', p5, 'line 2', 'the title is empty');
    const p6 = await file('t6', '');
    await rejectsWith(readTitles(p6), 'ERR_BAD_FILE', p6, 'the file is empty');
    const p7 = await file('t7', 'q_id jobtitle\n1\tnanny\n');
    await rejectsWith(readTitles(p7), 'ERR_BAD_FILE', p7, 'line 1', 'header');
  });

  it('a missing file is ERR_NOT_FOUND; a directory is ERR_BAD_FILE', async () => {
    const missing = join(dir, 'no-such-queries');
    await rejectsWith(readTitles(missing), 'ERR_NOT_FOUND', missing);
    await rejectsWith(readTitles(dir), 'ERR_BAD_FILE', dir, 'is a directory');
  });
});

describe('readRun / writeRun', () => {
  it('writes ranks from 1 in score order and round-trips exactly', async () => {
    const run = new Map([
      [
        'q2',
        [
          { id: 'c', score: 0.1 + 0.2 },
          { id: 'a', score: 0.9 },
          { id: 'b', score: -1e-300 },
          { id: 'd', score: 123456789.123 },
        ],
      ],
      [
        'q1',
        [
          { id: 'x', score: 1 },
          { id: 'y', score: 1 },
          { id: 'z', score: 2 },
          { id: 'w', score: -0 },
        ],
      ],
    ]);
    const path = join(dir, 'run.trec');
    await writeRun(path, run, 'jobbert_test');
    const text = await readFile(path, 'utf8');
    assert.equal(
      text,
      [
        'q2 Q0 d 1 123456789.123 jobbert_test',
        'q2 Q0 a 2 0.9 jobbert_test',
        'q2 Q0 c 3 0.30000000000000004 jobbert_test',
        'q2 Q0 b 4 -1e-300 jobbert_test',
        'q1 Q0 z 1 2 jobbert_test',
        'q1 Q0 x 2 1 jobbert_test', // tie with y: given order kept
        'q1 Q0 y 3 1 jobbert_test',
        'q1 Q0 w 4 0 jobbert_test',
        '',
      ].join('\n'),
    );
    const back = await readRun(path);
    assert.deepEqual([...back.keys()], ['q2', 'q1']);
    // read back in ranked order; every score bit-identical (-0 is written as 0)
    assert.deepEqual(
      back.get('q2')!.map((e) => [e.id, e.score]),
      [
        ['d', 123456789.123],
        ['a', 0.9],
        ['c', 0.1 + 0.2],
        ['b', -1e-300],
      ],
    );
    assert.deepEqual(
      back.get('q1')!.map((e) => e.id),
      ['z', 'x', 'y', 'w'],
    );
    const qrels = new Map([
      ['q1', new Set(['y', 'w'])],
      ['q2', new Set(['b'])],
    ]);
    assert.deepEqual(evaluate(qrels, back), evaluate(qrels, run));
    // no temporary files left behind
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.includes('.tmp')),
      [],
    );
  });

  it('drops later copies of a repeated doc id, as evaluate ranks them', async () => {
    const run = new Map([
      [
        'q',
        [
          { id: 'a', score: 0.5 },
          { id: 'b', score: 0.7 },
          { id: 'a', score: 0.9 },
          { id: 'b', score: 0.1 },
        ],
      ],
    ]);
    const path = join(dir, 'dups.trec');
    await writeRun(path, run, 't');
    assert.equal(await readFile(path, 'utf8'), 'q Q0 a 1 0.9 t\nq Q0 b 2 0.7 t\n');
    const qrels = new Map([['q', new Set(['b'])]]);
    assert.deepEqual(evaluate(qrels, await readRun(path)), evaluate(qrels, run));
  });

  it('overwrites an existing file atomically and round-trips a large random run', async () => {
    const path = join(dir, 'big.trec');
    await writeFile(path, 'old contents\n');
    const run = new Map<string, { id: string; score: number }[]>();
    let s = 1;
    const next = () => (s = (s * 48271) % 2147483647) / 2147483647;
    for (let q = 0; q < 50; q++)
      run.set(
        `q${q}`,
        Array.from({ length: 2000 }, (_, i) => ({ id: `c${i}`, score: Math.fround(next() * 2 - 1) })),
      );
    await writeRun(path, run, 'big');
    const back = await readRun(path);
    assert.equal(back.size, 50);
    for (const [q, list] of run) {
      const want = [...list].sort((x, y) => y.score - x.score);
      assert.deepEqual(
        back.get(q),
        want.map((e) => ({ id: e.id, score: e.score })),
        q,
      );
    }
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.includes('.tmp')),
      [],
    );
  });

  it('an empty run writes an empty file and reads back empty', async () => {
    const path = join(dir, 'empty.trec');
    await writeRun(path, new Map(), 'x');
    assert.equal(await readFile(path, 'utf8'), '');
    assert.equal((await readRun(path)).size, 0);
  });

  it('refuses bad arguments and leaves nothing behind', async () => {
    const ok = new Map([['q', [{ id: 'a', score: 1 }]]]);
    const path = join(dir, 'never.trec');
    await assert.rejects(writeRun(path, ok, 'two words'), {
      name: 'RangeError',
      message: /writeRun: tag must be a non-empty string without whitespace; received 'two words'/,
    });
    await assert.rejects(writeRun(path, ok, 5 as never), { name: 'TypeError', message: /writeRun: tag must be a string; received 5/ });
    await assert.rejects(writeRun(path, {} as never, 't'), { name: 'TypeError', message: /writeRun: run must be a Map/ });
    await assert.rejects(writeRun(path, new Map([['q', [{ id: 'a b', score: 1 }]]]), 't'), {
      name: 'RangeError',
      message: /writeRun: run.get\('q'\)\[0\].id must be a non-empty string without whitespace/,
    });
    await assert.rejects(writeRun(path, new Map([['q x', []]]), 't'), { name: 'RangeError', message: /writeRun: run keys \(query ids\)/ });
    await assert.rejects(writeRun(path, new Map([['q', [{ id: 'a', score: NaN }]]]), 't'), {
      name: 'RangeError',
      message: /writeRun: run.get\('q'\)\[0\].score must be a finite number; received NaN/,
    });
    const noDir = join(dir, 'missing-dir', 'run.trec');
    await rejectsWith(writeRun(noDir, ok, 't'), 'ERR_NOT_FOUND', join(dir, 'missing-dir'));
    assert.equal(existsSync(path), false);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.includes('.tmp')),
      [],
    );
  });

  it('readRun refuses malformed lines with ERR_BAD_FILE naming the file and line', async () => {
    const p1 = await file('bad.run', 'q Q0 a 1 0.5 t\nq Q0 b 2 0.4\n');
    await rejectsWith(readRun(p1), 'ERR_BAD_FILE', p1, 'line 2', 'expected 6 fields');
    const p2 = await file('bad2.run', 'q Q0 a 1 high t\n');
    await rejectsWith(readRun(p2), 'ERR_BAD_FILE', p2, 'line 1', "score must be a finite number, found 'high'");
    const p3 = await file('bad3.run', 'q Q0 a 1 NaN t\n');
    await rejectsWith(readRun(p3), 'ERR_BAD_FILE', p3, 'line 1');
    await rejectsWith(readRun(join(dir, 'nope.run')), 'ERR_NOT_FOUND', join(dir, 'nope.run'));
  });

  it('readRun accepts tabs, CRLF and keeps file order (evaluate ranks by score)', async () => {
    const p = await file('tabs.run', 'q\tQ0\ta\t2\t0.1\tt\r\nq\tQ0\tb\t1\t0.9\tt\r\n');
    assert.deepEqual(
      await readRun(p),
      new Map([
        [
          'q',
          [
            { id: 'a', score: 0.1 },
            { id: 'b', score: 0.9 },
          ],
        ],
      ]),
    );
  });
});

describe('loadTalentCLEFTaskA (fixture)', () => {
  it('loads a language folder and checks qrels ids against the title lists', async () => {
    const lang = join(dir, 'fixture-en');
    await mkdir(lang);
    await writeFile(join(lang, 'queries'), 'q_id\tjobtitle\n1\tnanny\n2\tcook\n');
    await writeFile(join(lang, 'corpus_elements'), 'c_id\tjobtitle\n1\tbabysitter\n2\tchef\n3\tau pair\n');
    await writeFile(join(lang, 'qrels.tsv'), '1\t0\t1\t1\n1\t0\t3\t1\n2\t0\t2\t1\n');
    const data = await loadTalentCLEFTaskA(lang);
    assert.deepEqual(
      data.queries.map((t) => t.text),
      ['nanny', 'cook'],
    );
    assert.equal(data.corpus.length, 3);
    assert.deepEqual(sets(data.qrels), { 1: ['1', '3'], 2: ['2'] });

    await writeFile(join(lang, 'qrels.tsv'), '1\t0\t1\t1\n1\t0\t9\t1\n');
    await rejectsWith(loadTalentCLEFTaskA(lang), 'ERR_BAD_FILE', join(lang, 'qrels.tsv'), "corpus id '9'");
    await writeFile(join(lang, 'qrels.tsv'), '7\t0\t1\t1\n');
    await rejectsWith(loadTalentCLEFTaskA(lang), 'ERR_BAD_FILE', "query id '7'");
    await rm(join(lang, 'corpus_elements'));
    await rejectsWith(loadTalentCLEFTaskA(lang), 'ERR_NOT_FOUND', join(lang, 'corpus_elements'));
    await assert.rejects(loadTalentCLEFTaskA(undefined as never), {
      name: 'TypeError',
      message: /loadTalentCLEFTaskA: dir must be a path string; received undefined/,
    });
  });
});

// ---------------------------------------------------------------------------
// The real TalentCLEF 2025 Task A validation data (skipped when absent).
const dataRoot = process.env.JOBBERT_DATA
  ? resolve(process.env.JOBBERT_DATA)
  : fileURLToPath(new URL('../../shared/data', import.meta.url));

const expected = {
  en: { queries: 105, corpus: 2619, pairs: 2420 },
  de: { queries: 203, corpus: 4729, pairs: 8417 },
} as const;

for (const lang of ['en', 'de'] as const) {
  const langDir = join(dataRoot, 'talentclef-a', 'validation', lang);
  const skip = existsSync(langDir)
    ? false
    : `TalentCLEF Task A validation data not found at ${langDir} (set JOBBERT_DATA to the data root)`;
  describe(`TalentCLEF Task A validation (${lang}, real data)`, () => {
    it('has the published counts', { skip }, async () => {
      const { queries, corpus, qrels } = await loadTalentCLEFTaskA(langDir);
      assert.equal(queries.length, expected[lang].queries);
      assert.equal(corpus.length, expected[lang].corpus);
      let pairs = 0;
      for (const rel of qrels.values()) pairs += rel.size;
      assert.equal(pairs, expected[lang].pairs);
      assert.equal(qrels.size, expected[lang].queries, 'every query has judgements');
    });

    it('a run ranking exactly the relevant docs first scores map = mrr = ndcg = 1, also after a TREC round trip', { skip }, async () => {
      const { corpus, qrels } = await loadTalentCLEFTaskA(langDir);
      const run = new Map<string, { id: string; score: number }[]>();
      for (const [q, rel] of qrels)
        run.set(
          q,
          corpus.map((c) => ({ id: c.id, score: rel.has(c.id) ? 1 : 0 })),
        );
      const r = evaluate(qrels, run);
      assert.equal(r.queries, expected[lang].queries);
      assert.equal(r.map, 1);
      assert.equal(r.mrr, 1);
      assert.ok(Math.abs(r.ndcg - 1) < 1e-12, `ndcg ${r.ndcg}`);
      // P@k = mean over queries of min(|R|, k) / k
      let p5 = 0;
      for (const rel of qrels.values()) p5 += Math.min(rel.size, 5) / 5;
      assert.ok(Math.abs(r.p5 - p5 / qrels.size) < 1e-12);

      const path = join(dir, `oracle-${lang}.trec`);
      await writeRun(path, run, 'oracle');
      assert.deepEqual(evaluate(qrels, await readRun(path)), r);

      // The reverse (relevant docs last) is far from perfect.
      const worst = new Map([...run].map(([q, list]) => [q, list.map((e) => ({ id: e.id, score: -e.score }))]));
      assert.ok(evaluate(qrels, worst).map < 0.2);
    });
  });
}
