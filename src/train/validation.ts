/**
 * Validation during training: TalentCLEF Task A MAP of the model as it is at
 * this step. Titles go through the anchor head on both sides (as JobBERT-V3
 * matches titles), from base vectors computed once with the embedding cache.
 */
import type { Encoder } from '../encoders/encoder.js';
import { pythonStrip } from '../encoders/preprocess.js';
import { JobBERTError } from '../errors.js';
import type { EvaluateResult } from '../eval/evaluate.js';
import * as kernels from '../kernels/index.js';
import type { Device } from '../kernels/index.js';
import type { Matrix } from '../kernels/matrix.js';
import { evaluateTaskA } from '../eval/talentclef.js';
import type { TalentCLEFTaskA } from '../eval/trec.js';
import type { Head } from './step.js';

/** An Encoder over fixed texts: their base vectors through a head, L2-normalised. */
export class HeadEncoder implements Encoder {
  readonly dim: number;
  readonly fingerprint: string;
  readonly #head: Head;
  readonly #rows: Map<string, number>;
  readonly #base: Float32Array;
  readonly #baseDim: number;
  readonly #device: Device;

  constructor(head: Head, rows: Map<string, number>, base: Float32Array, baseDim: number, fingerprint: string, device: Device) {
    this.#head = head;
    this.#rows = rows;
    this.#base = base;
    this.#baseDim = baseDim;
    this.#device = device;
    this.dim = head.out;
    this.fingerprint = fingerprint;
  }

  /** Encodes texts whose base vectors were computed beforehand. Async; rejects with ERR_INTERNAL for any other text. */
  async encode(texts: string[]): Promise<Matrix> {
    const H = this.#baseDim;
    const x = new Float32Array(texts.length * H);
    texts.forEach((t, i) => {
      const r = this.#rows.get(t);
      if (r === undefined) throw new JobBERTError('ERR_INTERNAL', `HeadEncoder: no base vector for ${JSON.stringify(t)}`);
      x.set(this.#base.subarray(r * H, (r + 1) * H), i * H);
    });
    if (texts.length === 0) return { data: new Float32Array(0), rows: 0, cols: this.dim };
    const h = this.#head;
    const y = await kernels.dense({ data: x, rows: texts.length, cols: H }, { data: h.weight, rows: h.out, cols: h.in }, h.bias, {
      activation: h.activation,
      device: this.#device,
    });
    for (let r = 0; r < y.rows; r++) {
      const row = y.data.subarray(r * y.cols, (r + 1) * y.cols);
      let s = 0;
      for (const v of row) s += v * v;
      if (s > 0) {
        const inv = 1 / Math.sqrt(s);
        for (let i = 0; i < row.length; i++) row[i] *= inv;
      }
    }
    return y;
  }

  async dispose(): Promise<void> {}
}

/** All titles of a Task A folder (queries, then corpus), unique. */
export function validationTexts(data: TalentCLEFTaskA): string[] {
  return [...new Set([...data.queries.map((q) => pythonStrip(q.text)), ...data.corpus.map((c) => pythonStrip(c.text))])];
}

/** MAP and the other Task A metrics of `anchorHead` on `data`. Async. */
export async function validate(
  data: TalentCLEFTaskA,
  anchorHead: Head,
  rows: Map<string, number>,
  base: Float32Array,
  baseDim: number,
  step: number,
  device: Device,
): Promise<EvaluateResult> {
  const trimmed: TalentCLEFTaskA = {
    queries: data.queries.map((q) => ({ id: q.id, text: pythonStrip(q.text) })),
    corpus: data.corpus.map((c) => ({ id: c.id, text: pythonStrip(c.text) })),
    qrels: data.qrels,
  };
  const encoder = new HeadEncoder(anchorHead, rows, base, baseDim, `train-step:${step}`, device);
  return (await evaluateTaskA(encoder, trimmed)).metrics;
}
