/**
 * Builds the compact ESCO v1.2.0 occupations shipped in the package
 * (models/esco/occupations.json.gz: URIs, ISCO codes, preferred and
 * alternative labels in en/de/es, ISCO group labels) from the ESCO CSVs:
 *
 *   node --import tsx scripts/build-esco.ts --data ../shared/data/esco [--out models/esco]
 *
 * ESCO is published by the European Commission and reused with attribution
 * (README "ESCO"). The output is deterministic: the same CSVs give the same bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { compactTaxonomy, readTaxonomy } from '../src/normalize/taxonomy.js';

const { values } = parseArgs({
  options: { data: { type: 'string', default: '../shared/data/esco' }, out: { type: 'string', default: 'models/esco' } },
});
const t = await readTaxonomy(values.data!);
t.source = 'ESCO v1.2.0 (built in)';
const json = JSON.stringify(compactTaxonomy(t));
const gz = gzipSync(Buffer.from(json), { level: 9 });
mkdirSync(values.out!, { recursive: true });
const path = join(values.out!, 'occupations.json.gz');
writeFileSync(path, gz);
const labels = t.occupations.reduce(
  (s, o) => s + Object.keys(o.preferred).length + Object.values(o.alt).reduce((a, l) => a + l.length, 0),
  0,
);
console.log(
  `${path}: ${t.occupations.length} occupations, ${labels} labels in ${t.langs.join('/')}, ${Object.keys(t.iscoGroups).length} ISCO groups; ${(gz.length / 1e6).toFixed(2)} MB (${(json.length / 1e6).toFixed(2)} MB JSON)`,
);
