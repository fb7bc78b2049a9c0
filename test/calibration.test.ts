/**
 * The Normalizer's confidence calibration: the logistic fit, the shipped
 * calibration file, and the features a result's confidence is computed from
 * (scripts/calibrate.ts fits on what confidenceFeatures reports, so it must be
 * what the Normalizer itself used).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Normalizer } from '../src/index.js';
import { builtinCalibration, calibrate, featureVector, fitLogistic } from '../src/normalize/calibration.js';
import { rng } from '../src/util/random.js';

/** To 4 decimals, as the Normalizer reports confidence. */
const round = (x: number) => Math.round(x * 1e4) / 1e4;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-calibration-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('fitLogistic recovers the coefficients that generated the data, and keeps a feature that never varies at 0', () => {
  const random = rng(7);
  const truth = [-2, 3, 1.5];
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const f = [1, random() * 2 - 1, random() < 0.5 ? 1 : 0, 0];
    const z = truth[0] + truth[1] * f[1] + truth[2] * f[2];
    x.push(f);
    y.push(random() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
  }
  const b = fitLogistic(x, y);
  assert.equal(b.length, 4);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(b[i] - truth[i]) < 0.15, `coefficient ${i}: ${b[i]} vs ${truth[i]}`);
  assert.equal(b[3], 0);
  assert.throws(() => fitLogistic([], []), RangeError);
  assert.throws(() => fitLogistic([[1, 0]], [1, 0]), RangeError);
});

test('featureVector and calibrate: the kind of match is a feature of its own', () => {
  assert.deepEqual(featureVector({ s1: 0.9, margin: 0.1, matched: 'preferred' }), [1, 0.9, 0.1, 1, 0]);
  assert.deepEqual(featureVector({ s1: 0.9, margin: 0.1, matched: 'alternative' }), [1, 0.9, 0.1, 0, 0]);
  assert.deepEqual(featureVector({ s1: 0.9, margin: 0.1, matched: 'example' }), [1, 0.9, 0.1, 0, 1]);
  const model = { coef: [-1, 2, 3, 0.5, 0.25], threshold: 0.5 };
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
  assert.equal(calibrate(model, { s1: 0.5, margin: 0.1, matched: 'alternative' }), sigmoid(-1 + 1 + 0.3));
  assert.equal(calibrate(model, { s1: 0.5, margin: 0.1, matched: 'preferred' }), sigmoid(-1 + 1 + 0.3 + 0.5));
  assert.equal(calibrate(model, { s1: 0.5, margin: 0.1, matched: 'example' }), sigmoid(-1 + 1 + 0.3 + 0.25));
});

test('the shipped calibration reads; a version 1 file means uncalibrated with a warning; a malformed one is ERR_BAD_DATA', async () => {
  const shipped = builtinCalibration();
  assert.ok(shipped, 'models/esco/calibration.json');
  assert.equal(shipped.version, 2);
  assert.equal(shipped.zeroShot.coef.length, 5);
  assert.ok(shipped.zeroShot.threshold > 0 && shipped.zeroShot.threshold < 1);

  const old = join(dir, 'v1.json');
  await writeFile(
    old,
    JSON.stringify({ format: 'jobbert-calibration', version: 1, encoder: 'lite:x', zeroShot: { coef: [0, 1, 1], threshold: 0.5 } }),
  );
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => warnings.push(`${w.code}`);
  process.on('warning', onWarning);
  try {
    assert.equal(builtinCalibration(old), null);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, ['JOBBERT_UNCALIBRATED']);

  for (const [name, body] of [
    ['not-json.json', '{'],
    ['short.json', JSON.stringify({ ...shipped, zeroShot: { coef: [0, 1, 1], threshold: 0.5 } })],
    ['nan.json', JSON.stringify({ ...shipped, examples: { coef: [0, 1, 1, 1, null], threshold: 0.5 } })],
    ['other.json', JSON.stringify({ format: 'something-else' })],
    ['null.json', 'null'],
  ] as const) {
    const path = join(dir, name);
    await writeFile(path, body);
    assert.throws(() => builtinCalibration(path), { code: 'ERR_BAD_DATA' }, name);
  }
  assert.equal(builtinCalibration(join(dir, 'missing.json')), null);
});

test('confidenceFeatures reports what the confidence was computed from: preferred label, alternative label, example', async () => {
  const cal = builtinCalibration();
  assert.ok(cal);
  const zero = await Normalizer.load();
  const [nurse] = await zero.normalize(['Krankenschwester'], { k: 1 });
  // "Stationshilfe Nacht" is no ESCO label: as an example it is matched exactly.
  const withExamples = await Normalizer.load({ examples: [{ title: 'Stationshilfe Nacht', uri: nurse.alternatives[0].uri }] });
  try {
    assert.ok(zero.calibrated && withExamples.calibrated);
    const titles = ['cashier', 'Krankenschwester', 'Senior Java Entwickler (m/w/d)', 'Stationshilfe Nacht', 'zzzz', 'Kassierer'];
    const [cashier, krankenschwester, ...rest] = await zero.normalize(titles, { k: 2 });
    assert.equal(zero.confidenceFeatures(cashier).matched, 'preferred', 'cashier is the preferred label of cashier');
    assert.equal(zero.confidenceFeatures(krankenschwester).matched, 'alternative', 'an alternative label of nurse assistant');
    for (const r of [cashier, krankenschwester, ...rest]) {
      const f = zero.confidenceFeatures(r);
      assert.equal(f.s1, r.alternatives[0].score);
      assert.equal(f.margin, r.alternatives[0].score - r.alternatives[1].score);
      assert.equal(round(calibrate(cal.zeroShot, f)), r.confidence, r.input);
    }
    const ex = await withExamples.normalize(titles, { k: 2 });
    const kinds = ex.map((r) => withExamples.confidenceFeatures(r).matched);
    assert.equal(kinds[3], 'example');
    for (const r of ex) {
      const f = withExamples.confidenceFeatures(r);
      assert.equal(round(calibrate(cal.examples, f)), r.confidence, `${r.input} with examples`);
    }
    for (const bad of [null, undefined, 'cashier', {}, { alternatives: 'x' }])
      assert.throws(() => zero.confidenceFeatures(bad as never), { name: 'TypeError', message: /result/ });
    const [empty] = await zero.normalize(['']);
    assert.deepEqual(zero.confidenceFeatures(empty), { s1: 0, margin: 0, matched: 'alternative' });
  } finally {
    await zero.dispose();
    await withExamples.dispose();
  }
});
