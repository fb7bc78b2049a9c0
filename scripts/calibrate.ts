/**
 * Fits the Normalizer's confidence calibration for the built-in model and
 * ESCO, and picks the default threshold (models/esco/calibration.json), with
 * a reliability diagram (docs/reliability.svg):
 *
 *   node --import tsx scripts/calibrate.ts --data ../shared/data [--model models/lite]
 *
 * Rerun it whenever the built-in model changes (its fingerprint is stored;
 * with another encoder the Normalizer reports confidence uncalibrated). It
 * takes well under a minute on 2 cores.
 *
 * Data: jobbert-eval/titles.csv split in two seeded halves A and B.
 * - zero-shot: the coefficients are fitted on A's results; ECE, precision and
 *   coverage are reported on B's;
 * - with examples: A's titles as examples evaluated on B, and B's on A; fit on
 *   the second, report on the first (held out both as examples and as fit data).
 * The default threshold is the lowest confidence at which the answers over all
 * of titles.csv (both halves) are right ≥ 80% of the time, the product's
 * promise; the report gives precision and coverage on the held-out half too.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LiteEncoder } from '../src/index.js';
import { type CalibrationFigures, fitCalibration, reliabilitySvg } from '../src/normalize/fit-calibration.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data' },
    model: { type: 'string' },
    out: { type: 'string', default: 'models/esco/calibration.json' },
    svg: { type: 'string', default: 'docs/reliability.svg' },
    precision: { type: 'string', default: '0.8' },
  },
});
const t0 = performance.now();
const encoder = await LiteEncoder.load(values.model);
const fit = await fitCalibration({
  titles: join(values.data!, 'jobbert-eval', 'titles.csv'),
  encoder,
  precision: Number(values.precision),
});
const report = (name: string, f: CalibrationFigures, threshold: number) =>
  console.log(
    `${name}: n=${f.titles} acc@1 ${f.accuracy.toFixed(4)}, ECE ${f.ece.toFixed(4)}; threshold ${threshold}: precision ${f.precision.toFixed(4)}, coverage ${f.coverage.toFixed(4)}`,
  );
const { calibration: cal } = fit;
report('zero-shot (fit on A, report on B)', fit.zeroShot, cal.zeroShot.threshold);
report('zero-shot, all of titles.csv (the threshold is chosen here)', fit.zeroShotAll, cal.zeroShot.threshold);
report('with examples (fit on A with B as examples, report on B with A as examples)', fit.examples, cal.examples.threshold);
report(
  'with examples, all of titles.csv, each half with the other as examples (the threshold is chosen here)',
  fit.examplesAll,
  cal.examples.threshold,
);
cal.fit = {
  ...cal.fit,
  command: 'node --import tsx scripts/calibrate.ts --data ../shared/data',
  data: 'jobbert-eval/titles.csv, seeded halves (seed 42)',
  thresholdChosenOn: 'all of titles.csv (both halves)',
};
writeFileSync(values.out!, `${JSON.stringify(cal, null, 2)}\n`);
writeFileSync(values.svg!, reliabilitySvg(fit, 'Normalizer confidence on held-out titles (jobbert-eval)'));
console.log(`wrote ${values.out} and ${values.svg} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
await encoder.dispose();
