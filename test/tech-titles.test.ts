/**
 * Technology titles ("Java Developer", "Python-Entwickler"): the training
 * vocabulary names real ESCO occupations, its title orders, and what the
 * shipped model learnt from it, on phrasings the training script does not
 * write (seniority, gender tags, two technologies, other word orders).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Normalizer, loadBuiltinTaxonomy } from '../src/index.js';
import { TECH_GROUPS, techTitle } from '../src/lite/tech-titles.js';

test('every technology group names an occupation of the built-in ESCO by its English preferred label', async () => {
  const taxonomy = await loadBuiltinTaxonomy();
  const english = new Set(taxonomy.occupations.map((o) => o.preferred.en.trim().toLowerCase()));
  for (const g of TECH_GROUPS) {
    assert.ok(english.has(g.occupation.toLowerCase()), g.occupation);
    assert.ok(g.techs.length > 0, g.occupation);
    for (const lang of ['en', 'de', 'es'] as const) assert.ok(g.roles[lang].length > 0, `${g.occupation} ${lang}`);
  }
});

test('techTitle writes the orders job boards use in each language', () => {
  const at = (x: number) => () => x;
  assert.equal(techTitle('Java', 'Developer', 'en', at(0.1)), 'Java Developer');
  assert.equal(techTitle('Java', 'Developer', 'en', at(0.8)), 'Developer (Java)');
  assert.equal(techTitle('Java', 'Developer', 'en', at(0.95)), 'Developer - Java');
  assert.equal(techTitle('Python', 'Entwickler', 'de', at(0.1)), 'Python-Entwickler');
  assert.equal(techTitle('Spring Boot', 'Entwickler', 'de', at(0.1)), 'Spring Boot Entwickler', 'no hyphen after a space');
  assert.equal(techTitle('Python', 'Entwickler', 'de', at(0.9)), 'Entwickler Python');
  assert.equal(techTitle('PHP', 'Programador', 'es', at(0.1)), 'Programador PHP');
  assert.equal(techTitle('PHP', 'Programador', 'es', at(0.7)), 'Programador de PHP');
});

test('the built-in model sends technology titles to their occupation, and keeps the other developers apart', async () => {
  const cases: [string, string][] = [
    ['Senior Java Entwickler (m/w/d)', 'software developer'],
    ['Senior Java Backend Engineer', 'software developer'],
    ['C# .NET Developer', 'software developer'],
    ['Laravel Entwickler (m/w/d)', 'web developer'],
    ['Angular Frontend Entwickler', 'user interface developer'],
    ['Flutter Entwickler', 'mobile application developer'],
    ['Linux Systemadministrator (m/w/d)', 'ICT system administrator'],
    ['Spark Big Data Engineer', 'data engineer'],
    ['Selenium Test Automation Engineer', 'software tester'],
    ['SAP FI/CO Berater', 'ICT consultant'],
    ['Property Developer', 'property developer'],
    ['Business Developer', 'business developer'],
  ];
  const n = await Normalizer.load();
  try {
    const results = await n.normalize(
      cases.map((c) => c[0]),
      { k: 1 },
    );
    const got = results.map((r, i) => [cases[i][0], r.alternatives[0]?.label.trim()]);
    assert.deepEqual(got, cases);
  } finally {
    await n.dispose();
  }
});
