/**
 * splitLines, under every reader of JSON Lines and line files (normalize input, examples,
 * batch input, training pairs, entries): lines end at "\n" only.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Normalizer, readBatchInput } from '../src/index.js';
import { readRows } from '../src/normalize/rows.js';
import { readLines, splitLines } from '../src/util/read-lines.js';
import { OCC, writeTinyTaxonomy } from './fixtures/tiny-taxonomy.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-read-lines-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

const lines = async (chunks: (string | Buffer)[]) => {
  const out: string[] = [];
  for await (const l of splitLines(Readable.from(chunks))) out.push(l);
  return out;
};

it('splits at "\\n" only: CRLF and LF, lines across chunks and a UTF-8 character cut between two, no empty last line', async () => {
  assert.deepEqual(await lines(['a\r\nb\nc']), ['a', 'b', 'c']);
  assert.deepEqual(await lines(['a\n', '\n', 'b\n']), ['a', '', 'b']);
  assert.deepEqual(await lines(['lo', 'ng li', 'ne\r', '\nnext\n']), ['long line', 'next']);
  const bytes = Buffer.from('Bäcker\nKöchin\n');
  assert.deepEqual(await lines([bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9)]), ['Bäcker', 'Köchin']);
  assert.deepEqual(await lines([]), []);
  assert.deepEqual(await lines(['only']), ['only']);
  // A byte-order mark at the stream's start goes (every reader strips it there), one later stays.
  assert.deepEqual(await lines([Buffer.from([0xef, 0xbb]), Buffer.from([0xbf, 0x61, 0x0a, 0xef, 0xbb, 0xbf, 0x62])]), ['a', '\ufeffb']);
  assert.deepEqual(await lines(['', '\ufeffa\n']), ['a']);
  // A lone "\r" is not a line end (readline's would be), as in readLines.
  assert.deepEqual(await lines(['a\rb\n']), ['a\rb']);
});

it("keeps U+2028 and U+2029 inside a line: JSON.stringify leaves them raw, and Node 24's readline cuts rows there", async () => {
  const titles = ['Koch\u2028Köchin', 'Pflegefachkraft\u2029(m/w/d)', 'baker'];
  const text = `${titles.map((title, i) => JSON.stringify({ id: `r${i}`, title, uri: OCC.baker })).join('\n')}\n`;
  assert.deepEqual(await lines([text]), text.trimEnd().split('\n'));

  const file = join(dir, 'titles.jsonl');
  await writeFile(file, text);
  const rows: unknown[] = [];
  for await (const r of readRows(file)) rows.push(r.error ?? (r.record as { title: string }).title);
  assert.deepEqual(rows, titles, 'normalize --input');
  const batch: string[] = [];
  for await (const r of readBatchInput(file)) batch.push(r.title);
  assert.deepEqual(batch, titles, 'jobbert batch');
  const n = await Normalizer.load({ taxonomy: await writeTinyTaxonomy(join(dir, 'esco')), examples: file });
  const [r] = await n.normalize([titles[1]], { k: 1 });
  assert.deepEqual(r.alternatives[0].matched, { text: titles[1], source: 'example' }, 'examples');
  await n.dispose();
});

it('readLines (entries, skills files) reads gzip and UTF-16 as the plain file, and names a missing file or a workbook', async () => {
  const text = '{"id": 1, "name": "Bäcker"}\r\n\r\n{"id": 2, "name": "Köchin"}\n';
  const plain = join(dir, 'skills.jsonl');
  await writeFile(plain, text);
  const expected = await readLines(plain);
  assert.deepEqual(expected, ['{"id": 1, "name": "Bäcker"}', '', '{"id": 2, "name": "Köchin"}']);
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  for (const [name, bytes] of [
    ['skills.jsonl.gz', gzipSync(text)],
    ['skills-utf16.jsonl', utf16],
    ['skills-utf16.jsonl.gz', gzipSync(utf16)],
  ] as const) {
    await writeFile(join(dir, name), bytes);
    assert.deepEqual(await readLines(join(dir, name)), expected, name);
  }
  await assert.rejects(readLines(join(dir, 'nope.jsonl')), { code: 'ERR_NOT_FOUND', message: /nope\.jsonl/ });
  await writeFile(join(dir, 'book.xlsx'), Buffer.from('PK\x03\x04 a workbook', 'latin1'));
  await assert.rejects(readLines(join(dir, 'book.xlsx')), { code: 'ERR_BAD_FILE', message: /book\.xlsx is a ZIP archive/ });
  await assert.rejects(readLines(dir), { code: 'ERR_IO' });
});
