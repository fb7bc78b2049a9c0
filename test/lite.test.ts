import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CATALOGUE_LANGS, catalogue } from '../src/catalogue/index.js';
import { encoderFromSpec } from '../src/match/encoder-spec.js';
import { LiteEncoder, defaultModelDir } from '../src/lite/encoder.js';
import { demoCommand } from '../src/cli/demo.js';
import { matchDefault } from '../src/match/default-index.js';
import { appendFeatures, appendUnicodeFeatures, FeatureBatch, featurize, MAX_TEXT_UNITS } from '../src/lite/features.js';
import { clipForTokens } from '../src/util/text.js';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import { dequantizeModel, readModel, writeModel } from '../src/lite/io.js';
import { addon } from '../src/kernels/binding.js';
import * as kernels from '../src/kernels/index.js';
import { batchKeys, initWeights, makeBatches, rng, trainLiteEncoder } from '../src/lite/train.js';
import { rejectsWith } from './rejects.js';

const CFG = { buckets: 1 << 12, dim: 24, minN: 2, maxN: 5 };

async function tinyModel(dir: string, seed = 7): Promise<LiteEncoder> {
  const w = initWeights(CFG, seed);
  await writeModel(dir, { config: CFG, table: w.table, heads: w.heads });
  return LiteEncoder.load(dir);
}

const withTmp = async (fn: (dir: string) => Promise<void>) => {
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-lite-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const rowOf = (m: { data: Float32Array; cols: number }, i: number) => m.data.subarray(i * m.cols, (i + 1) * m.cols);
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

test('features: n-grams with boundary markers and the whole word, CJK characters as units, in range', () => {
  const { ids, offsets } = featurize(['Nurse', '护士', '', 'a b'], CFG);
  assert.equal(offsets.length, 5);
  // "nurse" → <nurse> has 7 code units: 2..5-grams = 6+5+4+3 = 18, plus the word
  assert.equal(offsets[1] - offsets[0], 19);
  // 护士: word + unigrams(2) + bigram(1) = 4
  assert.equal(offsets[2] - offsets[1], 4);
  assert.equal(offsets[3] - offsets[2], 0);
  for (const id of ids) assert.ok(id >= 0 && id < CFG.buckets);
  // case- and width-insensitive
  const a = featurize(['NURSE'], CFG).ids;
  assert.deepEqual([...a], [...ids.subarray(0, 19)]);
});

test('features: the ASCII path gives the general path’s ids for every ASCII text (case, digits, + and #, separators, long words)', () => {
  const cfg = { buckets: 131072, minN: 2, maxN: 5 };
  const next = rng(20261203);
  const texts = [
    '',
    ' ',
    'C++ / C# Developer',
    'SENIOR Java-Entwickler (m/w/d)',
    'x'.repeat(5000),
    'word '.repeat(1200),
    'a',
    '++##',
    'R&D EXEC - 013',
    ...Array.from({ length: 3000 }, () =>
      Array.from({ length: Math.floor(next() * 40) }, () => String.fromCharCode(Math.floor(next() * 128))).join(''),
    ),
  ];
  for (const t of texts) {
    const fast = new FeatureBatch(1);
    const general = new FeatureBatch(1);
    appendFeatures(t, cfg, fast);
    appendUnicodeFeatures(clipForTokens(t, MAX_TEXT_UNITS / 64), cfg, general);
    assert.deepEqual(fast.ids.subarray(0, fast.length), general.ids.subarray(0, general.length), JSON.stringify(t.slice(0, 80)));
  }
});

test('LiteEncoder: shape, unit norm, branches, empty text, errors', async () => {
  await withTmp(async (dir) => {
    const enc = await tinyModel(dir);
    const texts = ['software engineer', 'Softwareentwickler', '软件工程师', ''];
    for (const branch of ['anchor', 'positive', 'base'] as const) {
      const m = await enc.encode(texts, { branch });
      assert.equal(m.rows, 4);
      assert.equal(m.cols, CFG.dim);
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(norm(rowOf(m, i)) - 1) < 1e-5, `${branch} row ${i}`);
    }
    const a = await enc.encode(['nurse'], { branch: 'anchor' });
    const b = await enc.encode(['nurse'], { branch: 'base' });
    assert.ok(Math.abs(dot(a.data, b.data)) < 0.9999, 'anchor differs from base');
    assert.equal((await enc.encode([])).rows, 0);
    await assert.rejects(enc.encode(['x'], { branch: 'nope' as never }), RangeError);
    await assert.rejects(enc.encode([1 as never]), /texts\[0\] must be a string/);
    await enc.dispose();
    await assert.rejects(enc.encode(['x']), { code: 'ERR_DISPOSED' });
  });
});

test('LiteEncoder: a text gets the same vector alone or in any batch', async () => {
  await withTmp(async (dir) => {
    const enc = await tinyModel(dir);
    const texts = Array.from({ length: 37 }, (_, i) => `title number ${i} Ingenieur ${'x'.repeat(i % 5)}`);
    const all = await enc.encode(texts);
    for (const i of [0, 5, 36]) {
      const alone = await enc.encode([texts[i]]);
      assert.deepEqual([...alone.data], [...rowOf(all, i)]);
    }
    const reversed = await enc.encode([...texts].reverse());
    assert.deepEqual([...rowOf(reversed, 36)], [...rowOf(all, 0)]);
    await enc.dispose();
  });
});

test("LiteEncoder and TF-IDF: any surrounding whitespace (Python's set, and U+FEFF / U+200B too) leaves the vector bit-identical", async () => {
  // Their word splitter treats every non-letter, non-digit character as a separator, so the
  // sentence-transformers strip that JobBERT applies is already a no-op for them: the vectors of
  // already-stripped text did not change, and neither did the fingerprint.
  const around = ['  ', '\t', '\n\r', '\xa0', '\u3000', '\x1c\x1f', '\x85', '\u2028\u2029', '\ufeff', '\u200b', '\v\f\u205f'];
  const titles = ['Data Scientist', 'Krankenpfleger (m/w/d)', '高级软件开发人员', 'Científica de datos', 'ΟΔΟΣ Σ'];
  const padded = titles.flatMap((t) => around.map((w) => `${w}${t}${w}`));
  const bare = titles.flatMap((t) => around.map(() => t));
  const lite = await LiteEncoder.load();
  const tfidf = TfIdfEncoder.fit(titles);
  for (const enc of [lite, tfidf]) {
    for (const branch of ['anchor', 'base'] as const) {
      const a = await enc.encode(padded, { branch });
      const b = await enc.encode(bare, { branch });
      assert.deepEqual(a.data, b.data, `${enc.fingerprint} ${branch}`);
    }
  }
  await lite.dispose();
});

test("LiteEncoder: the shipped model, loaded (table.bin's codes kept as they are) and saved, gives the same files", async () => {
  await withTmp(async (dir) => {
    const enc = await LiteEncoder.load();
    await enc.save(dir);
    for (const file of ['table.bin', 'heads.safetensors'])
      assert.ok((await readFile(join(dir, file))).equals(await readFile(join(defaultModelDir(), file))), file);
    assert.equal((await LiteEncoder.load(dir)).fingerprint, enc.fingerprint);
    await enc.dispose();
  });
});

test("LiteEncoder: the shipped model read as stored (table.bin's codes) encodes as its dequantised float table, bit for bit", async () => {
  const stored = await LiteEncoder.load();
  const fromFloats = LiteEncoder.fromWeights(dequantizeModel(await readModel(defaultModelDir())));
  const texts = ['Senior Java Entwickler (m/w/d)', 'nurse', 'Krankenpfleger', 'camarero/a', '护士', '', 'x'.repeat(300)];
  for (const branch of ['anchor', 'positive', 'base'] as const)
    assert.deepEqual((await stored.encode(texts, { branch })).data, (await fromFloats.encode(texts, { branch })).data, branch);
  await stored.dispose();
  await fromFloats.dispose();
});

test('LiteEncoder: save → load round trip, spec, fingerprint, corrupt files refused', async () => {
  await withTmp(async (dir) => {
    const enc = await tinyModel(join(dir, 'a'));
    await enc.save(join(dir, 'b'));
    const again = await LiteEncoder.load(join(dir, 'b'));
    const texts = ['welder', 'Schweißer'];
    assert.deepEqual([...(await again.encode(texts)).data], [...(await enc.encode(texts)).data]);
    assert.equal(again.fingerprint, enc.fingerprint);
    assert.deepEqual(again.spec(), { kind: 'lite', dir: join(dir, 'b') });
    const fromSpec = await encoderFromSpec(again.spec());
    assert.equal(fromSpec.fingerprint, enc.fingerprint);
    const table = await readFile(join(dir, 'b', 'table.bin'));
    table[100] ^= 1;
    await writeFile(join(dir, 'b', 'table.bin'), table);
    await assert.rejects(LiteEncoder.load(join(dir, 'b')), { code: 'ERR_CORRUPT' });
    await assert.rejects(LiteEncoder.load(join(dir, 'missing')), { code: 'ERR_BAD_MODEL' });
    // A bad folder: '' wrote the files into the working directory; a file or a number gave raw Node errors.
    for (const bad of ['', 5, undefined])
      await assert.rejects(enc.save(bad as never), {
        name: 'TypeError',
        message: /LiteEncoder\.save: dir must be a non-empty folder path/,
      });
    await writeFile(join(dir, 'a-file'), 'x');
    await assert.rejects(enc.save(join(dir, 'a-file')), { code: 'ERR_IO', message: /cannot write the model to .*a-file/ });
    // Saves into one folder at once: each its own temporary files (they shared one name and failed).
    await Promise.all([1, 2, 3].map(() => enc.save(join(dir, 'c'))));
    const c = await LiteEncoder.load(join(dir, 'c'));
    assert.equal(c.fingerprint, enc.fingerprint);
    assert.deepEqual((await readdir(join(dir, 'c'))).sort(), ['heads.safetensors', 'lite.json', 'table.bin']);
    for (const e of [enc, again, fromSpec, c]) await e.dispose();
  });
});

test('BAD CALL - LiteEncoder.save: trainedWith that JSON cannot hold is a TypeError naming it, and nothing is written', async () => {
  await withTmp(async (dir) => {
    const enc = await tinyModel(join(dir, 'a'));
    const before = await Promise.all(['lite.json', 'table.bin', 'heads.safetensors'].map((f) => readFile(join(dir, 'a', f))));
    const circular: Record<string, unknown> = { note: 'x' };
    circular.self = circular;
    const bad: [unknown, RegExp][] = [
      [circular, /LiteEncoder\.save: trainedWith must be plain JSON data \(.*circular/],
      [{ n: 1n }, /LiteEncoder\.save: trainedWith must be plain JSON data \(.*BigInt/],
      [
        {
          toJSON() {
            throw new Error('no');
          },
        },
        /LiteEncoder\.save: trainedWith must be plain JSON data \(no\)/,
      ],
      ['a string', /LiteEncoder\.save: trainedWith must be an object; received 'a string'/],
      [[1, 2], /LiteEncoder\.save: trainedWith must be an object; received an array/],
    ];
    for (const [trainedWith, message] of bad) {
      // Over the model itself, and into a folder that does not exist yet.
      await assert.rejects(enc.save(join(dir, 'a'), trainedWith as never), { name: 'TypeError', message });
      await assert.rejects(enc.save(join(dir, 'new'), trainedWith as never), { name: 'TypeError', message });
    }
    assert.deepEqual(
      await Promise.all(['lite.json', 'table.bin', 'heads.safetensors'].map((f) => readFile(join(dir, 'a', f)))),
      before,
      'the model files are untouched',
    );
    assert.deepEqual((await readdir(join(dir, 'a'))).sort(), ['heads.safetensors', 'lite.json', 'table.bin'], 'no temporary file left');
    assert.equal(existsSync(join(dir, 'new')), false, 'no folder made');
    await enc.save(join(dir, 'new'), { note: 'ok' });
    assert.equal(JSON.parse(await readFile(join(dir, 'new', 'lite.json'), 'utf8')).trainedWith.note, 'ok');
    await enc.dispose();
  });
});

test('embedding bag: native forward matches a float64 reference; backward matches finite differences', async () => {
  const random = rng(3);
  const rows = 50,
    D = 7;
  const table = Float32Array.from({ length: rows * D }, () => random() * 2 - 1);
  const ids = Int32Array.from([1, 4, 4, 9, 0, 49, 3]);
  const offsets = Int32Array.from([0, 3, 3, 7]); // bags: [1,4,4], [], [9,0,49,3]
  const out = await addon.embeddingBag({ data: table, rows, cols: D }, ids, offsets);
  const sync = addon.embeddingBagSync(table, D, ids, offsets);
  assert.deepEqual([...out], [...sync]);
  for (let b = 0; b < 3; b++) {
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let i = offsets[b]; i < offsets[b + 1]; i++) s += table[ids[i] * D + d];
      const n = offsets[b + 1] - offsets[b];
      assert.ok(Math.abs(out[b * D + d] - (n ? s / n : 0)) < 1e-6);
    }
  }
  // L = Σ c ⊙ out, so dL/dtable is the sparse backward of c.
  const c = Float32Array.from({ length: 3 * D }, () => random() * 2 - 1);
  const g = await addon.embeddingBagBackward({ data: c, rows: 3, cols: D }, ids, offsets, rows);
  assert.deepEqual([...g.ids], [0, 1, 3, 4, 9, 49]);
  const L = (t: Float32Array) => addon.embeddingBagSync(t, D, ids, offsets).reduce((s, x, i) => s + x * c[i], 0);
  const h = 1e-2;
  for (let u = 0; u < g.ids.length; u++) {
    for (let d = 0; d < D; d++) {
      const i = g.ids[u] * D + d;
      const plus = Float32Array.from(table);
      const minus = Float32Array.from(table);
      plus[i] += h;
      minus[i] -= h;
      const fd = (L(plus) - L(minus)) / (2 * h);
      assert.ok(Math.abs(fd - g.grads[u * D + d]) < 1e-3, `row ${g.ids[u]} col ${d}: fd ${fd} vs ${g.grads[u * D + d]}`);
    }
  }
  assert.throws(() => addon.embeddingBagSync(table, D, Int32Array.from([50]), Int32Array.from([0, 1])), RangeError);
  await assert.rejects(addon.embeddingBag({ data: table, rows, cols: D }, ids, Int32Array.from([0, 3, 2, 7])), RangeError);
});

/** The mean bags as float32 arithmetic gives them, adding rows in bag order: bit-exact expectations. */
function float32Bags(table: Float32Array, D: number, ids: Int32Array, offsets: Int32Array): Float32Array {
  const out = new Float32Array((offsets.length - 1) * D);
  for (let b = 0; b + 1 < offsets.length; b++) {
    const n = offsets[b + 1] - offsets[b];
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let i = offsets[b]; i < offsets[b + 1]; i++) acc = Math.fround(acc + table[ids[i] * D + d]);
      out[b * D + d] = n ? Math.fround(acc * Math.fround(1 / n)) : 0;
    }
  }
  return out;
}

test("embedding bag: an int8 table gives the float table's sums bit for bit, on every instruction set and width", async () => {
  const before = kernels.info().isa;
  const random = rng(11);
  try {
    // widths around the vector lengths (16, 8) and the 8-vector column chunks (128, 64)
    for (const D of [1, 7, 8, 16, 24, 96, 129, 150, 300]) {
      const rows = 37;
      const scales = Float32Array.from({ length: rows }, (_, r) => (r === 5 ? 0 : 0.001 + random() * 0.02));
      // quantised as src/lite/io.ts does: each row's largest magnitude is code ±127
      const codes = Int8Array.from({ length: rows * D }, (_, i) =>
        i % D === Math.floor(i / D) % D ? (random() < 0.5 ? -127 : 127) : Math.round(random() * 254) - 127,
      );
      // dequantised as src/lite/io.ts does: code · scale rounded to float32
      const table = Float32Array.from(codes, (q, i) => q * scales[Math.floor(i / D)]);
      const int8 = addon.int8Table(table, D);
      assert.ok(int8, `D ${D}: the dequantised table has an exact int8 copy`);
      // the stored bytes read as they are (table.bin's layout: scales, then codes)
      const stored = new Uint8Array(rows * (4 + D));
      stored.set(new Uint8Array(scales.buffer), 0);
      stored.set(new Uint8Array(codes.buffer), rows * 4);
      const fromCodes = addon.int8TableFromCodes(stored, D);
      const lengths = [3, 0, 1, 40, 17, 5, 0, 64, 2];
      const offsets = Int32Array.from([0, ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, x) => a + x, 0))]);
      const ids = Int32Array.from({ length: offsets[offsets.length - 1] }, (_, i) => (i % 11 === 0 ? 5 : Math.floor(random() * rows)));
      const want = float32Bags(table, D, ids, offsets);
      for (const isa of kernels.info().isas) {
        kernels.configure({ isa });
        const fromInt8 = await addon.embeddingBag(int8, ids, offsets);
        assert.deepEqual(await addon.embeddingBag(fromCodes, ids, offsets), want, `D ${D}, ${isa}, stored codes`);
        const fromFloat = await addon.embeddingBag({ data: table, rows, cols: D }, ids, offsets);
        assert.deepEqual(fromInt8, want, `D ${D}, ${isa}, int8 table`);
        assert.deepEqual(fromFloat, want, `D ${D}, ${isa}, float table`);
        assert.deepEqual(addon.embeddingBagSync(table, D, ids, offsets), want, `D ${D}, ${isa}, sync`);
      }
      addon.int8TableDispose(fromCodes);
      addon.int8TableDispose(int8);
      addon.int8TableDispose(int8); // idempotent
      assert.throws(() => addon.embeddingBag(int8, ids, offsets), { code: 'ERR_DISPOSED' });
    }
  } finally {
    kernels.configure({ isa: before });
  }
});

test('embedding bag: int8Table is null for values that are not int8 codes times a scale per row', () => {
  const random = rng(5);
  const D = 24;
  const table = Float32Array.from({ length: 10 * D }, () => random() * 2 - 1);
  assert.equal(addon.int8Table(table, D), null, 'uniform random floats');
  // codes times one scale per row, each row's largest magnitude at code ±127 (as src/lite/io.ts quantises)
  const nearly = Float32Array.from(
    { length: 10 * D },
    (_, i) => (i % D === 0 ? 127 : (i % 200) - 100) * Math.fround(0.01 + Math.floor(i / D) / 1000),
  );
  const exact = addon.int8Table(nearly, D);
  assert.ok(exact, 'codes times one scale per row');
  addon.int8TableDispose(exact);
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
    const t = Float32Array.from(nearly);
    t[3 * D + 2] = bad;
    assert.equal(addon.int8Table(t, D), null, String(bad));
  }
  const offByOne = Float32Array.from(nearly);
  offByOne[4 * D + 7] = Math.fround(offByOne[4 * D + 7] * (1 + 2 ** -20));
  assert.equal(addon.int8Table(offByOne, D), null, 'one element a few ulps off its code');
  assert.throws(() => addon.int8Table(table, 7), /table length must be a positive multiple of cols/);
  assert.throws(() => addon.int8Table([1, 2] as never, 1), /table must be a Float32Array/);
  assert.throws(() => addon.int8TableDispose({} as never), /table must be an Int8Table handle/);
  assert.throws(
    () => addon.int8TableFromCodes(new Uint8Array(2 * (4 + D) + 1), D),
    /bytes length must be a positive multiple of cols \+ 4/,
  );
  assert.throws(() => addon.int8TableFromCodes(new Uint8Array(0), D), RangeError);
  assert.throws(() => addon.int8TableFromCodes(new Int8Array(4 + D) as never, D), /bytes must be a Uint8Array/);
  assert.throws(() => addon.int8TableFromCodes(new Uint8Array(4 + D), 0), RangeError);
});

test('LiteEncoder: a model built from float weights that no int8 table reproduces encodes as its float table says', async () => {
  const w = initWeights(CFG, 3); // random float32 table: not codes times a scale
  assert.equal(addon.int8Table(w.table, CFG.dim), null);
  const enc = LiteEncoder.fromWeights(w);
  const texts = ['software engineer', 'Krankenpfleger', '护士', ''];
  const { ids, offsets } = featurize(texts, CFG);
  const base = await enc.encode(texts, { branch: 'base' });
  const want = float32Bags(w.table, CFG.dim, ids, offsets);
  for (let i = 0; i < texts.length; i++) {
    const row = want.subarray(i * CFG.dim, (i + 1) * CFG.dim);
    const n = Math.sqrt(row.reduce((s, x) => s + x * x, 0));
    if (n === 0) continue;
    for (let d = 0; d < CFG.dim; d++) assert.ok(Math.abs(base.data[i * CFG.dim + d] - row[d] / n) < 1e-6, `text ${i} col ${d}`);
  }
  await enc.dispose();
});

test('train with encoder lite refuses options only JobBERT training reads, and device cuda, instead of ignoring them', async () => {
  const { train } = await import('../src/train/index.js');
  await withTmp(async (dir) => {
    const data = join(dir, 'pairs.jsonl');
    await writeFile(data, '{"anchor":"nurse","positive":"care"}\n{"anchor":"cook","positive":"food"}\n');
    const base = { encoder: 'lite' as const, data, out: join(dir, 'm'), epochs: 1 };
    await assert.rejects(train({ ...base, minSkills: 2 }), {
      name: 'TypeError',
      message: /minSkills is an option of JobBERT training, not of LiteEncoder training/,
    });
    await assert.rejects(train({ ...base, validation: data, cacheDir: dir }), {
      name: 'TypeError',
      message: /validation, cacheDir are options/,
    });
    await assert.rejects(train({ ...base, device: 'cuda' }), {
      name: 'RangeError',
      message: /device must be 'cpu' or 'auto' for LiteEncoder training/,
    });
    // Every LiteEncoder-only option reaches the LiteEncoder trainer, whose own check answers (none is an unknown option of train()).
    const liteOnly = { positiveBranch: 'foo', buckets: 3, dim: 0, minN: 0, maxN: 99, trainedWith: 'x' };
    for (const [k, v] of Object.entries(liteOnly))
      await assert.rejects(train({ ...base, [k]: v } as never), (e: Error) => {
        assert.match(e.message, new RegExp(`^trainLiteEncoder: (.* )?${k} `), k);
        return true;
      });
  });
});

test('trainLiteEncoder checks every option before it reads the data (a negative weightDecay or warmupSteps, a seed "x", a positiveBranch "foo" trained on; 1e12 epochs ran out of heap)', async () => {
  const { trainLiteEncoder } = await import('../src/lite/train.js');
  await withTmp(async (dir) => {
    const missing = join(dir, 'no-such-pairs.jsonl'); // checked first: a bad option is named, not the missing file
    const base = { data: missing, out: join(dir, 'm'), epochs: 1, dim: 8, buckets: 1024 };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ scale: -1 }, 'RangeError', /scale must be a finite number > 0; received -1/],
      [{ scale: 1e40 }, 'RangeError', /scale must be at most 3\.4e38/],
      [{ lr: 'x' }, 'TypeError', /lr must be a number/],
      [{ weightDecay: -1 }, 'RangeError', /weightDecay must be a finite number ≥ 0 and below 1\/lr/],
      [{ warmupSteps: -1 }, 'RangeError', /warmupSteps must be an integer in \[0, /],
      [{ seed: 'x' }, 'TypeError', /seed must be an integer; received 'x'/],
      [{ seed: 2 ** 32 }, 'RangeError', /seed must be an integer in \[0, 4294967295\]/],
      [{ symmetric: 'yes' }, 'TypeError', /symmetric must be a boolean/],
      [{ positiveBranch: 'foo' }, 'RangeError', /positiveBranch must be one of 'anchor', 'positive'; received 'foo'/],
      [{ epochs: 1e12 }, 'RangeError', /epochs must be an integer in \[1, 1000000\]/],
      [{ batchSize: 1 }, 'RangeError', /batchSize must be an integer in \[2, /],
      [{ dim: 1e9 }, 'RangeError', /dim must be an integer in \[1, 65536\]/],
      [{ buckets: 3 }, 'RangeError', /buckets must be a power of two; received 3/],
      [{ buckets: 2 ** 40 }, 'RangeError', /buckets must be an integer in \[2, 2147483648\]/],
      [
        { buckets: 2 ** 30, dim: 65536 },
        'RangeError',
        /buckets × dim \(1073741824 × 65536\) needs .* GiB for the embedding table and its optimizer state, more than this machine's/,
      ],
      [{ onProgress: 5 }, 'TypeError', /onProgress must be a function/],
      [{ trainedWith: 'x' }, 'TypeError', /trainedWith must be an object/],
      [{ out: '' }, 'RangeError', /out must be a non-empty path string/],
      [{ data: 5 }, 'TypeError', /data must be a path string; received 5/],
    ];
    for (const [bad, name, message] of cases)
      await assert.rejects(
        trainLiteEncoder({ ...base, ...bad } as never),
        { name, message: new RegExp(`^trainLiteEncoder: ${message.source}`) },
        JSON.stringify(bad),
      );
    await assert.rejects(trainLiteEncoder(null as never), { name: 'TypeError', message: /options must be an object/ });
    await assert.rejects(trainLiteEncoder(base), { code: 'ERR_NOT_FOUND' }); // good options: now the data is read
  });
});

test('trainLiteEncoder skips a pair with a side that has no letter or digit, with a warning (a new model made it a zero vector and the run failed)', async () => {
  await withTmp(async (dir) => {
    const data = join(dir, 'pairs.jsonl');
    const pairs = [
      { anchor: 'nurse', positive: 'care, x, y' },
      { anchor: 'cook', positive: 'a, b, c' },
      { anchor: '---', positive: 'a, b, d' },
      { anchor: 'baker', positive: '😀😀😀' },
    ];
    await writeFile(data, `${pairs.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const r = await trainLiteEncoder({ data, out: join(dir, 'm'), epochs: 1, batchSize: 2, buckets: 1 << 10, dim: 8, seed: 1 });
      assert.equal(r.steps, 1);
    } finally {
      process.off('warning', onWarning);
    }
    await new Promise((resolve) => setImmediate(resolve));
    const skipped = warnings.find((w) => (w as Error & { code?: string }).code === 'JOBBERT_SKIPPED_PAIRS');
    assert.ok(skipped, 'a JOBBERT_SKIPPED_PAIRS warning');
    assert.match(skipped.message, /2 pair\(s\) skipped, a side with no letter or digit \(first at line 3\)/);
  });
});

test('trainLiteEncoder batches every pair it can: a last lone pair is trained, pairs no batch can take are counted in a warning, and a run of 0 steps is an error', async () => {
  await withTmp(async (dir) => {
    const write = async (name: string, groups: (string | undefined)[]) => {
      const file = join(dir, name);
      const lines = groups.map((group, i) => JSON.stringify({ anchor: `title ${i} manager`, positive: `skill ${i}, other ${i}`, group }));
      await writeFile(file, `${lines.join('\n')}\n`);
      return file;
    };
    const opts = { epochs: 1, batchSize: 4, buckets: 1 << 10, dim: 8, seed: 1 };
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      // Five pairs in batches of four: the fifth was dropped; it joins the batch, one pair over.
      const five = await trainLiteEncoder({ ...opts, data: await write('five.jsonl', Array(5).fill(undefined)), out: join(dir, 'five') });
      assert.equal(five.steps, 1);
      // Batches of two: the fifth pair joins one (a batch of 2 cannot give a pair away), not left out.
      const pairs = await trainLiteEncoder({ ...opts, batchSize: 2, data: join(dir, 'five.jsonl'), out: join(dir, 'five-2') });
      assert.equal(pairs.steps, 2);
      // Ten pairs of group A beside forty without one, in batches of 16: three batches (16, 16, 11), each with one A pair; the other
      // seven A pairs are counted (no batches of two are made for them: steps on two pairs at the full learning rate).
      const mixed = await trainLiteEncoder({
        ...opts,
        batchSize: 16,
        data: await write('mixed.jsonl', [...Array(10).fill('A'), ...Array(40).fill(undefined)]),
        out: join(dir, 'mixed'),
      });
      assert.equal(mixed.steps, 3);
      // Ten pairs of group A and one of B: one batch can be made; the other nine are named, not lost in silence.
      const skew = await trainLiteEncoder({
        ...opts,
        data: await write('skew.jsonl', [...Array(10).fill('A'), 'B']),
        out: join(dir, 'skew'),
      });
      assert.equal(skew.steps, 1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.map((w) => /(\d+ of \d+) pair\(s\) over 1 epoch\(s\) were in no batch/.exec(w.message)?.[1]),
        ['7 of 50', '9 of 11'],
        warnings.map((w) => w.message).join('\n'),
      );
      // One group only: no batch at all (it wrote an untrained model, exit 0).
      await rejectsWith(
        trainLiteEncoder({ ...opts, data: await write('one.jsonl', Array(6).fill('g')), out: join(dir, 'one') }),
        'ERR_BAD_FILE',
        /no batch can hold two pairs of different groups .* every pair has the group 'g'/,
      );
      assert.equal(existsSync(join(dir, 'one', 'lite.json')), false);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

test('trainLiteEncoder: a toy task lowers the loss, ranks pairs together, and is deterministic for a seed', async () => {
  await withTmp(async (dir) => {
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
    const other = ['uno', 'dos', 'tres', 'cuatro', 'cinco', 'seis', 'siete', 'ocho', 'nueve', 'diez', 'once', 'doce'];
    // Each pair once, 48 epochs (repeated lines are exact duplicates, which training drops).
    const lines = words.map((w, i) => JSON.stringify({ anchor: `${w} manager`, positive: `jefe ${other[i]}`, group: String(i) }));
    const data = join(dir, 'pairs.jsonl');
    await writeFile(data, `${lines.join('\n')}\n`);
    const opts = { data, epochs: 48, batchSize: 12, lr: 0.02, seed: 5, buckets: 1 << 12, dim: 16, positiveBranch: 'anchor' as const };
    const a = await trainLiteEncoder({ ...opts, out: join(dir, 'a') });
    const b = await trainLiteEncoder({ ...opts, out: join(dir, 'b') });
    assert.equal(a.steps, 48);
    const first = a.losses.slice(0, 8).reduce((s, x) => s + x, 0) / 8;
    const last = a.losses.slice(-8).reduce((s, x) => s + x, 0) / 8;
    assert.ok(last < first * 0.5, `loss fell from ${first} to ${last}`);
    assert.deepEqual(a.losses, b.losses);
    assert.deepEqual(await readFile(join(dir, 'a', 'table.bin')), await readFile(join(dir, 'b', 'table.bin')));
    const enc = await LiteEncoder.load(join(dir, 'a'));
    const q = await enc.encode(words.map((w) => `${w} manager`));
    const c = await enc.encode(other.map((w) => `jefe ${w}`));
    let correct = 0;
    for (let i = 0; i < words.length; i++) {
      let best = -1,
        bestScore = -Infinity;
      for (let j = 0; j < other.length; j++) {
        const s = dot(rowOf(q, i), rowOf(c, j));
        if (s > bestScore) [best, bestScore] = [j, s];
      }
      if (best === i) correct++;
    }
    assert.ok(correct >= 10, `${correct}/12 toy pairs ranked first`);
    await enc.dispose();
  });
});

test('default model: loads with no argument, fits in 16 MB, ranks an obvious pair first', async () => {
  const enc = await LiteEncoder.load();
  let bytes = 0;
  for (const f of ['lite.json', 'table.bin', 'heads.safetensors']) bytes += (await stat(join(defaultModelDir(), f))).size;
  assert.ok(bytes <= 16 * 1024 * 1024, `${bytes} bytes`);
  const q = await enc.encode(['Softwareentwickler']);
  const c = await enc.encode(['software developer', 'nurse', 'truck driver', 'accountant']);
  const scores = [0, 1, 2, 3].map((j) => dot(q.data, rowOf(c, j)));
  assert.equal(scores.indexOf(Math.max(...scores)), 0, `scores ${scores}`);
  await enc.dispose();
});

test('catalogue: ~1000 entries, unique ids, four non-empty languages', () => {
  assert.ok(catalogue.length >= 1000, `${catalogue.length} entries`);
  assert.equal(new Set(catalogue.map((c) => c.id)).size, catalogue.length);
  for (const c of catalogue) for (const l of CATALOGUE_LANGS) assert.ok(c[l].trim().length > 0, `${c.id} ${l}`);
  for (const c of catalogue) assert.match(c.zh, /[\u4e00-\u9fff]/u, `${c.id} zh is Chinese`);
});

test('demoCommand prints a table of matches; matchDefault finds the obvious title', async () => {
  const lines: string[] = [];
  assert.equal(await demoCommand([], (l) => lines.push(l)), 0);
  const text = lines.join('\n');
  assert.match(text, /Softwareentwickler/);
  assert.match(text, /数据科学家/);
  assert.match(text, /built-in catalogue/);
  const [hits] = await matchDefault(['Softwareentwickler'], { k: 5 });
  assert.equal(hits.length, 5);
  assert.ok(
    hits.some((h) => h.id.startsWith('tech/software-developer')),
    JSON.stringify(hits),
  );
  const [de] = await matchDefault(['nurse'], { k: 3, lang: 'de' });
  assert.ok(de.every((h) => h.id.endsWith('#de')));
  // A k beyond the catalogue gives every entry once (it was refused naming 6·k, a k the caller never gave).
  const [all] = await matchDefault(['nurse'], { k: 2 ** 50 });
  assert.equal(all.length, catalogue.length);
});

test('trainLiteEncoder keeps pairs without a group that share a positive apart, as JobBERT keeps positives apart (copies met in one batch)', async () => {
  await withTmp(async (dir) => {
    const data = join(dir, 'copies.jsonl');
    const pairs = [
      ...Array(2).fill({ anchor: 'nurse', positive: 'care, hygiene' }),
      ...Array(3).fill({ anchor: 'baker', positive: 'bread, ovens' }),
    ];
    await writeFile(data, `${pairs.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const r = await trainLiteEncoder({ data, out: join(dir, 'm'), keepDuplicates: true, batchSize: 8, buckets: 1 << 10, dim: 8 });
      assert.equal(r.steps, 2, 'two batches of one nurse and one baker pair; they made one batch of five');
    } finally {
      process.off('warning', onWarning);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      warnings.some((w) => /1 of 5 pair\(s\) over 1 epoch\(s\) were in no batch/.test(w.message)),
      warnings.map((w) => w.message).join('\n'),
    );
  });
});

test('trainLiteEncoder trains on a pair\'s "negative": every anchor of its batch scores it (it was ignored)', async () => {
  await withTmp(async (dir) => {
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
    const other = ['uno', 'dos', 'tres', 'cuatro', 'cinco', 'seis', 'siete', 'ocho'];
    // The negative is its positive with one more word: near it in n-grams, never another pair's positive.
    const write = async (name: string, negatives: boolean) => {
      const lines = words.map((w, i) =>
        JSON.stringify({
          anchor: `${w} manager`,
          positive: `jefe ${other[i]}`,
          ...(negatives ? { negative: `jefe ${other[i]} nocturno` } : {}),
        }),
      );
      await writeFile(join(dir, name), `${lines.join('\n')}\n`);
      return join(dir, name);
    };
    const opts = { epochs: 60, batchSize: 8, lr: 0.02, seed: 3, buckets: 1 << 12, dim: 16, positiveBranch: 'anchor' as const };
    const plain = await trainLiteEncoder({ ...opts, data: await write('plain.jsonl', false), out: join(dir, 'plain') });
    const hard = await trainLiteEncoder({ ...opts, data: await write('hard.jsonl', true), out: join(dir, 'hard') });
    // Same weights and batch at step 1: the negatives add terms to every anchor's log-sum-exp.
    assert.ok(hard.losses[0] > plain.losses[0], `first loss ${hard.losses[0]} with negatives, ${plain.losses[0]} without`);
    const margin = async (model: string) => {
      const enc = await LiteEncoder.load(join(dir, model));
      const q = await enc.encode(words.map((w) => `${w} manager`));
      const p = await enc.encode(other.map((w) => `jefe ${w}`));
      const n = await enc.encode(other.map((w) => `jefe ${w} nocturno`));
      let sum = 0;
      for (let i = 0; i < words.length; i++) sum += dot(rowOf(q, i), rowOf(p, i)) - dot(rowOf(q, i), rowOf(n, i));
      await enc.dispose();
      return sum / words.length;
    };
    const [withNegatives, without] = [await margin('hard'), await margin('plain')];
    assert.ok(
      withNegatives > without,
      `cos(anchor, positive) − cos(anchor, negative): ${withNegatives} with negatives, ${without} without`,
    );
  });
});

test('trainLiteEncoder reads "negative" as JobBERT training does: one equal to the positive is dropped and counted, one with no letter or digit skips the pair, and no batch holds a negative beside the pair whose positive it is', async () => {
  await withTmp(async (dir) => {
    const data = join(dir, 'pairs.jsonl');
    const pairs = [
      { anchor: 'nurse', positive: 'care, hygiene', negative: 'bread, ovens' },
      { anchor: 'baker', positive: 'bread, ovens' },
      { anchor: 'cook', positive: 'knives, stoves', negative: 'knives, stoves' },
      { anchor: 'pilot', positive: 'flying, radio', negative: '---' },
      { anchor: 'driver', positive: 'roads, maps', negative: 'care, rest' },
      { anchor: 'driver', positive: 'roads, maps', negative: 'care, rest' },
    ];
    await writeFile(data, `${pairs.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const events: unknown[] = [];
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const r = await trainLiteEncoder({
        data,
        out: join(dir, 'm'),
        batchSize: 8,
        buckets: 1 << 10,
        dim: 8,
        onEvent: (e) => void events.push(e),
      });
      assert.equal(r.steps, 1);
    } finally {
      process.off('warning', onWarning);
    }
    const stats = (events.find((e) => (e as { type: string }).type === 'data') as { stats: Record<string, number> }).stats;
    assert.equal(stats.pairs, 4);
    assert.equal(stats.selfNegatives, 1);
    assert.equal(stats.duplicates, 1);
    assert.equal(stats.noWords, 1);
    await new Promise((resolve) => setImmediate(resolve));
    const messages = warnings.map((w) => w.message).join('\n');
    assert.match(messages, /1 pair\(s\) skipped, a side with no letter or digit \(first at line 4\)/);
    // The nurse pair's negative is the baker pair's positive: they never share a batch, so one of them is left over.
    assert.match(messages, /1 of 4 pair\(s\) over 1 epoch\(s\) were in no batch: .* or a pair whose positive is their negative/);
    // Two pairs that may not meet: no batch at all, said as such (not "every pair has the group 'undefined'").
    const two = join(dir, 'two.jsonl');
    await writeFile(two, `${JSON.stringify(pairs[0])}\n${JSON.stringify(pairs[1])}\n`);
    await rejectsWith(
      trainLiteEncoder({ data: two, out: join(dir, 'two'), batchSize: 8, buckets: 1 << 10, dim: 8 }),
      'ERR_BAD_FILE',
      /no batch can hold two of these pairs .* nor a pair and another whose positive is its "negative"/,
    );
  });
});

test('makeBatches: no group, positive or negative clash in a batch, no small tail batch, and a pair is skipped only where every batch holds its group, positive or a clash (random data, many seeds)', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const random = rng(seed);
    const n = 20 + Math.floor(random() * 400);
    const batchSize = 2 + Math.floor(random() * 40);
    const groups = 1 + Math.floor(random() * 30);
    const texts = 10 + Math.floor(random() * 300);
    const pairs = Array.from({ length: n }, (_, i) => {
      const r = random();
      return {
        anchor: `a${i}`,
        positive: `t${Math.floor(random() * texts)}`,
        // a few large groups (the recipe's big occupation), many pairs without one
        ...(r < 0.6 ? { group: `g${Math.floor(random() ** 3 * groups)}` } : {}),
        ...(random() < 0.2 ? { negative: `t${Math.floor(random() * texts)}` } : {}),
      };
    });
    const { batches, skipped } = makeBatches(batchKeys(pairs), batchSize, rng(seed + 1000));
    const where = new Map<number, number>();
    batches.forEach((b, k) => {
      for (const i of b) {
        assert.ok(!where.has(i), `seed ${seed}: pair ${i} in two batches`);
        where.set(i, k);
      }
    });
    assert.equal(where.size + skipped, n, `seed ${seed}: every pair placed or counted`);
    const least = Math.max(2, Math.ceil(batchSize / 4));
    const apart = (i: number, j: number) =>
      (pairs[i].group === undefined || pairs[i].group !== pairs[j].group) &&
      pairs[i].positive !== pairs[j].positive &&
      pairs[i].negative !== pairs[j].positive &&
      pairs[j].negative !== pairs[i].positive;
    for (const b of batches) {
      for (let x = 0; x < b.length; x++)
        for (let y = x + 1; y < b.length; y++) assert.ok(apart(b[x], b[y]), `seed ${seed}: ${b[x]} and ${b[y]} clash`);
      assert.ok(b.length >= 2, `seed ${seed}: a batch of ${b.length}`);
      assert.ok(b.length <= batchSize + 1 + Math.floor(n / 2), `seed ${seed}: a batch of ${b.length}`);
    }
    if (batches.some((b) => b.length >= least))
      assert.ok(
        batches.every((b) => b.length >= Math.min(least, batchSize)),
        `seed ${seed}: a batch under ${least}: ${batches.map((b) => b.length)}`,
      );
    for (let i = 0; i < n; i++)
      if (!where.has(i))
        assert.ok(
          batches.every((b) => b.some((j) => !apart(i, j))),
          `seed ${seed}: pair ${i} skipped, yet a batch could take it`,
        );
  }
});

test('trainLiteEncoder keeps pairs of different groups that share a positive apart: the same text would be scored as its own negative', async () => {
  await withTmp(async (dir) => {
    const data = join(dir, 'shared-positive.jsonl');
    const pairs = [
      { anchor: 'hearse driver', positive: 'driver', group: 'hearse' },
      { anchor: 'bus driver', positive: 'driver', group: 'bus' },
      { anchor: 'nurse', positive: 'care, hygiene', group: 'nurse' },
      { anchor: 'baker', positive: 'bread, ovens', group: 'baker' },
    ];
    await writeFile(data, `${pairs.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const r = await trainLiteEncoder({ data, out: join(dir, 'm'), batchSize: 8, buckets: 1 << 10, dim: 8 });
      assert.equal(r.steps, 1, 'one batch of three; the four made one batch');
    } finally {
      await new Promise((resolve) => setImmediate(resolve));
      process.off('warning', onWarning);
    }
    // The other driver pair would be a batch of one: no batch without "driver" can take it.
    assert.ok(
      warnings.some((w) => /1 of 4 pair\(s\) over 1 epoch\(s\) were in no batch/.test(w.message)),
      warnings.map((w) => w.message).join('\n'),
    );
  });
});
