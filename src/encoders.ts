/** Rebuilding encoders from the descriptions saved with indexes. */
import type { Encoder, EncoderSpec } from './encoder.js';
import { JobBERTError } from './errors.js';
import { TfIdfEncoder } from './tfidf.js';

/** The encoder a spec describes. Async. Throws JobBERTError ERR_BAD_SPEC for unknown kinds. */
export async function encoderFromSpec(spec: EncoderSpec): Promise<Encoder> {
  switch (spec?.kind) {
    case 'tfidf':
      return TfIdfEncoder.fromSpec(spec);
    default:
      throw new JobBERTError('ERR_BAD_SPEC', `encoderFromSpec: unknown encoder kind ${JSON.stringify(spec?.kind)}`);
  }
}
