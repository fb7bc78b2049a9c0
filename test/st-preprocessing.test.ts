/**
 * JobBERT.encode against sentence-transformers' own order of work on awkward
 * input strings: `str(s).strip()`, `s.lower()` under do_lower_case, the
 * tokenizer with truncation on tokenizer_config.json's side at max_seq_length,
 * then the float64 reference forward pass and pooling (test/fixtures).
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { encodeCommand } from '../src/cli/model-commands.js';
import { JobBERT, type Matrix } from '../src/index.js';
import { referenceDenseTanh, referenceEmbedding, referenceNormalize } from './fixtures/reference-xlmr.js';
import { referenceStrip } from './fixtures/python-text.js';
import { makeTinyModel, type TinyModel } from './fixtures/tiny-model.js';
import { testSeed } from './reference.js';
import { rejectsWith } from './rejects.js';

const SEED = testSeed('st-preprocessing.test');

/** Padded and otherwise awkward titles: what scraped vacancy titles look like. */
const PADDED = [
  '  Data Scientist  ',
  '\tData Scientist\n',
  '\r\nData Scientist\r\n',
  '\xa0Data Scientist\xa0',
  '\u3000Data Scientist\u3000',
  '\x1fData Scientist\x1f',
  '\x1c\x1d\x1e\x85Data Scientist\u2028\u2029\u202f',
  '\u2000\u200aData Scientist\u205f\u1680\v\f',
];
/** Texts whose surrounding characters Python keeps, or whose whitespace is inside. */
const KEPT = ['\ufeffData Scientist', 'Data Scientist\ufeff', '\u200bData Scientist', 'Data  Scientist', 'Data\tScientist'];
const EMPTY = ['', ' ', ' \t\n\u3000\xa0\x1f\x85 '];
const LONG = Array.from({ length: 120 }, (_, i) => ['data', 'manager', 'skill', 'python'][i % 4]).join(' ');

const tmp: string[] = [];
after(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});
async function tiny(): Promise<TinyModel> {
  const m = await makeTinyModel({ seed: SEED });
  tmp.push(m.dir);
  return m;
}
/** A copy of `m`'s directory with `edit` applied; the weights (and so the reference) stay `m`'s. */
async function variant(m: TinyModel, edit: (dir: string) => Promise<void>): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'jobbert-st-'));
  tmp.push(d);
  await cp(m.dir, d, { recursive: true });
  await rm(join(d, 'onnx'), { recursive: true, force: true });
  await edit(d);
  return d;
}
const writeJson = (path: string, v: unknown) => writeFile(path, JSON.stringify(v));

/** Token ids as transformers gives them to sentence-transformers: the text as given, truncated at `max` on `side`. */
async function tokenize(m: TinyModel, texts: string[], max = m.config.maxSeqLength, side: 'left' | 'right' = 'right'): Promise<number[][]> {
  const t = Tokenizer.fromFile(join(m.dir, 'tokenizer.json'));
  t.setTruncation(max, { direction: side });
  return (await t.encodeBatch(texts)).map((e) => e.getIds());
}

const rowOf = (m: Matrix, r: number) => m.data.subarray(r * m.cols, (r + 1) * m.cols);
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) (dot += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
  return dot / Math.sqrt(na * nb);
}

describe('JobBERT.encode preprocesses as sentence-transformers', () => {
  let m: TinyModel;
  let enc: JobBERT;
  before(async () => {
    m = await tiny();
    enc = await JobBERT.load(m.dir, { batchSize: 3 });
  });
  after(async () => {
    await enc?.dispose();
  });

  for (const branch of ['anchor', 'base'] as const) {
    it(`branch ${branch}: padded, inner-whitespace, BOM and all-whitespace texts equal the float64 pipeline of Python-stripped text to 1e-5`, async () => {
      const texts = [...PADDED, ...KEPT, ...EMPTY];
      const out = await enc.encode(texts, { branch });
      const ids = await tokenize(m, texts.map(referenceStrip));
      const unstripped = await tokenize(m, texts);
      let worstUnstripped = 1;
      texts.forEach((t, r) => {
        const ref = referenceEmbedding(m, ids[r], branch);
        const d = maxAbsDiff(rowOf(out, r), ref);
        assert.ok(d < 1e-5, `${branch} ${JSON.stringify(t)}: max |Δ| = ${d}`);
        worstUnstripped = Math.min(worstUnstripped, cosine(referenceEmbedding(m, unstripped[r], branch), ref));
      });
      // what tokenising the unstripped text (this library before stripping) gives against sentence-transformers
      console.log(`# ${branch}: worst cosine of the unstripped pipeline to sentence-transformers' ${worstUnstripped.toFixed(6)}`);
      assert.ok(worstUnstripped < 0.99, 'the fixture texts are ones where stripping matters');
    });
  }

  it('a padded title gets the vector of the bare title; all-whitespace strings get the empty string’s', async () => {
    const bare = await enc.encode(['Data Scientist']);
    const padded = await enc.encode(PADDED);
    for (let r = 0; r < PADDED.length; r++) assert.ok(maxAbsDiff(rowOf(padded, r), bare.data) <= 1e-6, JSON.stringify(PADDED[r]));
    const empty = await enc.encode(EMPTY);
    for (let r = 1; r < EMPTY.length; r++) assert.ok(maxAbsDiff(rowOf(empty, r), rowOf(empty, 0)) <= 1e-6, JSON.stringify(EMPTY[r]));
  });

  it('the CLI (jobbert encode) takes the same path: a padded title prints the vector of the bare one', async () => {
    const lines: string[] = [];
    await encodeCommand(['\u3000Data Scientist\x1f ', 'Data Scientist', '--model', m.dir, '--json'], (line: string) => lines.push(line));
    const { vectors } = JSON.parse(lines[0]) as { vectors: number[][] };
    const [ids] = await tokenize(m, ['Data Scientist']);
    for (const v of vectors) assert.ok(maxAbsDiff(v, referenceEmbedding(m, ids, 'anchor')) < 1e-5);
  });

  it('keeps what Python keeps: U+FEFF and U+200B at the ends, doubled inner spaces, inner tabs', async () => {
    const bare = await enc.encode(['Data Scientist']);
    const kept = await enc.encode(KEPT);
    for (let r = 0; r < KEPT.length; r++)
      assert.ok(maxAbsDiff(rowOf(kept, r), bare.data) > 1e-3, `${JSON.stringify(KEPT[r])} is not the bare title to this tokenizer`);
  });
});

describe('model settings that change the text sentence-transformers tokenises', () => {
  let m: TinyModel;
  before(async () => {
    m = await tiny();
  });

  it('do_lower_case: true lower-cases after stripping (str.lower(): İ → i̇, final sigma), and changes the fingerprint', async () => {
    const dir = await variant(m, (d) => writeJson(join(d, 'sentence_bert_config.json'), { max_seq_length: 64, do_lower_case: true }));
    const lower = await JobBERT.load(dir);
    const cased = await JobBERT.load(m.dir);
    const texts = ['  DATA Scientist\t', 'Software ENGINEER', '\x1fİSTANBUL ΟΔΟΣ\u3000', 'data scientist'];
    const out = await lower.encode(texts, { branch: 'positive' });
    const ids = await tokenize(
      m,
      texts.map((t) => referenceStrip(t).toLowerCase()),
    );
    texts.forEach((t, r) => assert.ok(maxAbsDiff(rowOf(out, r), referenceEmbedding(m, ids[r], 'positive')) < 1e-5, JSON.stringify(t)));
    assert.ok(maxAbsDiff(rowOf(out, 0), rowOf(out, 3)) <= 1e-6, 'the padded upper-case title is the lower-case one');
    const casedOut = await cased.encode(texts.slice(0, 1), { branch: 'positive' });
    assert.ok(maxAbsDiff(casedOut.data, rowOf(out, 0)) > 1e-3, 'without do_lower_case the case is kept');
    assert.notEqual(lower.fingerprint, cased.fingerprint);
    await Promise.all([lower.dispose(), cased.dispose()]);
  });

  it('truncation_side "left" in tokenizer_config.json keeps the last tokens, as transformers does; it changes the fingerprint, "right" does not', async () => {
    const left = await variant(m, (d) => writeJson(join(d, 'tokenizer_config.json'), { truncation_side: 'left', model_max_length: 512 }));
    const right = await variant(m, (d) => writeJson(join(d, 'tokenizer_config.json'), { truncation_side: 'right' }));
    const encLeft = await JobBERT.load(left);
    const encRight = await JobBERT.load(right);
    const plain = await JobBERT.load(m.dir);
    const texts = [` ${LONG} nurse `, 'Data Scientist'];
    const out = await encLeft.encode(texts);
    const ids = await tokenize(m, texts.map(referenceStrip), 64, 'left');
    assert.equal(ids[0].length, 64);
    assert.deepEqual([ids[0][0], ids[0][63]], [0, 2], 'the special tokens stay');
    texts.forEach((t, r) => assert.ok(maxAbsDiff(rowOf(out, r), referenceEmbedding(m, ids[r], 'anchor')) < 1e-5, t.slice(0, 20)));
    const rightOut = await encRight.encode(texts);
    const rightIds = await tokenize(m, texts.map(referenceStrip));
    assert.ok(maxAbsDiff(rowOf(rightOut, 0), referenceEmbedding(m, rightIds[0], 'anchor')) < 1e-5);
    assert.ok(maxAbsDiff(rowOf(rightOut, 0), rowOf(out, 0)) > 1e-3, 'the two sides keep different tokens');
    assert.notEqual(encLeft.fingerprint, plain.fingerprint);
    assert.equal(encRight.fingerprint, plain.fingerprint, 'the default side leaves fingerprints as they were');
    await Promise.all([encLeft.dispose(), encRight.dispose(), plain.dispose()]);
    const bad = await variant(m, (d) => writeJson(join(d, 'tokenizer_config.json'), { truncation_side: 'middle' }));
    await rejectsWith(JobBERT.load(bad), 'ERR_BAD_MODEL', 'truncation_side');
  });

  it('without max_seq_length, the tokenizer’s model_max_length bounds the input, as sentence-transformers reads it', async () => {
    const dir = await variant(m, async (d) => {
      await writeJson(join(d, 'sentence_bert_config.json'), { do_lower_case: false });
      await writeJson(join(d, 'tokenizer_config.json'), { model_max_length: 16 });
    });
    const enc = await JobBERT.load(dir);
    assert.equal(enc.maxSeqLength, 16);
    const out = await enc.encode([LONG]);
    const [ids] = await tokenize(m, [LONG], 16);
    assert.equal(ids.length, 16);
    assert.ok(maxAbsDiff(out.data, referenceEmbedding(m, ids, 'anchor')) < 1e-5);
    await enc.dispose();
  });

  it('a text with no tokens at all (a tokenizer that adds no special tokens) pools to zero, as sentence-transformers’ clamped mean', async () => {
    const dir = await variant(m, async (d) => {
      const path = join(d, 'tokenizer.json');
      const tok = JSON.parse(await readFile(path, 'utf8'));
      tok.post_processor = null;
      await writeFile(path, JSON.stringify(tok));
    });
    const enc = await JobBERT.load(dir, { batchSize: 2 });
    const texts = ['', 'Data Scientist', ' \t ', 'nurse'];
    const t = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    const ids = (await t.encodeBatch(texts.map(referenceStrip))).map((e) => e.getIds());
    assert.deepEqual([ids[0].length, ids[2].length], [0, 0]);
    const base = await enc.encode(texts, { branch: 'base', normalize: false });
    const anchor = await enc.encode(texts, { branch: 'anchor' });
    const tanhBias = referenceNormalize(referenceDenseTanh(new Float64Array(32), m.heads.anchor));
    for (const r of [0, 2]) {
      assert.deepEqual([...rowOf(base, r)], new Array(32).fill(0), `pooled ${JSON.stringify(texts[r])}`);
      assert.ok(maxAbsDiff(rowOf(anchor, r), tanhBias) < 1e-6, `anchor of ${JSON.stringify(texts[r])} is tanh(bias), normalised`);
    }
    for (const r of [1, 3]) assert.ok(maxAbsDiff(rowOf(anchor, r), referenceEmbedding(m, ids[r], 'anchor')) < 1e-5, texts[r]);
    assert.deepEqual([...(await enc.encode([''], { branch: 'base' })).data], new Array(32).fill(0), 'alone, too');
    await enc.dispose();
  });
});
