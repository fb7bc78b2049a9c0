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
import { type CalibrationFigures, fitCalibration } from '../src/normalize/fit-calibration.js';

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
writeFileSync(
  values.svg!,
  reliabilitySvg([
    { name: `zero-shot (ECE ${fit.zeroShot.ece.toFixed(3)})`, color: '#1f77b4', bins: fit.zeroShot.bins },
    { name: `with examples (ECE ${fit.examples.ece.toFixed(3)})`, color: '#d62728', bins: fit.examples.bins },
  ]),
);
console.log(`wrote ${values.out} and ${values.svg} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
await encoder.dispose();

/** A reliability diagram: accuracy per confidence bin against the diagonal, with bin counts as bars. */
function reliabilitySvg(
  series: { name: string; color: string; bins: { lo: number; hi: number; n: number; confidence: number; accuracy: number }[] }[],
): string {
  const W = 560;
  const H = 460;
  const P = { l: 56, r: 20, t: 36, b: 56 };
  const x = (v: number) => P.l + v * (W - P.l - P.r);
  const y = (v: number) => P.t + (1 - v) * (H - P.t - P.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Normalizer confidence on held-out titles (jobbert-eval)</text>`,
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
