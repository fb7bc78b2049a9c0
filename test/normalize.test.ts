/**
 * Normalizer: titles → occupations of a taxonomy, on a tiny ESCO-shaped
 * fixture the suite writes itself (and the built-in ESCO for the null cases).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadBuiltinTaxonomy, Normalizer, TfIdfEncoder, type NormalizeResult } from '../src/index.js';
import { preferredForms } from '../src/normalize/taxonomy.js';
import { OCC, PREFIX, writeTaxonomy, writeTinyTaxonomy } from './fixtures/tiny-taxonomy.js';
import { rejectsWith } from './rejects.js';

let dir: string;
let taxonomy: string;
let n: Normalizer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-normalize-'));
  taxonomy = await writeTinyTaxonomy(join(dir, 'esco'));
  n = await Normalizer.load({ taxonomy });
});
after(async () => {
  await n?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

function checkShape(r: NormalizeResult, k: number) {
  assert.ok(r.confidence >= 0 && r.confidence <= 1);
  assert.ok(r.alternatives.length <= k);
  assert.equal(new Set(r.alternatives.map((a) => a.uri)).size, r.alternatives.length, 'alternatives are distinct occupations');
  for (let i = 1; i < r.alternatives.length; i++) assert.ok(r.alternatives[i - 1].score >= r.alternatives[i].score, 'best first');
}

test("a taxonomy: a URI on two rows keeps both rows' labels; a language with no label is a RangeError naming lang, not a kernel error", async () => {
  const { readTaxonomy } = await import('../src/normalize/taxonomy.js');
  const tax = await writeTaxonomy(join(dir, 'esco-two-rows'), {
    en: [
      [OCC.nurse, '2221', 'nurse', ['registered nurse', 'staff nurse']],
      [OCC.nurse, '2221', 'sister', ['ward nurse']],
      [OCC.baker, '7512', 'baker', []],
    ],
    es: [
      [OCC.nurse, '2221', '', []],
      [OCC.baker, '7512', '', []],
    ],
  });
  const t = await readTaxonomy(tax);
  // The same file saved as UTF-16 (a Windows tool's "Unicode") reads alike (it had "no conceptUri column").
  const csv = join(tax, 'en', 'occupations_en.csv');
  const utf8 = await readFile(csv, 'utf8');
  await writeFile(csv, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(utf8, 'utf16le')]));
  assert.deepEqual(await readTaxonomy(tax), t);
  await writeFile(csv, utf8.replaceAll(',', ';'));
  await rejectsWith(
    readTaxonomy(tax),
    'ERR_BAD_DATA',
    /has no conceptUri column \(its header is 'conceptType;conceptUri;.*'; ESCO's CSVs are comma-separated\)/,
  );
  await writeFile(csv, utf8);
  const nurse = t.occupations.find((o) => o.uri === OCC.nurse)!;
  assert.equal(nurse.preferred.en, 'nurse');
  assert.deepEqual(nurse.alt.en, ['registered nurse', 'staff nurse', 'sister', 'ward nurse']);
  const m = await Normalizer.load({ taxonomy: tax });
  try {
    assert.equal((await m.normalize(['staff nurse']))[0].alternatives[0].score, 1);
    await assert.rejects(m.normalize(['enfermera'], { lang: 'es' }), {
      name: 'RangeError',
      message: /lang 'es': the taxonomy holds no label in that language/,
    });
  } finally {
    await m.dispose();
  }
});

test('a taxonomy: an ISCO code that is not 4 digits, or that differs between rows of one occupation, is reported in one warning each; the first code is kept', async () => {
  const { readTaxonomy } = await import('../src/normalize/taxonomy.js');
  const tax = await writeTaxonomy(join(dir, 'esco-isco'), {
    en: [
      [OCC.nurse, '2221', 'nurse', []],
      [OCC.baker, '75X2', 'baker', []],
      [OCC.driver, '', 'taxi driver', []],
    ],
    de: [
      [OCC.nurse, '2222', 'Krankenpfleger', []],
      [OCC.baker, '75X2', 'Bäcker', []],
      [OCC.driver, '8322', 'Taxifahrer', []],
    ],
  });
  const warnings: Error[] = [];
  const listen = (w: Error) => void ((w as Error & { code?: string }).code === 'JOBBERT_TAXONOMY_ISCO' && warnings.push(w));
  process.on('warning', listen);
  let t: Awaited<ReturnType<typeof readTaxonomy>>;
  try {
    t = await readTaxonomy(tax);
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listen);
  }
  const isco = Object.fromEntries(t.occupations.map((o) => [o.uri, o.isco]));
  assert.deepEqual(isco, { [OCC.nurse]: '2221', [OCC.baker]: '75X2', [OCC.driver]: '8322' });
  assert.equal(warnings.length, 2);
  assert.match(
    warnings[0].message,
    /3 row\(s\) without a 4-digit ISCO-08 code in iscoGroup \(first: .*en[/\\]occupations_en\.csv:3: '75X2'\)/,
  );
  assert.match(
    warnings[1].message,
    /1 row\(s\) give an occupation another ISCO code than before \(first: .*occupations_de\.csv:2: '2222' for .*nurse-0002, where .*occupations_en\.csv:2 gave '2221'\); the first is kept/,
  );
});

test('a misspelt option is a TypeError naming it (it was ignored: { threshhold } left the default threshold)', async () => {
  await assert.rejects(Normalizer.load({ taxonomy, threshhold: 0.5 } as never), {
    name: 'TypeError',
    message: /Normalizer\.load: unknown option 'threshhold'; the options are 'encoder', 'taxonomy', 'examples', 'threshold'/,
  });
  await assert.rejects(n.normalize(['nurse'], { K: 3 } as never), {
    name: 'TypeError',
    message: /Normalizer\.normalize: unknown option 'K'/,
  });
  // Undefined values are no options: { lang: undefined }-style spreads still pass.
  assert.equal((await n.normalize(['nurse'], { k: 1, extra: undefined } as never)).length, 1);
});

test("a batch worker's fingerprint covers the taxonomy files in dir/<lang>/ (two taxonomies laid out so had the same one)", async () => {
  const { normalizeFingerprint } = await import('../src/cluster/normalize-task.js');
  const other = await writeTinyTaxonomy(join(dir, 'esco-other'));
  const csv = join(other, 'de', 'occupations_de.csv');
  await writeFile(csv, (await readFile(csv, 'utf8')).replace('Bäcker', 'Brotbäcker'));
  const a = await normalizeFingerprint('enc', { taxonomy });
  assert.equal(await normalizeFingerprint('enc', { taxonomy }), a, 'deterministic');
  assert.notEqual(await normalizeFingerprint('enc', { taxonomy: other }), a);
  await rejectsWith(normalizeFingerprint('enc', { taxonomy: join(dir, 'nope') }), 'ERR_NOT_FOUND', 'does not exist');
  await rejectsWith(normalizeFingerprint('enc', { examples: join(dir, 'nope.csv') }), 'ERR_NOT_FOUND', 'nope.csv');
});

test('BAD CALL - an encoder that returns other than one row per text, as wide as its dim, is named, not trusted', async () => {
  const good = TfIdfEncoder.fit(['baker', 'nurse', 'taxi driver'], { dim: 64 });
  // One row whatever it is given: the titles would all get the first label's occupation, at confidence 1.
  const oneRow = { dim: 64, fingerprint: 'one-row', encode: (texts: string[]) => good.encode(texts.slice(0, 1)), dispose: async () => {} };
  await assert.rejects(
    Normalizer.load({ taxonomy, encoder: oneRow }),
    /Normalizer\.load: the encoder output\.rows must be \d+; received 1/,
  );
  let lie = false;
  const liar = {
    dim: 64,
    fingerprint: 'liar',
    encode: (texts: string[]) => good.encode(lie ? texts.slice(0, 1) : texts),
    dispose: async () => {},
  };
  const m = await Normalizer.load({ taxonomy, encoder: liar });
  lie = true;
  await assert.rejects(m.normalize(['baker', 'nurse']), /Normalizer\.normalize: the encoder output\.rows must be 2; received 1/);
  await m.dispose();
});

test('normalize gives one result per title in input order, ids the row numbers, distinct occupations best first', async () => {
  const titles = ['Java Developer', 'Krankenpfleger', 'bread baker', 'taxi driver'];
  const results = await n.normalize(titles, { k: 3 });
  assert.equal(results.length, 4);
  results.forEach((r, i) => {
    assert.equal(r.id, String(i));
    assert.equal(r.input, titles[i]);
    checkShape(r, 3);
    assert.equal(r.alternatives.length, 3);
  });
  assert.deepEqual(
    results.map((r) => r.alternatives[0].uri),
    [OCC.developer, OCC.nurse, OCC.baker, OCC.driver],
  );
  const dev = results[0].alternatives[0];
  assert.equal(dev.label, 'software developer');
  assert.equal(dev.isco, '2512');
  assert.deepEqual(dev.matched, { text: 'java developer', lang: 'en', source: 'label' });
  assert.equal(results[1].alternatives[0].matched.lang, 'de');
  assert.equal(results[1].alternatives[0].matched.text, 'Krankenpfleger');
});

test('occupation is the first alternative when confidence reaches the threshold, else null', async () => {
  const [r] = await n.normalize(['Krankenpfleger']);
  assert.ok(r.confidence >= n.threshold, `confidence ${r.confidence} < threshold ${n.threshold}`);
  assert.deepEqual(r.occupation, { uri: r.alternatives[0].uri, label: r.alternatives[0].label, isco: r.alternatives[0].isco });
  const strict = await Normalizer.load({ taxonomy, threshold: 1 });
  const lax = await Normalizer.load({ taxonomy, threshold: 0 });
  try {
    const [s] = await strict.normalize(['a developer of things']);
    assert.ok(s.confidence < 1);
    assert.equal(s.occupation, null);
    assert.ok(s.alternatives.length > 0, 'alternatives are still given');
    const [l] = await lax.normalize(['a developer of things']);
    assert.notEqual(l.occupation, null);
    // A threshold for one call gives what a Normalizer loaded with it gives, in objects and in JSON Lines.
    const titles = ['a developer of things', 'Krankenpfleger', '', 'xqzjv kkwpt'];
    for (const [threshold, loaded] of [
      [1, strict],
      [0, lax],
    ] as const) {
      const perCall = await n.normalize(titles, { threshold });
      assert.deepEqual(perCall, await loaded.normalize(titles));
      assert.equal(
        (await n.normalizeLines(titles, ['a', 'b', 'c', 'd'], { threshold })).toString('utf8'),
        perCall.map((r, i) => `${JSON.stringify({ ...r, id: 'abcd'[i] })}\n`).join(''),
      );
    }
    assert.equal((await n.normalize([''], { threshold: 0 }))[0].occupation, null, 'a meaningless title has no occupation to give');
    assert.deepEqual(await n.normalize(titles), await n.normalize(titles, { threshold: n.threshold }));
  } finally {
    await strict.dispose();
    await lax.dispose();
  }
});

test('outputLang gives the preferred label in that language; lang keeps labels of that language', async () => {
  const [de] = await n.normalize(['software engineer'], { outputLang: 'de', k: 1 });
  assert.equal(de.alternatives[0].label, 'Softwareentwickler/Softwareentwicklerin');
  assert.equal(de.occupation?.label ?? de.alternatives[0].label, 'Softwareentwickler/Softwareentwicklerin');
  const [onlyDe] = await n.normalize(['software engineer'], { lang: 'de', k: 5 });
  for (const a of onlyDe.alternatives) assert.equal(a.matched.lang, 'de');
  const [onlyEn] = await n.normalize(['Softwareentwickler'], { lang: 'en', k: 5 });
  for (const a of onlyEn.alternatives) assert.equal(a.matched.lang, 'en');
});

test('empty, blank and punctuation-only titles give occupation null with no error', async () => {
  const results = await n.normalize(['', '   ', '!!!', '—/()', '\t\n']);
  for (const r of results) {
    assert.equal(r.occupation, null);
    assert.equal(r.confidence, 0);
    assert.deepEqual(r.alternatives, []);
  }
  assert.deepEqual(await n.normalize([]), []);
});

test('gibberish gets occupation null with the built-in model and ESCO', async () => {
  const builtin = await Normalizer.load();
  try {
    assert.ok(builtin.size > 50_000, `${builtin.size} rows`);
    const results = await builtin.normalize(['xqzjv kkwpt', 'zzzzzzzz', 'qwpoeiruty', '12345']);
    for (const r of results) assert.equal(r.occupation, null, `${r.input}: ${JSON.stringify(r.occupation)} at ${r.confidence}`);
    const [nurse] = await builtin.normalize(['Krankenpfleger'], { outputLang: 'es' });
    // The README's example, as it shows it.
    const [readme] = await builtin.normalize(['Krankenschwester'], { k: 3, outputLang: 'es' });
    assert.equal(readme.occupation, null);
    assert.equal(readme.confidence, 0.491);
    assert.deepEqual(
      { label: readme.alternatives[0].label, isco: readme.alternatives[0].isco, score: readme.alternatives[0].score },
      { label: 'auxiliar de enfermería', isco: '5321', score: 1 },
    );
    assert.deepEqual(readme.alternatives[0].matched, { text: 'Krankenschwester', lang: 'de', source: 'label' });
    const [nurseEn] = await builtin.normalize(['Krankenpfleger']);
    assert.equal(nurse.alternatives[0].matched.text, 'Krankenpfleger');
    assert.equal(nurse.alternatives[0].uri, nurseEn.alternatives[0].uri);
    assert.notEqual(nurse.alternatives[0].label, nurseEn.alternatives[0].label, 'the Spanish preferred label');
    assert.match(nurse.alternatives[0].isco, /^\d{4}$/);
  } finally {
    await builtin.dispose();
  }
});

test("search 'fast' on the built-in ESCO: the k best among fewer labels, never above the exact scores, mostly the same answer", async () => {
  const esco = await loadBuiltinTaxonomy();
  // Labels as typed, and as a vacancy would dress them up.
  const labels = esco.occupations.filter((_, i) => i % 30 === 0).map((o) => o.preferred.en);
  const titles = [...labels, ...labels.map((l, i) => `${i % 2 ? 'Senior' : 'Junior'} ${l} (m/w/d)`)];
  const exact = await Normalizer.load();
  const fast = await Normalizer.load({ search: 'fast' });
  try {
    assert.equal(exact.search, 'exact');
    assert.equal(fast.search, 'fast');
    const want = await exact.normalize(titles);
    const got = await fast.normalize(titles);
    let sameFirst = 0;
    got.forEach((r, i) => {
      checkShape(r, 5);
      assert.equal(r.alternatives.length, 5, r.input);
      // The best among a subset of the labels: no alternative scores above the exact search's at its rank.
      r.alternatives.forEach((a, j) => assert.ok(a.score <= want[i].alternatives[j].score, `${r.input}: alternative ${j}`));
      if (r.alternatives[0].uri === want[i].alternatives[0].uri) sameFirst++;
    });
    // A label typed as it is: its own list is probed, so its occupation comes first at score 1, as exactly.
    labels.forEach((l, i) => assert.equal(got[i].alternatives[0].score, want[i].alternatives[0].score, l));
    assert.ok(sameFirst >= 0.95 * titles.length, `${sameFirst} of ${titles.length} first answers as the exact search's`);
  } finally {
    await exact.dispose();
    await fast.dispose();
  }
  await assert.rejects(Normalizer.load({ search: 'quick' as never }), {
    name: 'RangeError',
    message: /Normalizer\.load: search must be one of 'exact', 'fast'/,
  });
  await assert.rejects(Normalizer.load({ search: 1 as never }), { name: 'TypeError', message: /search must be one of/ });
});

test('k is clamped to the number of occupations; equal titles give equal, independent results', async () => {
  const [a, b] = await n.normalize(['baker', 'baker'], { k: 50 });
  assert.equal(a.alternatives.length, 5);
  assert.deepEqual({ ...a, id: '' }, { ...b, id: '' });
  a.alternatives[0].matched.text = 'changed';
  assert.notEqual(b.alternatives[0].matched.text, 'changed');
});

test('examples (array) extend the index: an unseen title reaches its occupation through the example', async () => {
  const title = 'Zorblax Widget Wrangler';
  const before = (await n.normalize([title], { k: 5 }))[0];
  const withEx = await Normalizer.load({ taxonomy, examples: [{ title, uri: OCC.accountant }] });
  try {
    const [r] = await withEx.normalize([title], { k: 5 });
    assert.equal(r.alternatives[0].uri, OCC.accountant);
    assert.deepEqual(r.alternatives[0].matched, { text: title, source: 'example' });
    assert.ok(r.alternatives[0].score > 0.99);
    assert.equal(withEx.size, n.size + 1);
    assert.ok(before.alternatives[0].score < r.alternatives[0].score);
  } finally {
    await withEx.dispose();
  }
});

test('equal scores go to the occupation whose preferred label matched, then to taxonomy order; an example lifts its occupation above them', async () => {
  // "cook" is an alternative label of two occupations and the preferred label of a third, which
  // comes after the first of them in taxonomy order (by URI: chef-2, cook-3, helper-1, waiter-4).
  const [helper, chef, cook, waiter] = ['helper-1', 'chef-2', 'cook-3', 'waiter-4'].map((id) => PREFIX + id);
  const tax = await writeTaxonomy(join(dir, 'cooks'), {
    en: [
      [helper, '9412', 'kitchen helper', ['cook', 'kitchen porter']],
      [chef, '3434', 'head chef', ['cook', 'chef de cuisine']],
      [cook, '5120', 'cook', ['line cook']],
      [waiter, '5131', 'waiter', ['server']],
    ],
  });
  const zeroShot = await Normalizer.load({ taxonomy: tax });
  const withExample = await Normalizer.load({
    taxonomy: tax,
    examples: [
      { title: 'Cook', uri: waiter },
      { title: 'cook', uri: waiter },
    ],
  });
  try {
    const [r] = await zeroShot.normalize(['cook'], { k: 3 });
    assert.deepEqual(
      r.alternatives.map((a) => a.uri),
      [cook, chef, helper],
    );
    assert.ok(r.alternatives.every((a) => a.score === r.alternatives[0].score && a.matched.text === 'cook'));
    const [e] = await withExample.normalize(['cook'], { k: 4 });
    assert.deepEqual(
      e.alternatives.map((a) => a.uri),
      [waiter, cook, chef, helper],
    );
    // The two examples differ only in case: one row, the first as written, standing for both.
    assert.equal(withExample.size, zeroShot.size + 1);
    assert.deepEqual(e.alternatives[0].matched, { text: 'Cook', source: 'example' });
    // Its occupation's evidence: the centroid of its examples is the title's own vector, and there are two.
    assert.equal(e.alternatives[0].score, round4(1 + 0.2 + 0.01 * Math.log(3)));
    assert.deepEqual(
      e.alternatives.slice(1).map((a) => a.score),
      [1, 1, 1],
    );
  } finally {
    await zeroShot.dispose();
    await withExample.dispose();
  }
});

test("examples re-rank a title's best occupations by their centroid and number (evidence.ts); lists stay sorted and k-prefixes of each other", async () => {
  // "cook" meets a label of all three at cosine 1; the examples decide among them.
  const [helper, chef, cook] = ['helper-1', 'chef-2', 'cook-3'].map((id) => PREFIX + id);
  const tax = await writeTaxonomy(join(dir, 'evidence'), {
    en: [
      [helper, '9412', 'kitchen helper', ['cook', 'kitchen porter']],
      [chef, '3434', 'head chef', ['cook', 'chef de cuisine']],
      [cook, '5120', 'cook', ['line cook']],
    ],
  });
  const examples = [
    { title: 'sous chef', uri: chef },
    { title: 'Sous Chef', uri: chef },
    { title: 'pastry chef', uri: chef },
    { title: 'dish washer', uri: helper },
  ];
  const m = await Normalizer.load({ taxonomy: tax, examples });
  try {
    const [r] = await m.normalize(['cook'], { k: 3 });
    const v = await m.encoder.encode(['cook', 'sous chef', 'pastry chef', 'dish washer']);
    const d = v.cols;
    const row = (i: number) => v.data.subarray(i * d, (i + 1) * d);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
    // chef's centroid: sous chef twice (its two spellings are one row), pastry chef once.
    const c = row(1).map((x, i) => 2 * x + row(2)[i]);
    const norm = Math.sqrt(dot(c, c));
    const chefBonus = 0.2 * Math.max(0, dot(row(0), c) / norm) + 0.01 * Math.log(1 + 3);
    const helperBonus = 0.2 * Math.max(0, dot(row(0), row(3))) + 0.01 * Math.log(1 + 1);
    const expected = [
      { uri: chef, score: round4(1 + chefBonus) },
      { uri: helper, score: round4(1 + helperBonus) },
      { uri: cook, score: 1 },
    ].sort((a, b) => b.score - a.score);
    assert.deepEqual(
      r.alternatives.map((a) => ({ uri: a.uri, score: a.score })),
      expected,
    );
    assert.ok(r.alternatives.every((a) => a.matched.text === 'cook' && a.matched.source === 'label'));
    // Without examples nothing is re-ranked: the same title scores 1 everywhere.
    const plain = await Normalizer.load({ taxonomy: tax });
    try {
      assert.deepEqual(
        (await plain.normalize(['cook'], { k: 3 }))[0].alternatives.map((a) => a.score),
        [1, 1, 1],
      );
    } finally {
      await plain.dispose();
    }
    // On the built-in ESCO: every list sorted, and the list for k the first k of the list for 30.
    const esco = await loadBuiltinTaxonomy();
    const uriOf = (label: string) => esco.occupations.find((o) => o.preferred.en === label)!.uri;
    const big = await Normalizer.load({
      examples: [
        { title: 'Accounts Executive', uri: uriOf('accountant') },
        { title: 'Senior Accountant', uri: uriOf('accountant') },
        { title: 'Payroll Clerk', uri: uriOf('payroll clerk') },
        { title: 'Bakery Assistant', uri: uriOf('baker') },
      ],
    });
    try {
      const titles = ['cook', 'Senior Accountant (m/w/d)', 'Bäckereiverkäuferin', 'payroll'];
      const full = await big.normalize(titles, { k: 30 });
      for (const k of [1, 2, 4, 5, 6, 21]) {
        const part = await big.normalize(titles, { k });
        part.forEach((p, i) => {
          checkShape(p, k);
          assert.deepEqual(p.alternatives, full[i].alternatives.slice(0, k), `k = ${k}, ${titles[i]}`);
        });
      }
    } finally {
      await big.dispose();
    }
  } finally {
    await m.dispose();
  }
});

test("preferredForms: the forms a slash pairs in a preferred label, not a compound's slash or a bare suffix", () => {
  assert.deepEqual(preferredForms('Elektriker/Elektrikerin'), ['Elektriker', 'Elektrikerin']);
  assert.deepEqual(preferredForms('camarero/camarera'), ['camarero', 'camarera']);
  assert.deepEqual(preferredForms('waiter/waitress'), ['waiter', 'waitress']);
  assert.deepEqual(preferredForms('Tierpfleger /Tierpflegerin'), ['Tierpfleger', 'Tierpflegerin']);
  assert.deepEqual(preferredForms('director de desarrollo/directora de desarrollo/'), [
    'director de desarrollo',
    'directora de desarrollo',
  ]);
  assert.deepEqual(preferredForms('Import-/Exportmanager für Blumen/Import-/Exportmanagerin für Blumen'), [
    'Import-/Exportmanager für Blumen',
    'Import-/Exportmanagerin für Blumen',
  ]);
  for (const single of [
    'software developer',
    'Import-/Exportmanager',
    'Lehrer/in',
    'Lehrer/-in',
    'Schichtleiter/in Bergbau',
    'redactor/a de revista',
    'TV/',
    '/',
    '',
  ])
    assert.deepEqual(preferredForms(single), [], single);
});

test("a preferred label's forms are indexed after every whole preferred label and before the alternative labels", async () => {
  // "Promoter" is a form of the first occupation's German preferred label, the English preferred
  // label of the second and an alternative label of the third; "camarero" a form of the fourth's
  // Spanish preferred label and an alternative label of the fifth, which comes first in taxonomy order.
  const [demonstrator, promoter, seller, waiter, bartender] = ['a-demo', 'b-promoter', 'c-seller', 'e-waiter', 'd-bartender'].map(
    (id) => PREFIX + id,
  );
  const tax = await writeTaxonomy(join(dir, 'forms'), {
    en: [
      [demonstrator, '5242', 'promotions demonstrator', []],
      [promoter, '5242', 'promoter', []],
      [seller, '5223', 'seller', ['promoter']],
      [bartender, '5132', 'bartender', []],
      [waiter, '5131', 'waiter/waitress', []],
    ],
    de: [[demonstrator, '5242', 'Promoter/Promoterin', []]],
    es: [
      [bartender, '5132', 'bartender', ['camarero']],
      [waiter, '5131', 'camarero/camarera', []],
    ],
  });
  const m = await Normalizer.load({ taxonomy: tax });
  try {
    const [p, pin, c, cw, w] = await m.normalize(['Promoter', 'Promoterin', 'Camarero', 'camarera', 'Waitress'], { k: 3 });
    assert.deepEqual(
      p.alternatives.map((a) => [a.uri, a.matched.text, a.score]),
      [
        [promoter, 'promoter', 1],
        [demonstrator, 'Promoter', 1],
        [seller, 'promoter', 1],
      ],
    );
    assert.deepEqual(
      [pin.alternatives[0].uri, pin.alternatives[0].matched],
      [demonstrator, { text: 'Promoterin', lang: 'de', source: 'label' }],
    );
    assert.deepEqual(
      c.alternatives.slice(0, 2).map((a) => [a.uri, a.matched.text]),
      [
        [waiter, 'camarero'],
        [bartender, 'camarero'],
      ],
    );
    assert.equal(cw.alternatives[0].uri, waiter);
    assert.deepEqual([w.alternatives[0].uri, w.alternatives[0].score, w.alternatives[0].matched.text], [waiter, 1, 'waitress']);
    // A form counts as an alternative label for the confidence: only the whole preferred label is "preferred".
    assert.equal(m.confidenceFeatures(p).matched, 'preferred');
    assert.equal(m.confidenceFeatures(pin).matched, 'alternative');
  } finally {
    await m.dispose();
  }
});

test("the built-in ESCO labels every level of every occupation's ISCO code in en, de and es", async () => {
  const taxonomy = await loadBuiltinTaxonomy();
  const missing: string[] = [];
  for (const o of taxonomy.occupations) {
    assert.match(o.isco, /^\d{4}$/, o.uri);
    for (const code of [1, 2, 3, 4].map((n) => o.isco.slice(0, n)))
      for (const lang of ['en', 'de', 'es']) if (!taxonomy.iscoGroups[code]?.[lang]) missing.push(`${code}:${lang}`);
  }
  assert.deepEqual([...new Set(missing)], []);
  assert.deepEqual(
    ['2', '25', '251', '2512'].map((c) => taxonomy.iscoGroups[c].en),
    [
      'Professionals',
      'Information and communications technology professionals',
      'Software and applications developers and analysts',
      'Software developers',
    ],
  );
});

test('the built-in ESCO: a gendered German or Spanish title reaches the occupation that prefers its form', async () => {
  const builtin = await Normalizer.load();
  try {
    const titles = ['Camarero', 'Cocinera', 'Soldadora', 'Trabajadora social', 'Desarrollador de software'];
    const results = await builtin.normalize(titles, { k: 3 });
    assert.deepEqual(
      results.map((r) => [r.input, r.alternatives[0].label]),
      [
        ['Camarero', 'waiter/waitress'], // bartender has "camarero" as an alternative label
        ['Cocinera', 'cook'], // chef has "cocinera"
        ['Soldadora', 'welder'], // solderer has "soldadora"
        ['Trabajadora social', 'social worker'], // community development officer has "trabajadora social"
        ['Desarrollador de software', 'software developer'], // ICT application developer has "desarrollador de software"
      ],
    );
    assert.deepEqual(results[0].alternatives[0].matched, { text: 'camarero', lang: 'es', source: 'label' });
  } finally {
    await builtin.dispose();
  }
});

test('examples files: JSON Lines, the JobBERT evaluation CSV layout, TSV, CSV with semicolons and gzip read as they are; unknown URIs are skipped with their line', async () => {
  const jsonl = join(dir, 'ex.jsonl');
  await writeFile(
    jsonl,
    `${JSON.stringify({ title: 'Zorblax Wrangler', uri: OCC.accountant })}\n\n${JSON.stringify({ title: 'Quux Operative', uri: `${OCC.baker}-gone` })}\n`,
  );
  const csv = join(dir, 'titles.csv');
  await writeFile(csv, `,vacancyTitle,conceptUri\n0,"Zorblax Wrangler, senior",${OCC.accountant}\n1,Quux Operative,${OCC.driver}\n`);
  const tsv = join(dir, 'ex.tsv');
  await writeFile(tsv, `jobtitle\toccupation\nZorblax "Wrangler"\t${OCC.accountant}\n`);
  // Excel's CSV in a German locale: ';' between fields.
  const semicolon = join(dir, 'ex-de.csv');
  await writeFile(semicolon, `title;uri\r\nZorblax Wrangler, senior;${OCC.accountant}\r\n`);
  const gz = join(dir, 'ex.jsonl.gz');
  await writeFile(gz, gzipSync(`${JSON.stringify({ title: 'Zorblax Wrangler', uri: OCC.accountant })}\n`));
  for (const [file, expectSkipped] of [
    [jsonl, [{ line: 3, uri: `${OCC.baker}-gone`, reason: 'URI not in the taxonomy' }]],
    [csv, []],
    [tsv, []],
    [semicolon, []],
    [gz, []],
  ] as const) {
    const m = await Normalizer.load({ taxonomy, examples: file });
    try {
      assert.deepEqual(m.skippedExamples, expectSkipped, file);
      const [r] = await m.normalize(['Zorblax Wrangler']);
      assert.equal(r.alternatives[0].uri, OCC.accountant, file);
      assert.equal(r.alternatives[0].matched.source, 'example', file);
    } finally {
      await m.dispose();
    }
  }
});

test('examples: a title with nothing left once cleaned is skipped with its reason, a hole in the array is a TypeError, a file without examples warns', async () => {
  const m = await Normalizer.load({
    taxonomy,
    examples: [
      { title: '&nbsp;', uri: OCC.nurse },
      { title: 'Zorblax Wrangler', uri: OCC.accountant },
    ],
  });
  try {
    assert.deepEqual(m.skippedExamples, [{ line: 0, uri: OCC.nurse, reason: 'the title holds no letter or digit' }]);
  } finally {
    await m.dispose();
  }
  await assert.rejects(Normalizer.load({ taxonomy, examples: new Array(2) }), {
    name: 'TypeError',
    message: /examples\[0\] must be an object \{ title, uri \}; received undefined/,
  });
  const empty = join(dir, 'no-examples.csv');
  await writeFile(empty, 'title,uri\n');
  const warnings: Error[] = [];
  const listen = (w: Error) => void ((w as Error & { code?: string }).code === 'JOBBERT_NO_EXAMPLES' && warnings.push(w));
  process.on('warning', listen);
  try {
    await (await Normalizer.load({ taxonomy, examples: empty })).dispose();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listen);
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].message, /no-examples\.csv holds no examples/);
});

test('an examples file that is not UTF-8 (a Windows Excel export) loads, with one JOBBERT_NOT_UTF8 warning naming its first such line', async () => {
  const file = join(dir, 'excel-examples.csv');
  // "Bäcker" and "Bäckermeister" in Windows-1252: byte 0xE4 for "ä".
  await writeFile(file, Buffer.from(`title,uri\r\nB\xe4cker,${OCC.baker}\r\nB\xe4ckermeister,${OCC.baker}\r\n`, 'latin1'));
  const warnings: Error[] = [];
  const listen = (w: Error) => {
    if ((w as Error & { code?: string }).code === 'JOBBERT_NOT_UTF8') warnings.push(w);
  };
  process.on('warning', listen);
  try {
    const m = await Normalizer.load({ taxonomy, examples: file });
    await m.dispose();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listen);
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].message, /excel-examples\.csv:2: .*not UTF-8/);
});

test('an examples file of 300,000 rows loads (its rows were once spread as call arguments: RangeError, call stack exceeded)', async () => {
  const file = join(dir, 'many-examples.jsonl');
  // Two distinct titles, so only two rows are encoded; the file is still read row by row.
  const a = `${JSON.stringify({ title: 'Brotspezialist', uri: OCC.baker })}\n`;
  const b = `${JSON.stringify({ title: 'Fahrgastbeförderer', uri: OCC.driver })}\n`;
  await writeFile(file, (a + b).repeat(150_000));
  const m = await Normalizer.load({ taxonomy, examples: file });
  try {
    const [r1, r2] = await m.normalize(['Brotspezialist', 'Fahrgastbeförderer'], { k: 1 });
    assert.deepEqual([r1.alternatives[0].uri, r1.alternatives[0].matched.source], [OCC.baker, 'example']);
    assert.deepEqual([r2.alternatives[0].uri, r2.alternatives[0].matched.source], [OCC.driver, 'example']);
  } finally {
    await m.dispose();
  }
});

test('BAD CALL - a malformed examples file is ERR_BAD_FILE naming file:line', async () => {
  const bad = join(dir, 'bad.jsonl');
  await writeFile(bad, `${JSON.stringify({ title: 'ok', uri: OCC.baker })}\n{"title": "broken"\n`);
  await rejectsWith(Normalizer.load({ taxonomy, examples: bad }), 'ERR_BAD_FILE', `${bad}:2`);
  const noUri = join(dir, 'nouri.csv');
  await writeFile(noUri, 'title,uri\nbaker,\n');
  await rejectsWith(Normalizer.load({ taxonomy, examples: noUri }), 'ERR_BAD_FILE', `${noUri}:2`, 'URI');
  const numeric = join(dir, 'numeric.jsonl');
  await writeFile(numeric, `${JSON.stringify({ title: 42, uri: OCC.baker })}\n`);
  await rejectsWith(
    Normalizer.load({ taxonomy, examples: numeric }),
    'ERR_BAD_FILE',
    `${numeric}:1`,
    'the title (title) must be text; received 42',
  );
  const noCols = join(dir, 'nocols.csv');
  await writeFile(noCols, 'name,code\nbaker,1\n');
  await rejectsWith(Normalizer.load({ taxonomy, examples: noCols }), 'ERR_BAD_FILE', 'title');
  await rejectsWith(Normalizer.load({ taxonomy, examples: join(dir, 'missing.jsonl') }), 'ERR_NOT_FOUND');
  await rejectsWith(Normalizer.load({ taxonomy: join(dir, 'nowhere') }), 'ERR_NOT_FOUND');
});

test('BAD CALL - bad arguments throw TypeError/RangeError naming the argument', async () => {
  const t = (name: string) => ({ message: new RegExp(name) });
  await assert.rejects(Normalizer.load({ threshold: 2 }), { name: 'RangeError', ...t('threshold') });
  await assert.rejects(Normalizer.load({ threshold: '0.5' as never }), { name: 'TypeError', ...t('threshold') });
  await assert.rejects(Normalizer.load({ encoder: {} as never }), { name: 'TypeError', ...t('encoder') });
  await assert.rejects(Normalizer.load({ taxonomy: 3 as never }), { name: 'TypeError', ...t('taxonomy') });
  await assert.rejects(Normalizer.load({ examples: [{ title: '', uri: OCC.baker }] }), {
    name: 'TypeError',
    ...t('examples\\[0\\]\\.title'),
  });
  await assert.rejects(Normalizer.load({ examples: [{ title: 'x' }] as never }), { name: 'TypeError', ...t('examples\\[0\\]\\.uri') });
  await assert.rejects(Normalizer.load('x' as never), { name: 'TypeError', ...t('options') });
  await assert.rejects(n.normalize('baker' as never), { name: 'TypeError', ...t('titles') });
  await assert.rejects(n.normalize(['baker', 3 as never]), { name: 'TypeError', ...t('titles\\[1\\]') });
  await assert.rejects(n.normalize(['baker'], { k: 0 }), { name: 'RangeError', ...t('k') });
  await assert.rejects(n.normalize(['baker'], { k: 1.5 }), { name: 'RangeError', ...t('k') });
  await assert.rejects(n.normalize(['baker'], { outputLang: 'fr' }), { name: 'RangeError', ...t('outputLang') });
  await assert.rejects(n.normalize(['baker'], { lang: 'xx' }), { name: 'RangeError', ...t('lang') });
  await assert.rejects(n.normalize(['baker'], { lang: 5 as never }), { name: 'TypeError', ...t('lang') });
  await assert.rejects(n.normalize(['baker'], { threshold: 1.5 }), { name: 'RangeError', ...t('threshold') });
  await assert.rejects(n.normalize(['baker'], { threshold: Number.NaN }), { name: 'RangeError', ...t('threshold') });
  await assert.rejects(n.normalize(['baker'], { threshold: '0.5' as never }), { name: 'TypeError', ...t('threshold') });
  await assert.rejects(n.normalizeLines(['baker'], ['0'], { threshold: -0.1 }), { name: 'RangeError', ...t('threshold') });
  // null is no option left out: { k: null } and { outputLang: null } meant the default, { lang: null } was an error.
  for (const name of ['k', 'lang', 'outputLang', 'threshold'])
    await assert.rejects(n.normalize(['baker'], { [name]: null }), {
      name: 'TypeError',
      message: new RegExp(`normalize: ${name} must be given or left out, not null`),
    });
  // A string is iterable: 'abc' was normalised as 'a', 'b' and 'c'.
  await assert.rejects(n.normalizeStream('abc' as never).next(), { name: 'TypeError', ...t('normalizeStream: titles must be') });
  // A hand-made result: its alternatives named, not "reading 'source' of undefined".
  assert.throws(() => n.confidenceFeatures({ alternatives: [{ uri: 'x', score: 1 }] } as never), {
    name: 'TypeError',
    message: /result\.alternatives\[0\]\.matched must be/,
  });
  assert.throws(() => n.confidenceFeatures({ alternatives: [null] } as never), { name: 'TypeError', message: /alternatives\[0\] must be/ });
  const { readExamples } = await import('../src/index.js');
  for (const bad of [5, undefined, ''])
    await assert.rejects(readExamples(bad as never), { name: 'TypeError', message: /readExamples: path must be a non-empty file path/ });
  const { fitCalibration } = await import('../src/index.js');
  await assert.rejects(fitCalibration(undefined as never), { name: 'TypeError', message: /fitCalibration: opts must be an object/ });
});

test('BAD CALL - an encoder that gives a label a zero or NaN vector is named at load, with the label (it failed later in the kernels)', async () => {
  const good = TfIdfEncoder.fit(['baker', 'nurse', 'taxi driver'], { dim: 64 });
  for (const [what, value] of [
    ['a vector that is not finite', Number.NaN],
    ['a zero vector', 0],
  ] as const) {
    const broken = {
      dim: 64,
      fingerprint: 'broken',
      encode: async (texts: string[]) => {
        const m = await good.encode(texts);
        texts.forEach((t, i) => t === 'bread baker' && m.data.fill(value, i * 64, (i + 1) * 64));
        return m;
      },
      dispose: async () => {},
    };
    await assert.rejects(Normalizer.load({ taxonomy, encoder: broken }), {
      name: 'RangeError',
      message: new RegExp(`Normalizer\\.load: the encoder gives the label or example 'bread baker' ${what}`),
    });
  }
});

test('another encoder: confidence falls back to the raw top score (calibrated false), and a disposed Normalizer refuses', async () => {
  const encoder = TfIdfEncoder.fit(['software developer', 'baker', 'taxi driver', 'accountant', 'nurse']);
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => {
    if (w.code === 'JOBBERT_UNCALIBRATED') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  let m: Normalizer;
  try {
    m = await Normalizer.load({ taxonomy, encoder });
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  assert.equal(m.calibrated, false);
  // The warning's command is one that runs as written and fits this encoder (without --model, calibrate
  // fits the built-in model; without --out it is a usage error).
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /jobbert calibrate --titles FILE --model DIR --out CALIBRATION/);
  const [r] = await m.normalize(['baker']);
  assert.equal(r.confidence, Math.min(1, Math.max(0, r.alternatives[0].score)));
  assert.equal(r.alternatives[0].uri, OCC.baker);
  await m.dispose();
  await rejectsWith(m.normalize(['baker']), 'ERR_DISPOSED');
  await m.dispose();
  // The Normalizer did not own the encoder: it still works.
  assert.equal((await encoder.encode(['baker'])).rows, 1);
});

test('normalizeLines is byte for byte JSON.stringify of normalize with the given ids, one line each', async () => {
  const titles = [
    'Java Developer',
    'baker',
    '',
    '  !!! ',
    'baker',
    'Bäcker "Meister" \\ Zürich',
    'taxi driver 🚕',
    'nurse \ud800 lone',
    'line\nbreak',
    'Krankenpfleger',
  ];
  const ids = titles.map((_, i) => (i === 3 ? 'id "quoted" ✓' : `r${i}`));
  for (const opts of [{}, { k: 1 }, { k: 50 }, { lang: 'de', outputLang: 'de' }, { outputLang: 'de', k: 3 }]) {
    const objects = await n.normalize(titles, opts);
    const expected = objects.map((r, i) => `${JSON.stringify({ ...r, id: ids[i] })}\n`).join('');
    const got = await n.normalizeLines(titles, ids, opts);
    assert.ok(Buffer.isBuffer(got));
    assert.equal(got.toString('utf8'), expected, JSON.stringify(opts));
  }
  // With a threshold that nulls every occupation, and across the 8192-title chunk boundary.
  const strict = await Normalizer.load({ taxonomy, threshold: 1 });
  const many = Array.from({ length: 8200 }, (_, i) => titles[i % titles.length]);
  const manyIds = many.map((_, i) => String(i));
  const lines = (await strict.normalizeLines(many, manyIds)).toString('utf8');
  assert.equal(lines, (await strict.normalize(many)).map((r) => `${JSON.stringify(r)}\n`).join(''));
  assert.ok(!lines.includes('"occupation":{'));
  await strict.dispose();
  assert.equal((await n.normalizeLines([], [])).length, 0);
});

test('normalizeLines: scores outside [-1, 1] (an encoder whose rows are not unit length) are written as JSON.stringify writes them', async () => {
  const tfidf = TfIdfEncoder.fit(['baker', 'nurse', 'taxi driver'], { dim: 64 });
  const scale = async (texts: string[]) => {
    const m = await tfidf.encode(texts);
    return { ...m, data: m.data.map((x) => 3.3333 * x) };
  };
  const encoder = { dim: 64, fingerprint: 'scaled', encode: scale, dispose: async () => {} };
  const m = await Normalizer.load({ taxonomy, encoder });
  const titles = ['baker', 'nurse', '', 'baker', 'taxi driver'];
  const ids = titles.map((_, i) => `s${i}`);
  const objects = await m.normalize(titles, { k: 3 });
  assert.ok(objects[0].alternatives[0].score > 1, `score ${objects[0].alternatives[0].score}`);
  const expected = objects.map((r, i) => `${JSON.stringify({ ...r, id: ids[i] })}\n`).join('');
  assert.equal((await m.normalizeLines(titles, ids, { k: 3 })).toString('utf8'), expected);
  await m.dispose();
});

test('BAD CALL - normalizeLines names ids when they are not one string per title', async () => {
  await assert.rejects(n.normalizeLines(['baker'], 'x' as never), { name: 'TypeError', message: /ids must be an array/ });
  await assert.rejects(n.normalizeLines(['baker', 'nurse'], ['a', 2 as never]), { name: 'TypeError', message: /ids\[1\]/ });
  await assert.rejects(n.normalizeLines(['baker', 'nurse'], ['a']), {
    name: 'RangeError',
    message: /ids must hold one id per title \(2\); received 1/,
  });
  await assert.rejects(n.normalizeLines([3 as never], ['a']), { name: 'TypeError', message: /titles\[0\]/ });
  await assert.rejects(n.normalizeLines(['baker'], ['a'], { k: 0 }), { name: 'RangeError', message: /k/ });
});

test('normalizeStream yields normalize results in input order, ids from the rows or their positions, from sync and async iterables', async () => {
  const titles = Array.from(
    { length: 25 },
    (_, i) => ['Java Developer', 'Krankenpfleger', 'bread baker', '', 'taxi driver'][i % 5] + (i % 2 ? '' : ` ${i}`),
  );
  const expected = await n.normalize(titles, { k: 2 });
  for (const chunk of [1, 7, 100]) {
    const got: NormalizeResult[] = [];
    for await (const r of n.normalizeStream(titles, { k: 2, chunk })) got.push(r);
    assert.deepEqual(got, expected, `chunk ${chunk}`);
  }
  async function* rows() {
    yield { id: 'a', title: 'bread baker' };
    yield 'taxi driver';
    yield { id: 17, title: 'Krankenpfleger' };
    yield { title: 'Java Developer' };
  }
  const got: NormalizeResult[] = [];
  for await (const r of n.normalizeStream(rows(), { chunk: 2, outputLang: 'de' })) got.push(r);
  assert.deepEqual(
    got.map((r) => [r.id, r.input, r.alternatives[0].uri]),
    [
      ['a', 'bread baker', OCC.baker],
      ['1', 'taxi driver', OCC.driver],
      ['17', 'Krankenpfleger', OCC.nurse],
      ['3', 'Java Developer', OCC.developer],
    ],
  );
  assert.equal(got[0].alternatives[0].label, 'Bäcker/Bäckerin');
});

test('normalizeStream reads at most two chunks ahead, and stops reading when the caller stops', { timeout: 20_000 }, async () => {
  let pulled = 0;
  let markClosed = () => {};
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  async function* source() {
    try {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield `bread baker ${i}`;
      }
    } finally {
      markClosed();
    }
  }
  let seen = 0;
  for await (const _ of n.normalizeStream(source(), { chunk: 10 })) {
    assert.ok(pulled - seen <= 20, `read ${pulled} for ${seen} yielded`);
    if (++seen === 35) break;
  }
  await closed; // the source's finally ran (the test's timeout guards a source never closed)
  assert.ok(pulled <= 55, `read ${pulled}`);
});

test('normalizeStream: a break returns even while the source has nothing to give (an idle queue)', { timeout: 20_000 }, async () => {
  async function* idleQueue() {
    for (let i = 0; i < 25; i++) yield `bread baker ${i}`;
    await new Promise(() => {}); // no message ever comes
  }
  let seen = 0;
  for await (const _ of n.normalizeStream(idleQueue(), { chunk: 10 })) if (++seen === 12) break;
  assert.equal(seen, 12);
});

test("BAD CALL - normalizeStream names a bad item by its position, a bad chunk or option before reading, and passes on the source's error", async () => {
  const drain = async (it: AsyncIterable<unknown>) => {
    for await (const _ of it);
  };
  await assert.rejects(drain(n.normalizeStream(['baker', 'nurse', 42 as unknown as string])), {
    name: 'TypeError',
    message: /Normalizer\.normalizeStream: titles item 2 must be a string or \{ id\?, title: string \}; received 42/,
  });
  await assert.rejects(drain(n.normalizeStream([{ id: 'x' } as unknown as string])), { name: 'TypeError', message: /titles item 0/ });
  await assert.rejects(drain(n.normalizeStream(['baker', { id: { row: 7 } as unknown as string, title: 'nurse' }])), {
    name: 'TypeError',
    message: /titles item 1's id must be a string or a number .*; received/,
  });
  // A number past 2^53 is not the id its source had: refused, not passed on rounded.
  await assert.rejects(drain(n.normalizeStream([{ id: 2 ** 60, title: 'nurse' }])), {
    name: 'RangeError',
    message: /titles item 0's id .*beyond 2\^53 only as a string/,
  });
  // A null id is an absent one: the position.
  const nullId: string[] = [];
  for await (const r of n.normalizeStream([
    { id: null, title: 'baker' },
    { id: 0, title: 'nurse' },
  ]))
    nullId.push(r.id);
  assert.deepEqual(nullId, ['0', '0']);
  await assert.rejects(drain(n.normalizeStream(5 as unknown as string[])), { name: 'TypeError', message: /titles must be an iterable/ });
  let pulled = 0;
  const counted = function* () {
    pulled++;
    yield 'baker';
  };
  await assert.rejects(drain(n.normalizeStream(counted(), { chunk: 0 })), {
    name: 'RangeError',
    message: /chunk must be an integer in \[1, 1000000\]/,
  });
  await assert.rejects(drain(n.normalizeStream(counted(), { k: 0 })), {
    name: 'RangeError',
    message: /^Normalizer\.normalizeStream: k must be/,
  });
  await assert.rejects(drain(n.normalizeStream(counted(), { lang: 'fr' })), { name: 'RangeError', message: /lang/ });
  assert.equal(pulled, 0, 'nothing read before the options are checked');
  async function* failing() {
    yield 'baker';
    throw new Error('cursor lost');
  }
  await assert.rejects(drain(n.normalizeStream(failing())), { message: 'cursor lost' });
});
