/**
 * Calibrated confidence: a logistic model of "the first alternative is right"
 * on what a result shows about its top occupation — its score s1, its margin
 * over the second occupation, and how it was reached:
 *
 *   confidence = σ(b0 + b1·s1 + b2·(s1 − s2) + b3·[preferred label] + b4·[example])
 *
 * The kind of match matters as much as the score: on titles.csv, a title that
 * meets an occupation's *preferred* label exactly is right 80% of the time,
 * one that meets an alternative label exactly 45% (ESCO's alternative labels
 * include bare generic words: "driver" of *hearse driver*). Fitted on
 * held-out labelled titles (fit-calibration.ts: `jobbert calibrate`, and
 * scripts/calibrate.ts, which writes the shipped models/esco/calibration.json).
 * Scores depend on the encoder, so a calibration holds for one encoder
 * fingerprint; with another encoder and none given for it, the Normalizer
 * falls back to the uncalibrated mapping confidence = clamp(s1, 0, 1) (and says
 * so: `calibrated: false`, one process warning) rather than refusing, so the
 * real JobBERT-V3 or a retrained model still normalises.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { describe } from '../util/validate.js';
import { builtinTaxonomyDir } from './taxonomy.js';

/**
 * How the top occupation was reached: `preferred`, one of its whole preferred
 * labels (in any language); `alternative`, any other label of it (an
 * alternative label, or one form of a gendered preferred label such as
 * "Elektriker" of "Elektriker/Elektrikerin"); `example`, one of the user's examples.
 */
export type MatchKind = 'preferred' | 'alternative' | 'example';

/** What a confidence is computed from. */
export interface ConfidenceFeatures {
  /** The top occupation's score. */
  s1: number;
  /** s1 minus the second occupation's score (s1 when there is none). */
  margin: number;
  /** How the top occupation was matched. */
  matched: MatchKind;
}

/** The logistic model's inputs for `f`: [1, s1, margin, preferred, example]. */
export function featureVector(f: ConfidenceFeatures): number[] {
  return [1, f.s1, f.margin, f.matched === 'preferred' ? 1 : 0, f.matched === 'example' ? 1 : 0];
}

/** Length of {@link featureVector}, and of a model's coefficients. */
export const FEATURES = 5;

/** One fitted mapping: logistic coefficients [b0 … b4] (see {@link featureVector}) and the default threshold. */
export interface CalibrationModel {
  coef: number[];
  threshold: number;
}

/** The calibration file (models/esco/calibration.json). */
export interface Calibration {
  format: 'jobbert-calibration';
  version: 2;
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

/**
 * The calibration shipped in the package, or null when it is missing or was
 * written for another version of the model (version 1 had no match-kind
 * features; the Normalizer then reports confidence uncalibrated, with a
 * JOBBERT_UNCALIBRATED warning, until scripts/calibrate.ts is rerun). Sync;
 * JobBERTError ERR_BAD_DATA if malformed.
 */
export function builtinCalibration(path = join(builtinTaxonomyDir(), 'calibration.json')): Calibration | null {
  if (!existsSync(path)) return null;
  const c = parseCalibration(path);
  if (c?.format === 'jobbert-calibration' && (c.version as number) === 1) {
    process.emitWarning(`Normalizer: ${path} is a version 1 calibration; confidence is the raw top score (rerun scripts/calibrate.ts)`, {
      code: 'JOBBERT_UNCALIBRATED',
    });
    return null;
  }
  return checkCalibration(c, path);
}

/**
 * A calibration file (as `jobbert calibrate` writes one). Sync; JobBERTError
 * ERR_NOT_FOUND when there is none, ERR_BAD_DATA when it is not a calibration
 * of this version.
 */
export function readCalibration(path: string): Calibration {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`readCalibration: path must be a non-empty file path; received ${describe(path)}`);
  const there = statSync(path, { throwIfNoEntry: false });
  if (!there) throw new JobBERTError('ERR_NOT_FOUND', `Normalizer: the calibration ${path} does not exist`);
  // A FIFO would block the whole process in the synchronous read (a calibration is a small JSON file).
  if (!there.isFile())
    throw new JobBERTError(
      'ERR_IO',
      `Normalizer: the calibration ${path} is ${there.isDirectory() ? 'a directory' : 'not a regular file'}`,
    );
  return checkCalibration(parseCalibration(path), path);
}

function parseCalibration(path: string): Calibration {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Calibration;
  } catch (e) {
    throw new JobBERTError('ERR_BAD_DATA', `Normalizer: cannot read the calibration ${path} (${(e as Error).message})`);
  }
}

/** `c` if it is a calibration of this version (named `where` in the error), else JobBERTError ERR_BAD_DATA. Sync. */
export function checkCalibration(c: Calibration, where: string): Calibration {
  // Indexed, not every(): every() skips an array's holes, and a hole made every confidence NaN.
  const finite = (coef: unknown[]) => Array.from({ length: FEATURES }, (_, i) => coef[i]).every((x) => Number.isFinite(x));
  const ok = (m: CalibrationModel | undefined) =>
    m &&
    Array.isArray(m.coef) &&
    m.coef.length === FEATURES &&
    finite(m.coef) &&
    typeof m.threshold === 'number' &&
    m.threshold >= 0 &&
    m.threshold <= 1;
  if (c?.format !== 'jobbert-calibration' || c.version !== 2 || typeof c.encoder !== 'string' || !ok(c.zeroShot) || !ok(c.examples)) {
    // fitCalibration() returns { calibration, zeroShot, … }: the whole result given where its `calibration` belongs.
    const inner = (c as unknown as { calibration?: { format?: unknown } } | null)?.calibration;
    if (typeof c === 'object' && c !== null && inner?.format === 'jobbert-calibration')
      throw new JobBERTError(
        'ERR_BAD_DATA',
        `Normalizer: ${where} is what fitCalibration() returns (the calibration with its held-out figures): pass its \`calibration\` (fitCalibration(…).calibration)`,
      );
    throw new JobBERTError(
      'ERR_BAD_DATA',
      `Normalizer: ${where} is not a jobbert calibration (format ${String(c?.format)}, version ${String(c?.version)}; a model holds ${FEATURES} finite coefficients and a threshold in [0, 1]); fit one with jobbert calibrate`,
    );
  }
  return c;
}

/** The calibrated confidence of a result with features `f`: σ(coef · featureVector(f)), in [0, 1]. */
export function calibrate(model: CalibrationModel, f: ConfidenceFeatures): number {
  const x = featureVector(f);
  let z = 0;
  for (let i = 0; i < FEATURES; i++) z += model.coef[i] * x[i];
  return 1 / (1 + Math.exp(-z));
}

/** The mapping without a calibration: the top score clamped to [0, 1]. */
export function uncalibrated(s1: number): number {
  return Math.min(1, Math.max(0, s1));
}

/**
 * Fits a logistic model by Newton's method (IRLS) with a small ridge penalty,
 * which also keeps a feature that never varies (no examples: [example] is
 * always 0) at coefficient 0. `x` rows are feature vectors (a leading 1 for
 * the intercept), `y` 1 when the result was right. Sync.
 */
export function fitLogistic(x: number[][], y: number[], ridge = 1e-4): number[] {
  if (x.length === 0 || x.length !== y.length)
    throw new RangeError(`fitLogistic: x and y must be non-empty and of one length; received ${x.length} and ${y.length}`);
  const n = x[0].length;
  const b = new Array<number>(n).fill(0);
  for (let iter = 0; iter < 50; iter++) {
    const g = b.map((v) => ridge * v);
    const h = Array.from({ length: n }, (_, a) => Array.from({ length: n }, (_, c) => (a === c ? ridge : 0)));
    for (let i = 0; i < x.length; i++) {
      const f = x[i];
      let z = 0;
      for (let a = 0; a < n; a++) z += b[a] * f[a];
      const p = 1 / (1 + Math.exp(-z));
      const w = Math.max(p * (1 - p), 1e-9);
      for (let a = 0; a < n; a++) {
        g[a] += (p - y[i]) * f[a];
        for (let c = 0; c < n; c++) h[a][c] += w * f[a] * f[c];
      }
    }
    const step = solve(h, g);
    for (let a = 0; a < n; a++) b[a] -= step[a];
    if (Math.max(...step.map(Math.abs)) < 1e-10) break;
  }
  return b;
}

/** Solves a·s = v (a symmetric positive definite, small) by Gauss–Jordan elimination with partial pivoting. */
function solve(a: number[][], v: number[]): number[] {
  const n = v.length;
  const m = a.map((r, i) => [...r, v[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((r, i) => r[n] / r[i]);
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
