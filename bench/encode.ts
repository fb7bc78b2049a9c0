/**
 * JobBERT encode throughput on CPU at XLM-R base's real shape (hidden 768, 12
 * layers, 12 heads, intermediate 3072, Asym heads 768→1024; random weights, the
 * test suite's small vocabulary) on job titles of about ten tokens, beside
 * Transformers.js (@huggingface/transformers: feature-extraction pipeline, mean
 * pooling, normalize) running the SAME onnx/model.onnx that our converter wrote,
 * through the same onnxruntime-node, with the same thread count and batch size.
 * Also: our int8 graph against our fp32 one and against Transformers.js on the
 * same int8 file (dtype 'q8'); the converter's fused graph (com.microsoft ops,
 * the default) against its plain ai.onnx spelling (`fused: false`, the "before"),
 * at both precisions; both of ours again on one onnxruntime thread (a ratio
 * that other processes' load disturbs less on a shared machine); and where our
 * time goes (tokenisation, onnxruntime, pooling + head), each stage timed on
 * its own.
 *
 * Knobs: JOBBERT_BENCH_TITLES (default 256), JOBBERT_BENCH_RUNS (default 5).
 * The contenders run in interleaved rounds after one warm-up call each; the
 * median and the best run are reported (on a shared machine the best run is
 * the least disturbed one). About 4.5 minutes on an idle 2-core machine.
 * Benchmark.js (bench/common.ts `time`) is not used here: one call takes
 * seconds, far too long for its sampling.
 */
import { rng } from '../src/util/random.js';
import { availableParallelism, tmpdir } from 'node:os';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { JobBERT, kernels } from '../src/index.js';
import { convertToOnnx, type ModelPrecision } from '../src/model/convert.js';
import { planBatches } from '../src/model/jobbert.js';
import { makeTinyModel } from '../test/fixtures/tiny-model.js';
import { printTable, ratio, type Row } from './common.js';

const SHAPE = { hidden: 768, layers: 12, heads: 12, intermediate: 3072 };
const HEAD = 1024;
const BATCH = 64;

/** Words a job title is made of; most are single pieces of the fixture tokenizer, a few are spelled out. */
const WORDS = [
  'Senior',
  'senior',
  'Software',
  'Engineer',
  'Data',
  'data',
  'manager',
  'developer',
  'nurse',
  'sales',
  'python',
  'Produktmanager',
  'Krankenpfleger',
  'Científica de datos',
  'of',
  'the',
  'and',
  '高级软件开发人员',
  'Lead',
  'IT',
  'HR',
];

/** mulberry32: the same titles on every run. */
function titles(n: number, seed: number): string[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => {
    const words = 3 + Math.floor(next() * 4);
    return Array.from({ length: words }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
  });
}

/** Seconds per call: the median, and the best run (the least disturbed by other load). */
interface Time {
  median: number;
  best: number;
}

/**
 * Median and best wall time (seconds) of each function over `runs` rounds, after one
 * warm-up call each. Every round calls every function once, in a rotating
 * order, so that load from other processes on a shared machine falls on all
 * of them alike rather than on whichever ran during a busy spell.
 */
async function interleaved<K extends string>(runs: number, fns: Record<K, () => Promise<unknown> | unknown>): Promise<Record<K, Time>> {
  const names = Object.keys(fns) as K[];
  for (const k of names) await fns[k]();
  const times = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < runs; r++) {
    for (let j = 0; j < names.length; j++) {
      const k = names[(r + j) % names.length];
      const t0 = process.hrtime.bigint();
      await fns[k]();
      times[k].push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
  return Object.fromEntries(
    names.map((k) => {
      const sorted = times[k].sort((x, y) => x - y);
      return [k, { median: sorted[Math.floor(runs / 2)], best: sorted[0] }];
    }),
  ) as Record<K, Time>;
}

/** Smallest cosine between matching rows of two row-major sets of vectors. */
function minCosine(a: Float32Array, b: Float32Array, cols: number): number {
  let worst = Infinity;
  for (let r = 0; r < a.length / cols; r++) {
    let dot = 0,
      na = 0,
      nb = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    worst = Math.min(worst, dot / Math.sqrt(na * nb));
  }
  return worst;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export async function benchEncode(): Promise<void> {
  const N = Number(process.env.JOBBERT_BENCH_TITLES ?? 256);
  const RUNS = Number(process.env.JOBBERT_BENCH_RUNS ?? 5);
  const threads = availableParallelism();
  const root = await mkdtemp(join(tmpdir(), 'jobbert-bench-encode-'));
  const dir = join(root, 'xlmr-base-random');
  try {
    const t0 = performance.now();
    await makeTinyModel({ seed: 7, shape: SHAPE, headDim: HEAD, maxSeqLength: 64 }, dir);
    // Transformers.js reads the tokenizer's options from tokenizer_config.json (XLM-R's, as the hub has it)
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        tokenizer_class: 'XLMRobertaTokenizer',
        model_max_length: 64,
        bos_token: '<s>',
        eos_token: '</s>',
        sep_token: '</s>',
        cls_token: '<s>',
        unk_token: '<unk>',
        pad_token: '<pad>',
        mask_token: '<mask>',
      }),
    );
    const made = (performance.now() - t0) / 1000;
    // what convertModelDir / `jobbert convert` write, with the list of fused ops each graph uses
    const convert = async (precision: ModelPrecision, fused: boolean, into: string) => {
      const start = performance.now();
      const { onnx, fusedOps } = await convertToOnnx(dir, { precision, fused });
      const path = join(into, 'onnx', precision === 'fp32' ? 'model.onnx' : 'model_quantized.onnx');
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, onnx);
      return { path, fusedOps, seconds: (performance.now() - start) / 1000 };
    };
    const fp32 = await convert('fp32', true, dir);
    const int8 = await convert('int8', true, dir);
    console.log(
      `encode: random XLM-R base (768/12/12/3072, head 768→${HEAD}) written in ${made.toFixed(1)} s; converted to ONNX fp32 ` +
        `(${mib((await stat(fp32.path)).size)}) in ${fp32.seconds.toFixed(1)} s and int8 (${mib((await stat(int8.path)).size)}) in ${int8.seconds.toFixed(1)} s`,
    );
    // the same model with the plain ai.onnx graphs (fused: false): links to its files, its own onnx/
    const plainDir = join(root, 'xlmr-base-plain');
    await mkdir(plainDir);
    for (const entry of await readdir(dir)) if (entry !== 'onnx') await symlink(join(dir, entry), join(plainDir, entry));
    const plainFp32 = await convert('fp32', false, plainDir);
    const plainInt8 = await convert('int8', false, plainDir);
    const opsOf = (ops: string[]) => (ops.length ? ops.map((o) => `com.microsoft.${o}`).join(' + ') : 'ai.onnx only');
    console.log(
      `encode: fused graph (default): 2-D hidden states, Gemm projections, Sum + LayerNormalization; fp32 uses ${opsOf(fp32.fusedOps)}, int8 ${opsOf(int8.fusedOps)}. ` +
        `Plain graph (fused: false): 3-D MatMul + Add, Erf GELU, Add + LayerNormalization (onnxruntime fuses these into SkipLayerNormalization); ` +
        `fp32 uses ${opsOf(plainFp32.fusedOps)}, int8 ${opsOf(plainInt8.fusedOps)}`,
    );

    const texts = titles(N, 11);
    const { Tokenizer } = await import('tokenizers');
    const tokenizer = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    tokenizer.setTruncation(64);
    const ids = (await tokenizer.encodeBatch(texts)).map((e) => e.getIds());
    const meanTokens = ids.reduce((s, x) => s + x.length, 0) / N;
    console.log(
      `encode: ${N} titles, ${meanTokens.toFixed(1)} tokens on average (${Math.min(...ids.map((x) => x.length))}–${Math.max(...ids.map((x) => x.length))}, specials included), ` +
        `batch ${BATCH}, ${threads} onnxruntime threads, median of ${RUNS} runs after a warm-up; e.g. "${texts[0]}", "${texts[1]}"`,
    );

    // --- ours -----------------------------------------------------------------------------------
    const ours = await JobBERT.load(dir, { batchSize: BATCH, threads, cache: false });
    const oursInt8 = await JobBERT.load(dir, { batchSize: BATCH, threads, cache: false, precision: 'int8' });
    const plain = await JobBERT.load(plainDir, { batchSize: BATCH, threads, cache: false });
    const plainQ = await JobBERT.load(plainDir, { batchSize: BATCH, threads, cache: false, precision: 'int8' });
    // the same two on one onnxruntime thread: on a shared machine, a ratio less disturbed by other processes' load
    const ours1 = await JobBERT.load(dir, { batchSize: BATCH, threads: 1, cache: false });
    const oursInt8_1 = await JobBERT.load(dir, { batchSize: BATCH, threads: 1, cache: false, precision: 'int8' });
    if ([ours, oursInt8, plain, plainQ, ours1, oursInt8_1].some((e) => e.source !== 'onnx'))
      throw new Error('bench: expected every encoder to run the onnx/ files written above');

    // --- Transformers.js on the same graph ---------------------------------------------------------
    const { pipeline, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = dirname(dir);
    // as JobBERT runs its sessions (spinWait false): idle intra-op threads sleep rather than spin
    const noSpin = { session: { intra_op: { allow_spinning: '0' } } };
    const sessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: noSpin } as const;
    const extractor = await pipeline('feature-extraction', basename(dir), {
      dtype: 'fp32',
      device: 'cpu',
      session_options: sessionOptions,
    }); // onnx/model.onnx
    const extractorQ = await pipeline('feature-extraction', basename(dir), { dtype: 'q8', device: 'cpu', session_options: sessionOptions }); // onnx/model_quantized.onnx

    // The same titles pre-sorted by token count: what Transformers.js costs when handed JobBERT's batching.
    const byLength = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
    const sortedTexts = byLength.map((i) => texts[i]);
    const theirsOn = async (input: string[], x = extractor) => {
      const out = new Float32Array(N * SHAPE.hidden);
      for (let i = 0; i < N; i += BATCH) {
        const batch = await x(input.slice(i, i + BATCH), { pooling: 'mean', normalize: true });
        out.set(batch.data as Float32Array, i * SHAPE.hidden);
      }
      return out;
    };
    const padded = (order: number[]) => {
      let cells = 0;
      for (let i = 0; i < N; i += BATCH) cells += Math.min(BATCH, N - i) * Math.max(...order.slice(i, i + BATCH).map((k) => ids[k].length));
      return cells;
    };
    // JobBERT's batches: the sorted order cut where planBatches finds the least positions + per-run cost
    const starts = planBatches(
      byLength.map((i) => ids[i].length),
      BATCH,
    );
    const planned = starts.map((s, k) => byLength.slice(s, starts[k + 1] ?? N));
    const plannedCells = planned.reduce((sum, rows) => sum + rows.length * Math.max(...rows.map((i) => ids[i].length)), 0);
    const realTokens = ids.reduce((sum, x) => sum + x.length, 0);

    let oursBase!: Float32Array, oursAnchor!: Float32Array, int8Anchor!: Float32Array, theirs!: Float32Array, theirsQ!: Float32Array;
    let plainAnchor!: Float32Array, plainInt8Anchor!: Float32Array;
    const t = await interleaved(RUNS, {
      theirs: async () => (theirs = await theirsOn(texts)),
      theirsSorted: () => theirsOn(sortedTexts),
      theirsInt8: async () => (theirsQ = await theirsOn(texts, extractorQ)),
      base: async () => (oursBase = (await ours.encode(texts, { branch: 'base' })).data),
      anchor: async () => (oursAnchor = (await ours.encode(texts, { branch: 'anchor' })).data),
      int8: async () => (int8Anchor = (await oursInt8.encode(texts, { branch: 'anchor' })).data),
      plain: async () => (plainAnchor = (await plain.encode(texts, { branch: 'anchor' })).data),
      plainInt8: async () => (plainInt8Anchor = (await plainQ.encode(texts, { branch: 'anchor' })).data),
      oneThread: () => ours1.encode(texts, { branch: 'anchor' }),
      oneThreadInt8: () => oursInt8_1.encode(texts, { branch: 'anchor' }),
    });
    const [tTheirs, tTheirsSorted, tTheirsInt8, tBase, tAnchor, tInt8] = [t.theirs, t.theirsSorted, t.theirsInt8, t.base, t.anchor, t.int8];
    const theirIds = texts.map(
      (t) => (extractor.tokenizer(t, { truncation: true }) as { input_ids: { tolist(): bigint[][] } }).input_ids.tolist()[0],
    );
    const sameTokens = theirIds.every((row, i) => row.length === ids[i].length && row.every((v, j) => Number(v) === ids[i][j]));

    const rate = (x: number) => N / x;
    const row = (label: string, x: Time, peer: Time, extra: Row = {}): Row => ({
      encoder: label,
      'titles/s': rate(x.median),
      'ms/title': (x.median / N) * 1e3,
      'vs Transformers.js': ratio(peer.median, x.median),
      'titles/s, best run': rate(x.best),
      'vs, best runs': ratio(peer.best, x.best),
      ...extra,
    });
    printTable(
      `encode: fp32, titles/s on CPU, XLM-R base shape, random weights (same onnx/model.onnx — fused graph, ${opsOf(fp32.fusedOps)} — same onnxruntime-node, ${threads} threads, batch ${BATCH}; target ≥ ×1.50 at cosine ≥ 0.9999)`,
      [
        row('Transformers.js feature-extraction (mean, normalize), 768-d', tTheirs, tTheirs, { 'min cosine': '' }),
        row("jobbert JobBERT.encode, branch 'base' (768-d)", tBase, tTheirs, {
          'min cosine': minCosine(oursBase, theirs, SHAPE.hidden).toFixed(7),
        }),
        row(`jobbert JobBERT.encode, branch 'anchor' (+ Dense 768→${HEAD} tanh)`, tAnchor, tTheirs, { 'min cosine': '' }),
        row('diagnostic: Transformers.js given the titles pre-sorted by length', tTheirsSorted, tTheirs, { 'min cosine': '' }),
      ],
    );
    console.log(
      `encode: token positions computed per run: jobbert ${plannedCells} (sorted by length, ${planned.length} batches planned by planBatches; ` +
        `cut every ${BATCH}: ${padded(byLength)}), Transformers.js ${padded(ids.map((_, i) => i))} (input order), for ${realTokens} real tokens`,
    );
    console.log(`encode: token ids ${sameTokens ? 'identical' : 'DIFFER'} between the two tokenizers on these titles`);

    const q = (label: string, x: Time, cos: string): Row => ({
      encoder: label,
      'titles/s': rate(x.median),
      'vs our fp32': ratio(tAnchor.median, x.median),
      'vs Transformers.js fp32': ratio(tTheirs.median, x.median),
      'vs Transformers.js int8': ratio(tTheirsInt8.median, x.median),
      'titles/s, best run': rate(x.best),
      'vs our fp32, best runs': ratio(tAnchor.best, x.best),
      'min cosine to fp32': cos,
    });
    printTable(
      `encode: int8 (dynamic quantisation, onnx/model_quantized.onnx — ${opsOf(int8.fusedOps)}) vs fp32 (target, issue #17: int8 ≥ ×3.00 our fp32 at cosine ≥ 0.998)`,
      [
        q("jobbert fp32, branch 'anchor'", tAnchor, ''),
        q("jobbert int8, branch 'anchor'", tInt8, `${minCosine(int8Anchor, oursAnchor, HEAD).toFixed(4)} (anchor, to jobbert fp32)`),
        {
          ...q("jobbert int8, branch 'anchor', 1 onnxruntime thread", t.oneThreadInt8, ''),
          'vs our fp32': ratio(t.oneThread.median, t.oneThreadInt8.median),
          'vs our fp32, best runs': ratio(t.oneThread.best, t.oneThreadInt8.best),
          'vs Transformers.js fp32': '',
          'vs Transformers.js int8': '',
          'min cosine to fp32': `(vs jobbert fp32 on 1 thread: ${rate(t.oneThread.median).toFixed(1)} titles/s)`,
        },
        q(
          "Transformers.js int8 (dtype 'q8': the same model_quantized.onnx), 768-d",
          tTheirsInt8,
          `${minCosine(theirsQ, theirs, SHAPE.hidden).toFixed(4)} (768-d, to Transformers.js fp32)`,
        ),
      ],
    );

    const g = (label: string, ops: string[], x: Time, before: Time, out: Float32Array): Row => ({
      graph: label,
      'com.microsoft ops': ops.join(', ') || '—',
      'titles/s': rate(x.median),
      'vs plain': ratio(before.median, x.median),
      'titles/s, best run': rate(x.best),
      'vs plain, best runs': ratio(before.best, x.best),
      'min cosine to fused fp32': minCosine(out, oursAnchor, HEAD).toFixed(7),
    });
    printTable(
      `encode: the converter's fused graph (default) vs its plain ai.onnx spelling (fused: false), JobBERT.encode branch 'anchor', same run`,
      [
        g('fp32, plain (before)', plainFp32.fusedOps, t.plain, t.plain, plainAnchor),
        g('fp32, fused', fp32.fusedOps, tAnchor, t.plain, oursAnchor),
        g('int8, plain (before)', plainInt8.fusedOps, t.plainInt8, t.plainInt8, plainInt8Anchor),
        g('int8, fused', int8.fusedOps, tInt8, t.plainInt8, int8Anchor),
      ],
    );

    // --- where our time goes: the pipeline's stages, each timed alone ----------------------------
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(fp32.path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      extra: noSpin,
    });
    const { withSafeTensors } = await import('../src/model/safetensors.js');
    const anchorDir = join(dir, '2_Asym', '140230011_Dense');
    const head = await withSafeTensors(join(anchorDir, 'model.safetensors'), async (st) => ({
      weight: kernels.resident({ data: (await st.read('linear.weight', [HEAD, SHAPE.hidden])).data, rows: HEAD, cols: SHAPE.hidden }),
      bias: (await st.read('linear.bias', [HEAD])).data,
    }));
    // batches as JobBERT forms them: sorted by token count, cut by planBatches
    const batches: { rows: number[]; len: number; inputIds: BigInt64Array; mask: BigInt64Array }[] = [];
    for (const rows of planned) {
      const len = Math.max(...rows.map((i) => ids[i].length));
      const inputIds = new BigInt64Array(rows.length * len).fill(1n);
      const mask = new BigInt64Array(rows.length * len);
      rows.forEach((i, b) =>
        ids[i].forEach((id, t) => {
          inputIds[b * len + t] = BigInt(id);
          mask[b * len + t] = 1n;
        }),
      );
      batches.push({ rows, len, inputIds, mask });
    }
    const states: Float32Array[] = [];
    const ortStage = async () => {
      states.length = 0;
      for (const b of batches) {
        const feeds = {
          input_ids: new ort.Tensor('int64', b.inputIds, [b.rows.length, b.len]),
          attention_mask: new ort.Tensor('int64', b.mask, [b.rows.length, b.len]),
        };
        const out = await session.run(feeds);
        states.push(out.last_hidden_state.data as Float32Array);
      }
    };
    const H = SHAPE.hidden;
    const postStage = async () => {
      const pooled = new Float32Array(N * H);
      batches.forEach((b, k) =>
        b.rows.forEach((i, r) => {
          const acc = new Float64Array(H);
          const n = ids[i].length;
          for (let t = 0; t < n; t++) for (let c = 0; c < H; c++) acc[c] += states[k][(r * b.len + t) * H + c];
          for (let c = 0; c < H; c++) pooled[i * H + c] = acc[c] / n;
        }),
      );
      const y = await kernels.dense({ data: pooled, rows: N, cols: H }, head.weight, head.bias, { activation: 'tanh' });
      for (let r = 0; r < N; r++) {
        let s = 0;
        for (let c = 0; c < HEAD; c++) s += y.data[r * HEAD + c] ** 2;
        const inv = 1 / Math.sqrt(s);
        for (let c = 0; c < HEAD; c++) y.data[r * HEAD + c] *= inv;
      }
    };
    await ortStage(); // states for the first postStage
    const stages = await interleaved(RUNS, {
      tokenize: () => tokenizer.encodeBatch(texts),
      tokenizeTheirs: () => extractor.tokenizer(texts, { padding: true, truncation: true }),
      ort: ortStage,
      post: postStage,
      encode: () => ours.encode(texts, { branch: 'anchor' }),
    });
    const share = (x: Time) => `${((x.median / stages.encode.median) * 100).toFixed(1)} %`;
    const stage = (label: string, x: Time): Row => ({
      stage: label,
      ms: x.median * 1e3,
      'share of encode': share(x),
      'ms, best run': x.best * 1e3,
    });
    const sum = {
      median: stages.tokenize.median + stages.ort.median + stages.post.median,
      best: stages.tokenize.best + stages.ort.best + stages.post.best,
    };
    printTable(`encode: where jobbert's time goes (${N} titles, branch 'anchor'; each stage timed alone, median of ${RUNS})`, [
      stage('tokenisation (tokenizers encodeBatch, Rust)', stages.tokenize),
      stage(`onnxruntime session.run (${batches.length} batches, sorted by length, planned)`, stages.ort),
      stage(`mean pooling (TypeScript) + Dense 768→${HEAD} tanh (native) + L2 norm`, stages.post),
      stage('sum of the stages', sum),
      stage('JobBERT.encode end to end', stages.encode),
      stage('for comparison: Transformers.js tokenizer (JavaScript, padded)', stages.tokenizeTheirs),
    ]);

    head.weight.dispose();
    await session.release();
    await extractor.dispose();
    await extractorQ.dispose();
    await Promise.all([ours, oursInt8, plain, plainQ, ours1, oursInt8_1].map((e) => e.dispose()));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

// `node --import tsx bench/encode.ts` runs this suite alone.
if (import.meta.url === `file://${process.argv[1]}`) await benchEncode();
