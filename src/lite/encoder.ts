/**
 * LiteEncoder: a small trainable hashed-subword encoder, the model shipped in
 * the package (README "Quality" says how it is trained). Text → hashed
 * character n-grams and words (features.ts) → mean embedding bag over a
 * [buckets × dim] table (native kernel) → the `base` vector → an Asym head (anchor / positive: Dense dim→dim + Tanh, as JobBERT)
 * → L2 normalisation. Every row depends only on its own text, so a text gets
 * the same vector alone or in any batch.
 */
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BRANCHES, type Branch, type Encoder, type EncoderSpec } from '../encoders/encoder.js';
import { JobBERTError, callerStack, fromNative } from '../errors.js';
import * as kernels from '../kernels/index.js';
import { normalizeRows, type Matrix } from '../kernels/matrix.js';
import { ResidentMatrix } from '../kernels/resident.js';
import { assertChoice, assertJsonObject, assertOptions, describe } from '../util/validate.js';
import { countUnits, featurize, type FeatureConfig } from './features.js';
import { dequantizeModel, isLiteModel, readModel, writeModel, type LiteConfig, type LiteWeights, type StoredModel } from './io.js';
import { addon, type NativeInt8Table } from '../kernels/binding.js';

/** The directory of the model shipped in the package (models/lite, beside src/ and dist/). */
export function defaultModelDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'lite');
}

export class LiteEncoder implements Encoder {
  readonly dim: number;
  readonly fingerprint: string;
  readonly config: LiteConfig;
  /** Where the model was loaded from (null for one built in memory). */
  readonly dir: string | null;
  readonly #features: FeatureConfig;
  /**
   * The table the embedding bag reads: an int8 copy (codes, a scale per row)
   * when it reproduces the weights exactly — always for a model read from
   * disk, whose table.bin it reads as it is — else the float32 values. The
   * int8 copy gives the same sums bit for bit from a quarter of the memory
   * (13 MB for the shipped model, not 50), and the bag is bound by fetching rows.
   */
  #table: { int8: NativeInt8Table } | { float32: ResidentMatrix } | null;
  #heads: Record<'anchor' | 'positive', { weight: ResidentMatrix; bias: Float32Array }> | null;
  /** What save() writes: a model read from disk keeps table.bin's bytes (13 MB for the shipped model), which save() dequantises. */
  readonly #weights: LiteWeights | StoredModel;

  private constructor(weights: LiteWeights | StoredModel, dir: string | null) {
    const { config } = weights;
    this.config = config;
    this.dim = config.dim;
    this.dir = dir;
    this.#features = { buckets: config.buckets, minN: config.minN, maxN: config.maxN };
    this.#weights = weights;
    if ('tableBytes' in weights) this.#table = { int8: addon.int8TableFromCodes(weights.tableBytes, config.dim) };
    else {
      const int8 = weights.table.length === config.buckets * config.dim ? addon.int8Table(weights.table, config.dim) : null;
      this.#table = int8 ? { int8 } : { float32: new ResidentMatrix({ data: weights.table, rows: config.buckets, cols: config.dim }) };
    }
    const head = (h: { weight: Float32Array; bias: Float32Array }) => ({
      weight: new ResidentMatrix({ data: h.weight, rows: config.dim, cols: config.dim }),
      bias: h.bias,
    });
    this.#heads = { anchor: head(weights.heads.anchor), positive: head(weights.heads.positive) };
    this.fingerprint = `lite:${createHash('sha256').update(`${config.sha256.table}:${config.sha256.heads}:${config.buckets}:${config.dim}:${config.minN}:${config.maxN}`).digest('hex').slice(0, 16)}`;
  }

  /**
   * Loads a model directory (lite.json, table.bin, heads.safetensors); with no
   * `dir`, the default model shipped in the package. Async. Rejects with
   * JobBERTError ERR_BAD_MODEL / ERR_CORRUPT for a missing or damaged model.
   */
  static async load(dir?: string): Promise<LiteEncoder> {
    if (dir !== undefined && (typeof dir !== 'string' || dir.length === 0))
      throw new TypeError(`LiteEncoder.load: dir must be a non-empty path string or omitted; received ${describe(dir)}`);
    const where = dir ?? defaultModelDir();
    if (dir === undefined && !isLiteModel(where)) {
      throw new JobBERTError(
        'ERR_BAD_MODEL',
        `LiteEncoder.load: the default model is missing from the package (${where}); rebuild it with scripts/train-default-model.ts`,
      );
    }
    return new LiteEncoder(await readModel(where), resolve(where));
  }

  /** An encoder over weights in memory (training); `dir` null. */
  static fromWeights(weights: LiteWeights): LiteEncoder {
    const { config, table, heads } = weights; // the float32 table, whatever else the object carries
    return new LiteEncoder({ config, table, heads }, null);
  }

  /**
   * Writes the model to `dir` (int8 table, float32 heads), made if missing, with `trainedWith` as its
   * provenance. Async; TypeError for a bad `dir` or a `trainedWith` JSON cannot hold (before anything is
   * written), JobBERTError ERR_IO.
   */
  async save(dir: string, trainedWith?: Record<string, unknown>): Promise<void> {
    this.#live('save');
    // '' wrote the model's files into the working directory.
    if (typeof dir !== 'string' || dir.length === 0)
      throw new TypeError(`LiteEncoder.save: dir must be a non-empty folder path; received ${describe(dir)}`);
    // A circular one threw JSON.stringify's own TypeError, naming nothing, after the folder was made.
    assertJsonObject('LiteEncoder.save', 'trainedWith', trainedWith);
    const { config, heads, table } = 'tableBytes' in this.#weights ? dequantizeModel(this.#weights) : this.#weights;
    await writeModel(dir, {
      config: {
        buckets: config.buckets,
        dim: config.dim,
        minN: config.minN,
        maxN: config.maxN,
        trainedWith: trainedWith ?? config.trainedWith,
      },
      table,
      heads,
    });
  }

  /** The description encoderFromSpec() reloads this encoder from (needs a model dir). */
  spec(): EncoderSpec {
    if (this.dir === null)
      throw new JobBERTError(
        'ERR_BAD_SPEC',
        'LiteEncoder.spec: an encoder built in memory has no directory; save() it and load() it first',
      );
    // The shipped model is named by no directory, so an index built with it stays
    // valid wherever the package is installed.
    return resolve(this.dir) === resolve(defaultModelDir()) ? { kind: 'lite' } : { kind: 'lite', dir: this.dir };
  }

  /** CSR feature ids of texts (exposed for training and tests). */
  features(texts: readonly string[]): { ids: Int32Array; offsets: Int32Array } {
    return featurize(texts, this.#features);
  }

  /**
   * Tokens per text as this encoder counts them: words, a CJK character
   * counting as one (features.ts `countUnits`). Async for the Encoder contract;
   * rejects with TypeError for a non-array or non-string text.
   */
  async countTokens(texts: string[]): Promise<number[]> {
    const fn = 'LiteEncoder.countTokens';
    this.#live('countTokens');
    if (!Array.isArray(texts)) throw new TypeError(`${fn}: texts must be an array of strings; received ${describe(texts)}`);
    return texts.map((t, i) => {
      if (typeof t !== 'string') throw new TypeError(`${fn}: texts[${i}] must be a string; received ${describe(t)}`);
      return countUnits(t);
    });
  }

  /** Encodes texts into L2-normalised rows; branch `anchor` (default), `positive` or `base` (the pooled bag). Async. */
  async encode(texts: string[], opts: { branch?: Branch } = {}): Promise<Matrix> {
    const fn = 'LiteEncoder.encode';
    this.#live('encode');
    if (!Array.isArray(texts)) throw new TypeError(`${fn}: texts must be an array of strings; received ${describe(texts)}`);
    assertOptions(fn, opts);
    const branch = opts.branch ?? 'anchor';
    assertChoice(fn, 'branch', branch, BRANCHES);
    for (let i = 0; i < texts.length; i++)
      if (typeof texts[i] !== 'string') throw new TypeError(`${fn}: texts[${i}] must be a string; received ${describe(texts[i])}`);
    const n = texts.length;
    if (n === 0) return { data: new Float32Array(0), rows: 0, cols: this.dim };
    const { ids, offsets } = featurize(texts, this.#features);
    const caller = callerStack();
    let base: Float32Array;
    try {
      const table = this.#table!;
      base = await addon.embeddingBag('int8' in table ? table.int8 : table.float32.handle(fn, 'table'), ids, offsets);
    } catch (e) {
      throw fromNative(e, caller);
    }
    this.#live('encode');
    let out: Float32Array;
    if (branch === 'base') out = base;
    else {
      const head = this.#heads![branch];
      out = (await kernels.dense({ data: base, rows: n, cols: this.dim }, head.weight, head.bias, { activation: 'tanh', device: 'cpu' }))
        .data;
    }
    normalizeRows(out, this.dim, 'unit');
    return { data: out, rows: n, cols: this.dim };
  }

  async dispose(): Promise<void> {
    if (this.#table) {
      if ('int8' in this.#table) addon.int8TableDispose(this.#table.int8);
      else this.#table.float32.dispose();
    }
    this.#heads?.anchor.weight.dispose();
    this.#heads?.positive.weight.dispose();
    this.#table = null;
    this.#heads = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #live(what: string): void {
    if (this.#table === null) throw new JobBERTError('ERR_DISPOSED', `LiteEncoder.${what}: the encoder was disposed`);
  }
}
