/**
 * The Encoder contract (README "Encoders"): anything that turns texts into
 * L2-normalised vectors of a fixed dimension. JobBERT, LiteEncoder and the
 * TF-IDF reference encoder implement it; MatchIndex and evaluation take any.
 */
import type { Matrix } from '../kernels/matrix.js';
import { assertMatrix } from '../util/validate.js';

/** Which head encodes the text: job titles (`anchor`), skill lists (`positive`), or the pooled base vector. */
export type Branch = 'anchor' | 'positive' | 'base';

/** Every {@link Branch}, in the order they are documented. */
export const BRANCHES: readonly Branch[] = ['anchor', 'positive', 'base'];

/**
 * A JSON description from which an encoder can be rebuilt (see encoderFromSpec):
 * saved in index files so that `jobbert index search` can encode its queries.
 */
export interface EncoderSpec {
  kind: string;
  [key: string]: unknown;
}

export interface Encoder {
  /** Output dimension of `encode` for the default branch. */
  readonly dim: number;
  /**
   * Encodes texts into an L2-normalised [texts.length × dim] Matrix. Async.
   * (JobBERT.encode also takes `normalize: false` for unnormalised rows; the
   * interface itself always promises normalised ones.)
   */
  encode(texts: string[], opts?: { branch?: Branch }): Promise<Matrix>;
  /** Releases native resources; later calls reject with JobBERTError ERR_DISPOSED. */
  dispose(): Promise<void>;
  /**
   * A string that changes whenever the vectors would (model, weights, options):
   * an index built with one encoder refuses to be searched with another.
   */
  readonly fingerprint: string;
  /** Optional: a description to rebuild this encoder from (encoderFromSpec). */
  spec?(): EncoderSpec;
  /**
   * Optional: how many tokens the encoder reads from each text, as it counts
   * them (JobBERT: tokenizer tokens after truncation, special tokens included;
   * LiteEncoder: words, a CJK character counting as one). Async; the service's
   * OpenAI-compatible `usage` reports it, counting words where it is absent.
   */
  countTokens?(texts: string[]): Promise<number[]>;
  /** Optional: the width of `branch`'s vectors where branches differ (JobBERT: base 768, heads 1024); else `dim`. */
  dimension?(branch: Branch): number;
}

/** The width of `encoder`'s vectors for `branch`: what its dimension(branch) says, else its dim. */
export function dimensionOf(encoder: Encoder, branch: Branch = 'anchor'): number {
  return encoder.dimension?.(branch) ?? encoder.dim;
}

/**
 * `encoder.encode(texts)` (with `branch` when given), checked against the
 * contract: a Matrix of one row per text, as wide as {@link dimensionOf} says.
 * A faulty encoder (one row for many texts, vectors narrower than its dim) is
 * named here, rather than giving confidently wrong results or an index its own
 * save() writes and load() refuses. Async; TypeError/RangeError naming `fn`
 * and "the encoder output".
 */
export async function encodeChecked(fn: string, encoder: Encoder, texts: string[], branch?: Branch): Promise<Matrix> {
  const m = await encoder.encode(texts, branch === undefined ? undefined : { branch });
  assertMatrix(fn, 'the encoder output', m, { rows: texts.length, cols: dimensionOf(encoder, branch), allowEmpty: texts.length === 0 });
  return m;
}
