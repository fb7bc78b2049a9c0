/**
 * The frozen part of a sentence-transformers model (transformer + pooling),
 * run to produce the raw pooled vectors the Asym heads are trained on:
 * JobBERT.encode with `branch: 'base', normalize: false`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { JobBERT, fileDigest } from '../model/jobbert.js';
import type { ModelLayout } from '../model/modules.js';

/**
 * A fingerprint of what the pooled vectors depend on: transformer config,
 * weights (model.safetensors, else onnx/model.onnx), tokenizer, max_seq_length,
 * the text preprocessing (Python's strip, lower-casing), truncation and
 * pooling, and not the heads. Async.
 *
 * Version 2: texts are stripped as Python's `str.strip()` before tokenising
 * (encoders/preprocess.ts). Version-1 caches hold vectors of unstripped texts
 * (for keys such as "\u001cnurse", which JavaScript's trim() kept), so they
 * live under another folder and are never read again.
 */
export async function baseFingerprint(layout: ModelLayout): Promise<string> {
  const t = layout.transformerDir;
  const h = createHash('sha256').update('jobbert-base:2\nstrip=python\n');
  h.update(`max_seq_length=${layout.maxSeqLength ?? ''}\nlower=${layout.doLowerCase}\npooling=${layout.pooling}\n`);
  h.update(`model_max_length=${layout.modelMaxLength ?? ''}\ntruncation_side=${layout.truncationSide}\n`);
  const weights = existsSync(join(t, 'model.safetensors')) ? 'model.safetensors' : join('onnx', 'model.onnx');
  for (const f of ['config.json', 'tokenizer.json', weights]) h.update(`${f}:${await fileDigest(join(t, f))}\n`);
  return `base:${h.digest('hex').slice(0, 32)}`;
}

export interface BaseEncoder {
  readonly dim: number;
  /** Raw pooled vectors [texts.length × dim], in input order. Async. */
  pooled(texts: string[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Loads the model in `modelDir` (whose layout is `layout`) for its pooled
 * vectors. Async. Rejects like JobBERT.load, and with ERR_BAD_MODEL when
 * modules other than an Asym follow pooling (the base branch would not be the
 * pooled vector then; planModel refuses such models before this runs).
 */
export async function openBaseEncoder(
  modelDir: string,
  layout: ModelLayout,
  opts: { batchSize?: number; threads?: number } = {},
): Promise<BaseEncoder> {
  if (layout.post.length > 0 && layout.post[0].kind !== 'asym') {
    throw new JobBERTError(
      'ERR_BAD_MODEL',
      `${modelDir}: the modules after pooling must start with an Asym for training; found ${layout.post.map((m) => m.kind).join(', ')}`,
    );
  }
  // cache: a converted graph is written once into the model's own folder (onnx/model.onnx), so later runs skip converting
  const model = await JobBERT.load(modelDir, { batchSize: opts.batchSize ?? 64, threads: opts.threads ?? 0, cache: true });
  return {
    dim: model.baseDim,
    async pooled(texts: string[]): Promise<Float32Array> {
      return (await model.encode(texts, { branch: 'base', normalize: false })).data;
    },
    dispose: () => model.dispose(),
  };
}
