/**
 * cleanTitle: what scraping leaves in a vacancy title (HTML character
 * references and tags, invisible format characters) is removed before the
 * Normalizer encodes it, and nothing else changes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cleanTitle, Normalizer } from '../src/index.js';

test('cleanTitle decodes named, decimal and hexadecimal references, double escapes included', () => {
  assert.equal(cleanTitle('Sales &amp; Marketing Manager'), 'Sales & Marketing Manager');
  assert.equal(cleanTitle('Sales &amp;amp; Marketing Manager'), 'Sales & Marketing Manager');
  assert.equal(cleanTitle('Koch &#8211; Vollzeit'), 'Koch – Vollzeit');
  assert.equal(cleanTitle('Koch &#x2013; Vollzeit'), 'Koch – Vollzeit');
  assert.equal(cleanTitle('Mechaniker&nbsp;(m/w/d)'), 'Mechaniker (m/w/d)');
  assert.equal(cleanTitle('B&auml;cker'), 'Bäcker');
  assert.equal(cleanTitle('&#x1F525; Barista'), '🔥 Barista');
  // The Latin-1 table is in code point order: its ends and a few inside.
  for (const [name, cp] of [
    ['iexcl', 0xa1],
    ['iquest', 0xbf],
    ['times', 0xd7],
    ['szlig', 0xdf],
    ['divide', 0xf7],
    ['yuml', 0xff],
    ['euro', 0x20ac],
    ['rsquo', 0x2019],
  ] as const)
    assert.equal(cleanTitle(`a&${name};b`), `a${String.fromCodePoint(cp)}b`, name);
});

test('cleanTitle keeps what only looks like a reference or a tag', () => {
  for (const t of ['R&D Engineer', 'AT&T; Technician', 'M&A Analyst', 'C<3 Developer', '<Senior> Developer', 'a &unknown; b'])
    assert.equal(cleanTitle(t), t);
  // NUL, a surrogate and a code point past Unicode stay as written.
  assert.equal(cleanTitle('x &#0; &#xD800; &#1114112; y'), 'x &#0; &#xD800; &#1114112; y');
});

test('cleanTitle replaces inline HTML tags by a space, escaped ones too', () => {
  assert.equal(cleanTitle('<b>Registered Nurse</b>'), 'Registered Nurse');
  assert.equal(cleanTitle('Koch<br/>Vollzeit'), 'Koch Vollzeit');
  assert.equal(cleanTitle('<span class="title">Data&nbsp;Analyst</span> <BR>'), 'Data Analyst');
  assert.equal(cleanTitle('&lt;strong&gt;Nurse&lt;/strong&gt;'), 'Nurse');
});

test('cleanTitle removes invisible format characters (soft hyphen, zero-width space, direction marks)', () => {
  assert.equal(cleanTitle('Software\u00adentwickler'), 'Softwareentwickler');
  assert.equal(cleanTitle('Software\u200bentwickler'), 'Softwareentwickler');
  assert.equal(cleanTitle('Software&shy;entwickler'), 'Softwareentwickler');
  assert.equal(cleanTitle('\u200eKoch\u200f'), 'Koch');
  assert.equal(cleanTitle('\ufeffKoch'), 'Koch');
});

test('cleanTitle reads U+0080–U+009F as windows-1252 (text decoded as Latin-1, and HTML) and makes other controls spaces', () => {
  assert.equal(cleanTitle('Children\u0092s Nurse'), 'Children’s Nurse');
  assert.equal(cleanTitle('Koch \u0096 Vollzeit'), 'Koch – Vollzeit');
  assert.equal(cleanTitle('\u0084Koch\u0093 \u0080'), '„Koch“ €');
  assert.equal(cleanTitle('Koch &#150; Vollzeit'), 'Koch – Vollzeit');
  // The table's ends, and bytes windows-1252 leaves undefined.
  assert.equal(cleanTitle('a\u009fb\u0081c\u009dd'), 'aŸb c d');
  assert.equal(cleanTitle('Bäcker\u0000in \u001b\u007f'), 'Bäcker in');
  // Tab and line breaks are whitespace already: a title holding only them and text is only trimmed.
  assert.equal(cleanTitle('Data\tAnalyst'), 'Data\tAnalyst');
});

test('cleanTitle only trims a clean title (inner whitespace kept) and rejects a non-string', () => {
  assert.equal(cleanTitle('  Data  Analyst \n'), 'Data  Analyst');
  assert.equal(cleanTitle(''), '');
  assert.throws(
    () => cleanTitle(42 as unknown as string),
    (e: Error) => e instanceof TypeError && /title must be a string; received 42/.test(e.message),
  );
});

let n: Normalizer;
before(async () => {
  n = await Normalizer.load();
});
after(async () => {
  await n?.dispose();
});

/** A result without its input, to compare a scraped title's answer with its clean one's. */
const answer = ({ input: _, ...rest }: { input: string }) => rest;

test('the Normalizer matches a scraped title as its clean text, and echoes the title as given', async () => {
  const pairs = [
    ['Sales &amp; Marketing Manager', 'Sales & Marketing Manager'],
    ['Mechaniker&nbsp;(m/w/d)', 'Mechaniker (m/w/d)'],
    ['<b>Registered Nurse</b>', 'Registered Nurse'],
    ['Software\u00adentwickler', 'Softwareentwickler'],
    ['Bar&shy;keeper', 'Barkeeper'],
    ['Children\u0092s Nurse', 'Children’s Nurse'],
  ];
  const scraped = await n.normalize(
    pairs.map((p) => p[0]),
    { k: 3 },
  );
  const clean = await n.normalize(
    pairs.map((p) => p[1]),
    { k: 3 },
  );
  pairs.forEach(([raw], i) => {
    assert.equal(scraped[i].input, raw);
    assert.deepEqual(answer(scraped[i]), answer(clean[i]), raw);
  });
  // Before cleaning, the soft hyphen cut the word in two: 'software developer' at a score of 0.88, not 1.
  assert.equal(scraped[3].alternatives[0].score, 1);
  const lines = (await n.normalizeLines(['Sales &amp; Marketing Manager'], ['x'], { k: 3 })).toString();
  assert.equal(lines, `${JSON.stringify({ ...scraped[0], id: 'x' })}\n`);
});

test('a title that is only markup is meaningless: occupation null, no alternatives', async () => {
  for (const r of await n.normalize(['&nbsp;', '<br>', '\u200b', '<b></b>&amp;']))
    assert.deepEqual(answer(r), { id: r.id, occupation: null, confidence: 0, alternatives: [] }, r.input);
});

test('examples are cleaned as titles are', async () => {
  const baker = (await n.normalize(['Bäcker'], { k: 1 }))[0].alternatives[0].uri;
  const m = await Normalizer.load({ examples: [{ title: 'Brot&shy;spezialist &amp; Konditor', uri: baker }] });
  try {
    const [r] = await m.normalize(['Brotspezialist & Konditor'], { k: 1 });
    assert.equal(r.alternatives[0].uri, baker);
    // Cosine 1 to the cleaned example, plus its occupation's evidence: one example, the title's own vector.
    assert.equal(r.alternatives[0].score, Math.round((1 + 0.2 + 0.01 * Math.log(2)) * 1e4) / 1e4);
    assert.deepEqual(r.alternatives[0].matched, { text: 'Brotspezialist & Konditor', source: 'example' });
  } finally {
    await m.dispose();
  }
});
