/** `jobbert normalize` end to end through main(): titles, streaming JSON Lines/CSV/TSV in and out, bad rows, --strict. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, linkSync, lstatSync, readdirSync, symlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { main } from '../src/cli/index.js';
import { normalizeCommand } from '../src/cli/normalize.js';
import { csvDelimiter, pickColumn, TITLE_COLUMNS } from '../src/normalize/rows.js';
import { OCC, writeTinyTaxonomy } from './fixtures/tiny-taxonomy.js';

async function run(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out, err };
}

let dir: string;
let taxonomy: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-normalize-cli-'));
  taxonomy = await writeTinyTaxonomy(join(dir, 'esco'));
});
after(async () => rm(dir, { recursive: true, force: true }));

/** `text` in Windows-1252 (what Excel writes on a Western European Windows): its characters here are all in that code page. */
function toWindows1252(text: string): Buffer {
  const high: Record<string, number> = { '–': 0x96 };
  return Buffer.from([...text].map((c) => high[c] ?? c.charCodeAt(0)));
}

const events = (err: string[]) => err.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('jobbert normalize', () => {
  it('normalises titles given on the command line (text, and JSON Lines with --json)', async () => {
    const text = await run('normalize', 'Java Developer', 'Krankenpfleger', '--taxonomy', taxonomy, '--k', '2');
    assert.equal(text.code, 0, text.err.join('\n'));
    assert.match(text.out.join('\n'), /software developer \(ISCO 2512\)/);
    // An answer gives its confidence and URI; "unknown" gives the threshold it fell short of.
    const both = await run('normalize', 'software developer', 'xqzjv kkwpt', '--taxonomy', taxonomy, '--threshold', '0.9');
    assert.match(
      both.out.join('\n'),
      new RegExp(`^software developer\n  → software developer \\(ISCO 2512\\)  confidence 1\\.00  ${OCC.developer}$`, 'm'),
    );
    assert.match(both.out.join('\n'), /^xqzjv kkwpt\n {2}→ unknown {2}confidence 0\.\d\d < threshold 0\.9$/m);
    const json = await run('normalize', 'Java Developer', '', '--taxonomy', taxonomy, '--json', '--output-lang', 'de');
    assert.equal(json.code, 0);
    const [a, b] = json.out.map((l) => JSON.parse(l));
    assert.equal(a.id, '0');
    assert.equal(a.alternatives[0].uri, OCC.developer);
    assert.equal(a.alternatives[0].label, 'Softwareentwickler/Softwareentwicklerin');
    assert.equal(b.id, '1');
    assert.equal(b.occupation, null);
  });

  it('calibrate fits a calibration from labelled titles, and normalize --calibration applies it as Normalizer.load({ calibration }) does; bad flags are usage errors', async () => {
    const kinds: [string, string][] = [
      ['Senior Java Developer', OCC.developer],
      ['Programmierer (m/w/d)', OCC.developer],
      ['Krankenschwester Nachtdienst', OCC.nurse],
      ['registered nurse part time', OCC.nurse],
      ['Bäcker Frühschicht', OCC.baker],
      ['cab driver', OCC.driver],
      ['bookkeeper - Berlin', OCC.accountant],
    ];
    // 140 rows; every fourth labelled with the next kind's occupation, as real labels disagree.
    const rows = Array.from({ length: 140 }, (_, i) => {
      const [title] = kinds[i % kinds.length];
      const uri = kinds[(i + (i % 4 === 0 ? 1 : 0)) % kinds.length][1];
      return `"${title} ${i}",${uri}`;
    });
    const titles = join(dir, 'labelled.csv');
    await writeFile(titles, `title,uri\n${rows.join('\n')}\n`);
    const cal = join(dir, 'cal.json');
    const fit = await run('calibrate', '--titles', titles, '--taxonomy', taxonomy, '--out', cal, '--json');
    assert.equal(fit.code, 0, fit.err.join('\n'));
    const report = JSON.parse(fit.out[0]);
    assert.equal(report.out, cal);
    assert.equal(report.zeroShot.titles, 70);
    const written = JSON.parse(await readFile(cal, 'utf8'));
    assert.equal(written.encoder, report.encoder);
    assert.equal(written.fit.command, `jobbert calibrate --titles ${titles} --taxonomy ${taxonomy} --out ${cal} --json`);
    const svg = join(dir, 'reliability.svg');
    const text = await run('calibrate', '--titles', titles, '--taxonomy', taxonomy, '--out', cal, '--svg', svg);
    assert.match(text.out.join('\n'), /^zero-shot +70 +[\d.]+% +0\.\d{4} +[\d.]+ /m);
    const diagram = await readFile(svg, 'utf8');
    assert.match(diagram, /^<svg [\s\S]*<polyline [\s\S]*zero-shot \(ECE [\s\S]*with examples \(ECE [\s\S]*<\/svg>\n$/);

    const queries = ['Java Developer', 'Krankenschwester', 'xqzjv'];
    const cli = await run('normalize', ...queries, '--taxonomy', taxonomy, '--calibration', cal, '--json');
    assert.equal(cli.code, 0, cli.err.join('\n'));
    const { Normalizer } = await import('../src/index.js');
    const n = await Normalizer.load({ taxonomy, calibration: cal });
    const lib = await n.normalize(queries);
    await n.dispose();
    assert.deepEqual(
      cli.out.map((l) => JSON.parse(l).confidence),
      lib.map((r) => r.confidence),
    );
    const shipped = await run('normalize', ...queries, '--taxonomy', taxonomy, '--json');
    assert.notDeepEqual(
      shipped.out.map((l) => JSON.parse(l).confidence),
      lib.map((r) => r.confidence),
      'the calibration given, not the shipped one',
    );

    for (const [argv, message] of [
      [['calibrate', '--out', cal], /calibrate needs --titles FILE/],
      [['calibrate', '--titles', titles], /calibrate needs --out FILE/],
      [['calibrate', '--titles', titles, '--out', cal, '--precision', '1'], /--precision must be between 0 and 1/],
      [['calibrate', 'x', '--titles', titles, '--out', cal], /takes no positional arguments/],
      [['calibrate', '--titles', titles, '--out', cal, '--svg', cal], /--svg and --out name the same file/],
      [['worker', '--nats', 'nats://127.0.0.1:1', '--tasks', 'encode', '--calibration', cal], /--calibration is for the normalize task/],
      [
        ['batch', 'encode', '--nats', 'nats://127.0.0.1:1', '--input', titles, '--output', 'o.jsonl', '--calibration', cal],
        /--calibration is for batch normalize/,
      ],
    ] as const) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), message);
    }
    const missing = await run('calibrate', '--titles', join(dir, 'none.csv'), '--out', cal);
    assert.equal(missing.code, 1);
    assert.match(missing.err.join('\n'), /ERR_NOT_FOUND: --titles .*none\.csv does not exist/);
    const notOne = await run('normalize', 'x', '--calibration', titles);
    assert.equal(notOne.code, 1);
    assert.match(notOne.err.join('\n'), /ERR_BAD_DATA: .*cannot read the calibration/);
  });

  it('--fast normalises as the exact search does where every list is probed (a small taxonomy), files too', async () => {
    const exact = await run('normalize', 'Java Developer', 'Krankenpfleger', '--taxonomy', taxonomy, '--json');
    const fast = await run('normalize', 'Java Developer', 'Krankenpfleger', '--taxonomy', taxonomy, '--json', '--fast');
    assert.equal(fast.code, 0, fast.err.join('\n'));
    assert.deepEqual(fast.out, exact.out);
    const input = join(dir, 'fast.jsonl');
    await writeFile(input, '{"title":"Java Developer"}\n{"title":"baker"}\n');
    const output = join(dir, 'fast-out.jsonl');
    const file = await run('normalize', '--input', input, '--output', output, '--taxonomy', taxonomy, '--fast', '--json');
    assert.equal(file.code, 0, file.err.join('\n'));
    assert.deepEqual(
      (await readFile(output, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).alternatives[0].uri),
      [OCC.developer, OCC.baker],
    );
  });

  it('streams JSON Lines in chunks, keeps input order and ids, reports bad rows with their line and skips them', async () => {
    const input = join(dir, 'in.jsonl');
    const output = join(dir, 'out.jsonl');
    const titles = ['baker', 'taxi driver', 'accountant', 'nurse', 'programmer', 'Bäcker', 'chauffeur'];
    const lines = titles.map((t, i) => JSON.stringify(i === 2 ? { id: 'acc-1', title: t } : { title: t }));
    lines.splice(3, 0, '{"title": broken');
    lines.splice(5, 0, '{"name": "no title"}');
    // An id that is neither a string nor a number is a bad row; a null one is absent.
    lines.push('{"id": {"row": 9}, "title": "cook"}', '{"id": null, "title": "baker"}');
    await writeFile(input, `${lines.join('\n')}\n`);
    const r = await run('normalize', '--input', input, '--output', output, '--taxonomy', taxonomy, '--chunk', '2', '--k', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    const results = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      results.map((x) => x.input),
      [...titles, 'baker'],
    );
    // ids: the given id, else the 0-based data row number (bad rows keep their number).
    assert.deepEqual(
      results.map((x) => x.id),
      ['0', '1', 'acc-1', '4', '6', '7', '8', '10'],
    );
    assert.deepEqual(
      results.map((x) => x.alternatives[0].uri),
      [OCC.baker, OCC.driver, OCC.accountant, OCC.nurse, OCC.developer, OCC.baker, OCC.driver, OCC.baker],
    );
    const ev = events(r.err);
    const bad = ev.filter((e) => e.event === 'bad-row');
    assert.deepEqual(
      bad.map((e) => e.line),
      [4, 6, 10],
    );
    assert.match(String(bad[2].error), /^'id' must be a string or a number/);
    const done = ev.find((e) => e.event === 'done')!;
    assert.equal(done.titles, 8);
    assert.equal(done.badRows, 3);
    assert.ok(typeof done.titlesPerSecond === 'number');
  });

  it('--strict stops at the first bad row with ERR_BAD_FILE naming file:line, and leaves no output file', async () => {
    const input = join(dir, 'strict.jsonl');
    const output = join(dir, 'strict-out.jsonl');
    await writeFile(input, '{"title": "baker"}\n{"title": 5}\n{"title": "nurse"}\n');
    const r = await run('normalize', '--input', input, '--output', output, '--taxonomy', taxonomy, '--strict');
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /ERR_BAD_FILE: .*strict\.jsonl:2:/);
    assert.equal(existsSync(output), false);
    assert.deepEqual(
      (await import('node:fs')).readdirSync(dir).filter((f) => f.startsWith('strict-out')),
      [],
    );
  });

  it('a file whose every row is bad fails with ERR_BAD_FILE and leaves no output; a header alone or an empty file is fine', async () => {
    const input = join(dir, 'allbad.jsonl');
    const output = join(dir, 'allbad-out.jsonl');
    await writeFile(input, '{"title": 5}\n{"name": "baker"}\nnot json\n');
    const r = await run('normalize', '--input', input, '--output', output, '--taxonomy', taxonomy);
    assert.equal(r.code, 1);
    assert.match(
      r.err.join('\n'),
      /ERR_BAD_FILE: .*allbad\.jsonl: none of its 3 row\(s\) could be read \(first at line 1: 'title' must be a string; received number\); .*allbad-out\.jsonl was not written/,
    );
    assert.equal(events(r.err).filter((e) => e.event === 'bad-row').length, 3);
    assert.equal(existsSync(output), false);
    for (const [name, text] of [
      ['empty.jsonl', ''],
      ['header.csv', 'id,title\n'],
    ]) {
      await writeFile(join(dir, name), text);
      const ok = await run('normalize', '--input', join(dir, name), '--output', join(dir, `out-${name}`), '--taxonomy', taxonomy);
      assert.equal(ok.code, 0, name);
      assert.equal(events(ok.err).find((e) => e.event === 'done')!.titles, 0);
    }
  });

  it('reads CSV (quoted fields, id column) and writes CSV; TSV with --column', async () => {
    const input = join(dir, 'in.csv');
    await writeFile(input, 'id,vacancyTitle,city\nx1,"Baker, bread",Gent\nx2,"Taxi ""cab"" driver",Paris\nx3,,Rome\n');
    const output = join(dir, 'out.csv');
    const r = await run('normalize', '--input', input, '--output', output, '--format', 'csv', '--taxonomy', taxonomy, '--k', '2');
    assert.equal(r.code, 0, r.err.join('\n'));
    const rows = parse(await readFile(output, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      rows.map((x) => [x.id, x.input]),
      [
        ['x1', 'Baker, bread'],
        ['x2', 'Taxi "cab" driver'],
        ['x3', ''],
      ],
    );
    assert.equal(rows[0].alt1_uri, OCC.baker);
    assert.equal(rows[1].alt1_uri, OCC.driver);
    assert.equal(rows[2].uri, '');
    assert.equal(rows[2].confidence, '0');
    assert.ok('alt2_score' in rows[0]);
    // --bom: the same CSV after UTF-8's byte-order mark (for Excel), plain and gzip-compressed; never on JSON Lines.
    const plain = await readFile(output);
    assert.notEqual(plain[0], 0xef);
    for (const name of ['bom.csv', 'bom.csv.gz']) {
      const withBom = join(dir, name);
      const b = await run('normalize', '--input', input, '--output', withBom, '--bom', '--taxonomy', taxonomy, '--k', '2');
      assert.equal(b.code, 0, b.err.join('\n'));
      const bytes = name.endsWith('.gz') ? gunzipSync(await readFile(withBom)) : await readFile(withBom);
      assert.deepEqual(bytes, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plain]));
    }
    const noCsv = await run('normalize', '--input', input, '--bom', '--taxonomy', taxonomy);
    assert.equal(noCsv.code, 2);
    assert.match(noCsv.err.join('\n'), /--bom is for CSV output/);

    const tsv = join(dir, 'in.tsv');
    await writeFile(tsv, 'ref\tPosition\nA\tKrankenpfleger\nB\tBuchhalter\n');
    const t = await run('normalize', '--input', tsv, '--column', 'Position', '--taxonomy', taxonomy, '--k', '1');
    assert.equal(t.code, 0, t.err.join('\n'));
    const out = t.out.map((l) => JSON.parse(l));
    assert.deepEqual(
      out.map((x) => [x.id, x.alternatives[0].uri]),
      [
        ['0', OCC.nurse],
        ['1', OCC.accountant],
      ],
    );
    const missingCol = await run('normalize', '--input', tsv, '--column', 'Title', '--taxonomy', taxonomy);
    assert.equal(missingCol.code, 1);
    assert.match(missingCol.err.join('\n'), /ERR_BAD_FILE: .*no title column 'Title'/);
  });

  it('a CSV row with more fields than its header (an unquoted comma in a title) is a bad row, not a title cut short', async () => {
    const input = join(dir, 'unquoted.csv');
    await writeFile(input, 'id,title\n1,Sales, Marketing\n2,bread baker\n3,"Sales, Marketing"\n4,taxi driver,\n');
    const r = await run('normalize', '--input', input, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(
      events(r.err).filter((e) => e.event === 'bad-row'),
      [{ event: 'bad-row', line: 2, error: "3 fields where the header has 2 (a ',' inside a field that is not quoted?)" }],
    );
    // TSV is read as written: quoting would not help, so the message does not suggest it.
    const tsv = join(dir, 'extra-tab.tsv');
    await writeFile(tsv, 'id\ttitle\n1\tchef\tde partie\n');
    const t = await run('normalize', '--input', tsv, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.match(
      String(events(t.err).find((e) => e.event === 'bad-row')?.error),
      /a tab inside a field\? TSV fields are read as written, unquoted/,
    );
    // The quoted one is whole; a trailing delimiter (an empty extra field) is harmless.
    assert.deepEqual(
      r.out.map((l) => [JSON.parse(l).id, JSON.parse(l).input]),
      [
        ['2', 'bread baker'],
        ['3', 'Sales, Marketing'],
        ['4', 'taxi driver'],
      ],
    );
    const strict = await run('normalize', '--input', input, '--taxonomy', taxonomy, '--strict');
    assert.equal(strict.code, 1);
    assert.match(strict.err.join('\n'), /ERR_BAD_FILE: .*unquoted\.csv:2: 3 fields where the header has 2/);
  });

  it('keeps quotes inside CSV fields as written; a quote that never closes is one bad row that names the lines it cost', async () => {
    const input = join(dir, 'quotes.csv');
    // A closing quote followed by more text used to derail the parser: every later row was lost.
    const rows = ['id,title', '1,"Sales Manager" (m/w/d)', '2,Koch "Restaurant"', '3,"a ""quoted"" baker"', '4,bread baker'];
    await writeFile(input, `${rows.join('\n')}\n`);
    const r = await run('normalize', '--input', input, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(
      events(r.err).filter((e) => e.event === 'bad-row'),
      [],
    );
    assert.deepEqual(
      r.out.map((l) => JSON.parse(l).input),
      ['"Sales Manager" (m/w/d)', 'Koch "Restaurant"', 'a "quoted" baker', 'bread baker'],
    );
    const unclosed = join(dir, 'unclosed.csv');
    await writeFile(unclosed, 'id,title\n1,baker\n2,"taxi driver\n3,nurse\n4,cook\n');
    const u = await run('normalize', '--input', unclosed, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.equal(u.code, 0, u.err.join('\n'));
    const [bad] = events(u.err).filter((e) => e.event === 'bad-row');
    assert.match(String(bad.error), /a quote opened after line 2 is never closed, so lines 3–5 were read as one field and are lost/);
    assert.deepEqual(
      u.out.map((l) => JSON.parse(l).input),
      ['baker'],
    );
  });

  it('reads a pipe (--input <(…), a FIFO) once, format sniffed from the same bytes: no row lost, no hang', async () => {
    const fifo = join(dir, 'titles.fifo');
    const made = spawn('mkfifo', [fifo]);
    assert.equal(await new Promise((res) => made.on('close', res)), 0);
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: `r${i}`, title: i % 2 ? 'baker' : 'taxi driver' }));
    // The writer opens the FIFO when the reader does; written from another process, as a shell would.
    const writer = spawn('sh', ['-c', `cat > '${fifo}'`]);
    writer.stdin.end(`${lines.join('\n')}\n`);
    const output = join(dir, 'from-fifo.jsonl');
    const r = await run('normalize', '--input', fifo, '--output', output, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const ids = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).id);
    assert.deepEqual(
      ids,
      lines.map((_, i) => `r${i}`),
    );
    // No size to measure progress against.
    assert.equal(events(r.err).find((e) => e.event === 'done')!.fraction, null);
  });

  it('--output: a FIFO is written into as it is, a symbolic link through to its file (link kept), and the --input or --examples file is refused (each was replaced by a regular file)', async () => {
    const input = join(dir, 'targets.jsonl');
    await writeFile(input, '{"title": "baker"}\n{"title": "nurse"}\n');
    const want = (await run('normalize', '--input', input, '--taxonomy', taxonomy, '--k', '1')).out.join('\n');

    // A named pipe with a reader: the reader gets every row, and the pipe stays a pipe.
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo]);
    const read = new Promise<string>((resolve) => {
      let text = '';
      reader.stdout.on('data', (b) => (text += b));
      reader.on('close', () => resolve(text));
    });
    const toFifo = await run('normalize', '--input', input, '--output', fifo, '--taxonomy', taxonomy, '--k', '1');
    assert.equal(toFifo.code, 0, toFifo.err.join('\n'));
    // (A pipe replaced by a file leaves its reader waiting for good: a bound turns that hang into a failure.)
    const got = await Promise.race([read, new Promise<string>((resolve) => setTimeout(() => resolve('no rows'), 10_000).unref())]);
    reader.kill();
    assert.equal(got.trim(), want);
    assert.ok(lstatSync(fifo).isFIFO());

    // A link to a file, and a link to nothing yet: the file it names is written, the link stays.
    await mkdir(join(dir, 'real'), { recursive: true });
    for (const [link, file] of [
      [join(dir, 'link.jsonl'), join(dir, 'real', 'target.jsonl')],
      [join(dir, 'dangling.jsonl'), join(dir, 'real', 'new.jsonl')],
    ]) {
      if (link.endsWith('link.jsonl')) await writeFile(file, 'old\n');
      symlinkSync(file, link);
      const r = await run('normalize', '--input', input, '--output', link, '--taxonomy', taxonomy, '--k', '1');
      assert.equal(r.code, 0, r.err.join('\n'));
      assert.ok(lstatSync(link).isSymbolicLink(), `${link} is still a link`);
      assert.equal((await readFile(file, 'utf8')).trim(), want);
      assert.deepEqual(
        readdirSync(join(dir, 'real')).filter((n) => n.includes('.tmp-')),
        [],
      );
    }

    // The output named as the input, or the examples (through a hard link too): refused, nothing lost.
    const examples = join(dir, 'own-examples.csv');
    await writeFile(examples, `title,uri\nOfenmeister,${OCC.baker}\n`);
    const alias = join(dir, 'alias.jsonl');
    linkSync(input, alias);
    for (const [argv, flag] of [
      [['--input', input, '--output', input], 'input'],
      [['--input', input, '--output', alias], 'input'],
      [['--input', input, '--examples', examples, '--output', examples], 'examples'],
    ] as const) {
      const r = await run('normalize', ...argv, '--taxonomy', taxonomy);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), new RegExp(`--output .* is the --${flag} file: the output would replace what it is made from`));
    }
    assert.equal(await readFile(input, 'utf8'), '{"title": "baker"}\n{"title": "nurse"}\n');
    assert.equal(await readFile(examples, 'utf8'), `title,uri\nOfenmeister,${OCC.baker}\n`);
  });

  it('refuses ids JSON has rounded (integers beyond 2^53), an --output that is a directory before any work, and --k past 10,000', async () => {
    const input = join(dir, 'big-ids.jsonl');
    await writeFile(
      input,
      '{"id": 12345678901234567890, "title": "baker"}\n{"id": 9007199254740991, "title": "baker"}\n{"id": "12345678901234567890", "title": "baker"}\n',
    );
    const r = await run('normalize', '--input', input, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(
      r.out.map((l) => JSON.parse(l).id),
      ['9007199254740991', '12345678901234567890'],
    );
    const [bad] = events(r.err).filter((e) => e.event === 'bad-row');
    assert.equal(bad.line, 1);
    assert.match(String(bad.error), /beyond 2\^53 only as a string/);
    // An empty id cell is no id: the row number, not an id "" that every such row would share.
    const blanks = join(dir, 'blank-ids.csv');
    await writeFile(blanks, 'id,title\n,baker\nx7,nurse\n,cook\n');
    const b = await run('normalize', '--input', blanks, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.deepEqual(
      b.out.map((l) => JSON.parse(l).id),
      ['0', 'x7', '2'],
    );
    const toDir = await run('normalize', '--input', input, '--output', dir, '--taxonomy', taxonomy);
    assert.equal(toDir.code, 1);
    assert.match(toDir.err.join('\n'), /ERR_IO: --output .* is a directory/);
    const k = await run('normalize', 'baker', '--k', '10001', '--taxonomy', taxonomy);
    assert.equal(k.code, 2);
    assert.match(k.err.join('\n'), /--k must be an integer in \[1, 10000\]; received 10001/);
  });

  it('finds the title column under a spreadsheet\'s header ("Job Title", "JOB_TITLE", "Vacancy-Title"), the exact name first', async () => {
    assert.equal(pickColumn(['ID', 'Job Title', 'City'], TITLE_COLUMNS), 'Job Title');
    assert.equal(pickColumn(['JOB_TITLE'], TITLE_COLUMNS), 'JOB_TITLE');
    assert.equal(pickColumn(['Vacancy-Title', 'title'], TITLE_COLUMNS), 'title');
    assert.equal(pickColumn(['Job Title', 'Vacancy-Title'], TITLE_COLUMNS), 'Vacancy-Title', "TITLE_COLUMNS' order decides");
    assert.equal(pickColumn(['job title', 'jobtitle'], ['jobtitle']), 'jobtitle', 'an exact name beats a near one');
    assert.equal(pickColumn(['Job Title', 'job_title'], ['jobtitle']), 'Job Title', 'of two near ones, the first');
    assert.equal(pickColumn(['Job Titles', 'subtitle'], TITLE_COLUMNS), undefined);
    // German and Spanish spreadsheets name the column in their language.
    assert.equal(pickColumn(['Nr', 'Stellenbezeichnung', 'Ort'], TITLE_COLUMNS), 'Stellenbezeichnung');
    assert.equal(pickColumn(['ID', 'Nombre del puesto', 'Ciudad'], TITLE_COLUMNS), 'Nombre del puesto');
    assert.equal(
      pickColumn(['Position', 'Titel', 'Cargo'], TITLE_COLUMNS),
      undefined,
      'names that mean something else too are not guessed',
    );
    const input = join(dir, 'job-title.csv');
    await writeFile(input, 'ID,Job Title,City\n1,Bäcker,Gent\n');
    const r = await run('normalize', '--input', input, '--taxonomy', taxonomy, '--k', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(
      r.out.map((l) => JSON.parse(l).alternatives[0].uri),
      [OCC.baker],
    );
    // Two columns of one name: the first is read, as of two near names.
    const twice = join(dir, 'title-twice.csv');
    await writeFile(twice, 'title,title\nBäcker,Buchhalter\n');
    const t = await run('normalize', '--input', twice, '--taxonomy', taxonomy, '--k', '1');
    assert.deepEqual(
      t.out.map((l) => JSON.parse(l).input),
      ['Bäcker'],
    );
    // A header alone: no titles, and the file read to its end.
    const header = join(dir, 'header-only.csv');
    await writeFile(header, 'id,Job Title\r\n');
    const h = await run('normalize', '--input', header, '--taxonomy', taxonomy);
    assert.equal(h.code, 0, h.err.join('\n'));
    assert.deepEqual(h.out, []);
    assert.equal(events(h.err).find((e) => e.event === 'done')!.fraction, 1);
  });

  it("reads a CSV delimited by ';' (Excel's CSV in German, French or Spanish locales) or '|', as its header line shows", async () => {
    assert.deepEqual(['id,title', 'id;title', 'id|title', 'title', '"a,b";"c,d";title', 'id;title,city;x', ''].map(csvDelimiter), [
      ',',
      ';',
      '|',
      ',',
      ';',
      ';',
      ',',
    ]);
    const expected = [
      ['s1', OCC.baker],
      ['s2', OCC.driver],
      ['s3', OCC.accountant],
    ];
    const semicolon = join(dir, 'excel-de.csv');
    // A semicolon and a comma inside a title, one of them quoted, as Excel writes it.
    await writeFile(
      semicolon,
      '\uFEFFid;Stellenbezeichnung;Ort\r\ns1;Bäcker, Vollzeit;Gent\r\ns2;"Taxifahrer; Nachtschicht";Paris\r\ns3;Buchhalter;Rom\r\n',
    );
    const r = await run('normalize', '--input', semicolon, '--column', 'Stellenbezeichnung', '--taxonomy', taxonomy, '--k', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    const out = r.out.map((l) => JSON.parse(l));
    assert.deepEqual(
      out.map((x) => [x.id, x.alternatives[0].uri]),
      expected,
    );
    assert.deepEqual(
      out.map((x) => x.input),
      ['Bäcker, Vollzeit', 'Taxifahrer; Nachtschicht', 'Buchhalter'],
    );
    // From stdin, and in Windows-1252 (Excel's other habit), the same.
    const fromStdin: string[] = [];
    const code = await normalizeCommand(
      ['--input', '-', '--input-encoding', 'windows-1252', '--column', 'Stellenbezeichnung', '--taxonomy', taxonomy, '--k', '1'],
      (l) => fromStdin.push(l),
      {
        stdin: Readable.from([toWindows1252((await readFile(semicolon, 'utf8')).replace(/^\uFEFF/, ''))]),
        progress: { write: () => true },
      },
    );
    assert.equal(code, 0);
    assert.deepEqual(fromStdin, r.out);
    const pipes = join(dir, 'pipes.csv');
    await writeFile(pipes, 'id|title\ns1|Bäcker, Vollzeit\ns2|Taxifahrer; Nachtschicht\ns3|Buchhalter\n');
    const p = await run('normalize', '--input', pipes, '--taxonomy', taxonomy, '--k', '1');
    assert.deepEqual(p.out, r.out);
    // Excel's "sep=;" first line names the delimiter (here against the header's majority); line numbers stay the file's.
    const sep = join(dir, 'sep.csv');
    await writeFile(sep, '\uFEFFsep=;\r\nid;title,with,commas\r\ns1;Bäcker, Vollzeit\r\ns2;Taxifahrer; Nachtschicht\r\n');
    const sr = await run('normalize', '--input', sep, '--column', 'title,with,commas', '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.deepEqual(
      sr.out.map((l) => JSON.parse(l).input),
      ['Bäcker, Vollzeit'],
    );
    assert.deepEqual(
      events(sr.err)
        .filter((e) => e.event === 'bad-row')
        .map((e) => e.line),
      [4],
    );
    // A comma CSV whose titles hold semicolons is still split at commas.
    const commas = join(dir, 'commas.csv');
    await writeFile(commas, 'id,title\ns1,Bäcker; Vollzeit\n');
    const c = await run('normalize', '--input', commas, '--taxonomy', taxonomy, '--k', '1');
    assert.equal(JSON.parse(c.out[0]).input, 'Bäcker; Vollzeit');
  });

  it('reads gzip input (by its first bytes: file, no extension, stdin), writes .gz and .csv outputs by their names, refuses a ZIP (Excel workbook)', async () => {
    const titles = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ id: `g${i}`, title: ['baker', 'Krankenpfleger', 'Buchhalter', 'taxi driver'][i % 4] }),
    );
    const plain = join(dir, 'g.jsonl');
    await writeFile(plain, `${titles.join('\n')}\n`);
    const expected = await run('normalize', '--input', plain, '--taxonomy', taxonomy, '--k', '2');
    assert.equal(expected.code, 0, expected.err.join('\n'));
    for (const name of ['g.jsonl.gz', 'g-no-extension']) {
      const gz = join(dir, name);
      await writeFile(gz, gzipSync(await readFile(plain)));
      const r = await run('normalize', '--input', gz, '--taxonomy', taxonomy, '--k', '2', '--json');
      assert.equal(r.code, 0, r.err.join('\n'));
      assert.deepEqual(r.out, expected.out, name);
      // Progress is measured in the compressed file's bytes: the run ends at 1, not beyond.
      assert.equal(events(r.err).find((e) => e.event === 'done')!.fraction, 1);
    }
    const fromStdin: string[] = [];
    const code = await normalizeCommand(['--input', '-', '--taxonomy', taxonomy, '--k', '2'], (l) => fromStdin.push(l), {
      stdin: Readable.from([gzipSync(await readFile(plain))]),
      progress: { write: () => true },
    });
    assert.equal(code, 0);
    assert.deepEqual(fromStdin, expected.out);

    // Outputs: .gz is compressed; .csv (and .csv.gz) is CSV without --format.
    const outGz = join(dir, 'out.jsonl.gz');
    assert.equal((await run('normalize', '--input', plain, '--output', outGz, '--taxonomy', taxonomy, '--k', '2')).code, 0);
    assert.equal(gunzipSync(await readFile(outGz)).toString('utf8'), `${expected.out.join('\n')}\n`);
    const csvOut = join(dir, 'out.csv');
    const csvGz = join(dir, 'out.csv.gz');
    const csvFormat = join(dir, 'out-format.txt');
    await run('normalize', '--input', plain, '--output', csvOut, '--taxonomy', taxonomy, '--k', '2');
    await run('normalize', '--input', plain, '--output', csvGz, '--taxonomy', taxonomy, '--k', '2');
    await run('normalize', '--input', plain, '--output', csvFormat, '--format', 'csv', '--taxonomy', taxonomy, '--k', '2');
    const csvText = await readFile(csvFormat, 'utf8');
    assert.match(csvText, /^id,input,uri,label,isco,confidence,alt1_uri/);
    assert.equal(await readFile(csvOut, 'utf8'), csvText);
    assert.equal(gunzipSync(await readFile(csvGz)).toString('utf8'), csvText);

    // A truncated gzip file fails (exit 1, ERR_IO) and leaves no output, rather than ending early as if complete.
    const whole = gzipSync(Buffer.from(`${titles.join('\n')}\n`.repeat(40)));
    const truncated = join(dir, 'cut.jsonl.gz');
    await writeFile(truncated, whole.subarray(0, whole.length - 100));
    const out = join(dir, 'cut-out.jsonl');
    const t = await run('normalize', '--input', truncated, '--output', out, '--taxonomy', taxonomy);
    assert.equal(t.code, 1);
    assert.match(t.err.join('\n'), /ERR_IO: cannot read .*cut\.jsonl\.gz \(unexpected end of file\)/);
    assert.equal(existsSync(out), false);
    // An Excel workbook (.xlsx: a ZIP archive; .xls: an OLE2 file), under any name, is refused with what to do.
    for (const [name, magic, what] of [
      ['book.xlsx', 'PK\x03\x04', /a ZIP archive \(an Excel \.xlsx workbook\?\)/],
      ['book.csv', 'PK\x03\x04', /a ZIP archive/],
      ['book.xls', '\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1', /an OLE2 file \(an Excel \.xls workbook\?\)/],
    ] as const) {
      const file = join(dir, name);
      await writeFile(file, Buffer.concat([Buffer.from(magic, 'latin1'), Buffer.alloc(60)]));
      const z = await run('normalize', '--input', file, '--taxonomy', taxonomy);
      assert.equal(z.code, 1);
      assert.match(z.err.join('\n'), /ERR_BAD_FILE: .* is .*save it as CSV \(UTF-8\) first/);
      assert.match(z.err.join('\n'), what);
    }
  });

  it('reads UTF-16 after its byte-order mark (Excel\'s "Unicode Text" export: tab-separated UTF-16LE), from a file and stdin', async () => {
    const text = 'id\ttitle\r\nu1\tBäcker\r\nu2\tKrankenpfleger – Vollzeit\r\n';
    const utf8 = join(dir, 'unicode-text.tsv');
    await writeFile(utf8, text);
    const expected = await run('normalize', '--input', utf8, '--taxonomy', taxonomy, '--k', '1', '--json');
    assert.deepEqual(
      expected.out.map((l) => JSON.parse(l).input),
      ['Bäcker', 'Krankenpfleger – Vollzeit'],
    );
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    for (const [name, bytes] of [
      ['le.txt', le],
      ['be.txt', be],
      // Compressed, the byte-order mark is found once decompressed.
      ['le.tsv.gz', gzipSync(le)],
      ['be-gzip-no-extension', gzipSync(be)],
    ] as const) {
      const file = join(dir, name);
      await writeFile(file, bytes);
      const r = await run('normalize', '--input', file, '--taxonomy', taxonomy, '--k', '1', '--json');
      assert.equal(r.code, 0, r.err.join('\n'));
      assert.deepEqual(r.out, expected.out, name);
      // Progress counts the file's own (two-byte) units: it ends at 1.
      assert.equal(events(r.err).find((e) => e.event === 'done')!.fraction, 1);
    }
    for (const [extra, bytes] of [
      [[], le],
      [['--input-encoding', 'utf-16le'], le],
      [[], gzipSync(le)],
      [['--input-encoding', 'utf-16le'], gzipSync(le)],
    ] as const) {
      const out: string[] = [];
      const code = await normalizeCommand(['--input', '-', '--taxonomy', taxonomy, '--k', '1', ...extra], (l) => out.push(l), {
        stdin: Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]),
        progress: { write: () => true },
      });
      assert.equal(code, 0);
      assert.deepEqual(out, expected.out, extra.join(' '));
    }
  });

  it('to stdout: one line a call, in input order with several chunks in flight; CSV fields with line breaks stay one row', async () => {
    const input = join(dir, 'stdout.jsonl');
    const titles = ['baker', 'nurse', 'Taxi "cab"\ndriver', 'accountant', '', 'Bäcker', 'programmer', 'baker'];
    await writeFile(input, `${titles.map((t, i) => JSON.stringify({ id: `s${i}`, title: t })).join('\n')}\n`);
    const r = await run('normalize', '--input', input, '--taxonomy', taxonomy, '--chunk', '2', '--k', '2');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(r.out.length, titles.length);
    const got = r.out.map((l) => JSON.parse(l));
    assert.deepEqual(
      got.map((x) => [x.id, x.input]),
      titles.map((t, i) => [`s${i}`, t]),
    );
    assert.equal(got[5].alternatives[0].uri, OCC.baker);
    assert.equal(got[4].occupation, null);

    const c = await run('normalize', '--input', input, '--taxonomy', taxonomy, '--chunk', '3', '--k', '1', '--format', 'csv');
    assert.equal(c.code, 0, c.err.join('\n'));
    assert.equal(c.out.length, titles.length + 1, 'a header and one row per title');
    const rows = parse(`${c.out.join('\n')}\n`, { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      rows.map((x) => x.input),
      titles,
    );
  });

  it('--input - reads stdin (JSON Lines or CSV, by its first line, or --input-format); --output - and a stdout stream get the same bytes', async () => {
    const titles = ['baker', 'Taxi "cab"\ndriver', '', 'Bäcker', 'nurse'];
    const jsonl = `${titles.map((t, i) => JSON.stringify({ id: `s${i}`, title: t })).join('\n')}\n`;
    const file = join(dir, 'same.jsonl');
    await writeFile(file, jsonl);
    const expected = (await run('normalize', '--input', file, '--taxonomy', taxonomy, '--k', '2')).out;
    const stdin = async (text: string, extra: string[], stdout?: PassThrough) => {
      const out: string[] = [];
      const err: string[] = [];
      // Chunks of 7 bytes: the format is read from a first line that spans chunks.
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
      const code = await normalizeCommand(
        ['--input', '-', '--taxonomy', taxonomy, '--k', '2', '--chunk', '2', ...extra],
        (l) => out.push(l),
        {
          stdin: Readable.from(chunks),
          stdout,
          progress: { write: (l: string) => err.push(l) },
        },
      );
      return { code, out, err: err.join('') };
    };
    const a = await stdin(jsonl, []);
    assert.equal(a.code, 0, a.err);
    assert.deepEqual(a.out, expected);
    // Of stdin the size is unknown: no fraction and no ETA, rather than a made-up one.
    const done = events(a.err.split('\n')).find((e) => e.event === 'done')!;
    assert.equal(done.titles, titles.length);
    assert.equal(done.fraction, null);
    assert.deepEqual((await stdin(jsonl, ['--output', '-'])).out, expected);

    // A stdout stream gets whole chunks, byte for byte the lines `out` gets.
    const pipe = new PassThrough();
    const bytes: Buffer[] = [];
    pipe.on('data', (b: Buffer) => bytes.push(b));
    const s = await stdin(jsonl, [], pipe);
    assert.equal(s.code, 0, s.err);
    assert.deepEqual(s.out, []);
    assert.equal(Buffer.concat(bytes).toString('utf8'), `${expected.join('\n')}\n`);

    const csv = await stdin('\uFEFFid,jobtitle\r\nc1,"Baker, bread"\r\nc2,Krankenpfleger\r\n', []);
    assert.equal(csv.code, 0, csv.err);
    assert.deepEqual(
      csv.out.map((l) => JSON.parse(l)).map((x) => [x.id, x.alternatives[0].uri]),
      [
        ['c1', OCC.baker],
        ['c2', OCC.nurse],
      ],
    );
    const tsv = await stdin('title\tcity\nBuchhalter\tGent\n', ['--input-format', 'tsv']);
    assert.equal(JSON.parse(tsv.out[0]).alternatives[0].uri, OCC.accountant);
    assert.deepEqual((await stdin('', [])).out, []);
    // A bad row on stdin is named by its line there.
    await assert.rejects(stdin('{"title": "baker"}\n{"title": broken\n', ['--strict']), { code: 'ERR_BAD_FILE', message: /^stdin:2: / });
  });

  it('a JSON Lines row without "title" may give it as "text", as jobbert batch reads it', async () => {
    const a = join(dir, 'title.jsonl');
    const b = join(dir, 'text.jsonl');
    await writeFile(a, '{"id": "x", "title": "baker"}\n{"title": "nurse"}\n');
    await writeFile(b, '{"id": "x", "text": "baker"}\n{"text": "nurse", "title": null}\n');
    const expected = await run('normalize', '--input', a, '--taxonomy', taxonomy, '--k', '1');
    assert.equal(expected.code, 0, expected.err.join('\n'));
    assert.deepEqual((await run('normalize', '--input', b, '--taxonomy', taxonomy, '--k', '1')).out, expected.out);
  });

  it('reads one title a line (.txt, or --input-format lines on stdin): every line a row, ids the row numbers, the answers those of JSON Lines', async () => {
    const titles = ['baker', '', 'Krankenpfleger, Vollzeit', 'id,title', '{"title": "nurse"}'];
    const jsonl = join(dir, 'lines.jsonl');
    await writeFile(jsonl, `${titles.map((title) => JSON.stringify({ title })).join('\n')}\n`);
    const expected = await run('normalize', '--input', jsonl, '--taxonomy', taxonomy, '--k', '2');
    assert.equal(expected.code, 0, expected.err.join('\n'));
    assert.equal(expected.out.length, titles.length);
    const txt = join(dir, 'titles.txt');
    await writeFile(txt, `\uFEFF${titles.join('\r\n')}\r\n`);
    const r = await run('normalize', '--input', txt, '--taxonomy', taxonomy, '--k', '2');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.out, expected.out);
    assert.equal(JSON.parse(r.out[1]).occupation, null);
    await writeFile(`${txt}.gz`, gzipSync(`${titles.join('\n')}\n`));
    assert.deepEqual((await run('normalize', '--input', `${txt}.gz`, '--taxonomy', taxonomy, '--k', '2')).out, expected.out);
    const out: string[] = [];
    const code = await normalizeCommand(
      ['--input', '-', '--input-format', 'lines', '--taxonomy', taxonomy, '--k', '2'],
      (l) => out.push(l),
      { stdin: Readable.from([Buffer.from(titles.join('\n'))]), progress: { write: () => true } },
    );
    assert.equal(code, 0);
    assert.deepEqual(out, expected.out);
    // Sniffed as CSV, a list of titles has its first title for a header: the error says what to do.
    const list = join(dir, 'list');
    await writeFile(list, 'Bäcker\nKoch\n');
    const sniffed = await run('normalize', '--input', list, '--taxonomy', taxonomy);
    assert.equal(sniffed.code, 1);
    assert.match(
      sniffed.err.join('\n'),
      /no title column .* \(columns: Bäcker\); name it with --column, or .* name it \.txt or pass --input-format lines/,
    );
    assert.equal((await run('normalize', '--input', list, '--input-format', 'text', '--taxonomy', taxonomy)).code, 2);
  });

  it('--input-encoding reads a Windows (Excel) export; without it, bytes that are not UTF-8 raise one warning naming the flag', async () => {
    const text = 'id,jobtitle\r\nw1,Bäcker\r\nw2,Krankenpfleger – Vollzeit\r\nw3,Buchhalter\r\nw4,Bäckerin\r\n';
    const utf8 = join(dir, 'utf8.csv');
    await writeFile(utf8, text);
    const cp1252 = join(dir, 'excel.csv');
    await writeFile(cp1252, toWindows1252(text));
    const expected = await run('normalize', '--input', utf8, '--taxonomy', taxonomy, '--k', '1');
    assert.equal(expected.code, 0, expected.err.join('\n'));
    assert.deepEqual(
      events(expected.err).filter((e) => e.event === 'warning'),
      [],
    );

    const decoded = await run('normalize', '--input', cp1252, '--taxonomy', taxonomy, '--k', '1', '--input-encoding', 'windows-1252');
    assert.equal(decoded.code, 0, decoded.err.join('\n'));
    assert.deepEqual(decoded.out, expected.out);
    assert.deepEqual(
      events(decoded.err).filter((e) => e.event === 'warning'),
      [],
    );
    // From stdin too (the format read from the raw first line).
    const pipe = new PassThrough();
    const bytes: Buffer[] = [];
    pipe.on('data', (b: Buffer) => bytes.push(b));
    const piped = await normalizeCommand(['--input', '-', '--taxonomy', taxonomy, '--k', '1', '--input-encoding', 'cp1252'], () => {}, {
      stdin: Readable.from([await readFile(cp1252)]),
      stdout: pipe,
      progress: { write: () => true },
    });
    assert.equal(piped, 0);
    assert.equal(Buffer.concat(bytes).toString('utf8'), `${expected.out.join('\n')}\n`);

    const raw = await run('normalize', '--input', cp1252, '--taxonomy', taxonomy, '--k', '1');
    assert.equal(raw.code, 0, 'still normalised');
    assert.equal(raw.out.length, 4);
    assert.equal(JSON.parse(raw.out[0]).input, 'B\uFFFDcker');
    const warnings = events(raw.err).filter((e) => e.event === 'warning');
    assert.equal(warnings.length, 1, 'once, not once a row');
    assert.equal(warnings[0].line, 2);
    assert.match(String(warnings[0].message), /not UTF-8.*--input-encoding windows-1252/);

    for (const argv of [
      ['--input', cp1252, '--input-encoding', 'klingon'],
      ['Bäcker', '--input-encoding', 'latin1'],
    ]) {
      const r = await run('normalize', ...argv, '--taxonomy', taxonomy);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), /--input-encoding/);
    }
  });

  it('the real CLI stops quietly, exit 0, when its reader closes stdout early (| head)', async () => {
    const input = join(dir, 'many.jsonl');
    // ~3 MB of results: far more than a pipe holds, so the CLI is still writing when the reader goes.
    await writeFile(input, `${Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ title: `baker ${i}` })).join('\n')}\n`);
    const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', bin, 'normalize', '--input', input, '--taxonomy', taxonomy], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    const first = await new Promise<string>((res) => child.stdout.once('data', (b: Buffer) => res(b.toString('utf8'))));
    child.stdout.destroy();
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.match(first, /^\{"id":"0","input":"baker 0"/);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Error/);
    assert.doesNotMatch(stderr, /"event":"done"/, 'it stopped: the run did not go on to the end');
  });

  it('examples, threshold and output language reach the Normalizer', async () => {
    const examples = join(dir, 'examples.jsonl');
    await writeFile(examples, `${JSON.stringify({ title: 'Zorblax Wrangler', uri: OCC.accountant })}\n`);
    const r = await run('normalize', 'Zorblax Wrangler', '--taxonomy', taxonomy, '--examples', examples, '--threshold', '0', '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const [x] = r.out.map((l) => JSON.parse(l));
    assert.equal(x.occupation.uri, OCC.accountant);
    assert.equal(x.alternatives[0].matched.source, 'example');
  });

  it('BAD CALL - usage errors exit 2, missing files exit 1, nothing crashes', async () => {
    assert.equal((await run('normalize')).code, 2);
    assert.equal((await run('normalize', 'x', '--format', 'xml')).code, 2);
    assert.equal((await run('normalize', 'x', '--k', '0')).code, 2);
    assert.equal((await run('normalize', 'x', '--output', 'o.jsonl')).code, 2);
    assert.equal((await run('normalize', 'x', '--taxonomy', taxonomy, '--output-lang', 'fr')).code, 2);
    assert.equal((await run('normalize', 'x', '--taxonomy', taxonomy, '--threshold', '3')).code, 2);
    const missing = await run('normalize', '--input', join(dir, 'nope.jsonl'));
    assert.equal(missing.code, 1);
    assert.match(missing.err.join('\n'), /ERR_NOT_FOUND/);
    const noTax = await run('normalize', 'x', '--taxonomy', join(dir, 'nope'));
    assert.equal(noTax.code, 1);
  });
});
