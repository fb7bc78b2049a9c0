/**
 * Calibrated confidence: a logistic model of "the first alternative is right"
 * on two features of a result, the top occupation's score s1 and its margin
 * over the second, s1 − s2:
 *
 *   confidence = σ(b0 + b1·s1 + b2·(s1 − s2))
 *
 * fitted on held-out labelled titles by scripts/calibrate.ts (which writes
 * models/esco/calibration.json). Scores depend on the encoder, so a
 * calibration holds for one encoder fingerprint; with another encoder the
 * Normalizer falls back to the uncalibrated mapping confidence = clamp(s1, 0, 1)
 * (and says so: `calibrated: false`, one process warning) rather than refusing,
 * so the real JobBERT-V3 or a retrained model still normalises.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { builtinTaxonomyDir } from './taxonomy.js';

/** One fitted mapping: logistic coefficients [b0, b1, b2] and the default threshold chosen on held-out data. */
export interface CalibrationModel {
  coef: [number, number, number];
  threshold: number;
}

/** The calibration file (models/esco/calibration.json). */
export interface Calibration {
  format: 'jobbert-calibration';
  version: 1;
  /** The encoder fingerprint the scores came from. */
  encoder: string;
  /** Used with the built-in taxonomy and no examples. */
  zeroShot: CalibrationModel;
  /** Used when examples extend the index (their scores run higher). */
  examples: CalibrationModel;
  /** How it was fitted (data, sizes, held-out ECE, precision and coverage at the threshold). */
  fit?: Record<string, unknown>;
}

/** The default threshold when no calibration applies (a raw cosine). */
export const UNCALIBRATED_THRESHOLD = 0.5;

/** The calibration shipped in the package, or null when missing. Sync; JobBERTError ERR_BAD_DATA if malformed. */
export function builtinCalibration(path = join(builtinTaxonomyDir(), 'calibration.json')): Calibration | null {
  if (!existsSync(path)) return null;
  let c: Calibration;
  try {
    c = JSON.parse(readFileSync(path, 'utf8')) as Calibration;
  } catch (e) {
    throw new JobBERTError('ERR_BAD_DATA', `Normalizer: cannot read the calibration ${path} (${(e as Error).message})`);
  }
  const ok = (m: CalibrationModel | undefined) =>
    m && Array.isArray(m.coef) && m.coef.length === 3 && m.coef.every(Number.isFinite) && Number.isFinite(m.threshold);
  if (c.format !== 'jobbert-calibration' || c.version !== 1 || typeof c.encoder !== 'string' || !ok(c.zeroShot) || !ok(c.examples))
    throw new JobBERTError('ERR_BAD_DATA', `Normalizer: ${path} is not a jobbert calibration (format ${String(c.format)})`);
  return c;
}

/** σ(b0 + b1·s1 + b2·margin), in [0, 1]. */
export function calibrate(model: CalibrationModel, s1: number, margin: number): number {
  const z = model.coef[0] + model.coef[1] * s1 + model.coef[2] * margin;
  return 1 / (1 + Math.exp(-z));
}

/** The mapping without a calibration: the top score clamped to [0, 1]. */
export function uncalibrated(s1: number): number {
  return Math.min(1, Math.max(0, s1));
}

/**
 * Fits the logistic model by Newton's method (IRLS) with a small ridge
 * penalty; `x` rows are [s1, margin], `y` 1 when the top occupation was right.
 */
export function fitLogistic(x: [number, number][], y: number[], ridge = 1e-4): [number, number, number] {
  const b = [0, 0, 0];
  for (let iter = 0; iter < 50; iter++) {
    const g = [0, 0, 0];
    const h = [
      [ridge, 0, 0],
      [0, ridge, 0],
      [0, 0, ridge],
    ];
    for (let i = 0; i < x.length; i++) {
      const f = [1, x[i][0], x[i][1]];
      const p = 1 / (1 + Math.exp(-(b[0] + b[1] * f[1] + b[2] * f[2])));
      const w = Math.max(p * (1 - p), 1e-9);
      for (let a = 0; a < 3; a++) {
        g[a] += (p - y[i]) * f[a];
        for (let c = 0; c < 3; c++) h[a][c] += w * f[a] * f[c];
      }
    }
    for (let a = 0; a < 3; a++) g[a] += ridge * b[a];
    const step = solve3(h, g);
    for (let a = 0; a < 3; a++) b[a] -= step[a];
    if (Math.max(...step.map(Math.abs)) < 1e-10) break;
  }
  return b as [number, number, number];
}

function solve3(a: number[][], v: number[]): number[] {
  const m = a.map((r, i) => [...r, v[i]]);
  for (let c = 0; c < 3; c++) {
    let p = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k < 4; k++) m[r][k] -= f * m[c][k];
    }
  }
  return [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]];
}

/** Expected calibration error over `bins` equal-width confidence bins, and the bins (for a reliability diagram). */
export function expectedCalibrationError(
  conf: number[],
  correct: number[],
  bins = 10,
): { ece: number; bins: { lo: number; hi: number; n: number; confidence: number; accuracy: number }[] } {
  const out = Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins, n: 0, confidence: 0, accuracy: 0 }));
  for (let i = 0; i < conf.length; i++) {
    const b = out[Math.min(bins - 1, Math.floor(conf[i] * bins))];
    b.n++;
    b.confidence += conf[i];
    b.accuracy += correct[i];
  }
  let ece = 0;
  for (const b of out) {
    if (b.n === 0) continue;
    b.confidence /= b.n;
    b.accuracy /= b.n;
    ece += (b.n / conf.length) * Math.abs(b.accuracy - b.confidence);
  }
  return { ece, bins: out };
}
