/**
 * Fitting a confidence calibration (calibration.ts) for an encoder and a
 * taxonomy from labelled titles: what `jobbert calibrate` runs, and what
 * scripts/calibrate.ts runs for the built-in model. The titles are split into
 * two seeded halves A and B:
 * - zero-shot: the coefficients are fitted on A's results and measured on B's;
 * - with examples: A's titles are the examples while B is normalised, and B's
 *   while A is; fitted on A's results, measured on B's.
 * The default threshold is the lowest confidence at which the answers over all
 * the titles are right at least `precision` of the time.
 */
import type { Encoder } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import { rng, shuffledOrder } from '../util/random.js';
import { assertInteger, assertOptions, describe } from '../util/validate.js';
import {
  type Calibration,
  type CalibrationModel,
  type ConfidenceFeatures,
  calibrate,
  expectedCalibrationError,
  featureVector,
  fitLogistic,
} from './calibration.js';
import { checkExamples, type Example, readExamples } from './examples.js';
import { type NormalizeResult, Normalizer } from './normalizer.js';

/** Titles and the ESCO URI each is labelled with. */
export interface LabelledTitles {
  titles: string[];
  truth: string[];
}

/** A seeded half/half split (by a shuffled index order): [A, B]. Sync. */
export function halves(set: LabelledTitles, seed = 42): [LabelledTitles, LabelledTitles] {
  const order = shuffledOrder(set.titles.length, rng(seed));
  const pick = (ix: number[]) => ({ titles: ix.map((i) => set.titles[i]), truth: ix.map((i) => set.truth[i]) });
  const mid = Math.floor(order.length / 2);
  return [pick(order.slice(0, mid)), pick(order.slice(mid))];
}

/** MRR over the alternatives given (absent = 0), acc@1, acc@5, and per title whether the first alternative is right (1) or not (0). Sync. */
export function scoreResults(results: NormalizeResult[], truth: string[]) {
  let mrr = 0;
  let a1 = 0;
  let a5 = 0;
  const correct: number[] = [];
  results.forEach((r, i) => {
    const rank = r.alternatives.findIndex((a) => a.uri === truth[i]) + 1;
    if (rank > 0) mrr += 1 / rank;
    if (rank === 1) a1++;
    if (rank > 0 && rank <= 5) a5++;
    correct.push(rank === 1 ? 1 : 0);
  });
  const n = results.length;
  return { n, mrr: mrr / n, acc1: a1 / n, acc5: a5 / n, correct };
}

/** Options of {@link fitCalibration}. */
export interface FitCalibrationOptions {
  /** Labelled titles: a file in an examples format (JSON Lines, CSV, TSV: a title and an ESCO URI a row), or an array of { title, uri }. */
  titles: string | Example[];
  /** The encoder to calibrate (default: the built-in LiteEncoder). */
  encoder?: Encoder;
  /** A folder of ESCO CSVs (default: the built-in taxonomy), as Normalizer.load takes. */
  taxonomy?: string;
  /** The share of answers that must be right at the default threshold (default 0.8). */
  precision?: number;
  /** The seed of the split into halves (default 42). */
  seed?: number;
  /**
   * The examples the encoder will be used with, where they are not among `titles` (an adapted model's own
   * training titles: adaptLiteEncoder's holdOut): with examples, both halves are normalised with these,
   * rather than each with the other half as examples.
   */
  examples?: Example[];
}

/** How a calibration does on a set of titles. */
export interface CalibrationFigures {
  titles: number;
  /** Share of titles whose first alternative is right. */
  accuracy: number;
  /** Expected calibration error over 10 bins. */
  ece: number;
  /** Share of the answered titles (confidence ≥ the threshold) that are right. */
  precision: number;
  /** Share of titles answered. */
  coverage: number;
  /** The bins of a reliability diagram. */
  bins: { lo: number; hi: number; n: number; confidence: number; accuracy: number }[];
}

/** What {@link fitCalibration} gives: the calibration and its figures. */
export interface CalibrationFit {
  calibration: Calibration;
  /** Zero-shot, measured on half B (fitted on A). */
  zeroShot: CalibrationFigures;
  /** Zero-shot, over every title (the threshold is chosen here). */
  zeroShotAll: CalibrationFigures;
  /** With examples, measured on half B with A as examples (fitted on A with B as examples). */
  examples: CalibrationFigures;
  /** With examples, over every title, each half with the other as examples. */
  examplesAll: CalibrationFigures;
  /** Titles labelled with a URI the taxonomy does not hold: kept, as titles a Normalizer can only get wrong. */
  unknownUris: number;
}

/** The fewest usable titles a fit takes: each half fits 5 coefficients. */
export const MIN_CALIBRATION_TITLES = 100;

/** Per title: the features its confidence is computed from, and whether its first alternative is right. */
interface Scored {
  features: ConfidenceFeatures[];
  correct: number[];
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
const joined = (a: Scored, b: Scored): Scored => ({ features: [...a.features, ...b.features], correct: [...a.correct, ...b.correct] });

/** Lowest threshold whose answers (confidence ≥ t) are right ≥ `target` of the time; `conf` rounded as the Normalizer rounds it. */
function chooseThreshold(conf: number[], correct: number[], target: number): number {
  const order = conf.map((_, i) => i).sort((a, b) => conf[b] - conf[a]);
  let right = 0;
  let best = 1;
  order.forEach((i, j) => {
    right += correct[i];
    const next = order[j + 1];
    if (right / (j + 1) >= target && (next === undefined || conf[next] < conf[i])) best = conf[i];
  });
  return best;
}

/** Coefficients fitted on `f`; the threshold chosen on `all`. */
function fit(f: Scored, all: Scored, target: number): CalibrationModel {
  const coef = fitLogistic(f.features.map(featureVector), f.correct).map((c) => Math.round(c * 1e6) / 1e6);
  const conf = all.features.map((x) => round(calibrate({ coef, threshold: 0 }, x)));
  return { coef, threshold: chooseThreshold(conf, all.correct, target) };
}

function figures(model: CalibrationModel, s: Scored): CalibrationFigures {
  const conf = s.features.map((f) => round(calibrate(model, f)));
  const { ece, bins } = expectedCalibrationError(conf, s.correct);
  let answered = 0;
  let right = 0;
  conf.forEach((c, i) => {
    if (c >= model.threshold) {
      answered++;
      right += s.correct[i];
    }
  });
  const accuracy = s.correct.reduce((a, y) => a + y, 0) / conf.length;
  return { titles: conf.length, accuracy, ece, precision: right / Math.max(1, answered), coverage: answered / conf.length, bins };
}

/**
 * Fits the Normalizer's confidence calibration for an encoder and taxonomy
 * from labelled titles (a few seconds for 15,000 titles with the built-in
 * model). Pass the result's `calibration` to Normalizer.load({ calibration })
 * or write it as JSON for --calibration. Async. TypeError/RangeError naming a
 * bad option; JobBERTError ERR_BAD_FILE for a malformed titles file, ERR_BAD_DATA
 * for fewer than {@link MIN_CALIBRATION_TITLES} titles whose URI the taxonomy holds.
 */
export async function fitCalibration(opts: FitCalibrationOptions): Promise<CalibrationFit> {
  const fn = 'fitCalibration';
  if (typeof opts !== 'object' || opts === null)
    throw new TypeError(`${fn}: opts must be an object { titles, encoder?, taxonomy?, precision?, seed? }; received ${describe(opts)}`);
  assertOptions(fn, opts, ['titles', 'encoder', 'taxonomy', 'precision', 'seed', 'examples']);
  const { titles, encoder, taxonomy, precision = 0.8, seed = 42 } = opts;
  const given = opts.examples === undefined ? undefined : checkExamples(fn, opts.examples);
  if (typeof titles !== 'string' && !Array.isArray(titles))
    throw new TypeError(`${fn}: titles must be a file path or an array of { title, uri }; received ${describe(titles)}`);
  if (typeof titles === 'string' && titles.length === 0) throw new TypeError(`${fn}: titles must be a non-empty file path or an array`);
  if (typeof precision !== 'number' || !(precision > 0 && precision < 1))
    throw new RangeError(`${fn}: precision must be a number between 0 and 1 (exclusive); received ${describe(precision)}`);
  assertInteger(fn, 'seed', seed, 0);
  const list = typeof titles === 'string' ? (await readExamples(titles)).examples : checkExamples(fn, titles);

  // The results' features do not depend on a calibration; this one keeps an encoder without one
  // from warning, three times, that it has none while one is being fitted.
  const none = (fingerprint: string): Calibration => ({
    format: 'jobbert-calibration',
    version: 2,
    encoder: fingerprint,
    zeroShot: { coef: [0, 0, 0, 0, 0], threshold: 0.5 },
    examples: { coef: [0, 0, 0, 0, 0], threshold: 0.5 },
  });
  const zero = await Normalizer.load({ encoder, taxonomy, calibration: encoder && none(encoder.fingerprint) });
  try {
    const known = new Set(zero.taxonomy.occupations.map((o) => o.uri));
    const unknownUris = list.filter((e) => !known.has(e.uri)).length;
    if (list.length - unknownUris < MIN_CALIBRATION_TITLES)
      throw new JobBERTError(
        'ERR_BAD_DATA',
        `${fn}: a calibration needs at least ${MIN_CALIBRATION_TITLES} titles labelled with occupations of the taxonomy; ${typeof titles === 'string' ? titles : 'titles'} has ${list.length - unknownUris}${unknownUris ? ` (${unknownUris} more name a URI the taxonomy does not hold)` : ''}`,
      );
    const [A, B] = halves({ titles: list.map((e) => e.title), truth: list.map((e) => e.uri) }, seed);
    const scored = async (n: Normalizer, s: LabelledTitles): Promise<Scored> => {
      const results = await n.normalize(s.titles, { k: 2 });
      return { features: results.map((r) => n.confidenceFeatures(r)), correct: scoreResults(results, s.truth).correct };
    };
    const zA = await scored(zero, A);
    const zB = await scored(zero, B);
    // Each of `evaluated` scored by one Normalizer holding `examples`.
    const withExamples = async (examples: Example[], ...evaluated: LabelledTitles[]): Promise<Scored[]> => {
      const n = await Normalizer.load({
        encoder: zero.encoder,
        taxonomy,
        calibration: none(zero.encoder.fingerprint),
        // (Those of URIs the taxonomy lacks would be skipped, each time with a warning.)
        examples: examples.filter((e) => known.has(e.uri)),
      });
      try {
        const out: Scored[] = [];
        for (const s of evaluated) out.push(await scored(n, s));
        return out;
      } finally {
        await n.dispose();
      }
    };
    const examplesOf = (s: LabelledTitles): Example[] => s.titles.map((title, i) => ({ title, uri: s.truth[i] }));
    // Given examples serve both halves from one Normalizer; else each half is the other's examples.
    const [eA, eB] = given
      ? await withExamples(given, A, B)
      : [...(await withExamples(examplesOf(B), A)), ...(await withExamples(examplesOf(A), B))];
    const zAll = joined(zA, zB);
    const eAll = joined(eA, eB);
    const zeroShot = fit(zA, zAll, precision);
    const examples = fit(eA, eAll, precision);
    const result = {
      zeroShot: figures(zeroShot, zB),
      zeroShotAll: figures(zeroShot, zAll),
      examples: figures(examples, eB),
      examplesAll: figures(examples, eAll),
    };
    const held = (f: CalibrationFigures) => ({
      ece: round(f.ece),
      precision: round(f.precision),
      coverage: round(f.coverage),
      heldOut: f.titles,
    });
    const all = (f: CalibrationFigures) => ({ precision: round(f.precision), coverage: round(f.coverage), titles: f.titles });
    const calibration: Calibration = {
      format: 'jobbert-calibration',
      version: 2,
      encoder: zero.encoder.fingerprint,
      zeroShot,
      examples,
      fit: {
        command: 'jobbert calibrate',
        data: `${typeof titles === 'string' ? titles : 'an array of labelled titles'}, seeded halves (seed ${seed})${given ? `; with examples: ${given.length} given examples, not the other half` : ''}`,
        taxonomy: zero.taxonomy.source,
        features:
          'logistic on [1, top score s1, s1 − second occupation score, 1 if the top occupation matched by a whole preferred label, 1 if by an example]; scores rounded to 4 decimals as results show them',
        coefficientsFittedOn: 'half A',
        thresholdChosenOn: 'all the titles (both halves)',
        targetPrecision: precision,
        zeroShot: held(result.zeroShot),
        zeroShotAllTitles: all(result.zeroShotAll),
        examples: held(result.examples),
        examplesAllTitles: all(result.examplesAll),
      },
    };
    return { calibration, ...result, unknownUris };
  } finally {
    await zero.dispose();
  }
}

/**
 * A fit's reliability diagram (SVG): per confidence bin, the share of right
 * answers against the diagonal, zero-shot and with examples on the held-out
 * half, with each bin's share of titles as bars. Sync.
 */
export function reliabilitySvg(fit: CalibrationFit, title = 'Normalizer confidence on held-out titles'): string {
  const series = [
    { name: `zero-shot (ECE ${fit.zeroShot.ece.toFixed(3)})`, color: '#1f77b4', bins: fit.zeroShot.bins },
    { name: `with examples (ECE ${fit.examples.ece.toFixed(3)})`, color: '#d62728', bins: fit.examples.bins },
  ];
  const W = 560;
  const H = 460;
  const P = { l: 56, r: 20, t: 36, b: 56 };
  const x = (v: number) => P.l + v * (W - P.l - P.r);
  const y = (v: number) => P.t + (1 - v) * (H - P.t - P.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<rect x="${x(0)}" y="${y(1)}" width="${x(1) - x(0)}" height="${y(0) - y(1)}" fill="none" stroke="#333"/>`,
  ];
  for (let t = 0; t <= 10; t += 2) {
    parts.push(`<text x="${x(t / 10)}" y="${y(0) + 16}" text-anchor="middle">${(t / 10).toFixed(1)}</text>`);
    parts.push(`<text x="${x(0) - 6}" y="${y(t / 10) + 4}" text-anchor="end">${(t / 10).toFixed(1)}</text>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 22}" text-anchor="middle">confidence</text>`);
  parts.push(
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">fraction right (first alternative)</text>`,
  );
  series.forEach((s, k) => {
    const total = s.bins.reduce((a, b) => a + b.n, 0);
    const bw = (x(0.1) - x(0)) / (series.length + 1);
    for (const b of s.bins) {
      const h = (b.n / total) * (y(0) - y(1)) * 0.5;
      parts.push(
        `<rect x="${(x(b.lo) + bw * (k + 0.5)).toFixed(1)}" y="${(y(0) - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}" opacity="0.18"/>`,
      );
    }
    const pts = s.bins.filter((b) => b.n > 0).map((b) => `${x(b.confidence).toFixed(1)},${y(b.accuracy).toFixed(1)}`);
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of pts) parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${s.color}"/>`);
    parts.push(`<rect x="${x(0) + 12}" y="${y(1) + 12 + k * 18}" width="12" height="3" fill="${s.color}"/>`);
    parts.push(`<text x="${x(0) + 30}" y="${y(1) + 17 + k * 18}">${s.name}</text>`);
  });
  parts.push(`<text x="${x(0) + 12}" y="${y(1) + 17 + series.length * 18}" fill="#666">bars: share of titles per bin</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const escapeXml = (s: string) => s.replace(/[&<>"]/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot' }[c]};`);
