/**
 * TfIdfEncoder: a character n-gram TF-IDF reference encoder (the classic
 * baseline the learned encoders must beat). Features are the n-grams (n in
 * [minN, maxN]) of each word wrapped in boundary markers, plus the whole word;
 * they are hashed with a sign bit into `dim` buckets (the hashing trick), weighted
 * by sublinear tf × smoothed idf fitted on a corpus, and L2-normalised.
 */
import { createHash } from 'node:crypto';
import { BRANCHES, type Branch, type Encoder, type EncoderSpec } from './encoder.js';
import { JobBERTError } from '../errors.js';
import type { Matrix } from '../kernels/matrix.js';
import { assertChoice, assertInteger, assertOptions, describe } from '../util/validate.js';

export interface TfIdfOptions {
  /** Hash buckets (output dimension). Default 4096. */
  dim?: number;
  /** Shortest character n-gram. Default 2. */
  minN?: number;
  /** Longest character n-gram. Default 4. */
  maxN?: number;
}

/** Lower-cased NFKC words; CJK text, which has no spaces, stays one word whose n-grams are its characters. */
export function words(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}+#]+/u)
    .filter(Boolean);
}

/** FNV-1a over the UTF-16 code units of s[start, end), mixed with a salt. */
function hash(s: string, start: number, end: number, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche so low bits are well mixed
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** Signed bucket counts of one text: Map<bucket, count·sign>. */
function features(text: string, dim: number, minN: number, maxN: number): Map<number, number> {
  const out = new Map<number, number>();
  const add = (h: number) => {
    const bucket = h % dim;
    const sign = h & 0x80000000 ? -1 : 1;
    out.set(bucket, (out.get(bucket) ?? 0) + sign);
  };
  for (const w of words(text)) {
    const padded = `<${w}>`;
    add(hash(padded, 0, padded.length, 0x9e37));
    for (let n = minN; n <= maxN; n++) {
      for (let i = 0; i + n <= padded.length; i++) add(hash(padded, i, i + n, n));
    }
  }
  return out;
}

export class TfIdfEncoder implements Encoder {
  readonly dim: number;
  readonly fingerprint: string;
  readonly #minN: number;
  readonly #maxN: number;
  readonly #idf: Float32Array;
  #disposed = false;

  private constructor(dim: number, minN: number, maxN: number, idf: Float32Array) {
    this.dim = dim;
    this.#minN = minN;
    this.#maxN = maxN;
    this.#idf = idf;
    const digest = createHash('sha256')
      .update(`${dim}:${minN}:${maxN}:`)
      .update(new Uint8Array(idf.buffer, idf.byteOffset, idf.byteLength))
      .digest('hex');
    this.fingerprint = `tfidf:${digest.slice(0, 16)}`;
  }

  /**
   * Fits the idf weights on `texts` (the corpus to be searched). Sync.
   * Throws TypeError/RangeError for bad texts or options.
   */
  static fit(texts: string[], opts: TfIdfOptions = {}): TfIdfEncoder {
    const fn = 'TfIdfEncoder.fit';
    if (!Array.isArray(texts) || texts.length === 0)
      throw new TypeError(`${fn}: texts must be a non-empty array of strings; received ${describe(texts)}`);
    assertOptions(fn, opts);
    const dim = opts.dim ?? 4096;
    const minN = opts.minN ?? 2;
    const maxN = opts.maxN ?? 4;
    assertInteger(fn, 'dim', dim, 1, 1 << 20);
    assertInteger(fn, 'minN', minN, 1, 16);
    assertInteger(fn, 'maxN', maxN, minN, 16);
    const df = new Float64Array(dim);
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (typeof t !== 'string') throw new TypeError(`${fn}: texts[${i}] must be a string; received ${describe(t)}`);
      for (const bucket of features(t, dim, minN, maxN).keys()) df[bucket]++;
    }
    const idf = new Float32Array(dim);
    for (let b = 0; b < dim; b++) idf[b] = Math.log((1 + texts.length) / (1 + df[b])) + 1;
    return new TfIdfEncoder(dim, minN, maxN, idf);
  }

  /** The JSON description fromSpec() rebuilds this encoder from (idf as base64 float32). Sync. */
  spec(): EncoderSpec {
    return {
      kind: 'tfidf',
      dim: this.dim,
      minN: this.#minN,
      maxN: this.#maxN,
      idf: Buffer.from(this.#idf.buffer, this.#idf.byteOffset, this.#idf.byteLength).toString('base64'),
    };
  }

  /** Rebuilds an encoder from spec(). Sync. Throws JobBERTError ERR_BAD_SPEC for a malformed spec. */
  static fromSpec(spec: EncoderSpec): TfIdfEncoder {
    const { dim, minN, maxN, idf } = (spec ?? {}) as { dim?: unknown; minN?: unknown; maxN?: unknown; idf?: unknown };
    const ok = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
    // The bounds fit() takes: an n-gram range past 16 (a crafted spec's 2e9) made each query word take seconds.
    if (
      spec?.kind !== 'tfidf' ||
      !ok(dim) ||
      dim > 1 << 20 ||
      !ok(minN) ||
      !ok(maxN) ||
      minN > maxN ||
      maxN > 16 ||
      typeof idf !== 'string'
    ) {
      throw new JobBERTError('ERR_BAD_SPEC', 'TfIdfEncoder.fromSpec: not a valid TF-IDF encoder description');
    }
    const bytes = Buffer.from(idf, 'base64');
    if (bytes.length !== dim * 4) throw new JobBERTError('ERR_BAD_SPEC', `TfIdfEncoder.fromSpec: idf must hold ${dim} float32 values`);
    const weights = new Float32Array(dim);
    new Uint8Array(weights.buffer).set(bytes);
    return new TfIdfEncoder(dim, minN, maxN, weights);
  }

  /** Encodes texts (every branch is the same for TF-IDF) into L2-normalised rows. Async. */
  async encode(texts: string[], opts: { branch?: Branch } = {}): Promise<Matrix> {
    if (this.#disposed) throw new JobBERTError('ERR_DISPOSED', 'TfIdfEncoder.encode: the encoder was disposed');
    if (!Array.isArray(texts)) throw new TypeError(`TfIdfEncoder.encode: texts must be an array of strings; received ${describe(texts)}`);
    assertOptions('TfIdfEncoder.encode', opts);
    // One vector for every branch, but a branch must still be one (as every encoder checks).
    if (opts.branch !== undefined) assertChoice('TfIdfEncoder.encode', 'branch', opts.branch, BRANCHES);
    const data = new Float32Array(texts.length * this.dim);
    // Every index, holes of a sparse array too (forEach would skip them and leave zero rows).
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (typeof t !== 'string') throw new TypeError(`TfIdfEncoder.encode: texts[${i}] must be a string; received ${describe(t)}`);
      const row = data.subarray(i * this.dim, (i + 1) * this.dim);
      let norm = 0;
      for (const [bucket, count] of features(t, this.dim, this.#minN, this.#maxN)) {
        const tf = count === 0 ? 0 : Math.sign(count) * (1 + Math.log(Math.abs(count)));
        const v = tf * this.#idf[bucket];
        row[bucket] = v;
        norm += v * v;
      }
      // A text with no letters or digits gets a fixed unit vector rather than a zero one (cosine needs a norm).
      if (norm === 0) row[0] = 1;
      else {
        const inv = 1 / Math.sqrt(norm);
        for (let b = 0; b < this.dim; b++) row[b] *= inv;
      }
    }
    return { data, rows: texts.length, cols: this.dim };
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
  }
}
