/**
 * JobBERT: the Encoder for sentence-transformers model directories such as
 * TechWolf/JobBERT-v3. The transformer runs in onnxruntime-node (CPU), from
 * `onnx/model.onnx` when the directory has one (as optimum exports it) or
 * else from a graph converted from model.safetensors in TypeScript and cached
 * there. Pooling runs in TypeScript over the token states; the Dense heads
 * (Asym `anchor` / `positive`, plain Dense) run through the native dense kernel
 * with their weights resident in native memory; rows are L2-normalised last
 * (unless `encode` is given `normalize: false`).
 *
 * Texts are preprocessed as sentence-transformers does (encoders/preprocess.ts:
 * Python's `str.strip()`, then `str.lower()` under `do_lower_case`), tokenised
 * with the model's tokenizer.json (Hugging Face `tokenizers`), truncated at
 * max_seq_length on the side tokenizer_config.json names (right unless it says
 * `truncation_side: "left"`, as transformers reads it), sorted by token
 * length and batched so that little padding is computed; results come back in
 * input order.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/output-file.js';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { Tokenizer } from 'tokenizers';
import { clipForTokens } from '../util/text.js';
import { BRANCHES, type Branch, type Encoder, type EncoderSpec } from '../encoders/encoder.js';
import { preprocessText, pythonStrip } from '../encoders/preprocess.js';
import { JobBERTError } from '../errors.js';
import * as kernels from '../kernels/index.js';
import { normalizeRows, type Matrix } from '../kernels/matrix.js';
import { convertToOnnx, maxTokens, readTransformerConfig, type ModelPrecision, type TransformerConfig } from './convert.js';
import { readLayout, type ModelLayout, type PoolingMode, type PostModule } from './modules.js';
import { withSafeTensors } from './safetensors.js';
import type { ResidentMatrix } from '../kernels/resident.js';
import { importOptional } from '../util/optional.js';
import { assertBoolean, assertChoice, assertInteger, assertOptions, describe } from '../util/validate.js';
import { makeDirs } from '../util/make-dirs.js';

export interface JobBERTOptions {
  /**
   * Where the transformer runs: 'cuda' needs a GPU and onnxruntime-node's CUDA
   * execution provider (ERR_CUDA_UNAVAILABLE otherwise, with the reason); 'auto'
   * uses them when both are there, else the CPU. Default 'auto'.
   */
  device?: 'cpu' | 'cuda' | 'auto';
  /** Most texts per onnxruntime run (batches are planned by token count: see planBatches). Default 32. */
  batchSize?: number;
  /** onnxruntime intra-op threads; 0 (default) lets onnxruntime use every core. */
  threads?: number;
  /** Write a converted graph to `onnx/` beside the weights (default true; read-only directories are skipped silently). */
  cache?: boolean;
  /**
   * Transformer weights: 'fp32' (default; `onnx/model.onnx`) or 'int8'
   * (dynamic quantisation; `onnx/model_quantized.onnx`, as optimum names it).
   */
  precision?: ModelPrecision;
  /**
   * Let onnxruntime's idle intra-op threads spin between operators (its own
   * default) rather than sleep. Default false: spinning saves a wake-up per
   * operator on a machine with cores to spare, but where the cores are shared
   * (other processes, Node's own threads) the spinning threads take the time
   * the working ones need — measured on a 2-core machine under load: fp32
   * ×1.46 and int8 ×1.89 slower with spinning.
   */
  spinWait?: boolean;
}

/** A Dense layer ready to run: weights in native memory. */
interface DenseStage {
  kind: 'dense';
  weight: ResidentMatrix;
  bias: Float32Array | null;
  activation: 'identity' | 'tanh';
  out: number;
}
type Stage = DenseStage | { kind: 'normalize' } | { kind: 'asym'; routes: Map<string, Stage[]> };

const PRECISIONS: readonly ModelPrecision[] = ['fp32', 'int8'];
const ONNX_FILES: Record<ModelPrecision, string> = { fp32: 'model.onnx', int8: 'model_quantized.onnx' };
const bad = (msg: string, cause?: unknown) => new JobBERTError('ERR_BAD_MODEL', msg, cause === undefined ? undefined : { cause });

/** size + sha256 of a file; files over 64 MiB hash 64 evenly spaced 64 KiB samples (plus the end) instead of every byte. */
export async function fileDigest(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const h = createHash('sha256').update(`${size}:`);
    const LIMIT = 64 * 1024 * 1024;
    if (size <= LIMIT) {
      h.update(await file.readFile());
    } else {
      const chunk = Buffer.alloc(64 * 1024);
      for (let i = 0; i <= 64; i++) {
        const at = i === 64 ? size - chunk.length : Math.floor((i * (size - chunk.length)) / 64);
        const { bytesRead } = await file.read(chunk, 0, chunk.length, at);
        h.update(chunk.subarray(0, bytesRead));
      }
    }
    return h.digest('hex');
  } finally {
    await file.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Loads a Dense module's weights into native memory, checking them against its config and the incoming dimension. */
async function loadDense(m: Extract<PostModule, { kind: 'dense' }>, inDim: number, files: string[]): Promise<DenseStage> {
  if (m.inFeatures !== inDim)
    throw bad(`${join(m.dir, 'config.json')}: in_features is ${m.inFeatures} but the vectors reaching it have ${inDim} dimensions`);
  const path = join(m.dir, 'model.safetensors');
  if (!(await exists(path))) {
    const legacy = await exists(join(m.dir, 'pytorch_model.bin'));
    throw bad(`${path} is missing${legacy ? ' (only pytorch_model.bin is there; re-save the model with safetensors)' : ''}`);
  }
  files.push(path);
  return withSafeTensors(path, async (st) => {
    const w = await st.read('linear.weight', [m.outFeatures, m.inFeatures]);
    const bias = m.bias ? (await st.read('linear.bias', [m.outFeatures])).data : null;
    for (const v of w.data) if (!Number.isFinite(v)) throw bad(`${path}: linear.weight holds NaN or Infinity`);
    return {
      kind: 'dense',
      weight: kernels.resident({ data: w.data, rows: m.outFeatures, cols: m.inFeatures }),
      bias,
      activation: m.activation,
      out: m.outFeatures,
    };
  });
}

/** Turns the layout's post-pooling modules into runnable stages; returns them and the output dimension. */
async function buildStages(
  mods: PostModule[],
  inDim: number,
  files: string[],
  owned: ResidentMatrix[],
): Promise<{ stages: Stage[]; dim: number }> {
  const stages: Stage[] = [];
  let dim = inDim;
  for (const m of mods) {
    if (m.kind === 'normalize') stages.push(m);
    else if (m.kind === 'dense') {
      const d = await loadDense(m, dim, files);
      owned.push(d.weight);
      stages.push(d);
      dim = d.out;
    } else {
      const routes = new Map<string, Stage[]>();
      let routeDim: number | undefined;
      for (const [route, list] of m.routes) {
        const built = await buildStages(list, dim, files, owned);
        if (routeDim !== undefined && built.dim !== routeDim)
          throw bad(`${join(m.dir, 'config.json')}: Asym routes give different dimensions (${routeDim} and ${built.dim})`);
        routeDim = built.dim;
        routes.set(route, built.stages);
      }
      stages.push({ kind: 'asym', routes });
      dim = routeDim ?? dim;
    }
  }
  return { stages, dim };
}

/**
 * What one onnxruntime run costs beyond its token positions, in token
 * positions: each run streams every weight of the model once, whatever its
 * size, which measured as ~10 positions' worth for XLM-R base on one core
 * (fp32 and int8 alike; `[1 × 2]` against `[64 × 10]` inputs).
 */
const RUN_COST = 16;

/**
 * Where each batch starts, for texts already sorted by token count
 * (`lengths` ascending): contiguous batches of at most `maxRows` texts, padded
 * to their longest, chosen so that the token positions computed plus
 * `runCost` per batch are least (dynamic programming over the sorted order,
 * O(n · maxRows)). Padding is wasted work — ~23 % of the positions with
 * fixed-size batches of typical job titles — so texts of one length share a
 * batch, and a batch takes in a longer neighbour only when that saves a run
 * worth more than the padding it adds (exactly so for maxRows ≤ 512; over
 * that, batches are either at most 512 texts or full). Sync.
 */
export function planBatches(lengths: readonly number[], maxRows: number, runCost = RUN_COST): number[] {
  const n = lengths.length;
  // cost[i]: least cost of the first i texts; from[i]: where the last of those batches starts
  const cost = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1);
  cost[0] = 0;
  // Batches of up to WINDOW texts are all considered, and over that only full ones
  // (maxRows texts), so that a batchSize in the thousands stays O(n · WINDOW).
  const WINDOW = 512;
  const consider = (i: number, j: number) => {
    const c = cost[j] + (i - j) * lengths[i - 1] + runCost;
    if (c < cost[i]) {
      cost[i] = c;
      from[i] = j;
    }
  };
  for (let i = 1; i <= n; i++) {
    if (maxRows > WINDOW && i >= maxRows) consider(i, i - maxRows);
    for (let j = Math.max(0, i - Math.min(maxRows, WINDOW)); j < i; j++) consider(i, j);
  }
  const starts: number[] = [];
  for (let i = n; i > 0; i = from[i]) starts.push(from[i]);
  return starts.reverse();
}

/** Pools one sequence's token states [len × hidden] (starting at `at` in `states`) into `out`. */
function pool(states: Float32Array, at: number, len: number, hidden: number, mode: PoolingMode, out: Float32Array): void {
  if (mode === 'cls') {
    out.set(states.subarray(at, at + hidden));
    return;
  }
  if (mode === 'max') {
    out.fill(-Infinity);
    for (let t = 0; t < len; t++) for (let i = 0; i < hidden; i++) out[i] = Math.max(out[i], states[at + t * hidden + i]);
    return;
  }
  const acc = new Float64Array(hidden);
  for (let t = 0; t < len; t++) for (let i = 0; i < hidden; i++) acc[i] += states[at + t * hidden + i];
  const div = mode === 'mean' ? len : Math.sqrt(len);
  for (let i = 0; i < hidden; i++) out[i] = acc[i] / div;
}

export class JobBERT implements Encoder {
  /** Output dimension of the default branch ('anchor'; the base dimension for models without Asym). */
  readonly dim: number;
  /** Dimension of the pooled vector (`branch: 'base'`). */
  readonly baseDim: number;
  readonly fingerprint: string;
  /** Longest input in tokens (special tokens included); longer texts are truncated on the right. */
  readonly maxSeqLength: number;
  /** Where the transformer graph came from: an ONNX file in the directory, or converted from safetensors at load. */
  readonly source: 'onnx' | 'converted';
  readonly precision: ModelPrecision;
  readonly #dir: string;
  readonly #ort: typeof import('onnxruntime-node');
  readonly #session: InferenceSession;
  readonly #outputName: string;
  readonly #feedsTokenTypes: boolean;
  readonly #tokenizer: Tokenizer;
  readonly #config: TransformerConfig;
  readonly #layout: ModelLayout;
  readonly #stages: Stage[];
  readonly #owned: ResidentMatrix[];
  readonly #batchSize: number;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #pending = new Set<Promise<unknown>>();
  #disposed = false;

  private constructor(init: {
    dir: string;
    ort: typeof import('onnxruntime-node');
    session: InferenceSession;
    tokenizer: Tokenizer;
    config: TransformerConfig;
    layout: ModelLayout;
    stages: Stage[];
    owned: ResidentMatrix[];
    batchSize: number;
    maxSeqLength: number;
    fingerprint: string;
    source: 'onnx' | 'converted';
    dim: number;
    precision: ModelPrecision;
  }) {
    this.#dir = init.dir;
    this.#ort = init.ort;
    this.#session = init.session;
    this.#tokenizer = init.tokenizer;
    this.#config = init.config;
    this.#layout = init.layout;
    this.#stages = init.stages;
    this.#owned = init.owned;
    this.#batchSize = init.batchSize;
    this.maxSeqLength = init.maxSeqLength;
    this.fingerprint = init.fingerprint;
    this.source = init.source;
    this.precision = init.precision;
    this.baseDim = init.config.hiddenSize;
    this.dim = init.dim;
    this.#outputName = init.session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : init.session.outputNames[0];
    this.#feedsTokenTypes = init.session.inputNames.includes('token_type_ids');
  }

  /**
   * Loads the sentence-transformers model in `dir`. Async. Rejects with
   * TypeError/RangeError for bad options, JobBERTError ERR_NOT_FOUND for a
   * missing directory, ERR_BAD_MODEL for missing or malformed files, unknown
   * architectures and wrong shapes, and ERR_CUDA_UNAVAILABLE for device 'cuda'.
   */
  static async load(dir: string, opts: JobBERTOptions = {}): Promise<JobBERT> {
    const fn = 'JobBERT.load';
    if (typeof dir !== 'string' || dir.length === 0)
      throw new TypeError(`${fn}: dir must be a non-empty directory path; received ${describe(dir)}`);
    assertOptions(fn, opts);
    const device = opts.device ?? 'auto';
    assertChoice(fn, 'device', device, kernels.DEVICES);
    const batchSize = opts.batchSize ?? 32;
    assertInteger(fn, 'batchSize', batchSize, 1, 65536);
    const threads = opts.threads ?? 0;
    assertInteger(fn, 'threads', threads, 0, 256);
    const precision = opts.precision ?? 'fp32';
    assertChoice(fn, 'precision', precision, PRECISIONS);
    const spinWait = opts.spinWait ?? false;
    assertBoolean(fn, 'spinWait', spinWait);
    if (opts.cache !== undefined && typeof opts.cache !== 'boolean')
      throw new TypeError(`${fn}: cache must be a boolean; received ${describe(opts.cache)}`);
    if (device === 'cuda' && !kernels.backends().includes('cuda')) {
      throw new JobBERTError(
        'ERR_CUDA_UNAVAILABLE',
        `${fn}: device 'cuda' was requested but ${kernels.info().cudaStatus || 'no CUDA device is available'}; use device 'cpu' or 'auto'`,
      );
    }

    // The optional peers first: a user without them learns the one command to run, whatever the directory holds.
    const peers = await importOptional(fn, {
      'onnxruntime-node': () => import('onnxruntime-node'),
      tokenizers: () => import('tokenizers'),
    });
    const ort = peers['onnxruntime-node'];
    const TokenizerClass = peers.tokenizers.Tokenizer;

    const root = resolve(dir);
    const layout = await readLayout(root);
    const tdir = layout.transformerDir;
    const config = await readTransformerConfig(tdir);
    const limit = maxTokens(config);
    // as sentence-transformers: without max_seq_length, the tokenizer's model_max_length bounded by the position table
    const maxSeqLength = layout.maxSeqLength ?? Math.min(limit, layout.modelMaxLength ?? 512);
    if (maxSeqLength > limit) {
      throw bad(
        `${join(tdir, 'sentence_bert_config.json')}: max_seq_length ${maxSeqLength} exceeds the ${limit} tokens the model's ${config.maxPositions} position embeddings allow`,
      );
    }

    const tokPath = join(tdir, 'tokenizer.json');
    if (!(await exists(tokPath))) throw bad(`${tokPath} is missing (only tokenizer.json tokenizers are supported)`);
    let tokenizer: Tokenizer;
    try {
      tokenizer = TokenizerClass.fromFile(tokPath);
    } catch (e) {
      throw bad(`${tokPath} cannot be loaded: ${(e as Error).message}`, e);
    }
    const vocab = tokenizer.getVocabSize(true);
    if (vocab > config.vocabSize) throw bad(`${tokPath} has ${vocab} tokens but the model's vocab_size is ${config.vocabSize}`);
    // longest_first at max_seq_length on tokenizer_config.json's side, as transformers truncates for sentence-transformers
    tokenizer.setTruncation(maxSeqLength, { direction: layout.truncationSide });
    tokenizer.disablePadding();

    const weightsPath = join(tdir, 'model.safetensors');
    const onnxPath = join(tdir, 'onnx', ONNX_FILES[precision]);
    const hasWeights = await exists(weightsPath);
    let model: string | Uint8Array;
    let source: 'onnx' | 'converted';
    if (await exists(onnxPath)) {
      model = onnxPath;
      source = 'onnx';
    } else {
      if (!hasWeights) {
        const legacy = await exists(join(tdir, 'pytorch_model.bin'));
        throw bad(
          `${tdir} has neither onnx/model.onnx nor model.safetensors${legacy ? ' (pytorch_model.bin is not supported; re-save with safetensors)' : ''}`,
        );
      }
      model = (await convertToOnnx(tdir, { precision })).onnx;
      source = 'converted';
      if (opts.cache ?? true) await writeCache(onnxPath, model);
    }

    const files = [...layout.configFiles, join(tdir, 'config.json'), tokPath];
    const owned: ResidentMatrix[] = [];
    let session: InferenceSession | undefined;
    try {
      const { stages, dim } = await buildStages(layout.post, config.hiddenSize, files, owned);
      const create = (providers: string[], logSeverityLevel: 3 | 4) =>
        ort.InferenceSession.create(model as string, {
          executionProviders: providers,
          graphOptimizationLevel: 'all',
          intraOpNumThreads: threads,
          extra: { session: { intra_op: { allow_spinning: spinWait ? '1' : '0' } } },
          interOpNumThreads: 1,
          logSeverityLevel,
        });
      // The transformer runs on onnxruntime's CUDA execution provider when a GPU
      // is there and that provider is installed (onnxruntime-node's postinstall
      // downloads it on linux-x64 unless told to skip, as offline installs must).
      if (device === 'cuda' && !cudaProviderInstalled()) {
        throw new JobBERTError(
          'ERR_CUDA_UNAVAILABLE',
          `${fn}: device 'cuda' was requested but onnxruntime-node's CUDA execution provider is not installed (onnxruntime-node was installed with its download skipped; run \`npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12\`); use device 'cpu' or 'auto'`,
        );
      }
      if (cudaProviderInstalled() && (device === 'cuda' || (device === 'auto' && kernels.backends().includes('cuda')))) {
        try {
          session = await create(['cuda'], 4);
        } catch (e) {
          if (device === 'cuda') {
            throw new JobBERTError(
              'ERR_CUDA_UNAVAILABLE',
              `${fn}: device 'cuda' was requested but onnxruntime-node's CUDA execution provider cannot start: ${(e as Error).message.split('\n')[0]}; use device 'cpu' or 'auto'`,
              { cause: e },
            );
          }
        }
      }
      try {
        session ??= await create(['cpu'], 3);
      } catch (e) {
        throw bad(`${source === 'onnx' ? onnxPath : 'the converted graph'} cannot be loaded by onnxruntime: ${(e as Error).message}`, e);
      }
      for (const name of ['input_ids', 'attention_mask']) {
        if (!session.inputNames.includes(name))
          throw bad(`${onnxPath}: the graph has no ${name} input (inputs: ${session.inputNames.join(', ')})`);
      }
      const h = createHash('sha256').update('jobbert-st:1\n').update(`max_seq_length=${maxSeqLength}\n`);
      if (precision !== 'fp32') h.update(`precision=${precision}\n`); // fp32 fingerprints stay what they were
      if (layout.truncationSide === 'left') h.update('truncation_side=left\n'); // as precision: the default adds nothing
      for (const f of [...files, hasWeights ? weightsPath : onnxPath]) h.update(`${f.slice(root.length)}:${await fileDigest(f)}\n`);
      const fingerprint = `jobbert:${h.digest('hex').slice(0, 32)}`;
      const defaultDim = dimOf(stages, 'anchor', config.hiddenSize) ?? dim;
      return new JobBERT({
        dir: root,
        ort,
        session,
        tokenizer,
        config,
        layout,
        stages,
        owned,
        batchSize,
        maxSeqLength,
        fingerprint,
        source,
        dim: defaultDim,
        precision,
      });
    } catch (e) {
      for (const r of owned) r.dispose();
      await session?.release();
      throw e;
    }
  }

  /** Output dimension for `branch`. Sync. Throws RangeError for a branch the model has no route for. */
  dimension(branch: Branch = 'anchor'): number {
    assertChoice('JobBERT.dimension', 'branch', branch, BRANCHES);
    return dimOf(chain(this.#stages, branch, 'JobBERT.dimension'), undefined, this.baseDim) as number;
  }

  /**
   * Encodes texts into rows [texts.length × dimension(branch)], L2-normalised
   * unless `normalize: false`.
   * Async; safe to call concurrently. Rejects with TypeError/RangeError for
   * bad arguments (an unknown branch, a non-string text, a non-boolean
   * `normalize`) and JobBERTError ERR_DISPOSED after dispose().
   *
   * `normalize` (default true): false skips the final L2 normalisation and
   * returns the module chain's output as sentence-transformers computes it
   * with `normalize_embeddings=False` — a Normalize module in the model still
   * applies. So `{ branch: 'base', normalize: false }` is the raw pooled
   * vector, and `{ branch: 'anchor', normalize: false }` the anchor head's
   * Dense+Tanh output.
   */
  encode(texts: string[], opts: { branch?: Branch; normalize?: boolean } = {}): Promise<Matrix> {
    const p = this.#encode(texts, opts);
    this.#pending.add(p);
    const done = () => this.#pending.delete(p);
    p.then(done, done);
    return p;
  }

  async #encode(texts: string[], opts: { branch?: Branch; normalize?: boolean }): Promise<Matrix> {
    const fn = 'JobBERT.encode';
    if (this.#disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the encoder was disposed`);
    if (!Array.isArray(texts)) throw new TypeError(`${fn}: texts must be an array of strings; received ${describe(texts)}`);
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (typeof t !== 'string') throw new TypeError(`${fn}: texts[${i}] must be a string; received ${describe(t)}`);
    }
    assertOptions(fn, opts);
    const branch = opts.branch ?? 'anchor';
    assertChoice(fn, 'branch', branch, BRANCHES);
    const normalize = opts.normalize === undefined ? true : opts.normalize;
    assertBoolean(fn, 'normalize', normalize);
    const stages = chain(this.#stages, branch, fn);
    const outDim = dimOf(stages, undefined, this.baseDim) as number;
    if (texts.length === 0) return Object.freeze({ data: new Float32Array(0), rows: 0, cols: outDim });

    let x: Matrix = { data: await this.#pooled(texts), rows: texts.length, cols: this.baseDim };
    for (const s of stages) {
      // The heads are small (a batch's 768→1024 product is well under a millisecond): on the CPU, next to the data.
      if (s.kind === 'dense') x = await kernels.dense(x, s.weight, s.bias, { activation: s.activation, device: 'cpu' });
      else if (s.kind === 'normalize') normalizeRows(x.data, x.cols, 'keep');
    }
    if (normalize) normalizeRows(x.data, x.cols, 'keep');
    return Object.freeze({ data: x.data, rows: x.rows, cols: x.cols });
  }

  /**
   * Tokens the model reads from each text: tokenizer tokens after truncation
   * at maxSeqLength, special tokens (<s>, </s>) included. Async. Rejects with
   * TypeError for a non-array or non-string text, JobBERTError ERR_DISPOSED
   * after dispose().
   */
  async countTokens(texts: string[]): Promise<number[]> {
    const fn = 'JobBERT.countTokens';
    if (this.#disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the encoder was disposed`);
    if (!Array.isArray(texts)) throw new TypeError(`${fn}: texts must be an array of strings; received ${describe(texts)}`);
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (typeof t !== 'string') throw new TypeError(`${fn}: texts[${i}] must be a string; received ${describe(t)}`);
    }
    if (texts.length === 0) return [];
    return (await this.#tokenize(texts, fn)).map((ids) => ids.length);
  }

  /** Token ids of each text, as the model reads them (preprocessed as sentence-transformers does, truncated). */
  async #tokenize(texts: string[], fn: string): Promise<number[][]> {
    const lowerCase = this.#layout.doLowerCase;
    // A text is cut to what max_seq_length tokens can cover (on the side truncation keeps) before the tokenizer
    // sees it: a 50 MB string costs a few kilobytes, not gigabytes of token offsets (clipForTokens says why the
    // tokens are unchanged).
    const side = this.#layout.truncationSide;
    const input = texts.map((t) => preprocessText(clipForTokens(pythonStrip(t), this.maxSeqLength, side), { lowerCase }));
    try {
      return (await this.#tokenizer.encodeBatch(input)).map((e) => e.getIds());
    } catch (e) {
      throw new JobBERTError('ERR_INTERNAL', `${fn}: tokenisation failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Pooled transformer output [texts.length × hidden], in input order. */
  async #pooled(texts: string[]): Promise<Float32Array> {
    const ids = await this.#tokenize(texts, 'JobBERT.encode');
    // A text with no tokens at all (an empty string under a tokenizer that adds no
    // special tokens) is an all-padding row to sentence-transformers, whose mean
    // pooling divides a zero sum by a count clamped to 1e-9: the zero vector. It
    // stays zero here (the rows start zeroed) and never reaches onnxruntime. (Its
    // cls and max pooling would read padding positions there, values of no
    // meaning; zero is kept for every mode.)
    const order = ids
      .map((_, i) => i)
      .filter((i) => ids[i].length > 0)
      .sort((a, b) => ids[a].length - ids[b].length || a - b);
    const H = this.baseDim;
    const out = new Float32Array(texts.length * H);
    const pad = BigInt(this.#config.padTokenId);
    const starts = planBatches(
      order.map((i) => ids[i].length),
      this.#batchSize,
    );
    for (let k = 0; k < starts.length; k++) {
      const batch = order.slice(starts[k], starts[k + 1] ?? order.length);
      const L = Math.max(...batch.map((i) => ids[i].length));
      const inputIds = new BigInt64Array(batch.length * L).fill(pad);
      const mask = new BigInt64Array(batch.length * L);
      batch.forEach((i, b) => {
        ids[i].forEach((id, t) => {
          inputIds[b * L + t] = BigInt(id);
          mask[b * L + t] = 1n;
        });
      });
      const states = await this.#run(inputIds, mask, batch.length, L);
      batch.forEach((i, b) => pool(states, b * L * H, ids[i].length, H, this.#layout.pooling, out.subarray(i * H, (i + 1) * H)));
    }
    return out;
  }

  /** One onnxruntime run, queued behind the others so that concurrent encodes never share the session at once. */
  #run(inputIds: BigInt64Array, mask: BigInt64Array, rows: number, len: number): Promise<Float32Array> {
    const ort = this.#ort;
    const task = async () => {
      const feeds: Record<string, OrtTensor> = {
        input_ids: new ort.Tensor('int64', inputIds, [rows, len]),
        attention_mask: new ort.Tensor('int64', mask, [rows, len]),
      };
      if (this.#feedsTokenTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(rows * len), [rows, len]);
      let result;
      try {
        result = await this.#session.run(feeds, [this.#outputName]);
      } catch (e) {
        throw new JobBERTError('ERR_INTERNAL', `JobBERT.encode: onnxruntime failed: ${(e as Error).message}`, { cause: e });
      }
      const t = result[this.#outputName];
      const [d0, d1, d2] = t.dims;
      if (t.dims.length !== 3 || d0 !== rows || d1 !== len || d2 !== this.baseDim || !(t.data instanceof Float32Array)) {
        throw bad(
          `JobBERT.encode: the graph's ${this.#outputName} has shape [${t.dims.join(', ')}] (${t.type}); expected float32 [${rows}, ${len}, ${this.baseDim}]`,
        );
      }
      return t.data;
    };
    const p = this.#queue.then(task, task);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** The description encoderFromSpec() reloads this encoder from. Sync. */
  spec(): EncoderSpec {
    return this.precision === 'fp32' ? { kind: 'jobbert', dir: this.#dir } : { kind: 'jobbert', dir: this.#dir, precision: this.precision };
  }

  /** Waits for encodes in flight, then frees the session and the resident weights. Async; idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.allSettled([...this.#pending]);
    await this.#session.release();
    for (const r of this.#owned) r.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/**
 * Whether onnxruntime-node's CUDA execution provider library is installed
 * beside its binding (onnxruntime-node's postinstall downloads it unless told
 * to skip). Probing by file keeps a missing provider from
 * printing onnxruntime's load errors on every JobBERT.load under 'auto'.
 */
function cudaProviderInstalled(): boolean {
  if (cudaProvider === undefined) {
    cudaProvider = false;
    try {
      const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin');
      for (const napi of existsSync(bin) ? readdirSync(bin) : []) {
        const dir = join(bin, napi, process.platform, process.arch);
        if (existsSync(dir) && readdirSync(dir).some((f) => f.includes('onnxruntime_providers_cuda'))) cudaProvider = true;
      }
    } catch {
      cudaProvider = false;
    }
  }
  return cudaProvider;
}
let cudaProvider: boolean | undefined;

/** The stages a branch runs: 'base' stops before the first Asym; other branches take their Asym route. */
function chain(stages: Stage[], branch: Branch, fn: string): Stage[] {
  const out: Stage[] = [];
  for (const s of stages) {
    if (s.kind !== 'asym') out.push(s);
    else if (branch === 'base') break;
    else {
      const route = s.routes.get(branch);
      if (!route)
        throw new RangeError(
          `${fn}: branch '${branch}' is not a route of this model's Asym module (routes: ${[...s.routes.keys()].join(', ')})`,
        );
      out.push(...chain(route, branch, fn));
    }
  }
  return out;
}

/** Output dimension after `stages` (or after the branch's chain when `branch` is given); undefined for a missing route. */
function dimOf(stages: Stage[], branch: Branch | undefined, inDim: number): number | undefined {
  let list = stages;
  if (branch !== undefined) {
    try {
      list = chain(stages, branch, '');
    } catch {
      return undefined;
    }
  }
  let dim = inDim;
  for (const s of list) if (s.kind === 'dense') dim = s.out;
  return dim;
}

/**
 * Writes the converted graph atomically. The cache is an optimisation: where it
 * cannot be written (read-only directory, full disk) the model still loads
 * from the graph in memory.
 */
async function writeCache(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await makeDirs(join(path, '..'));
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Converts the model in `dir` to `onnx/model.onnx` (or, for int8,
 * `onnx/model_quantized.onnx`) beside its weights: what `jobbert convert DIR`
 * runs. Async; resolves to the file written. Rejects like JobBERT.load.
 */
export async function convertModelDir(dir: string, opts: { precision?: ModelPrecision } = {}): Promise<string> {
  const precision = opts.precision ?? 'fp32';
  assertChoice('convertModelDir', 'precision', precision, PRECISIONS);
  const layout = await readLayout(resolve(dir));
  const { onnx } = await convertToOnnx(layout.transformerDir, { precision });
  const path = join(layout.transformerDir, 'onnx', ONNX_FILES[precision]);
  await makeDirs(join(path, '..'));
  await writeFileAtomic(path, onnx);
  return path;
}
