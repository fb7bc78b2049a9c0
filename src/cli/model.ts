/**
 * The model a command's --model names, read the same way by every command:
 * a LiteEncoder directory (lite.json), a sentence-transformers directory
 * (JobBERT-V3), or a hub id `jobbert download` has fetched; without --model,
 * the built-in model.
 */
import { existsSync } from 'node:fs';
import type { Encoder } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import { LiteEncoder } from '../lite/encoder.js';
import { isLiteModel } from '../lite/io.js';
import { modelCacheDir } from '../model/download.js';
import { JobBERT, type JobBERTOptions } from '../model/jobbert.js';

/**
 * The directory a --model value names: the path, else a hub id's copy in the
 * cache. Sync; JobBERTError ERR_NOT_FOUND, with the download command for a
 * hub id not fetched yet.
 */
export function modelDir(value: string): string {
  if (existsSync(value)) return value;
  if (/^[\w.-]+\/[\w.-]+$/.test(value)) {
    const cached = modelCacheDir(value);
    if (existsSync(cached)) return cached;
    throw new JobBERTError(
      'ERR_NOT_FOUND',
      `--model ${value}: no such directory, and the model is not in the cache (${cached}); run: jobbert download ${value}`,
    );
  }
  throw new JobBERTError('ERR_NOT_FOUND', `--model ${value} does not exist`);
}

export { isLiteModel };

/**
 * The encoder --model names (`jobbert` sets how a JobBERT model runs; a
 * LiteEncoder takes no options), or the built-in model without one. Async;
 * ERR_NOT_FOUND, and the models' own load errors.
 */
export async function modelEncoder(model: string | undefined, jobbert: JobBERTOptions = {}): Promise<Encoder> {
  if (model === undefined) return LiteEncoder.load();
  const dir = modelDir(model);
  return isLiteModel(dir) ? LiteEncoder.load(dir) : JobBERT.load(dir, jobbert);
}
