/** Rebuilding encoders from the descriptions saved with indexes. */
import type { Encoder, EncoderSpec } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import { JobBERT } from '../model/jobbert.js';
import { LiteEncoder } from '../lite/encoder.js';
import { TfIdfEncoder } from '../encoders/tfidf.js';

/** The encoder a spec describes. Async. Throws JobBERTError ERR_BAD_SPEC for unknown kinds. */
export async function encoderFromSpec(spec: EncoderSpec): Promise<Encoder> {
  switch (spec?.kind) {
    case 'tfidf':
      return TfIdfEncoder.fromSpec(spec);
    case 'jobbert': {
      if (typeof spec.dir !== 'string' || spec.dir.length === 0) {
        throw new JobBERTError('ERR_BAD_SPEC', 'encoderFromSpec: a jobbert spec needs dir, the model directory');
      }
      if (spec.precision !== undefined && spec.precision !== 'fp32' && spec.precision !== 'int8') {
        throw new JobBERTError(
          'ERR_BAD_SPEC',
          `encoderFromSpec: jobbert precision must be 'fp32' or 'int8'; found ${JSON.stringify(spec.precision)}`,
        );
      }
      return JobBERT.load(spec.dir, spec.precision === undefined ? {} : { precision: spec.precision });
    }
    case 'lite':
      if (spec.dir !== undefined && (typeof spec.dir !== 'string' || spec.dir.length === 0)) {
        throw new JobBERTError('ERR_BAD_SPEC', 'encoderFromSpec: a lite spec needs dir, the model directory (or none: the default model)');
      }
      return LiteEncoder.load(spec.dir as string | undefined);
    default:
      throw new JobBERTError('ERR_BAD_SPEC', `encoderFromSpec: unknown encoder kind ${JSON.stringify(spec?.kind)}`);
  }
}
