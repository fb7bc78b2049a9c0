/**
 * The Encoder contract (README "Encoders"): anything that turns texts into
 * L2-normalised vectors of a fixed dimension. JobBERT, LiteEncoder and the
 * TF-IDF reference encoder implement it; MatchIndex and evaluation take any.
 */
import type { Matrix } from '../kernels/matrix.js';

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
}
