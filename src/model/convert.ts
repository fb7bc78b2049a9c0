/**
 * safetensors + config.json → ONNX, without Python, for BERT-family encoders
 * (XLM-RoBERTa, RoBERTa, CamemBERT, BERT). The graph has the interface that
 * optimum exports (inputs input_ids and attention_mask as int64 [batch,
 * sequence], output last_hidden_state as float32 [batch, sequence, hidden]),
 * ai.onnx ops (opset 17) plus the com.microsoft ops of onnxruntime that
 * measured faster on CPU (see convertToOnnx).
 *
 * Semantics kept exactly (transformers' modeling_roberta / modeling_bert):
 * RoBERTa position ids are cumsum(input_ids != pad) · (input_ids != pad) + pad,
 * so they start at pad + 1 and skip padding; BERT's are 0..S-1; token type 0;
 * LayerNorm epsilon from the config; GELU with erf; attention masked by adding
 * a large negative number to the scores of padding keys.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { DataType, encodeModel, floatTensor, int64Tensor, type NodeSpec, type TensorValue } from './onnx-proto.js';
import { withSafeTensors, type SafeTensors } from './safetensors.js';

/** The encoder hyper-parameters the converter reads from config.json. */
export interface TransformerConfig {
  modelType: 'xlm-roberta' | 'roberta' | 'camembert' | 'bert';
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
}

const ROBERTA_LIKE = new Set(['xlm-roberta', 'roberta', 'camembert']);
const SUPPORTED = ['xlm-roberta', 'roberta', 'camembert', 'bert'];

/** Longest input (tokens, specials included) the position table allows. */
export function maxTokens(c: TransformerConfig): number {
  return ROBERTA_LIKE.has(c.modelType) ? c.maxPositions - c.padTokenId - 1 : c.maxPositions;
}

/** Reads and checks `dir/config.json`. Async. Rejects with ERR_BAD_MODEL naming the file and field. */
export async function readTransformerConfig(dir: string): Promise<TransformerConfig> {
  const path = join(dir, 'config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new JobBERTError('ERR_BAD_MODEL', `${path} ${missing ? 'is missing' : `is not valid JSON: ${(e as Error).message}`}`, {
      cause: e,
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new JobBERTError('ERR_BAD_MODEL', `${path} must hold a JSON object; found ${raw === null ? 'null' : typeof raw}`);
  const modelType = raw.model_type;
  if (typeof modelType !== 'string' || !SUPPORTED.includes(modelType)) {
    throw new JobBERTError(
      'ERR_BAD_MODEL',
      `${path}: model_type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED.join(', ')})`,
    );
  }
  const int = (key: string, fallback?: number, min = 1): number => {
    const v = raw[key] ?? fallback;
    if (!Number.isSafeInteger(v) || (v as number) < min)
      throw new JobBERTError('ERR_BAD_MODEL', `${path}: ${key} must be an integer ≥ ${min}; found ${JSON.stringify(v)}`);
    return v as number;
  };
  const act = raw.hidden_act ?? 'gelu';
  if (act !== 'gelu')
    throw new JobBERTError('ERR_BAD_MODEL', `${path}: hidden_act ${JSON.stringify(act)} is not supported (only 'gelu', the erf form)`);
  const posType = raw.position_embedding_type ?? 'absolute';
  if (posType !== 'absolute')
    throw new JobBERTError('ERR_BAD_MODEL', `${path}: position_embedding_type ${JSON.stringify(posType)} is not supported`);
  const eps = raw.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0)) throw new JobBERTError('ERR_BAD_MODEL', `${path}: layer_norm_eps must be a positive number`);
  const c: TransformerConfig = {
    modelType: modelType as TransformerConfig['modelType'],
    hiddenSize: int('hidden_size'),
    layers: int('num_hidden_layers'),
    heads: int('num_attention_heads'),
    intermediateSize: int('intermediate_size'),
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings'),
    typeVocabSize: int('type_vocab_size', 2),
    layerNormEps: eps,
    padTokenId: int('pad_token_id', ROBERTA_LIKE.has(modelType) ? 1 : 0, 0),
  };
  if (c.hiddenSize % c.heads !== 0)
    throw new JobBERTError('ERR_BAD_MODEL', `${path}: hidden_size ${c.hiddenSize} is not a multiple of num_attention_heads ${c.heads}`);
  if (c.padTokenId >= c.vocabSize)
    throw new JobBERTError('ERR_BAD_MODEL', `${path}: pad_token_id ${c.padTokenId} is outside the vocabulary`);
  if (maxTokens(c) < 2)
    throw new JobBERTError('ERR_BAD_MODEL', `${path}: max_position_embeddings ${c.maxPositions} leaves no room for tokens`);
  return c;
}

/** The prefix ('', 'roberta.', 'bert.', ...) under which the checkpoint stores the encoder. */
function weightPrefix(st: SafeTensors): string {
  for (const name of st.tensors.keys()) {
    const at = name.indexOf('embeddings.word_embeddings.weight');
    if (at >= 0 && name.length === at + 'embeddings.word_embeddings.weight'.length) return name.slice(0, at);
  }
  throw new JobBERTError('ERR_BAD_MODEL', `${st.path}: no embeddings.word_embeddings.weight tensor; not a BERT-family checkpoint`);
}

/** Weight precision of a converted graph. */
export type ModelPrecision = 'fp32' | 'int8';

/** Symmetric int8 quantisation of a [rows × cols] matrix with one scale per column. */
function quantizeColumns(t: Float32Array, rows: number, cols: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) scale[c] = Math.max(scale[c], Math.abs(t[r * cols + c]));
  for (let c = 0; c < cols; c++) scale[c] = scale[c] > 0 ? scale[c] / 127 : 1;
  const q = new Int8Array(t.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) q[r * cols + c] = Math.round(t[r * cols + c] / scale[c]);
  return { q, scale };
}

function transpose(t: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t[r * cols + c];
  return out;
}

/**
 * Builds the ONNX model for the encoder in `dir` (config.json +
 * model.safetensors). Async. Rejects with ERR_BAD_MODEL for an unsupported
 * config, a missing tensor or a tensor of the wrong shape.
 *
 * `fused` (default true) gives the graph that measured fastest with
 * onnxruntime 1.20 on CPU (bench/encode.ts; XLM-R base shape, job titles):
 * - hidden states are kept as [batch·sequence, hidden] from the embeddings to
 *   the output, so every fp32 projection is one Gemm with its bias inside
 *   (3-D MatMul + Add leaves a separate Add per projection);
 * - GELU is com.microsoft Gelu (erf, exact) on the projection's output;
 * - each residual is Sum + LayerNormalization. onnxruntime fuses Add +
 *   LayerNormalization on 3-D inputs into SkipLayerNormalization, whose CPU
 *   kernel took ~9× the time of LayerNormalization per element (24 % of the
 *   int8 graph's time); Sum (and 2-D states) keep the optimiser from doing so.
 * Measured with onnxruntime's profiler and not used, all slower on CPU for
 * ~10-token titles: com.microsoft Attention (Q|K|V weights inside; ×0.8–0.9)
 * and MultiHeadAttention, QAttention and a single Q|K|V DynamicQuantizeMatMul
 * (each slower than three projections + the ai.onnx attention), BiasGelu
 * (about twice the time of Gelu after a Gemm with bias), SkipLayerNormalization
 * (above). Not used either: FastGelu (a tanh approximation, 2.5e-4 off the
 * erf reference) and EmbedLayerNormalization (it cannot express RoBERTa's
 * padding-aware position ids; the embeddings are 0.1 % of the time).
 * `fused: false` gives the plain ai.onnx spelling (3-D states, MatMul + Add,
 * Erf GELU, Add + LayerNormalization) that onnxruntime optimises by itself.
 *
 * With precision 'int8' every layer's projection is onnxruntime's
 * DynamicQuantizeMatMul (com.microsoft): weights int8, symmetric, one scale per
 * output column; activations quantised per call; embeddings, LayerNorm,
 * attention scores and softmax stay float32.
 *
 * The result also lists the com.microsoft ops the graph uses.
 */
export async function convertToOnnx(
  dir: string,
  opts: { precision?: ModelPrecision; fused?: boolean } = {},
): Promise<{ onnx: Uint8Array; config: TransformerConfig; fusedOps: string[] }> {
  const int8 = (opts.precision ?? 'fp32') === 'int8';
  const fused = opts.fused ?? true;
  const config = await readTransformerConfig(dir);
  const { hiddenSize: H, heads, intermediateSize: I, vocabSize: V, maxPositions: P, typeVocabSize: T, layerNormEps: eps } = config;
  const headDim = H / heads;
  const inits: TensorValue[] = [];
  const nodes: NodeSpec[] = [];
  const node = (op: string, inputs: string[], output: string, attributes?: NodeSpec['attributes']): string => {
    nodes.push({ op, inputs, outputs: [output], attributes });
    return output;
  };

  await withSafeTensors(join(dir, 'model.safetensors'), async (st) => {
    const prefix = weightPrefix(st);
    const w = async (name: string, shape: number[]) => (await st.read(prefix + name, shape)).data;
    const addInit = (name: string, dims: number[], data: Float32Array) => {
      inits.push(floatTensor(name, dims, data));
      return name;
    };
    /** x · Wᵀ + b for the Linear `base` (weight [out, inn], bias [out]). */
    const linear = async (x: string, base: string, out: number, inn: number, y: string) => {
      const t = transpose(await w(`${base}.weight`, [out, inn]), out, inn);
      const b = addInit(`${base}.bias`, [out], await w(`${base}.bias`, [out]));
      if (int8) {
        const { q, scale } = quantizeColumns(t, inn, out);
        inits.push({ name: `${base}.weight_q`, dims: [inn, out], dataType: DataType.INT8, raw: new Uint8Array(q.buffer) });
        addInit(`${base}.weight_scale`, [out], scale);
        nodes.push({
          op: 'DynamicQuantizeMatMul',
          domain: 'com.microsoft',
          inputs: [x, `${base}.weight_q`, `${base}.weight_scale`, '', b],
          outputs: [y],
        });
        return y;
      }
      const wt = addInit(`${base}.weight_t`, [inn, out], t);
      if (fused) return node('Gemm', [x, wt, b], y);
      return node('Add', [node('MatMul', [x, wt], `${y}_mm`), b], y);
    };
    const layerNorm = async (x: string, base: string, y: string) => {
      const g = addInit(`${base}.weight`, [H], await w(`${base}.weight`, [H]));
      const b = addInit(`${base}.bias`, [H], await w(`${base}.bias`, [H]));
      return node('LayerNormalization', [x, g, b], y, { axis: -1, epsilon: { float: eps } });
    };

    inits.push(int64Tensor('const_pad', [], [config.padTokenId]));
    inits.push(int64Tensor('const_axis1', [], [1]));
    inits.push(int64Tensor('const_axes12', [2], [1, 2]));
    inits.push(floatTensor('const_one', [], Float32Array.of(1)));
    inits.push(floatTensor('const_mask_min', [], Float32Array.of(-3.4028234663852886e38)));
    inits.push(floatTensor('const_attn_scale', [], Float32Array.of(1 / Math.sqrt(headDim))));

    // position ids
    let positions: string;
    if (ROBERTA_LIKE.has(config.modelType)) {
      const notPad = node(
        'Cast',
        [node('Not', [node('Equal', ['input_ids', 'const_pad'], 'pos_is_pad')], 'pos_not_pad_b')],
        'pos_not_pad',
        { to: DataType.INT64 },
      );
      const cum = node('CumSum', [notPad, 'const_axis1'], 'pos_cumsum');
      positions = node('Add', [node('Mul', [cum, notPad], 'pos_masked'), 'const_pad'], 'position_ids');
    } else {
      const ones = node('Add', [node('Mul', ['input_ids', 'const_zero_i64'], 'pos_zero'), 'const_one_i64'], 'pos_ones');
      inits.push(int64Tensor('const_zero_i64', [], [0]), int64Tensor('const_one_i64', [], [1]));
      positions = node('Sub', [node('CumSum', [ones, 'const_axis1'], 'pos_cumsum'), 'const_one_i64'], 'position_ids');
    }

    // embeddings
    addInit('embeddings.word_embeddings.weight', [V, H], await w('embeddings.word_embeddings.weight', [V, H]));
    addInit('embeddings.position_embeddings.weight', [P, H], await w('embeddings.position_embeddings.weight', [P, H]));
    const typeRow = (await w('embeddings.token_type_embeddings.weight', [T, H])).slice(0, H);
    addInit('embeddings.token_type_0', [H], typeRow);
    const words = node('Gather', ['embeddings.word_embeddings.weight', 'input_ids'], 'emb_words', { axis: 0 });
    const pos = node('Gather', ['embeddings.position_embeddings.weight', positions], 'emb_positions', { axis: 0 });
    const sum = node('Add', [node('Add', [words, pos], 'emb_wp'), 'embeddings.token_type_0'], 'emb_sum');
    let x = await layerNorm(sum, 'embeddings.LayerNorm', 'emb_out');

    // shapes: per-head [B, S, heads, d] and the hidden states' own ([B, S, H], or [B·S, H] when fused)
    let headsShape: string;
    let hiddenShape: string;
    if (fused) {
      inits.push(
        int64Tensor('const_shape_flat', [2], [-1, H]),
        int64Tensor('const_heads_dims', [2], [heads, headDim]),
        int64Tensor('const_hidden_dim', [1], [H]),
      );
      const bs = node('Shape', ['input_ids'], 'batch_seq');
      headsShape = node('Concat', [bs, 'const_heads_dims'], 'shape_heads', { axis: 0 });
      hiddenShape = 'const_shape_flat';
      x = node('Reshape', [x, hiddenShape], 'emb_flat');
    } else {
      inits.push(int64Tensor('const_shape_heads', [4], [0, 0, heads, headDim]), int64Tensor('const_shape_hidden', [3], [0, 0, H]));
      headsShape = 'const_shape_heads';
      hiddenShape = 'const_shape_hidden';
    }

    // additive attention mask [B, 1, 1, S]: 0 for tokens, float min for padding
    const maskF = node('Cast', ['attention_mask'], 'mask_f', { to: DataType.FLOAT });
    const inv = node('Sub', ['const_one', maskF], 'mask_inv');
    const maskBias = node('Unsqueeze', [node('Mul', [inv, 'const_mask_min'], 'mask_bias2d'), 'const_axes12'], 'mask_bias');

    /** LayerNorm(a + b); Sum rather than Add when fused, so that onnxruntime keeps it out of SkipLayerNormalization. */
    const residualNorm = (a: string, b: string, base: string, y: string) =>
      layerNorm(node(fused ? 'Sum' : 'Add', [a, b], `${y}_res`), base, y);
    for (let l = 0; l < config.layers; l++) {
      const p = `encoder.layer.${l}`;
      const heads4 = (t: string, perm: number[], y: string) =>
        node('Transpose', [node('Reshape', [t, headsShape], `${y}_4d`)], y, { perm });
      const q = heads4(await linear(x, `${p}.attention.self.query`, H, H, `l${l}_q`), [0, 2, 1, 3], `l${l}_qh`);
      const k = heads4(await linear(x, `${p}.attention.self.key`, H, H, `l${l}_k`), [0, 2, 3, 1], `l${l}_kh`);
      const v = heads4(await linear(x, `${p}.attention.self.value`, H, H, `l${l}_v`), [0, 2, 1, 3], `l${l}_vh`);
      const scores = node('Mul', [node('MatMul', [q, k], `l${l}_qk`), 'const_attn_scale'], `l${l}_scores`);
      const probs = node('Softmax', [node('Add', [scores, maskBias], `l${l}_masked`)], `l${l}_probs`, { axis: -1 });
      const ctx = node(
        'Reshape',
        [node('Transpose', [node('MatMul', [probs, v], `l${l}_ctx4`)], `l${l}_ctxt`, { perm: [0, 2, 1, 3] }), hiddenShape],
        `l${l}_ctx`,
      );
      const attnOut = await linear(ctx, `${p}.attention.output.dense`, H, H, `l${l}_attn_dense`);
      const x1 = await residualNorm(attnOut, x, `${p}.attention.output.LayerNorm`, `l${l}_attn_out`);
      const h = await linear(x1, `${p}.intermediate.dense`, I, H, `l${l}_inter`);
      let gelu: string;
      if (fused) {
        nodes.push({ op: 'Gelu', domain: 'com.microsoft', inputs: [h], outputs: [`l${l}_gelu`] });
        gelu = `l${l}_gelu`;
      } else {
        if (l === 0)
          inits.push(
            floatTensor('const_half', [], Float32Array.of(0.5)),
            floatTensor('const_inv_sqrt2', [], Float32Array.of(Math.SQRT1_2)),
          );
        const erf = node('Erf', [node('Mul', [h, 'const_inv_sqrt2'], `l${l}_gelu_scaled`)], `l${l}_gelu_erf`);
        gelu = node(
          'Mul',
          [node('Mul', [h, node('Add', [erf, 'const_one'], `l${l}_gelu_1p`)], `l${l}_gelu_x`), 'const_half'],
          `l${l}_gelu`,
        );
      }
      const out = await linear(gelu, `${p}.output.dense`, H, I, `l${l}_out_dense`);
      x = await residualNorm(out, x1, `${p}.output.LayerNorm`, l === config.layers - 1 && !fused ? 'last_hidden_state' : `l${l}_out`);
    }
    if (fused) node('Reshape', [x, node('Concat', ['batch_seq', 'const_hidden_dim'], 'shape_out', { axis: 0 })], 'last_hidden_state');
  });

  const fusedOps = [...new Set(nodes.filter((n) => n.domain === 'com.microsoft').map((n) => n.op))].sort();
  const onnx = encodeModel({
    graphName: `${config.modelType}-encoder`,
    nodes,
    initializers: inits,
    inputs: [
      { name: 'input_ids', dataType: DataType.INT64, shape: ['batch_size', 'sequence_length'] },
      { name: 'attention_mask', dataType: DataType.INT64, shape: ['batch_size', 'sequence_length'] },
    ],
    outputs: [{ name: 'last_hidden_state', dataType: DataType.FLOAT, shape: ['batch_size', 'sequence_length', H] }],
    opsets: fusedOps.length > 0 ? { '': 17, 'com.microsoft': 1 } : { '': 17 },
    producer: 'jobbert-convert',
    metadata: {
      model_type: config.modelType,
      precision: int8 ? 'int8' : 'fp32',
      graph: fused ? 'fused' : 'plain',
      fused_ops: fusedOps.join(','),
    },
  });
  return { onnx, config, fusedOps };
}
