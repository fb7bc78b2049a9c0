/**
 * The frozen part of a sentence-transformers model (transformer + pooling),
 * run to produce the raw pooled vectors the Asym heads are trained on.
 *
 * JobBERT.encode always L2-normalises its output, `branch: 'base'` included,
 * but the heads see the pooled vector before any normalisation. So the base
 * model is loaded from a scratch directory that links the transformer's files
 * and puts one Dense(H → H+1, identity) after pooling, with weight [I; 0] and
 * bias [0 … 0, 1]: it outputs (x, 1) / ‖(x, 1)‖, from which x is recovered
 * exactly up to float32 rounding as y[0..H) / y[H]. (A public "unnormalised"
 * encode would make this unnecessary.)
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobBERT, convertModelDir, fileDigest } from '../jobbert.js';
import { readTransformerConfig } from '../model/convert.js';
import type { ModelLayout } from '../model/modules.js';
import { writeSafeTensors } from '../model/safetensors.js';


/**
 * A fingerprint of what the pooled vectors depend on: transformer config,
 * weights (model.safetensors, else onnx/model.onnx), tokenizer, max_seq_length,
 * lower-casing and pooling mode, and not the heads. Async.
 */
export async function baseFingerprint(layout: ModelLayout): Promise<string> {
  const t = layout.transformerDir;
  const h = createHash('sha256').update('jobbert-base:1\n');
  h.update(`max_seq_length=${layout.maxSeqLength ?? ''}\nlower=${layout.doLowerCase}\npooling=${layout.pooling}\n`);
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
 * Loads the transformer and pooling of the model described by `layout`. Async.
 * Rejects like JobBERT.load.
 */
export async function openBaseEncoder(layout: ModelLayout, opts: { batchSize?: number; threads?: number } = {}): Promise<BaseEncoder> {
  const t = layout.transformerDir;
  if (!existsSync(join(t, 'onnx', 'model.onnx'))) {
    // convert once into the model's own folder (as JobBERT.load caches it), so later runs skip it
    await convertModelDir(t).catch(() => undefined);
  }
  const scratch = await mkdtemp(join(tmpdir(), 'jobbert-base-'));
  try {
    const skip = new Set(['modules.json', 'sentence_bert_config.json']);
    for (const name of await readdir(t)) {
      if (!skip.has(name) && !name.startsWith('.')) await symlink(join(t, name), join(scratch, name));
    }
    const hidden = (await readTransformerConfig(t)).hiddenSize;
    await writeFile(join(scratch, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: layout.maxSeqLength ?? null, do_lower_case: layout.doLowerCase }));
    await mkdir(join(scratch, 'jobbert_pooling'));
    await writeFile(join(scratch, 'jobbert_pooling', 'config.json'), JSON.stringify({
      word_embedding_dimension: hidden,
      pooling_mode_cls_token: layout.pooling === 'cls',
      pooling_mode_mean_tokens: layout.pooling === 'mean',
      pooling_mode_max_tokens: layout.pooling === 'max',
      pooling_mode_mean_sqrt_len_tokens: layout.pooling === 'mean_sqrt_len',
    }));
    await mkdir(join(scratch, 'jobbert_unnormalise'));
    await writeFile(join(scratch, 'jobbert_unnormalise', 'config.json'), JSON.stringify({
      in_features: hidden, out_features: hidden + 1, bias: true, activation_function: 'torch.nn.modules.linear.Identity',
    }));
    const weight = new Float32Array((hidden + 1) * hidden);
    for (let i = 0; i < hidden; i++) weight[i * hidden + i] = 1;
    const bias = new Float32Array(hidden + 1);
    bias[hidden] = 1;
    await writeSafeTensors(join(scratch, 'jobbert_unnormalise', 'model.safetensors'), new Map([
      ['linear.weight', { shape: [hidden + 1, hidden], data: weight }],
      ['linear.bias', { shape: [hidden + 1], data: bias }],
    ]));
    await writeFile(join(scratch, 'modules.json'), JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: 'jobbert_pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: 'jobbert_unnormalise', type: 'sentence_transformers.models.Dense' },
    ]));
    const model = await JobBERT.load(scratch, { batchSize: opts.batchSize ?? 64, threads: opts.threads ?? 0, cache: false });
    return {
      dim: hidden,
      async pooled(texts: string[]): Promise<Float32Array> {
        const y = await model.encode(texts);
        const out = new Float32Array(texts.length * hidden);
        for (let r = 0; r < texts.length; r++) {
          const row = y.data.subarray(r * (hidden + 1), (r + 1) * (hidden + 1));
          const inv = 1 / row[hidden];
          for (let i = 0; i < hidden; i++) out[r * hidden + i] = row[i] * inv;
        }
        return out;
      },
      async dispose(): Promise<void> {
        await model.dispose();
        await rm(scratch, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(scratch, { recursive: true, force: true });
    throw e;
  }
}
