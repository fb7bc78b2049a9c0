import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { JobBERT, convertModelDir, encoderFromSpec, type Matrix } from '../src/index.js';
import { convertToOnnx } from '../src/model/convert.js';
import { planBatches } from '../src/model/jobbert.js';
import { SafeTensors, parseHeader } from '../src/model/safetensors.js';
import { referenceDenseTanh, referenceEmbedding, referenceEncoder, referencePool } from './fixtures/reference-xlmr.js';
import { makeTinyModel, writeSafetensors, type TinyModel } from './fixtures/tiny-model.js';
import { testSeed } from './reference.js';
import { rejectsWith } from './rejects.js';

const SEED = testSeed('jobbert.test');
const TEXTS = [
  'Software Engineer',
  '高级软件开发人员',
  'Produktmanager',
  'Científica de datos',
  'senior python developer',
  'Krankenpfleger',
  'sales manager of the data team',
  'x',
  '',
  'nurse & data scientist (m/w/d) #1',
];
const LONG = Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? 'data' : i % 3 === 1 ? 'manager' : 'skill')).join(' ');

const tmp: string[] = [];
async function scratch(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'jobbert-test-'));
  tmp.push(d);
  return d;
}
async function tiny(opts: Parameters<typeof makeTinyModel>[0] = {}): Promise<TinyModel> {
  const m = await makeTinyModel({ seed: SEED, ...opts });
  tmp.push(m.dir);
  return m;
}
async function copyModel(m: TinyModel): Promise<string> {
  const d = join(await scratch(), 'model');
  await cp(m.dir, d, { recursive: true });
  await rm(join(d, 'onnx'), { recursive: true, force: true });
  return d;
}

/** Token ids as the model's own tokenizer gives them, truncated like sentence-transformers. */
async function tokenize(m: TinyModel, texts: string[]): Promise<number[][]> {
  const t = Tokenizer.fromFile(join(m.dir, 'tokenizer.json'));
  t.setTruncation(m.config.maxSeqLength);
  return (await t.encodeBatch(texts)).map((e) => e.getIds());
}

const rowOf = (m: Matrix, r: number) => m.data.subarray(r * m.cols, (r + 1) * m.cols);
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Runs a converted graph on a right-padded batch; returns last_hidden_state and the padded length. */
async function runGraph(onnx: Uint8Array, ids: number[][], pad: number): Promise<{ states: Float32Array; L: number }> {
  const session = await ort.InferenceSession.create(onnx, { logSeverityLevel: 3 });
  const L = Math.max(...ids.map((s) => s.length));
  const input = new BigInt64Array(ids.length * L).fill(BigInt(pad));
  const mask = new BigInt64Array(ids.length * L);
  ids.forEach((s, b) => s.forEach((id, t) => ((input[b * L + t] = BigInt(id)), (mask[b * L + t] = 1n))));
  const out = await session.run({
    input_ids: new ort.Tensor('int64', input, [ids.length, L]),
    attention_mask: new ort.Tensor('int64', mask, [ids.length, L]),
  });
  await session.release();
  return { states: out.last_hidden_state.data as Float32Array, L };
}

after(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

describe('planBatches', () => {
  /** Positions computed (rows × longest, the lengths ascending) plus runCost per batch. */
  const costOf = (lengths: number[], starts: number[], runCost: number) =>
    starts.reduce((sum, s, k) => {
      const end = starts[k + 1] ?? lengths.length;
      return sum + (end - s) * lengths[end - 1] + runCost;
    }, 0);
  /** The least cost over every way of cutting the sorted order into batches of at most maxRows. */
  const bruteForce = (lengths: number[], maxRows: number, runCost: number): number => {
    let best = Infinity;
    for (let mask = 0; mask < 1 << (lengths.length - 1); mask++) {
      const starts = [0];
      for (let i = 1; i < lengths.length; i++) if (mask & (1 << (i - 1))) starts.push(i);
      if (starts.some((s, k) => (starts[k + 1] ?? lengths.length) - s > maxRows)) continue;
      best = Math.min(best, costOf(lengths, starts, runCost));
    }
    return best;
  };

  it('finds the cheapest cut of the sorted order into batches of at most maxRows (against brute force)', () => {
    let seed = SEED >>> 0;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(random() * 11);
      const lengths = Array.from({ length: n }, () => 1 + Math.floor(random() * 20)).sort((a, b) => a - b);
      const maxRows = 1 + Math.floor(random() * 6);
      const runCost = Math.floor(random() * 40);
      const starts = planBatches(lengths, maxRows, runCost);
      assert.equal(starts[0], 0, 'starts at the first text');
      starts.forEach((s, k) => {
        const end = starts[k + 1] ?? n;
        assert.ok(end > s && end - s <= maxRows, `batch ${k} holds 1..${maxRows} texts: ${JSON.stringify(starts)}`);
      });
      assert.equal(costOf(lengths, starts, runCost), bruteForce(lengths, maxRows, runCost), JSON.stringify({ lengths, maxRows, runCost }));
    }
  });

  it('keeps texts of one length together and spends a run rather than much padding', () => {
    // 20 titles of 6 tokens and 20 of 12: two batches, no padding
    const lengths = [...Array(20).fill(6), ...Array(20).fill(12)];
    assert.deepEqual(planBatches(lengths, 64, 16), [0, 20]);
    // a long text joining the 12-token batch would pad 20 texts by 18 positions (360 > one run's 16): it runs alone
    assert.deepEqual(planBatches([...lengths, 30], 64, 16), [0, 20, 40]);
    // one text a token longer than the rest: padding the others (4 positions) costs less than a run
    assert.deepEqual(planBatches([5, 5, 5, 5, 6], 8, 16), [0]);
    assert.deepEqual(planBatches([], 8, 16), []);
    // batchSize above the exhaustive window: full batches of one length stay full
    assert.deepEqual(planBatches(Array(3000).fill(9), 1000, 16), [0, 1000, 2000]);
  });
});

describe('safetensors reader', () => {
  it('widens F16 and BF16 to float32 and reads F32 as stored', async () => {
    const dir = await scratch();
    const values = [0, 1, -2, 0.5, 65504, -0.000061035156, 3.140625];
    const f32 = join(dir, 'f32.safetensors');
    await writeSafetensors(f32, new Map([['t', { shape: [7], data: Float32Array.from(values) }]]));
    const st = await SafeTensors.open(f32);
    assert.deepEqual([...(await st.read('t', [7])).data], [...Float32Array.from(values)]);
    await st.close();

    // hand-built F16 and BF16 payloads
    const f16Bits = [0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x8400, 0x4248];
    const bf16Bits = Array.from(Float32Array.from(values), (v) => new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16);
    for (const [dtype, bits, expect] of [
      ['F16', f16Bits, [0, 1, -2, 0.5, 65504, -0.00006103515625, 3.140625]],
      [
        'BF16',
        bf16Bits,
        Array.from(
          values,
          (v) => new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(v).buffer)[0] & 0xffff0000]).buffer)[0],
        ),
      ],
    ] as const) {
      const data = Buffer.alloc(bits.length * 2);
      bits.forEach((b, i) => data.writeUInt16LE(b, 2 * i));
      const json = JSON.stringify({ t: { dtype, shape: [bits.length], data_offsets: [0, data.length] } });
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      const p = join(dir, `${dtype}.safetensors`);
      await writeFile(p, Buffer.concat([len, Buffer.from(json), data]));
      const s = await SafeTensors.open(p);
      assert.deepEqual([...(await s.read('t')).data], [...Float32Array.from(expect)], dtype);
      await s.close();
    }
  });

  it('refuses corrupt headers with ERR_BAD_MODEL naming the file', async () => {
    const dir = await scratch();
    const p = join(dir, 'bad.safetensors');
    const cases: [string, Buffer][] = [
      ['too short', Buffer.from([1, 2, 3])],
      ['header longer than file', Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), Buffer.from('{}')])],
      [
        'not JSON',
        (() => {
          const l = Buffer.alloc(8);
          l.writeBigUInt64LE(5n);
          return Buffer.concat([l, Buffer.from('{oops')]);
        })(),
      ],
    ];
    for (const [why, bytes] of cases) {
      await writeFile(p, bytes);
      await rejectsWith(SafeTensors.open(p), 'ERR_BAD_MODEL', 'bad.safetensors');
      assert.ok(why);
    }
    assert.throws(() => parseHeader('x', JSON.stringify({ t: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }), 16), /needs 16/);
    assert.throws(
      () => parseHeader('x', JSON.stringify({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }), 8),
      /outside the file/,
    );
    assert.throws(() => parseHeader('x', JSON.stringify({ t: { dtype: 'Q4', shape: [4], data_offsets: [0, 16] } }), 16), /unknown dtype/);
    assert.throws(
      () => parseHeader('x', JSON.stringify({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), 16),
      /malformed shape/,
    );
    await rejectsWith(SafeTensors.open(join(dir, 'absent.safetensors')), 'ERR_NOT_FOUND', 'absent.safetensors');
  });
});

describe('safetensors → ONNX conversion', () => {
  const variants: [string, Parameters<typeof makeTinyModel>[0]][] = [
    ['XLM-RoBERTa', {}],
    ['RoBERTa with a roberta. prefix', { modelType: 'roberta', prefix: 'roberta.' }],
    ['BERT', { modelType: 'bert' }],
    ['XLM-RoBERTa stored as F16', { dtype: 'F16' }],
  ];
  for (const [name, opts] of variants)
    for (const fused of [true, false]) {
      it(`${name}, ${fused ? 'fused' : 'plain ai.onnx'} graph: equals the float64 reference forward pass to 1e-4, alone and right-padded in a batch`, async () => {
        const m = await tiny(opts);
        const { onnx, fusedOps } = await convertToOnnx(m.dir, { fused });
        assert.deepEqual(fusedOps, fused ? ['Gelu'] : []);
        const ids = await tokenize(m, [...TEXTS, LONG]);
        const H = m.config.hidden;
        // each text alone, then all of them in one padded batch
        for (const batch of [...ids.map((s) => [s]), ids]) {
          const { states, L } = await runGraph(onnx, batch, m.config.padTokenId);
          batch.forEach((seq, b) => {
            const ref = referenceEncoder(m.config, m.weights, seq);
            let diff = 0;
            let scale = 0;
            ref.forEach((row, t) =>
              row.forEach((v, i) => {
                diff = Math.max(diff, Math.abs(v - states[(b * L + t) * H + i]));
                scale = Math.max(scale, Math.abs(v));
              }),
            );
            // relative to the largest activation of the sequence: elementwise relative error is meaningless near zero
            assert.ok(
              diff / scale < 1e-4,
              `${name}, ${seq.length} tokens, batch of ${batch.length}: max |Δ| / max |ref| = ${diff / scale}`,
            );
          });
        }
      });
    }

  it('convertModelDir writes onnx/model.onnx that JobBERT then uses', async () => {
    const m = await tiny();
    const dir = await copyModel(m);
    const path = await convertModelDir(dir);
    assert.equal(path, join(dir, 'onnx', 'model.onnx'));
    const enc = await JobBERT.load(dir);
    assert.equal(enc.source, 'onnx');
    await enc.dispose();
  });
});

describe('JobBERT encoder', () => {
  let asym: TinyModel;
  let enc: JobBERT;
  let ids: number[][];
  const ALL = [...TEXTS, LONG];

  before(async () => {
    asym = await tiny();
    enc = await JobBERT.load(asym.dir, { batchSize: 4 });
    ids = await tokenize(asym, ALL);
  });
  after(async () => {
    await enc?.dispose();
  });

  for (const branch of ['anchor', 'positive', 'base'] as const) {
    it(`branch ${branch}: pooling, head and normalisation equal the float64 pipeline to 1e-5`, async () => {
      const out = await enc.encode(ALL, { branch });
      assert.equal(out.rows, ALL.length);
      assert.equal(out.cols, branch === 'base' ? 32 : 24);
      ids.forEach((seq, r) => {
        const ref = referenceEmbedding(asym, seq, branch);
        const d = maxAbsDiff(rowOf(out, r), ref);
        assert.ok(d < 1e-5, `${branch} ${JSON.stringify(ALL[r].slice(0, 20))}: max |Δ| = ${d}`);
      });
    });
  }

  for (const branch of ['base', 'anchor', 'positive'] as const) {
    it(`branch ${branch}, normalize: false: the ${branch === 'base' ? 'raw pooled vector' : 'Dense+Tanh head output, unnormalised,'} equals the float64 reference to 1e-4 (relative)`, async () => {
      const out = await enc.encode(ALL, { branch, normalize: false });
      assert.equal(out.rows, ALL.length);
      assert.equal(out.cols, branch === 'base' ? 32 : 24);
      let farFromUnit = 0;
      ids.forEach((seq, r) => {
        const pooled = referencePool(referenceEncoder(asym.config, asym.weights, seq), asym.pooling);
        const ref = branch === 'base' ? pooled : referenceDenseTanh(pooled, asym.heads[branch]);
        const row = rowOf(out, r);
        const rel = maxAbsDiff(row, ref) / Math.max(...Array.from(ref, Math.abs));
        assert.ok(rel < 1e-4, `${branch} ${JSON.stringify(ALL[r].slice(0, 20))}: max |Δ| / max |ref| = ${rel}`);
        farFromUnit = Math.max(farFromUnit, Math.abs(Math.hypot(...row) - 1));
      });
      assert.ok(farFromUnit > 0.1, `the rows are not normalised (largest | ‖row‖ − 1 | = ${farFromUnit})`);
    });
  }

  it('normalize defaults to true; normalize: false rows scaled to unit length equal the default rows', async () => {
    for (const branch of ['anchor', 'positive', 'base'] as const) {
      const byDefault = await enc.encode(ALL, { branch });
      assert.deepEqual((await enc.encode(ALL, { branch, normalize: true })).data, byDefault.data, branch);
      const raw = await enc.encode(ALL, { branch, normalize: false });
      for (let r = 0; r < ALL.length; r++) {
        const row = rowOf(raw, r);
        const n = Math.hypot(...row);
        assert.ok(
          maxAbsDiff(
            row.map((v) => v / n),
            rowOf(byDefault, r),
          ) < 1e-6,
          `${branch} row ${r}`,
        );
      }
    }
    assert.equal((await enc.encode([], { branch: 'base', normalize: false })).cols, 32);
  });

  it('rejects a normalize that is not a boolean with a TypeError naming it', async () => {
    for (const v of ['false', 0, 1, null, {}]) {
      for (const texts of [['Software Engineer'], []]) {
        await assert.rejects(
          enc.encode(texts, { normalize: v as unknown as boolean }),
          (e: Error) => e instanceof TypeError && /normalize/.test(e.message) && e.message.includes('JobBERT.encode'),
          `normalize: ${JSON.stringify(v)}`,
        );
      }
    }
  });

  it('reports dimensions: base = pooled 32, anchor/positive = the Dense output 24; default branch is anchor', async () => {
    assert.equal(enc.dim, 24);
    assert.equal(enc.baseDim, 32);
    assert.equal(enc.dimension('base'), 32);
    assert.equal(enc.dimension('positive'), 24);
    const a = await enc.encode(['Software Engineer']);
    const b = await enc.encode(['Software Engineer'], { branch: 'anchor' });
    assert.deepEqual(a.data, b.data);
    assert.ok(
      maxAbsDiff(a.data, (await enc.encode(['Software Engineer'], { branch: 'positive' })).data) > 1e-3,
      'anchor and positive heads differ',
    );
  });

  it('truncates inputs longer than max_seq_length on the right', async () => {
    assert.equal(enc.maxSeqLength, 64);
    const long = ids[ALL.length - 1];
    assert.equal(long.length, 64);
    assert.equal(long[63], 2, 'the last token is </s>');
    const more = await enc.encode([`${LONG} manager data skill python`]);
    assert.ok(maxAbsDiff(more.data, referenceEmbedding(asym, long, 'anchor')) < 1e-5);
  });

  it('gives a text the same vector alone, in any batch, in any order, padded or not (|Δ| ≤ 1e-6)', async () => {
    const together = await enc.encode(ALL);
    const alone = await Promise.all(ALL.map((t) => enc.encode([t])));
    const perm = ALL.map((_, i) => i)
      .reverse()
      .sort((a, b) => ((a * 7) % 5) - ((b * 7) % 5));
    const shuffled = await enc.encode(perm.map((i) => ALL[i]));
    const big = await JobBERT.load(asym.dir, { batchSize: 64 });
    const oneBatch = await big.encode(ALL);
    await big.dispose();
    let worst = 0;
    let identical = true;
    ALL.forEach((_, r) => {
      const ref = rowOf(together, r);
      for (const other of [rowOf(alone[r], 0), rowOf(shuffled, perm.indexOf(r)), rowOf(oneBatch, r)]) {
        const d = maxAbsDiff(ref, other);
        worst = Math.max(worst, d);
        if (d !== 0) identical = false;
      }
    });
    // onnxruntime's GEMMs may block a padded batch differently from a lone row, so equality is up to rounding
    console.log(`# batch invariance: max |Δ| = ${worst}${identical ? ' (bit-identical)' : ''}`);
    assert.ok(worst <= 1e-6, `max |Δ| = ${worst}`);
  });

  it('is safe to call concurrently: parallel encodes equal sequential ones', async () => {
    const sequential: Matrix[] = [];
    const jobs = [TEXTS, TEXTS.slice(3), [LONG], TEXTS.slice(0, 2)];
    for (const j of jobs) sequential.push(await enc.encode(j, { branch: 'positive' }));
    const parallel = await Promise.all(jobs.map((j) => enc.encode(j, { branch: 'positive' })));
    parallel.forEach((p, i) => assert.ok(maxAbsDiff(p.data, sequential[i].data) <= 1e-6));
  });

  it('encodes an empty list to a 0-row matrix', async () => {
    const out = await enc.encode([]);
    assert.equal(out.rows, 0);
    assert.equal(out.cols, 24);
  });

  it('rejects bad arguments with TypeError/RangeError naming the argument', async () => {
    await assert.rejects(
      enc.encode('Software Engineer' as unknown as string[]),
      (e: Error) => e instanceof TypeError && /texts/.test(e.message),
    );
    await assert.rejects(enc.encode(['a', 3 as unknown as string]), (e: Error) => e instanceof TypeError && /texts\[1\]/.test(e.message));
    await assert.rejects(
      enc.encode(['a'], { branch: 'query' as 'anchor' }),
      (e: Error) => e instanceof RangeError && /branch/.test(e.message),
    );
    await assert.rejects(JobBERT.load(asym.dir, { batchSize: 0 }), (e: Error) => e instanceof RangeError && /batchSize/.test(e.message));
    await assert.rejects(JobBERT.load(asym.dir, { threads: -1 }), (e: Error) => e instanceof RangeError && /threads/.test(e.message));
    await assert.rejects(JobBERT.load(42 as unknown as string), (e: Error) => e instanceof TypeError && /dir/.test(e.message));
    await assert.rejects(
      JobBERT.load(asym.dir, { spinWait: 'yes' as unknown as boolean }),
      (e: Error) => e instanceof TypeError && /spinWait/.test(e.message),
    );
    await rejectsWith(JobBERT.load(asym.dir, { device: 'cuda' }), 'ERR_CUDA_UNAVAILABLE');
  });

  it('spinWait changes how onnxruntime threads wait, not the vectors', async () => {
    const spinning = await JobBERT.load(asym.dir, { batchSize: 4, threads: 2, spinWait: true });
    const texts = ['Software Engineer', 'nurse', 'Científica de datos', 'Produktmanager Krankenpfleger'];
    assert.deepEqual((await spinning.encode(texts)).data, (await enc.encode(texts)).data);
    assert.equal(spinning.fingerprint, enc.fingerprint);
    await spinning.dispose();
  });

  it('has a stable fingerprint and a spec that encoderFromSpec reloads', async () => {
    assert.match(enc.fingerprint, /^jobbert:[0-9a-f]{32}$/);
    assert.deepEqual(enc.spec(), { kind: 'jobbert', dir: asym.dir });
    const again = await encoderFromSpec(enc.spec());
    assert.equal(again.fingerprint, enc.fingerprint, 'loading from the cached ONNX keeps the fingerprint');
    assert.ok(maxAbsDiff((await again.encode(TEXTS)).data, (await enc.encode(TEXTS)).data) <= 1e-6);
    await again.dispose();
  });

  it('rejects calls after dispose with ERR_DISPOSED, and dispose waits for encodes in flight', async () => {
    const e2 = await JobBERT.load(asym.dir);
    const inflight = e2.encode(TEXTS);
    await e2.dispose();
    assert.equal((await inflight).rows, TEXTS.length);
    await rejectsWith(e2.encode(['x']), 'ERR_DISPOSED');
    await e2.dispose();
  });
});

describe('JobBERT model directories', () => {
  it('a model without Asym gives its base embedding on every branch', async () => {
    const m = await tiny({ asym: false, seed: SEED + 1 });
    const enc = await JobBERT.load(m.dir);
    assert.equal(enc.dim, 32);
    const [seq] = await tokenize(m, ['Software Engineer']);
    const ref = referenceEmbedding(m, seq, 'base');
    for (const branch of ['anchor', 'positive', 'base'] as const) {
      const out = await enc.encode(['Software Engineer'], { branch });
      assert.equal(out.cols, 32);
      assert.ok(maxAbsDiff(out.data, ref) < 1e-5, branch);
    }
    await enc.dispose();
  });

  it("normalize: false keeps a Normalize module of the model's own chain", async () => {
    const m = await tiny({ asym: false, seed: SEED + 8 });
    const modules = JSON.parse(await readFile(join(m.dir, 'modules.json'), 'utf8')) as unknown[];
    modules.push({ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' });
    await writeFile(join(m.dir, 'modules.json'), JSON.stringify(modules));
    await mkdir(join(m.dir, '2_Normalize'));
    const enc = await JobBERT.load(m.dir);
    const [seq] = await tokenize(m, ['Software Engineer']);
    const out = await enc.encode(['Software Engineer'], { branch: 'base', normalize: false });
    assert.ok(Math.abs(Math.hypot(...out.data) - 1) < 1e-6, 'the Normalize module still applies');
    assert.ok(maxAbsDiff(out.data, referenceEmbedding(m, seq, 'base')) < 1e-5);
    await enc.dispose();
  });

  for (const pooling of ['cls', 'max'] as const) {
    it(`honours ${pooling} pooling when 1_Pooling declares it`, async () => {
      const m = await tiny({ pooling, seed: SEED + 2 });
      const enc = await JobBERT.load(m.dir);
      const ids = await tokenize(m, TEXTS);
      const out = await enc.encode(TEXTS, { branch: 'anchor' });
      ids.forEach((seq, r) => assert.ok(maxAbsDiff(rowOf(out, r), referenceEmbedding(m, seq, 'anchor')) < 1e-5, TEXTS[r]));
      await enc.dispose();
    });
  }

  it('caches the converted graph as onnx/model.onnx, and cache: false writes nothing', async () => {
    const m = await tiny({ seed: SEED + 3 });
    const dir = await copyModel(m);
    const first = await JobBERT.load(dir, { cache: false });
    assert.equal(first.source, 'converted');
    await assert.rejects(stat(join(dir, 'onnx', 'model.onnx')));
    await first.dispose();
    const second = await JobBERT.load(dir);
    assert.equal(second.source, 'converted');
    assert.ok((await stat(join(dir, 'onnx', 'model.onnx'))).size > 0);
    const third = await JobBERT.load(dir);
    assert.equal(third.source, 'onnx');
    assert.equal(third.fingerprint, second.fingerprint);
    assert.ok(maxAbsDiff((await third.encode(TEXTS)).data, (await second.encode(TEXTS)).data) <= 1e-6);
    await second.dispose();
    await third.dispose();
  });

  it('loads a directory with only onnx/model.onnx (no safetensors), as optimum exports it', async () => {
    const m = await tiny({ seed: SEED + 4 });
    const dir = await copyModel(m);
    const { onnx } = await convertToOnnx(dir, { fused: false }); // standard ops only, as optimum's export has
    await mkdir(join(dir, 'onnx'));
    await writeFile(join(dir, 'onnx', 'model.onnx'), onnx);
    await rm(join(dir, 'model.safetensors'));
    const enc = await JobBERT.load(dir);
    assert.equal(enc.source, 'onnx');
    const ids = await tokenize(m, TEXTS);
    const out = await enc.encode(TEXTS, { branch: 'positive' });
    ids.forEach((seq, r) => assert.ok(maxAbsDiff(rowOf(out, r), referenceEmbedding(m, seq, 'positive')) < 1e-5));
    await enc.dispose();
  });

  it('int8 (dynamic quantisation) stays within cosine 0.99 of fp32, caches onnx/model_quantized.onnx and has its own fingerprint', async () => {
    const m = await tiny({ seed: SEED + 7 });
    const dir = await copyModel(m);
    const fp32 = await JobBERT.load(dir);
    const int8 = await JobBERT.load(dir, { precision: 'int8' });
    assert.equal(int8.precision, 'int8');
    assert.ok((await stat(join(dir, 'onnx', 'model_quantized.onnx'))).size > 0);
    assert.notEqual(int8.fingerprint, fp32.fingerprint);
    assert.deepEqual(int8.spec(), { kind: 'jobbert', dir, precision: 'int8' });
    let worst = 1;
    for (const branch of ['anchor', 'positive', 'base'] as const) {
      const a = await fp32.encode(TEXTS, { branch });
      const b = await int8.encode(TEXTS, { branch });
      for (let r = 0; r < TEXTS.length; r++) {
        let dot = 0;
        for (let i = 0; i < a.cols; i++) dot += a.data[r * a.cols + i] * b.data[r * b.cols + i];
        worst = Math.min(worst, dot);
      }
    }
    console.log(`# int8 vs fp32 (tiny random model): worst cosine ${worst.toFixed(5)}`);
    assert.ok(worst >= 0.99, `worst cosine ${worst}`);
    assert.deepEqual((await convertToOnnx(dir, { precision: 'int8' })).fusedOps, ['DynamicQuantizeMatMul', 'Gelu']);
    assert.deepEqual((await convertToOnnx(dir, { precision: 'int8', fused: false })).fusedOps, ['DynamicQuantizeMatMul']);
    const again = await JobBERT.load(dir, { precision: 'int8' });
    assert.equal(again.source, 'onnx');
    assert.equal(again.fingerprint, int8.fingerprint);
    await Promise.all([fp32.dispose(), int8.dispose(), again.dispose()]);
    await assert.rejects(
      JobBERT.load(dir, { precision: 'fp16' as 'int8' }),
      (e: Error) => e instanceof RangeError && /precision/.test(e.message),
    );
  });

  it('a changed head weight changes the fingerprint', async () => {
    const m = await tiny({ seed: SEED + 5 });
    const dir = await copyModel(m);
    const a = await JobBERT.load(dir, { cache: false });
    const head = m.heads.anchor;
    const w = Float32Array.from(head.weight);
    w[0] += 1;
    await writeSafetensors(
      join(dir, '2_Asym', '140230011_Dense', 'model.safetensors'),
      new Map([
        ['linear.weight', { shape: [head.out, head.in], data: w }],
        ['linear.bias', { shape: [head.out], data: head.bias }],
      ]),
    );
    const b = await JobBERT.load(dir, { cache: false });
    assert.notEqual(a.fingerprint, b.fingerprint);
    await a.dispose();
    await b.dispose();
  });

  describe('broken directories give JobBERTError with a code', () => {
    let base: TinyModel;
    before(async () => {
      base = await tiny({ seed: SEED + 6 });
    });
    const broken = async (edit: (dir: string) => Promise<void>) => {
      const dir = await copyModel(base);
      await edit(dir);
      return dir;
    };
    const json = async (path: string, change: (v: Record<string, unknown>) => unknown) =>
      writeFile(path, JSON.stringify(change(JSON.parse(await readFile(path, 'utf8')))));

    it('missing directory → ERR_NOT_FOUND', async () => {
      await rejectsWith(JobBERT.load(join(await scratch(), 'nope')), 'ERR_NOT_FOUND', 'nope');
    });

    const cases: [string, (dir: string) => Promise<void>, string][] = [
      ['missing config.json', (d) => rm(join(d, 'config.json')), 'config.json'],
      ['missing tokenizer.json', (d) => rm(join(d, 'tokenizer.json')), 'tokenizer.json'],
      ['missing model.safetensors and no ONNX file', (d) => rm(join(d, 'model.safetensors')), 'model.safetensors'],
      ['missing 1_Pooling/config.json', (d) => rm(join(d, '1_Pooling', 'config.json')), '1_Pooling'],
      ['missing Asym head weights', (d) => rm(join(d, '2_Asym', '140230012_Dense', 'model.safetensors')), '140230012_Dense'],
      ['modules.json not an array', (d) => writeFile(join(d, 'modules.json'), '{"a": 1}'), 'modules.json'],
      ['malformed JSON config', (d) => writeFile(join(d, 'config.json'), '{"model_type": '), 'config.json'],
      [
        'corrupt safetensors header',
        async (d) => {
          const p = join(d, 'model.safetensors');
          const bytes = await readFile(p);
          bytes.write('#####', 12, 'latin1');
          await writeFile(p, bytes);
        },
        'model.safetensors',
      ],
      [
        'truncated safetensors file',
        async (d) => {
          const p = join(d, 'model.safetensors');
          const bytes = await readFile(p);
          await writeFile(p, bytes.subarray(0, bytes.length - 100));
        },
        'model.safetensors',
      ],
      [
        'weights of the wrong shape (config says hidden 48)',
        (d) => json(join(d, 'config.json'), (c) => ({ ...c, hidden_size: 48, num_attention_heads: 4 })),
        'shape',
      ],
      ['unknown architecture', (d) => json(join(d, 'config.json'), (c) => ({ ...c, model_type: 'gpt2' })), 'gpt2'],
      ['unsupported activation', (d) => json(join(d, 'config.json'), (c) => ({ ...c, hidden_act: 'swish' })), 'swish'],
      [
        'max_seq_length beyond the position table (too-long inputs)',
        (d) => json(join(d, 'sentence_bert_config.json'), (c) => ({ ...c, max_seq_length: 600 })),
        'max_seq_length',
      ],
      [
        'Asym Dense in_features that do not match the pooled size',
        (d) => json(join(d, '2_Asym', '140230011_Dense', 'config.json'), (c) => ({ ...c, in_features: 16 })),
        'in_features',
      ],
      [
        'Dense with an unsupported activation',
        (d) =>
          json(join(d, '2_Asym', '140230011_Dense', 'config.json'), (c) => ({
            ...c,
            activation_function: 'torch.nn.modules.activation.ReLU',
          })),
        'ReLU',
      ],
      [
        'Asym route naming an undeclared module',
        (d) => json(join(d, '2_Asym', 'config.json'), (c) => ({ ...c, structure: { anchor: ['nope_Dense'] } })),
        'nope_Dense',
      ],
      [
        'module path leaving the directory',
        (d) =>
          json(join(d, 'modules.json'), (c) =>
            (c as unknown as { path: string }[]).map((m, i) => (i === 1 ? { ...m, path: '../../etc' } : m)),
          ),
        'leaves',
      ],
      [
        'pooling with no mode set',
        (d) => json(join(d, '1_Pooling', 'config.json'), (c) => ({ ...c, pooling_mode_mean_tokens: false })),
        'pooling',
      ],
      [
        'corrupt onnx/model.onnx',
        async (d) => {
          await mkdir(join(d, 'onnx'));
          await writeFile(join(d, 'onnx', 'model.onnx'), Buffer.from('not a protobuf at all'));
        },
        'model.onnx',
      ],
    ];
    for (const [name, edit, mention] of cases) {
      it(`${name} → ERR_BAD_MODEL`, async () => {
        const dir = await broken(edit);
        await rejectsWith(JobBERT.load(dir), 'ERR_BAD_MODEL', mention);
      });
    }
  });
});
