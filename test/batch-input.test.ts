/** readBatchInput: the rows `jobbert batch` sends to the workers, from every input format it takes. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readBatchInput } from '../src/index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-batch-input-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

async function rows(name: string, text: string, opts: { column?: string } = {}) {
  const path = join(dir, name);
  await writeFile(path, text);
  const out: { id: string; title: string }[] = [];
  for await (const r of readBatchInput(path, opts)) out.push(r);
  return out;
}

it('reads JSON Lines, CSV/TSV by the title columns jobbert normalize takes, and plain lines', async () => {
  assert.deepEqual(await rows('a.jsonl', '{"id": "x", "title": "baker"}\n{"title": "nurse"}\n{"text": "cook"}\n'), [
    { id: 'x', title: 'baker' },
    { id: '1', title: 'nurse' },
    { id: '2', title: 'cook' },
  ]);
  // job_title is one of the names `jobbert normalize` reads; batch reads the same ones.
  assert.deepEqual(await rows('b.csv', '\uFEFFid,job_title\r\nr1,"Baker, bread"\r\nr2,Koch\r\n'), [
    { id: 'r1', title: 'Baker, bread' },
    { id: 'r2', title: 'Koch' },
  ]);
  // Excel's CSV in a German locale: ';' between fields, as the header line shows.
  assert.deepEqual(await rows('b2.csv', 'id;Stellenbezeichnung\r\nr1;Bäcker, Vollzeit\r\n', { column: 'Stellenbezeichnung' }), [
    { id: 'r1', title: 'Bäcker, Vollzeit' },
  ]);
  assert.deepEqual(await rows('c.tsv', 'ref\tPosition\nA\tKrankenpfleger\n', { column: 'Position' }), [
    { id: '0', title: 'Krankenpfleger' },
  ]);
  assert.deepEqual(await rows('d.txt', '\uFEFFbaker\r\nnurse\n'), [
    { id: '0', title: 'baker' },
    { id: '1', title: 'nurse' },
  ]);
});

it('reads the same files gzip-compressed (.gz)', async () => {
  const gz = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, gzipSync(text));
    const out: { id: string; title: string }[] = [];
    for await (const r of readBatchInput(path)) out.push(r);
    return out;
  };
  assert.deepEqual(await gz('a.jsonl.gz', '{"id": "x", "title": "baker"}\n'), [{ id: 'x', title: 'baker' }]);
  assert.deepEqual(await gz('b.csv.gz', 'id,title\nr1,Koch\n'), [{ id: 'r1', title: 'Koch' }]);
  assert.deepEqual(await gz('d.txt.gz', 'baker\nnurse\n'), [
    { id: '0', title: 'baker' },
    { id: '1', title: 'nurse' },
  ]);
});

it('BAD CALL - a missing file, a bad row and a header without a title column are JobBERTErrors naming the place', async () => {
  await assert.rejects(rows('e.csv', 'id,city\n1,Gent\n'), {
    code: 'ERR_BAD_FILE',
    message: /no title column \(title\|vacancyTitle\|jobtitle\|job_title\|positionTitle\|Stellenbezeichnung/,
  });
  await assert.rejects(rows('f.jsonl', '{"title": "baker"}\n{"title": 5}\n'), { code: 'ERR_BAD_FILE', message: /f\.jsonl:2:/ });
  // A title cut at an unquoted comma would be normalised wrong without a word: the line is named instead.
  await assert.rejects(rows('h.csv', 'id,title\n1,Koch\n2,Sales, Marketing\n'), {
    code: 'ERR_BAD_FILE',
    message: /h\.csv:3: 3 fields where the header has 2/,
  });
  await assert.rejects(rows('g.jsonl', '{"title": "baker"}\nnot json\n'), { code: 'ERR_BAD_FILE', message: /g\.jsonl:2:/ });
  await assert.rejects(rows('i.jsonl', '{"id": [1], "title": "baker"}\n'), {
    code: 'ERR_BAD_FILE',
    message: /i\.jsonl:1: 'id' must be a string or a number/,
  });
  await assert.rejects(
    (async () => {
      for await (const _ of readBatchInput(join(dir, 'nope.txt')));
    })(),
    { code: 'ERR_NOT_FOUND' },
  );
});
