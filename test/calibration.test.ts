/**
 * The Normalizer's confidence calibration: the logistic fit, the shipped
 * calibration file, the features a result's confidence is computed from
 * (fitCalibration fits on what confidenceFeatures reports, so it must be what
 * the Normalizer itself used), and a calibration fitted for another encoder.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Normalizer, readTaxonomy, TfIdfEncoder } from '../src/index.js';
import { builtinCalibration, calibrate, featureVector, fitLogistic, readCalibration } from '../src/normalize/calibration.js';
import { fitCalibration } from '../src/normalize/fit-calibration.js';
import { rng } from '../src/util/random.js';
import { OCC, writeTinyTaxonomy } from './fixtures/tiny-taxonomy.js';

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

/** Vacancy-style titles of the tiny taxonomy's occupations, a fifth labelled with another occupation (as real labels disagree). */
function labelledTitles(n: number, seed: number): { title: string; uri: string }[] {
  const random = rng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(random() * a.length)];
  const titles: [string, string][] = [
    ['software engineer', OCC.developer],
    ['java developer', OCC.developer],
    ['Programmierer', OCC.developer],
    ['registered nurse', OCC.nurse],
    ['Krankenschwester', OCC.nurse],
    ['pastry baker', OCC.baker],
    ['Bäcker', OCC.baker],
    ['cab driver', OCC.driver],
    ['chauffeur', OCC.driver],
    ['bookkeeper', OCC.accountant],
    ['Steuerberater', OCC.accountant],
  ];
  const uris = Object.values(OCC);
  return Array.from({ length: n }, () => {
    const [title, uri] = pick(titles);
    const noisy = `${pick(['', 'Senior ', 'Junior ', 'Lead '])}${title}${pick(['', ' (m/w/d)', ' - Berlin', ' night shift', ' part time'])}`;
    return { title: noisy, uri: random() < 0.2 ? pick(uris) : uri };
  });
}

test('fitCalibration fits a calibration for another encoder and taxonomy, which Normalizer.load({ calibration }) then applies; one of another encoder is refused', async () => {
  const taxonomy = await writeTinyTaxonomy(join(dir, 'tiny'));
  const labels = (await readTaxonomy(taxonomy)).occupations.flatMap((o) => [...Object.values(o.preferred), ...Object.values(o.alt).flat()]);
  const tfidf = TfIdfEncoder.fit(labels, { dim: 256 });
  const titles = labelledTitles(300, 11);
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.message);
  process.on('warning', onWarning);
  const fit = await fitCalibration({ titles, encoder: tfidf, taxonomy }).finally(() => process.off('warning', onWarning));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings, [], 'no "uncalibrated" warning while a calibration is fitted');
  const cal = fit.calibration;
  assert.equal(cal.encoder, tfidf.fingerprint);
  assert.equal(fit.zeroShot.titles + fit.zeroShotAll.titles, 450, 'half B, then every title');
  for (const f of [fit.zeroShot, fit.zeroShotAll, fit.examples, fit.examplesAll]) {
    assert.ok(f.ece >= 0 && f.ece <= 1 && f.coverage >= 0 && f.coverage <= 1 && f.accuracy > 0.3, JSON.stringify(f));
    assert.equal(
      f.bins.reduce((s, b) => s + b.n, 0),
      f.titles,
    );
  }
  // Right at least 80% of the time over every title, at the threshold chosen.
  assert.ok(fit.zeroShotAll.precision >= 0.8 || fit.zeroShotAll.coverage === 0, JSON.stringify(fit.zeroShotAll));
  assert.equal(fit.unknownUris, 0);

  // Written and read back, or given as the object: the Normalizer is calibrated, silently.
  const file = join(dir, 'tfidf-calibration.json');
  await writeFile(file, JSON.stringify(cal));
  process.on('warning', onWarning);
  try {
    for (const given of [file, cal]) {
      const n = await Normalizer.load({ encoder: tfidf, taxonomy, calibration: given });
      try {
        assert.equal(n.calibrated, true);
        assert.equal(n.threshold, cal.zeroShot.threshold);
        for (const r of await n.normalize(['Senior Java Developer (m/w/d)', 'Bäcker', 'nurse'], { k: 2 }))
          assert.equal(r.confidence, round(calibrate(cal.zeroShot, n.confidenceFeatures(r))), r.input);
      } finally {
        await n.dispose();
      }
    }
    const withExamples = await Normalizer.load({ encoder: tfidf, taxonomy, calibration: file, examples: titles.slice(0, 50) });
    assert.equal(withExamples.threshold, cal.examples.threshold);
    await withExamples.dispose();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);

  // The calibration of one encoder is never applied to another's scores.
  await assert.rejects(Normalizer.load({ taxonomy, calibration: file }), {
    code: 'ERR_ENCODER_MISMATCH',
    message: /tfidf-calibration\.json was fitted for encoder tfidf:.*not this one \(lite:/,
  });
  await assert.rejects(Normalizer.load({ encoder: tfidf, taxonomy, calibration: builtinCalibration()! }), { code: 'ERR_ENCODER_MISMATCH' });
  await assert.rejects(Normalizer.load({ encoder: tfidf, calibration: join(dir, 'none.json') }), { code: 'ERR_NOT_FOUND' });
  await writeFile(join(dir, 'not-one.json'), '{"format": "something else"}');
  await assert.rejects(Normalizer.load({ encoder: tfidf, calibration: join(dir, 'not-one.json') }), {
    code: 'ERR_BAD_DATA',
    message: /not a jobbert calibration/,
  });
  await assert.rejects(Normalizer.load({ encoder: tfidf, calibration: { ...cal, zeroShot: { coef: [1], threshold: 0.5 } } }), {
    code: 'ERR_BAD_DATA',
  });
  // fitCalibration()'s whole result where its `calibration` belongs: the error says which field to pass.
  await assert.rejects(Normalizer.load({ encoder: tfidf, taxonomy, calibration: fit as never }), {
    code: 'ERR_BAD_DATA',
    message: /is what fitCalibration\(\) returns .*pass its `calibration`/,
  });
  for (const bad of [5, null, '', true])
    await assert.rejects(Normalizer.load({ encoder: tfidf, calibration: bad as never }), {
      name: 'TypeError',
      message: /calibration must be/,
    });
  // A hole in the coefficients (every() skips it: every confidence was NaN), a threshold outside [0, 1].
  // biome-ignore lint/suspicious/noSparseArray: the hole is the point
  const holed = [1, , 1, 1, 1];
  for (const zeroShot of [
    { ...cal.zeroShot, coef: holed },
    { ...cal.zeroShot, threshold: -5 },
    { ...cal.zeroShot, threshold: 5 },
  ])
    await assert.rejects(Normalizer.load({ encoder: tfidf, taxonomy, calibration: { ...cal, zeroShot } as never }), {
      code: 'ERR_BAD_DATA',
      message: /finite coefficients and a threshold in \[0, 1\]/,
    });
  // Not a regular file: a FIFO blocked the whole process in the synchronous read.
  const fifo = join(dir, 'calibration.fifo');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(Normalizer.load({ encoder: tfidf, calibration: fifo }), { code: 'ERR_IO', message: /not a regular file/ });
  assert.throws(() => readCalibration(dir), { code: 'ERR_IO', message: /is a directory/ });
  for (const bad of [undefined, null, 1, ''])
    assert.throws(() => readCalibration(bad as never), { name: 'TypeError', message: /readCalibration: path must be/ });
  tfidf.dispose();
});

test('fitCalibration refuses bad options and too few usable titles; titles of URIs the taxonomy lacks count as wrong answers', async () => {
  const taxonomy = await writeTinyTaxonomy(join(dir, 'tiny2'));
  const titles = labelledTitles(120, 12);
  await assert.rejects(fitCalibration({ titles: titles.slice(0, 99), taxonomy }), {
    code: 'ERR_BAD_DATA',
    message: /at least 100 titles.*has 99/,
  });
  const unknown = titles.map((t, i) => (i < 30 ? { ...t, uri: 'http://data.europa.eu/esco/occupation/none' } : t));
  await assert.rejects(fitCalibration({ titles: unknown, taxonomy }), { code: 'ERR_BAD_DATA', message: /has 90 \(30 more name a URI/ });
  for (const [opts, name, message] of [
    [{ titles: 5 }, 'TypeError', /titles must be a file path or an array/],
    [{ titles: '' }, 'TypeError', /non-empty file path/],
    [{ titles, precision: 1 }, 'RangeError', /precision must be/],
    [{ titles, precision: '0.8' }, 'RangeError', /precision must be/],
    [{ titles, seed: -1 }, 'RangeError', /seed/],
    [{ titles, treshold: 0.5 }, 'TypeError', /treshold/],
    [{ titles: [{ title: 'x' }] }, 'TypeError', /uri/],
  ] as const)
    await assert.rejects(fitCalibration({ taxonomy, ...(opts as object) } as never), { name, message }, JSON.stringify(opts));
  const withUnknown = titles.map((t, i) => (i < 5 ? { ...t, uri: 'http://data.europa.eu/esco/occupation/none' } : t));
  const fit = await fitCalibration({ titles: withUnknown, taxonomy });
  assert.equal(fit.unknownUris, 5);
  assert.equal(fit.calibration.fit?.taxonomy, taxonomy);
});

test('a calibration file is part of a batch normalize setup: workers with another calibration never take its chunks', async () => {
  const { normalizeFingerprint } = await import('../src/cluster/normalize-task.js');
  const a = join(dir, 'fingerprint-a.json');
  const b = join(dir, 'fingerprint-b.json');
  const shipped = builtinCalibration()!;
  await writeFile(a, JSON.stringify(shipped));
  await writeFile(b, JSON.stringify({ ...shipped, zeroShot: { ...shipped.zeroShot, threshold: 0.5 } }));
  const none = await normalizeFingerprint('lite:x');
  const withA = await normalizeFingerprint('lite:x', { calibration: a });
  assert.notEqual(withA, none);
  assert.notEqual(withA, await normalizeFingerprint('lite:x', { calibration: b }));
  assert.equal(withA, await normalizeFingerprint('lite:x', { calibration: a }));
  await assert.rejects(normalizeFingerprint('lite:x', { calibration: join(dir, 'none.json') }), { code: 'ERR_NOT_FOUND' });
});
