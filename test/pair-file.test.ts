/**
 * One pair file, two trainers: JobBERT training (train()) and LiteEncoder
 * training (trainLiteEncoder) read pairs through src/util/pair-file.ts and
 * must give the same answer at its edges — a directory or FIFO as the data
 * file, "lang": null, a gzip file (named .gz or not), a corrupt one, bytes
 * that are not text — with no raw bytes echoed into a message.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { JobBERTError } from '../src/errors.js';
import { readPairs as readLitePairs, trainLiteEncoder } from '../src/lite/train.js';
import { readPairs } from '../src/train/data.js';
import { train } from '../src/train/index.js';
import { makeTinyModel, type TinyModel } from './fixtures/tiny-model.js';

let dir: string;
let model: TinyModel;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-pair-file-'));
  model = await makeTinyModel({ seed: 23 });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(model.dir, { recursive: true, force: true });
});

const TEXT = [
  { anchor: 'Software Engineer', positive: 'python, git', lang: 'en' },
  { anchor: 'Krankenpfleger', positive: 'Pflege, Hygiene', lang: null },
  { anchor: 'Panadero', positive: 'pan, hornos' },
]
  .map((p) => JSON.stringify(p))
  .join('\n');

let runs = 0;
/** Both trainers on `data`, each into a fresh out directory (started when called). */
const trainers = (data: string) => {
  runs++;
  const out = (name: string) => join(dir, `${name}-${runs}`);
  return {
    jobbert: () => train({ model: model.dir, data, out: out('jb'), cacheDir: join(dir, 'cache'), batchSize: 2 }),
    lite: () => trainLiteEncoder({ data, out: out('lite'), batchSize: 2, buckets: 1 << 10, dim: 8 }),
  };
};

/** Both trainers reject with `code`, a message matching `message`, and no control character in it. */
async function bothRefuse(data: string, code: string, message: RegExp): Promise<void> {
  for (const [name, run] of Object.entries(trainers(data))) {
    await assert.rejects(run(), (e: Error) => {
      assert.ok(e instanceof JobBERTError, `${name}: expected JobBERTError ${code}; received ${e?.name}: ${e?.message}`);
      assert.equal(e.code, code, `${name}: ${e.message}`);
      assert.match(e.message, message, name);
      assert.doesNotMatch(e.message, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, `${name} echoed raw bytes: ${JSON.stringify(e.message)}`);
      return true;
    });
  }
}

describe('pair files: both trainers read them alike', () => {
  it('a directory or a FIFO as the data file is ERR_IO saying what it is (JobBERT said ERR_NOT_FOUND), and a FIFO is never opened', async () => {
    await bothRefuse(dir, 'ERR_IO', /is a directory; expected a JSON Lines file/);
    if (process.platform === 'win32') return;
    const fifo = join(dir, 'pairs.fifo');
    execFileSync('mkfifo', [fifo]);
    await bothRefuse(fifo, 'ERR_IO', /pairs\.fifo is not a regular file/);
  });

  it('"lang": null is a pair without a language in both (the LiteEncoder refused the line)', async () => {
    const path = join(dir, 'null-lang.jsonl');
    await writeFile(path, TEXT);
    assert.deepEqual((await readPairs(path)).stats.languages, { en: 1, '': 2 });
    assert.deepEqual(
      (await readLitePairs(path)).pairs.map((p) => p.lang),
      ['en', undefined, undefined],
    );
    // Three pairs in batches of two: one step each (the lone third pair joins the batch).
    const { jobbert, lite } = trainers(path);
    assert.equal((await jobbert()).steps, 1);
    assert.equal((await lite()).steps, 1);
    // Any other type is refused by both, naming the line and the field.
    const bad = join(dir, 'bad-lang.jsonl');
    await writeFile(bad, `${TEXT}\n{"anchor": "Cook", "positive": "food", "lang": 7}\n`);
    await bothRefuse(bad, 'ERR_BAD_FILE', /bad-lang\.jsonl:4: "lang" must be a string when present; found 7/);
  });

  it('fields no trainer reads are named in one JOBBERT_IGNORED_FIELDS warning by both, near misses with the field meant (they were dropped in silence: "negatives" trained as if absent)', async () => {
    const path = join(dir, 'extra-fields.jsonl');
    const lines = [
      { anchor: 'Software Engineer', positive: 'python, git', negatives: ['sales'], id: 1 },
      { anchor: 'Panadero', positive: 'pan, hornos', negtive: 'ventas', Lang: 'es' },
      { anchor: 'Krankenpfleger', positive: 'Pflege, Hygiene', id: 3 },
    ];
    await writeFile(path, lines.map((l) => JSON.stringify(l)).join('\n'));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { jobbert, lite } = trainers(path);
      assert.equal((await jobbert()).steps, 1);
      assert.equal((await lite()).steps, 1);
    } finally {
      await new Promise((resolve) => setImmediate(resolve));
      process.off('warning', onWarning);
    }
    const ignored = warnings.filter((w) => (w as Error & { code?: string }).code === 'JOBBERT_IGNORED_FIELDS');
    assert.equal(ignored.length, 2, ignored.map((w) => w.message).join('\n'));
    for (const w of ignored) {
      assert.match(
        w.message,
        /extra-fields\.jsonl: "negatives" \(first at line 1; did you mean "negative"\?\), "id" \(first at line 1\), "negtive" \(first at line 2; did you mean "negative"\?\), "Lang" \(first at line 2; did you mean "lang"\?\) are not read and ignored/,
      );
    }
    // Every field read: no warning.
    const known = join(dir, 'known-fields.jsonl');
    await writeFile(known, `${TEXT}\n${JSON.stringify({ anchor: 'Cook', positive: 'food, knives', negative: 'pan', group: 'g' })}`);
    warnings.length = 0;
    process.on('warning', onWarning);
    try {
      await readPairs(known);
      await readLitePairs(known);
    } finally {
      await new Promise((resolve) => setImmediate(resolve));
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => w.message),
      [],
    );
  });

  it('a gzip file is read as its text, named .gz or not (its bytes were parsed as JSON and echoed)', async () => {
    const plain = join(dir, 'plain.jsonl');
    await writeFile(plain, TEXT);
    for (const name of ['pairs.jsonl.gz', 'pairs-gzipped.jsonl']) {
      const path = join(dir, name);
      await writeFile(path, gzipSync(TEXT));
      const [jb, want] = [await readPairs(path), await readPairs(plain)];
      assert.deepEqual(jb.texts, want.texts, name);
      assert.equal(jb.sha256, want.sha256, name);
      assert.deepEqual(await readLitePairs(path), await readLitePairs(plain), name);
    }
    const { jobbert, lite } = trainers(join(dir, 'pairs-gzipped.jsonl'));
    assert.equal((await jobbert()).steps, 1);
    assert.equal((await lite()).steps, 1);
  });

  it('a corrupt or cut gzip file is ERR_IO naming it as gzip; bytes that are not text are ERR_BAD_FILE, escaped', async () => {
    const whole = gzipSync(`${TEXT}\n`.repeat(200));
    await writeFile(join(dir, 'cut.jsonl.gz'), whole.subarray(0, whole.length - 40));
    await bothRefuse(join(dir, 'cut.jsonl.gz'), 'ERR_IO', /cannot read .*cut\.jsonl\.gz as gzip \(corrupt or cut short\)/);
    const corrupt = Buffer.from(whole);
    corrupt.fill(0x07, 10, 60); // the deflate stream's start overwritten
    await writeFile(join(dir, 'corrupt.jsonl.gz'), corrupt);
    await bothRefuse(join(dir, 'corrupt.jsonl.gz'), 'ERR_IO', /corrupt\.jsonl\.gz as gzip/);
    // Not gzip, not text: bytes that are no UTF-8, control characters, a terminal's "clear screen".
    const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x1a, 0, 0, 1, 2, 3, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]);
    await writeFile(join(dir, 'image.jsonl'), binary);
    await bothRefuse(join(dir, 'image.jsonl'), 'ERR_BAD_FILE', /image\.jsonl:1: not valid JSON \(.*\\u001a/);
  });

  it('exact duplicates are dropped by one rule in both (texts stripped as Python strips them; lang and group aside) and counted in the data event', async () => {
    const path = join(dir, 'duplicates.jsonl');
    const lines = [
      { anchor: 'Nurse', positive: 'care, hygiene', lang: 'en', group: 'a' },
      { anchor: ' Nurse\u3000', positive: 'care, hygiene\t', lang: 'de', group: 'b' },
      { anchor: 'Nurse', positive: 'care, hygiene' },
      { anchor: 'nurse', positive: 'care, hygiene' },
      { anchor: 'Baker', positive: 'bread, ovens', lang: 'en' },
      { anchor: 'Baker', positive: 'bread, ovens', lang: 'en' },
      { anchor: 'Cook', positive: 'food, kitchen', lang: 'en' },
    ];
    await writeFile(path, lines.map((l) => JSON.stringify(l)).join('\n'));
    const jb = await readPairs(path);
    const lite = await readLitePairs(path);
    const kept = [
      ['Nurse', 'care, hygiene'],
      ['nurse', 'care, hygiene'],
      ['Baker', 'bread, ovens'],
      ['Cook', 'food, kitchen'],
    ];
    assert.deepEqual(
      [...jb.anchors].map((a, i) => [jb.texts[a], jb.texts[jb.positives[i]]]),
      kept,
    );
    assert.deepEqual(
      lite.pairs.map((p) => [p.anchor, p.positive]),
      kept,
    );
    assert.equal(lite.pairs[0].group, 'a', 'the first copy is kept');
    for (const stats of [jb.stats, lite.stats]) {
      assert.equal(stats.lines, 7);
      assert.equal(stats.pairs, 4);
      assert.equal(stats.duplicates, 3);
      assert.deepEqual(stats.languages, { en: 3, '': 1 });
    }
    // Reported in the data event of both trainers, and the LiteEncoder records the pairs it trained on.
    const events: { type: string; stats?: { pairs: number; duplicates: number } }[][] = [[], []];
    await train({
      model: model.dir,
      data: path,
      out: join(dir, 'dup-jb'),
      cacheDir: join(dir, 'cache'),
      onEvent: (e) => events[0].push(e),
    });
    await trainLiteEncoder({ data: path, out: join(dir, 'dup-lite'), buckets: 1 << 10, dim: 8, onEvent: (e) => events[1].push(e) });
    for (const e of events) {
      const data = e.find((x) => x.type === 'data');
      assert.deepEqual([data?.stats?.pairs, data?.stats?.duplicates], [4, 3]);
    }
    const saved = JSON.parse(await readFile(join(dir, 'dup-lite', 'lite.json'), 'utf8'));
    assert.equal(saved.trainedWith.pairs, 4);

    // keepDuplicates trains on every copy, in both (the default model's recipe keeps its rounds' repeats).
    assert.equal((await readPairs(path, { keepDuplicates: true })).anchors.length, 7);
    assert.equal((await readLitePairs(path, { keepDuplicates: true })).pairs.length, 7);
    const everyCopy: { type: string; stats?: { pairs: number; duplicates: number } }[][] = [[], []];
    await train({
      model: model.dir,
      data: path,
      out: join(dir, 'keep-jb'),
      cacheDir: join(dir, 'cache'),
      keepDuplicates: true,
      onEvent: (e) => everyCopy[0].push(e),
    });
    await trainLiteEncoder({
      data: path,
      out: join(dir, 'keep-lite'),
      buckets: 1 << 10,
      dim: 8,
      keepDuplicates: true,
      onEvent: (e) => everyCopy[1].push(e),
    });
    for (const e of everyCopy) {
      const data = e.find((x) => x.type === 'data');
      assert.deepEqual([data?.stats?.pairs, data?.stats?.duplicates], [7, 0]);
    }
    assert.equal(JSON.parse(await readFile(join(dir, 'keep-lite', 'lite.json'), 'utf8')).trainedWith.pairs, 7);
    await assert.rejects(
      train({ model: model.dir, data: path, out: join(dir, 'bad-keep'), keepDuplicates: 'yes' as unknown as boolean }),
      (e: Error) => e instanceof TypeError && /keepDuplicates/.test(e.message),
    );
    await assert.rejects(
      trainLiteEncoder({ data: path, out: join(dir, 'bad-keep-lite'), keepDuplicates: 1 as unknown as boolean }),
      (e: Error) => e instanceof TypeError && /keepDuplicates/.test(e.message),
    );
  });
});
