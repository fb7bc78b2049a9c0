import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_NOISE, genderForm, noisyTitle, type NoiseRates } from '../src/lite/augment.js';
import { rng } from '../src/util/random.js';

const none: NoiseRates = Object.fromEntries(Object.keys(DEFAULT_NOISE).map((k) => [k, 0])) as unknown as NoiseRates;
const many = (title: string, lang: 'en' | 'de' | 'es', rates: NoiseRates, n = 400, seed = 1) => {
  const random = rng(seed);
  return Array.from({ length: n }, () => noisyTitle(title, lang, random, rates));
};

test('noisyTitle: a seed gives the same titles; no noise asked, none added', () => {
  assert.deepEqual(many('software developer', 'en', DEFAULT_NOISE, 50, 3), many('software developer', 'en', DEFAULT_NOISE, 50, 3));
  assert.notDeepEqual(many('software developer', 'en', DEFAULT_NOISE, 50, 3), many('software developer', 'en', DEFAULT_NOISE, 50, 4));
  for (const t of many('Softwareentwickler', 'de', none, 50)) assert.equal(t, 'Softwareentwickler');
});

test('noisyTitle: vacancy-style seniority, gender suffixes, places and work modes, parentheses balanced', () => {
  const en = many('software developer', 'en', DEFAULT_NOISE, 600);
  const de = many('Softwareentwickler', 'de', DEFAULT_NOISE, 600);
  const es = many('camarero', 'es', DEFAULT_NOISE, 600);
  assert.ok(en.some((t) => /^(Senior|Sr\.?|Junior|Lead) /.test(t)));
  assert.ok(de.some((t) => t.includes('(m/w/d)')));
  assert.ok(es.some((t) => t.includes('(h/m)')));
  assert.ok(de.some((t) => /Softwareentwickler(\/in|In|\*in|:in)/.test(t)));
  assert.ok(es.some((t) => t.includes('camarero/a')));
  assert.ok(en.some((t) => /remote|Remote|Full[- ]Time|Part[- ]time/i.test(t)));
  assert.ok(
    en.some((t) => /sofware|softwre|developr|devloper|softwar |sotfware|deevloper|dveeloper|ssoftware/.test(t) || !t.includes('software')),
  );
  for (const t of [...en, ...de, ...es]) {
    assert.ok(t.trim().length > 0);
    assert.equal((t.match(/\(/g) ?? []).length, (t.match(/\)/g) ?? []).length, t);
  }
});

test('noisyTitle: abbreviations, diacritics and dropped modifiers only when asked', () => {
  const abbr = many('human resources manager', 'en', { ...none, abbreviation: 1 }, 200);
  assert.ok(abbr.every((t) => t !== 'human resources manager'));
  assert.ok(abbr.some((t) => t === 'HR manager'));
  assert.ok(abbr.some((t) => /human resources Mgr\.?/.test(t)));
  assert.ok(many('Verkäufer', 'de', { ...none, diacritics: 1 }, 10).every((t) => t === 'Verkaeufer'));
  assert.ok(many('técnico de cámara', 'es', { ...none, diacritics: 1 }, 10).every((t) => t === 'tecnico de camara'));
  const dropped = many('senior software developer', 'en', { ...none, dropWord: 1 }, 100);
  assert.ok(
    dropped.every((t) => t === 'software developer' || t === 'senior developer'),
    dropped.join('; '),
  );
  assert.ok(many('ingeniero de software', 'es', { ...none, dropWord: 1 }, 50).every((t) => t.startsWith('ingeniero')));
});

test('genderForm: German -er/-erin and Spanish -o/-or words get inclusive spellings; others unchanged', () => {
  const random = rng(5);
  for (let i = 0; i < 20; i++) {
    assert.match(genderForm('Entwickler', 'de', random), /^Entwickler(\/in|\/-in|In|\*in|:in|_in|\(in\)| \/ in|\/innen|\*innen)$/);
    assert.match(genderForm('Entwicklerin', 'de', random), /^Entwickler(\/in|In|\*in|:in)$/);
    assert.match(genderForm('camarero', 'es', random), /^camarero(\/a|\/A|\(a\)| \/ a|\/-a)$/);
  }
  assert.equal(genderForm('Koch', 'de', random), 'Koch');
  assert.equal(genderForm('chef', 'en', random), 'chef');
});
