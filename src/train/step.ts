/**
 * One training step of the Asym heads: anchor head on the anchors, positive
 * head on the positives and hard negatives (one call: they share weights),
 * InfoNCE over the head outputs, back through both heads, then AdamW.
 * Cost per step (B pairs, N negatives, heads in → out): forward and backward
 * of the heads are 3 GEMMs of 2·rows·in·out flops each (rows = B for the
 * anchor head, B + N for the positive head); InfoNCE is 6·B·(B + N)·out.
 * Every GEMM runs in the native kernels; the optimizer is an O(parameters)
 * pass in TypeScript.
 */
import { JobBERTError } from '../errors.js';
import * as kernels from '../kernels/index.js';
import type { Activation, Device } from '../kernels/index.js';
import type { Matrix } from '../kernels/matrix.js';

/** A Dense head: y = act(x · weightᵀ + bias), weight [out × in]. */
export interface Head {
  weight: Float32Array;
  bias: Float32Array;
  readonly out: number;
  readonly in: number;
  readonly activation: Activation;
}

export interface Heads {
  anchor: Head;
  positive: Head;
}

/** A batch of base vectors: `candidates` holds the B positives, then the N hard negatives. */
export interface Batch {
  anchors: Matrix;
  candidates: Matrix;
  negatives: number;
}

export interface HeadGradients {
  weight: Float32Array;
  bias: Float32Array;
}

export interface LossOptions {
  scale: number;
  symmetric: boolean;
  device: Device;
}

const asMatrix = (h: Head): Matrix => ({ data: h.weight, rows: h.out, cols: h.in });

/**
 * The InfoNCE loss of `batch` under `heads` and its gradients with respect to
 * both heads' weights and biases. Async.
 */
export async function lossAndGradients(
  heads: Heads,
  batch: Batch,
  opts: LossOptions,
): Promise<{ loss: number; anchor: HeadGradients; positive: HeadGradients }> {
  const { anchor, positive } = heads;
  const device = opts.device;
  const B = batch.anchors.rows;
  const N = batch.negatives;
  const a = await kernels.dense(batch.anchors, asMatrix(anchor), anchor.bias, { activation: anchor.activation, device });
  const c = await kernels.dense(batch.candidates, asMatrix(positive), positive.bias, { activation: positive.activation, device });
  const out = positive.out;
  const p: Matrix = { data: c.data.subarray(0, B * out), rows: B, cols: out };
  const nce = await kernels.infoNCE(a, p, {
    scale: opts.scale,
    symmetric: opts.symmetric,
    device,
    ...(N > 0 ? { negatives: { data: c.data.subarray(B * out), rows: N, cols: out } } : {}),
  });
  let gradC = nce.gradPositives;
  if (N > 0) {
    const g = new Float32Array((B + N) * out);
    g.set(nce.gradPositives.data);
    g.set(nce.gradNegatives!.data, B * out);
    gradC = { data: g, rows: B + N, cols: out };
  }
  const ga = await kernels.denseBackward(batch.anchors, asMatrix(anchor), a, nce.gradAnchors, { activation: anchor.activation, device });
  const gp = await kernels.denseBackward(batch.candidates, asMatrix(positive), c, gradC, { activation: positive.activation, device });
  return {
    loss: nce.loss,
    anchor: { weight: ga.gradWeight.data, bias: ga.gradBias },
    positive: { weight: gp.gradWeight.data, bias: gp.gradBias },
  };
}

/** AdamW hyper-parameters (PyTorch's defaults for betas and eps). */
export interface AdamWOptions {
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Global gradient-norm limit; 0 turns clipping off. */
  maxGradNorm: number;
}

/** First and second moments of one parameter tensor. */
export interface Moments {
  m: Float32Array;
  v: Float32Array;
}

/** Optimizer state of both heads: moments per tensor, and the number of updates taken. */
export interface OptimizerState {
  step: number;
  moments: Record<'anchor.weight' | 'anchor.bias' | 'positive.weight' | 'positive.bias', Moments>;
}

export function newOptimizerState(heads: Heads): OptimizerState {
  const z = (n: number): Moments => ({ m: new Float32Array(n), v: new Float32Array(n) });
  return {
    step: 0,
    moments: {
      'anchor.weight': z(heads.anchor.weight.length),
      'anchor.bias': z(heads.anchor.bias.length),
      'positive.weight': z(heads.positive.weight.length),
      'positive.bias': z(heads.positive.bias.length),
    },
  };
}

/** Euclidean norm of all gradients together, accumulated in float64 in a fixed order. */
export function globalNorm(grads: Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/**
 * One AdamW update in place (decoupled weight decay as torch.optim.AdamW, on
 * weights only, as sentence-transformers exempts biases; bias-corrected
 * moments). Gradients are scaled first so that their global norm is at most
 * maxGradNorm (torch.nn.utils.clip_grad_norm_). Sync; resolves to the norm
 * before clipping.
 */
export function adamwUpdate(
  heads: Heads,
  grads: { anchor: HeadGradients; positive: HeadGradients },
  state: OptimizerState,
  lr: number,
  opts: AdamWOptions,
): number {
  const b1 = opts.beta1 ?? 0.9;
  const b2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const list = [grads.anchor.weight, grads.anchor.bias, grads.positive.weight, grads.positive.bias];
  const norm = globalNorm(list);
  if (!Number.isFinite(norm))
    throw new JobBERTError(
      'ERR_DIVERGED',
      `training diverged at step ${state.step + 1}: the gradient norm is ${norm}; lower the learning rate`,
    );
  const clip = opts.maxGradNorm > 0 && norm > opts.maxGradNorm ? opts.maxGradNorm / (norm + 1e-6) : 1;
  state.step++;
  const t = state.step;
  const bc1 = 1 - b1 ** t;
  const bc2Sqrt = Math.sqrt(1 - b2 ** t);
  const stepSize = lr / bc1;
  let finite = true;
  const update = (param: Float32Array, grad: Float32Array, mo: Moments, decay: number) => {
    const { m, v } = mo;
    const shrink = 1 - lr * decay;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i] * clip;
      const mi = b1 * m[i] + (1 - b1) * g;
      const vi = b2 * v[i] + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = param[i] * shrink - (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
      if (!Number.isFinite(param[i])) finite = false;
    }
  };
  update(heads.anchor.weight, grads.anchor.weight, state.moments['anchor.weight'], opts.weightDecay);
  update(heads.anchor.bias, grads.anchor.bias, state.moments['anchor.bias'], 0);
  update(heads.positive.weight, grads.positive.weight, state.moments['positive.weight'], opts.weightDecay);
  update(heads.positive.bias, grads.positive.bias, state.moments['positive.bias'], 0);
  // A finite gradient can still carry a weight past float32's range (a huge lr): said here, not as a
  // kernel's "bias must hold only finite numbers" (ERR_INTERNAL) at the next step.
  if (!finite)
    throw new JobBERTError('ERR_DIVERGED', `training diverged at step ${t}: a weight is no longer finite; lower the learning rate`);
  return norm;
}

/**
 * Learning rate for update `step` (0-based) of `total`: linear warm-up over
 * the first `warmup` updates (reaching `lr` at the last of them), then linear
 * decay towards 0 at `total` (transformers' linear schedule, shifted by one so
 * the first update is not wasted at lr 0).
 */
export function learningRate(lr: number, step: number, total: number, warmup: number): number {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  if (total <= warmup) return lr;
  return (lr * Math.max(0, total - step)) / (total - warmup);
}
