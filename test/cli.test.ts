/** The CLI end to end (through main(), as the bin runs it), on fixtures and, when present, the real data. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { main } from '../src/cli/index.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const DATA = resolve(process.env.JOBBERT_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data'), 'talentclef-a', 'validation');

/**
 * The modules of this package (and of node_modules, but for tsx itself) that
 * `main(argv)` loads in a fresh process, as file URLs; a module-resolution
 * hook lists them.
 */
function modulesLoaded(argv: string[]): string[] {
  const hook = `export async function resolve(s, c, next) {
    const r = await next(s, c);
    if (r.url.startsWith('file:') && !r.url.includes('/node_modules/tsx/')) process.stdout.write(r.url + '\\n');
    return r;
  }`;
  const script = `import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
    const { main } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', 'src', 'cli', 'index.ts')).href)});
    process.exitCode = await main(${JSON.stringify(argv)}, () => {}, () => {});`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-cli-'));
  await writeFile(
    join(dir, 'titles.tsv'),
    'id\ttext\tlang\n1\tSoftware Engineer\ten\n2\tSoftwareentwickler\tde\n3\tData Scientist\ten\n4\tKrankenschwester\tde\n5\tNurse\ten\n',
  );
  await writeFile(join(dir, 'titles.jsonl'), '{"id": "a", "text": "Software Engineer"}\n{"id": "b", "text": "Nurse", "lang": "en"}\n');
});
after(async () => rm(dir, { recursive: true, force: true }));

describe('jobbert CLI', () => {
  it('prints help, version and info', async () => {
    assert.match((await run('help')).out, /Usage: jobbert <command>/);
    assert.match((await run('--version')).out, /^\d+\.\d+\.\d+$/);
    const info = JSON.parse((await run('info', '--json')).out);
    assert.ok(info.backends.includes('cpu'));
  });

  it("loads a command's modules only when it runs: --help loads none, normalize not the NATS client nor the service", () => {
    const help = modulesLoaded(['--help']).map((u) => u.slice(u.indexOf('/src/') + 1));
    assert.deepEqual(help.sort(), ['src/cli/args.ts', 'src/cli/index.ts', 'src/cli/usage.ts', 'src/errors.ts']);
    const normalize = modulesLoaded(['normalize', 'Nurse']);
    assert.ok(normalize.some((u) => u.endsWith('/src/normalize/normalizer.ts')));
    const stray = normalize.filter((u) => /\/src\/(cluster|serve|train)\/|@nats-io/.test(u));
    assert.deepEqual(stray, []);
  });

  it('encode runs the built-in model without --model, and a LiteEncoder directory with it, as batch encode and worker do (it needed a JobBERT model); JobBERT-only flags are refused there', async () => {
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    const encoder = await LiteEncoder.load();
    const m = await encoder.encode(['data scientist', 'Koch'], { branch: 'positive' });
    await encoder.dispose();
    const want = [0, 1].map((i) => JSON.stringify(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols))));
    const builtin = await run('encode', '--branch', 'positive', 'data scientist', 'Koch');
    assert.equal(builtin.code, 0, builtin.err);
    assert.deepEqual(builtin.out.trim().split('\n'), want);
    const dir = await run('encode', '--model', 'models/lite', '--branch', 'positive', '--json', 'data scientist', 'Koch');
    assert.equal(dir.code, 0, dir.err);
    assert.deepEqual(
      JSON.parse(dir.out).vectors.map((v: number[]) => JSON.stringify(v)),
      want,
    );
    for (const [flag, value] of [
      ['--threads', '2'],
      ['--precision', 'int8'],
      ['--batch-size', '8'],
    ]) {
      const r = await run('encode', flag, value, 'x');
      assert.equal(r.code, 2);
      assert.match(r.err, new RegExp(`${flag} has no effect with the built-in model`));
    }
  });

  it("COMMAND --help, -h and help COMMAND print that command's usage (exit 0); an unknown command is still a usage error", async () => {
    for (const command of [
      'normalize',
      'demo',
      'match',
      'index',
      'eval',
      'convert',
      'download',
      'encode',
      'train',
      'serve',
      'worker',
      'batch',
      'info',
    ]) {
      for (const argv of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const r = await run(...argv);
        assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
        assert.ok(r.out.startsWith(`Usage: jobbert ${command} [options]\n\n  ${command}`), `${argv.join(' ')}: ${r.out.slice(0, 80)}`);
        assert.ok(!r.out.includes('Commands:'), 'only that command');
      }
    }
    // Help wins wherever it stands before "--", and does no work (no title is normalised).
    const late = await run('normalize', 'Nurse', '--k', '2', '--help');
    assert.equal(late.code, 0);
    assert.match(late.out, /^Usage: jobbert normalize/);
    // After "--" it is a title like any other.
    const title = await run('normalize', '--json', '--', '-h');
    assert.equal(title.code, 0, title.err);
    assert.equal(JSON.parse(title.out.split('\n')[0]).input, '-h');
    for (const argv of [
      ['nosuch', '--help'],
      ['help', 'nosuch'],
    ]) {
      const r = await run(...argv);
      assert.equal(r.code, 2);
      assert.match(r.err, /unknown command 'nosuch'/);
    }
  });

  it('train --help shows --model as optional with --encoder lite, and names every option train takes', async () => {
    const r = await run('train', '--help');
    assert.equal(r.code, 0, r.err);
    // It read 'train --model DIR …' as if --model were required, while --encoder lite trains without one.
    assert.match(r.out, /train \[--model DIR\] \[--encoder jobbert\|lite\] --data FILE --out DIR/);
    assert.match(r.out, /--encoder lite trains a LiteEncoder/);
    // --keep-checkpoints was taken but not listed.
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../src/cli/train.ts', import.meta.url), 'utf8');
    const spec = source.slice(source.indexOf('const SPEC'), source.indexOf('} as const;'));
    const options = [...spec.matchAll(/^\s+'?([a-z-]+)'?: '(?:string|integer|number|boolean)'/gm)].map((m) => m[1]);
    assert.ok(options.length > 15, options.join(' '));
    for (const o of options) assert.ok(r.out.includes(`--${o}`), `--${o} is missing from train --help`);
  });

  it('builds, saves and searches an index', async () => {
    const index = join(dir, 't.jbi');
    const built = await run('index', 'build', '--input', join(dir, 'titles.tsv'), '--out', index, '--json');
    assert.equal(built.code, 0, built.err);
    assert.deepEqual(JSON.parse(built.out).entries, 5);
    const found = await run('index', 'search', index, 'software engineer', '--k', '2', '--json');
    assert.equal(found.code, 0, found.err);
    const { results } = JSON.parse(found.out);
    assert.equal(results[0][0].id, '1');
    assert.equal(results[0].length, 2);
    const german = JSON.parse((await run('index', 'search', index, 'software engineer', '--lang', 'de', '--json')).out);
    assert.deepEqual(
      german.results[0].map((r: { id: string }) => r.id),
      ['2', '4'],
    );
    const text = await run('index', 'search', index, 'nurse', '--k', '1');
    assert.match(text.out, /^nurse\n\s+1\s+1\.0000\s+Nurse\s+\[5\]$/);
  });

  it('builds an index from gzip-compressed and UTF-16 entry files as from the plain ones; a workbook is refused', async () => {
    const tsv = await readFile(join(dir, 'titles.tsv'));
    const files = {
      'titles.tsv.gz': gzipSync(tsv),
      'titles-gzip-no-extension': gzipSync(tsv),
      'titles-utf16.tsv': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(tsv.toString('utf8'), 'utf16le')]),
      'titles.jsonl.gz': gzipSync(await readFile(join(dir, 'titles.jsonl'))),
    };
    const ids = async (input: string) => {
      const out = join(dir, 'enc.jbi');
      const built = await run('index', 'build', '--input', input, '--out', out, '--json');
      assert.equal(built.code, 0, `${input}: ${built.err}`);
      const found = JSON.parse((await run('index', 'search', out, 'Krankenschwester', '--k', '5', '--json')).out);
      return found.results[0].map((r: { id: string; text: string }) => `${r.id}:${r.text}`);
    };
    const plain = await ids(join(dir, 'titles.tsv'));
    assert.equal(plain.length, 5);
    for (const [name, bytes] of Object.entries(files)) {
      await writeFile(join(dir, name), bytes);
      if (!name.includes('jsonl')) assert.deepEqual(await ids(join(dir, name)), plain, name);
    }
    assert.deepEqual(await ids(join(dir, 'titles.jsonl.gz')), await ids(join(dir, 'titles.jsonl')));
    await writeFile(join(dir, 'titles.xlsx'), Buffer.from('PK\x03\x04 a workbook', 'latin1'));
    const workbook = await run('index', 'build', '--input', join(dir, 'titles.xlsx'), '--out', join(dir, 'w.jbi'));
    assert.equal(workbook.code, 1);
    assert.match(workbook.err, /ERR_BAD_FILE: .*titles\.xlsx is a ZIP archive/);
  });

  it('builds an index from a CSV entry file: columns by name, any order, quoted fields, ; delimiter', async () => {
    // A spreadsheet's export: the text before the id, a language column, a quoted title holding the delimiter.
    await writeFile(
      join(dir, 'entries.csv'),
      'Job Title;Language;ID\n"Nurse; registered";en;n1\nSoftwareentwickler;de;s1\nData Scientist;;d1\n',
    );
    const out = join(dir, 'csv.jbi');
    const built = await run('index', 'build', '--input', join(dir, 'entries.csv'), '--lang', 'en', '--out', out, '--json');
    assert.equal(built.code, 0, built.err);
    assert.equal(JSON.parse(built.out).entries, 3);
    assert.deepEqual(JSON.parse(built.out).languages.sort(), ['de', 'en']);
    const found = JSON.parse((await run('index', 'search', out, 'Nurse; registered', '--k', '1', '--json')).out);
    assert.deepEqual(
      found.results[0].map((r: { id: string; text: string }) => [r.id, r.text]),
      [['n1', 'Nurse; registered']],
    );
    const german = JSON.parse((await run('index', 'search', out, 'Software', '--lang', 'de', '--json')).out);
    assert.deepEqual(
      german.results[0].map((r: { id: string }) => r.id),
      ['s1'],
    );
    // Unnamed columns: the first is the id, the second the text.
    await writeFile(join(dir, 'plain.csv'), 'a,b\n7,Nurse\n');
    const plain = await run('match', 'nurse', '--corpus', join(dir, 'plain.csv'), '--k', '1', '--json');
    assert.equal(plain.code, 0, plain.err);
    assert.equal(JSON.parse(plain.out).results[0][0].id, '7');
    for (const [name, content, why] of [
      ['empty.csv', '', /no entries/],
      ['header-only.tsv', 'id\ttext\n', /no entries/],
      ['one-column.csv', 'title\nNurse\n', /: expected a header row naming an id and a text column/],
      // A header error names no line: after Excel's "sep=" line the header is line 2.
      ['sep-one-column.csv', 'sep=;\ntitle\nNurse\n', /: expected a header row .*the header is 'title'/],
      ['no-text.csv', 'id,text\n1,\n', /:2: expected an id \('id'\) and a text \('text'\)/],
      ['blank-text.tsv', 'id\ttext\n1\t   \n', /:2: expected an id .* neither empty/],
      // A plain list was told "the header is 'title'", a header it does not have.
      ['list.txt', 'A\nB\n', /one text a line has no ids/],
      // JSON Lines as TSV: an empty id or text is a bad row (the id was a usage error naming entries[1], the text an entry);
      // an id JSON has rounded (beyond 2^53) or made Infinity would name another record.
      ['empty-id.jsonl', '{"id":"a","text":"Cook"}\n{"id":"","text":"Baker"}\n', /:2: expected an id .* neither empty/],
      ['empty-text.jsonl', '{"id":"a","text":""}\n', /:1: expected an id .* neither empty/],
      [
        'big-id.jsonl',
        '{"id":12345678901234567890,"text":"Cook"}\n',
        /:1: the id 12345678901234567000 is a number JSON cannot hold exactly/,
      ],
      ['inf-id.jsonl', '{"id":1e400,"text":"Cook"}\n', /:1: the id Infinity is a number JSON cannot hold exactly/],
      ['duplicate-id.tsv', 'id\ttext\n1\tA\n2\tB\n1\tC\n', /:4: id '1' is already on line 2 \(ids must be unique\)/],
    ] as const) {
      await writeFile(join(dir, name), content);
      const r = await run('index', 'build', '--input', join(dir, name), '--out', join(dir, 'bad.jbi'));
      assert.equal(r.code, 1, name);
      assert.match(r.err, new RegExp(`ERR_BAD_FILE: .*${name.replace('.', '\\.')}.*${why.source}`), name);
    }
  });

  it('reads the id and text columns that --id-column and --text-column name (CSV, TSV and JSON Lines)', async () => {
    // The id column is not first, and another column is found by name first ('Title' over 'Beschreibung').
    await writeFile(join(dir, 'named.csv'), 'Title,Ref,Beschreibung\nSomething else,r1,Nurse\nOther,r2,Software developer\n');
    const named = await run(
      'match',
      'nurse',
      '--corpus',
      join(dir, 'named.csv'),
      '--id-column',
      'ref',
      '--text-column',
      'Beschreibung',
      '--k',
      '1',
      '--json',
    );
    assert.equal(named.code, 0, named.err);
    assert.deepEqual(
      JSON.parse(named.out).results[0].map((r: { id: string; text: string }) => [r.id, r.text]),
      [['r1', 'Nurse']],
    );
    // A jobbert normalize input ({"id", "title"}) is an entry file as it is; other keys by name.
    await writeFile(join(dir, 'titles-in.jsonl'), '{"id":"a","title":"Nurse"}\n{"id":"b","title":"Welder"}\n');
    const jsonl = await run('index', 'build', '--input', join(dir, 'titles-in.jsonl'), '--out', join(dir, 'n.jbi'), '--json');
    assert.equal(jsonl.code, 0, jsonl.err);
    assert.equal(JSON.parse(jsonl.out).entries, 2);
    await writeFile(join(dir, 'keys.jsonl'), '{"key":7,"label":"Nurse","note":"x"}\n');
    const keys = await run('match', 'nurse', '--corpus', join(dir, 'keys.jsonl'), '--id-column', 'key', '--text-column', 'label', '--json');
    assert.equal(keys.code, 0, keys.err);
    assert.equal(JSON.parse(keys.out).results[0][0].id, '7');
    const wrongKey = await run('match', 'nurse', '--corpus', join(dir, 'keys.jsonl'), '--text-column', 'title');
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.err, /ERR_BAD_FILE: .*keys\.jsonl:1: expected \{"id": string or number, "title": string/);
    // A named column that the header lacks, in a TSV.
    await writeFile(join(dir, 'named.tsv'), 'id\ttext\n1\tNurse\n');
    const missing = await run(
      'index',
      'build',
      '--input',
      join(dir, 'named.tsv'),
      '--text-column',
      'Jobtitel',
      '--out',
      join(dir, 'm.jbi'),
    );
    assert.equal(missing.code, 1);
    assert.match(missing.err, /ERR_BAD_FILE: .*named\.tsv: no column 'Jobtitel' \(--text-column\) in the header \(columns: id, text\)/);
    // Both naming one column: said so (it was "no text column … name it with --text-column", named).
    const same = await run('match', 'nurse', '--corpus', join(dir, 'named.tsv'), '--id-column', 'text', '--text-column', 'text');
    assert.equal(same.code, 1);
    assert.match(same.err, /the id and the text would both be column 'text'/);
    // Without an entry file they have nothing to name.
    const stray = await run('match', 'nurse', '--text-column', 'x');
    assert.equal(stray.code, 2);
    assert.match(stray.err, /--id-column and --text-column name the columns of a --corpus FILE/);
  });

  it("batch normalize takes a threshold in [0, 1] as the job's own; worker takes none", async () => {
    // Both are refused before any connection is tried (the URL leads nowhere).
    const args = ['--nats', 'nats://127.0.0.1:1', '--input', join(dir, 'titles.jsonl'), '--output', join(dir, 'b.jsonl')];
    const high = await run('batch', 'normalize', ...args, '--threshold', '1.5');
    assert.equal(high.code, 2);
    assert.match(high.err, /--threshold must be a number in \[0, 1\]; received 1\.5/);
    const worker = await run('worker', '--nats', 'nats://127.0.0.1:1', '--threshold', '0.5');
    assert.equal(worker.code, 2);
    assert.match(worker.err, /worker takes no --threshold: a job names its own \(jobbert batch normalize --threshold X\)/);
  });

  it('batch normalize refuses a calibration, examples file or taxonomy that every worker would refuse, before it submits anything (it queued the job, which waited for a worker for good)', async () => {
    const bad = join(dir, 'bad-calibration.json');
    await writeFile(bad, '{"format": "nope"}');
    const emptyTaxonomy = join(dir, 'empty-taxonomy');
    await mkdir(emptyTaxonomy, { recursive: true });
    const badExamples = join(dir, 'bad-examples.csv');
    await writeFile(badExamples, 'title,uri\n"never closed,http://x\n');
    // The URL leads nowhere: each is refused before any connection is tried.
    const args = [
      'batch',
      'normalize',
      '--nats',
      'nats://127.0.0.1:1',
      '--input',
      join(dir, 'titles.jsonl'),
      '--output',
      join(dir, 'b.jsonl'),
    ];
    for (const [more, message] of [
      [['--calibration', bad], /ERR_BAD_DATA: .*not a jobbert calibration/],
      [['--taxonomy', emptyTaxonomy], /ERR_/],
      [['--examples', badExamples], /ERR_BAD_FILE/],
    ] as const) {
      const r = await run(...args, ...more);
      assert.equal(r.code, 1, more.join(' '));
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /ERR_NATS/);
    }
  });

  it('serve refuses options that would be ignored: HTTP options on a --shard, NATS options without --nats', async () => {
    // Refused before any connection is tried (the URL leads nowhere).
    const shard = ['serve', '--nats', 'nats://127.0.0.1:1', '--index-name', 'big', '--shard', '0'];
    for (const [extra, name] of [
      [['--gzip'], 'gzip'],
      [['--port', '9000'], 'port'],
      [['--examples', 'e.csv'], 'examples'],
      [['--no-batching'], 'no-batching'],
      [['--router'], 'router'],
    ] as const) {
      const r = await run(...shard, ...extra);
      assert.equal(r.code, 2, name);
      assert.match(r.err, new RegExp(`serve --shard answers over NATS, with no HTTP service: --${name} has no effect there`));
    }
    for (const name of ['index-name', 'router']) {
      const r = await run('serve', `--${name}`, ...(name === 'router' ? [] : ['big']));
      assert.equal(r.code, 2, name);
      assert.match(r.err, new RegExp(`serve --${name} needs --nats URL`));
    }
    // A secret that failed to arrive (set but empty) must not start an open service.
    const saved = process.env.JOBBERT_TOKEN;
    process.env.JOBBERT_TOKEN = '';
    try {
      const r = await run('serve', '--port', '0');
      assert.equal(r.code, 2);
      assert.match(r.err, /JOBBERT_TOKEN is set but empty/);
    } finally {
      if (saved === undefined) delete process.env.JOBBERT_TOKEN;
      else process.env.JOBBERT_TOKEN = saved;
    }
  });

  it('serve names the flag of a value the service refuses (it named createServer’s option), and refuses a delay no timer can wait', async () => {
    for (const [flag, value, range] of [
      ['idle-release-ms', '2147483648', '[0, 2147483647]'],
      ['shutdown-timeout-ms', '2147483648', '[0, 2147483647]'],
      ['max-queue', '-1', '[1, '],
    ] as const) {
      const r = await run('serve', '--port', '0', `--${flag}`, value);
      assert.equal(r.code, 2, flag);
      assert.ok(r.err.includes(`--${flag} must be an integer in ${range}`), r.err);
      assert.doesNotMatch(r.err, /create(Server|Matcher)/);
    }
  });

  it('matches against a corpus file (JSON Lines too)', async () => {
    const r = await run('match', 'nurse', '--corpus', join(dir, 'titles.jsonl'), '--k', '1', '--json');
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).results[0][0].id, 'b');
    // A language the index does not hold would match nothing, silently: refused, naming the flag.
    const corpus = await run('match', 'nurse', '--corpus', join(dir, 'titles.jsonl'), '--lang', 'xx');
    assert.equal(corpus.code, 2);
    assert.match(corpus.err, /--lang must be one of the index's languages \(en\); received 'xx'/);
    const builtIn = await run('match', 'nurse', '--lang', 'xx');
    assert.equal(builtIn.code, 2);
    assert.match(builtIn.err, /lang must be one of 'en', 'de', 'es', 'zh'; received 'xx'/);
    // Blank lines first do not decide the format: JSON Lines with no extension was read as CSV, its first record
    // lost as the header and the others' ids and texts JSON fragments; nor does a blank line hide Excel's sep= line.
    await writeFile(join(dir, 'blank-first'), '\n\n{"id":"a","text":"Cook"}\n{"id":"b","text":"Baker"}\n{"id":"c","text":"Nurse"}\n');
    await writeFile(join(dir, 'blank-first.csv'), '\nsep=;\nid;text\na;Cook\nb;Baker, pastry\n');
    for (const name of ['blank-first', 'blank-first.csv']) {
      const blank = await run('match', 'cook', '--corpus', join(dir, name), '--k', '3', '--json');
      assert.equal(blank.code, 0, blank.err);
      assert.deepEqual(
        JSON.parse(blank.out)
          .results[0].map((r: { id: string }) => r.id)
          .sort(),
        name.endsWith('.csv') ? ['a', 'b'] : ['a', 'b', 'c'],
      );
    }
    // Bytes that are not UTF-8 (a Windows export) are read as U+FFFD: with a warning, as for --examples, not in silence.
    await writeFile(join(dir, 'cp1252.csv'), Buffer.from('id;text\n1;K\xf6chin\n2;B\xe4cker\n', 'latin1'));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void ((w as Error & { code?: string }).code === 'JOBBERT_NOT_UTF8' && warnings.push(w));
    process.on('warning', onWarning);
    try {
      assert.equal((await run('match', 'cook', '--corpus', join(dir, 'cp1252.csv'))).code, 0);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => w.message.replace(dir, '')),
      [
        '/cp1252.csv:2: the text holds U+FFFD, the mark of bytes that are not UTF-8; the entries are read as UTF-8 (re-save a Windows/Excel export as UTF-8, e.g. iconv -f windows-1252 -t utf-8)',
      ],
    );
    // A missing file with a known extension is ERR_NOT_FOUND, not a stack trace.
    const missing = await run('match', 'cook', '--corpus', join(dir, 'missing.tsv'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^jobbert: ERR_NOT_FOUND: cannot read .*missing\.tsv/);
    assert.doesNotMatch(missing.err, /\n\s+at /);
  });

  it('runs the demo and matches against the built-in catalogue with no index', async () => {
    const demo = await run('demo', '--k', '1');
    assert.equal(demo.code, 0, demo.err);
    assert.match(demo.out, /Softwareentwickler/);
    const r = await run('match', 'Softwareentwickler', '--k', '3', '--json');
    assert.equal(r.code, 0, r.err);
    const [hits] = JSON.parse(r.out).results;
    assert.equal(hits.length, 3);
    assert.equal(hits[0].text, 'Softwareentwickler');
  });

  it('matches against ESCO occupations with --esco, one result per occupation', {
    skip: existsSync(join(DATA, '..', '..', 'esco', 'en')) ? false : 'ESCO data not found',
  }, async () => {
    const r = await run('match', 'software developer', '--esco', join(DATA, '..', '..', 'esco'), '--k', '5', '--json');
    assert.equal(r.code, 0, r.err);
    const [hits] = JSON.parse(r.out).results;
    assert.equal(hits.length, 5);
    const occupations = hits.map((h: { id: string }) => h.id.slice(0, h.id.lastIndexOf('#')));
    assert.equal(new Set(occupations).size, 5);
    assert.equal(hits[0].text, 'software developer');
  });

  it('match --esco and normalize --taxonomy report a damaged ESCO file (line and file) instead of dropping rows, languages or the rest of the file', async () => {
    const H = 'conceptType,conceptUri,iscoGroup,preferredLabel,altLabels,description';
    const ok = 'Occupation,http://x/occ/1,2512,software developer,programmer,writes software';
    const esco = async (name: string, en: string, de?: string) => {
      const root = join(dir, 'esco-damage', name);
      await mkdir(join(root, 'en'), { recursive: true });
      await writeFile(join(root, 'en', 'occupations_en.csv'), en);
      if (de !== undefined) {
        await mkdir(join(root, 'de'), { recursive: true });
        await writeFile(join(root, 'de', 'occupations_de.csv'), de);
      }
      return root;
    };
    for (const [name, en, de, why] of [
      // A German file without a column the reader needs: German was left out without a word (then --lang de "not a language").
      [
        'de-column',
        `${H}\n${ok}\n`,
        'conceptType,conceptUri,preferredLabel\nOccupation,http://x/occ/1,Softwareentwickler\n',
        /occupations_de\.csv has no altLabels column/,
      ],
      // An unclosed quote read the rest of the file into one label.
      [
        'quote',
        `${H}\n${ok}\nOccupation,http://x/occ/2,5120,"cook,,\nOccupation,http://x/occ/3,7512,baker,,\n`,
        undefined,
        /occupations_en\.csv:3: a quote opens a field that never closes/,
      ],
      // A row cut short was dropped.
      ['short', `${H}\n${ok}\nOccupation,http://x/occ/2\n`, undefined, /occupations_en\.csv:3: (2 fields|no conceptUri)/],
    ] as const) {
      const root = await esco(name, en, de);
      const m = await run('match', 'cook', '--esco', root, '--json');
      assert.equal(m.code, 1, `${name}: ${m.out}`);
      assert.match(m.err, /ERR_BAD_DATA/, name);
      assert.match(m.err, why, name);
      if (name === 'de-column') continue; // the Normalizer reads only the columns it needs
      const n = await run('normalize', 'cook', '--taxonomy', root, '--json');
      assert.equal(n.code, 1, `${name}: ${n.out}`);
      assert.match(n.err, /ERR_BAD_DATA/, name);
      assert.match(n.err, why, name);
    }
    // Read as ESCO writes them and as people edit them: a byte-order mark, a URI on two rows, an empty preferred label.
    const root = await esco('fine', `\uFEFF${H}\n${ok}\nOccupation,http://x/occ/1,2512,,coder,\nOccupation,http://x/occ/2,5120,,cook,\n`);
    const m = await run('match', 'coder', 'cook', '--esco', root, '--k', '5', '--json');
    assert.equal(m.code, 0, m.err);
    const [coder, cook] = JSON.parse(m.out).results as { id: string; text: string }[][];
    assert.deepEqual([coder[0].id, coder[0].text], ['http://x/occ/1#en2', 'coder']);
    assert.deepEqual([cook[0].id, cook[0].text], ['http://x/occ/2#en0', 'cook']);
    assert.equal(cook.length, 2, 'one result per occupation');
    const empty = await run('match', '???', '--esco', root, '--json');
    assert.ok(
      JSON.parse(empty.out).results[0].every((h: { text: string }) => h.text !== ''),
      'an empty label was indexed',
    );
  });

  it('refuses one-dash options, non-decimal numbers and an option given twice, instead of reading them some other way', async () => {
    for (const [argv, message] of [
      [['normalize', 'nurse', '-k', '3'], /unknown option -k: options take two dashes \(--k\)/],
      [['normalize', 'nurse', '--k', '0x10'], /--k must be an integer; received '0x10'/],
      [['normalize', 'nurse', '--threshold', '1e'], /--threshold must be a number; received '1e'/],
      [['normalize', '--input', 'a.csv', '--input', 'b.csv'], /--input is given twice \('a\.csv', then 'b\.csv'\)/],
      [['normalize', 'nurse', '--model', ''], /--model needs a value; received an empty one/],
      // The next option is no value: `--output --strict` wrote a file named "--strict", not strict.
      [['normalize', '--input', 'a.csv', '--output', '--strict'], /--output needs a value, and --strict is an option; .* --output=VALUE/],
      [['normalize', '--input', 'a.csv', '--column', '--'], /--column needs a value, and -- ends the options/],
      // Named as the flag, not as the library's parameter.
      [['normalize', 'nurse', '--threshold', '2'], /--threshold must be a number in \[0, 1\]; received 2/],
      [['worker', '--nats', 'nats://127.0.0.1:1', '--concurrency', '65'], /--concurrency must be an integer in \[1, 64\]; received 65/],
      // --fast changes only the normalize task's search: elsewhere it would be ignored.
      [['worker', '--nats', 'nats://127.0.0.1:1', '--tasks', 'encode', '--fast'], /--fast is for the normalize task/],
      [
        ['batch', 'encode', '--nats', 'nats://127.0.0.1:1', '--input', 'a', '--output', 'b.jsonl', '--fast'],
        /--fast is for batch normalize/,
      ],
      [
        ['batch', 'normalize', '--nats', 'nats://127.0.0.1:1', '--input', 'a', '--output', 'b.jsonl', '--chunk', '100001'],
        /--chunk must be an integer in \[1, 100000\]/,
      ],
      // 0 published unsharded without a word (the library's default); leaving the flag out says that.
      [
        ['index', 'publish', 'x.jbi', '--nats', 'nats://127.0.0.1:1', '--name', 'x', '--shards', '0'],
        /--shards must be an integer in \[1, 1024\]; received 0/,
      ],
    ] as const) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, message, argv.join(' '));
    }
    // After "--" a leading dash is text; numbers as people write them still parse.
    const dash = await run('normalize', '--json', '--k', '1', '--', '-k');
    assert.equal(dash.code, 0, dash.err);
    assert.equal(JSON.parse(dash.out).input, '-k');
    assert.equal((await run('normalize', 'nurse', '--k', '+2', '--threshold', '.5', '--json')).code, 0);
  });

  it('reports usage errors with status 2 and domain errors with status 1', async () => {
    assert.equal((await run('nonsense')).code, 2);
    const unknown = await run('index', 'search', join(dir, 't.jbi'), 'x', '--kk', '3');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown option --kk/);
    // The command's own usage follows the error, not every command's.
    assert.match(unknown.err, /Usage: jobbert index \[options\]/);
    assert.doesNotMatch(unknown.err, /Usage: jobbert <command>|normalize \[TITLE/);
    assert.match((await run('nonsense')).err, /unknown command 'nonsense'\n\nUsage: jobbert <command>/);
    assert.match((await run('index', 'search', join(dir, 't.jbi'), 'x', '--k', 'ten')).err, /--k must be an integer; received 'ten'/);
    assert.equal((await run('match')).code, 2);
    // A batch job resumes by reading its files again: stdin and stdout cannot be, and say so before connecting.
    const piped = await run('batch', 'normalize', '--nats', 'nats://127.0.0.1:1', '--input', '-', '--output', join(dir, 'o.jsonl'));
    assert.equal(piped.code, 2);
    assert.match(piped.err, /needs files, not stdin or stdout/);
    // jobbert normalize writes CSV to a .csv name; batch writes JSON Lines only, so it refuses one.
    const csv = await run(
      'batch',
      'normalize',
      '--nats',
      'nats://127.0.0.1:1',
      '--input',
      join(dir, 'i.txt'),
      '--output',
      join(dir, 'o.csv.gz'),
    );
    assert.equal(csv.code, 2);
    assert.match(csv.err, /writes JSON Lines; name --output \.jsonl/);
    const missing = await run('index', 'search', join(dir, 'missing.jbi'), 'x');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /ERR_NOT_FOUND/);
    await writeFile(join(dir, 'broken.jbi'), 'not an index');
    assert.match((await run('index', 'search', join(dir, 'broken.jbi'), 'x')).err, /ERR_CORRUPT/);
    // Options that would be ignored are refused (they were, with exit 0).
    for (const [argv, why] of [
      [['match', 'cook', '--model', '/nonexistent'], /--model has no effect here/],
      [['match', 'cook', '--encoder', 'tfidf'], /--encoder has no effect here/],
      [['match', 'cook', '--index', join(dir, 't.jbi'), '--encoder', 'tfidf'], /--encoder has no effect here/],
      [
        ['match', 'cook', '--corpus', join(dir, 'titles.tsv'), '--index', join(dir, 't.jbi')],
        /match takes one of --index, --corpus and --esco; received --index and --corpus/,
      ],
      [['match', 'cook', '--corpus', join(dir, 'titles.tsv'), '--esco', dir], /received --corpus and --esco/],
      // The index would replace the entries it is built from.
      [['index', 'build', '--input', join(dir, 'titles.tsv'), '--out', join(dir, 'titles.tsv')], /--out .* is the --input file/],
    ] as const) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, why, argv.join(' '));
    }
    assert.match(await readFile(join(dir, 'titles.tsv'), 'utf8'), /^id\ttext\tlang\n/);
    await writeFile(join(dir, 'bad.tsv'), 'id\ttext\n1\n');
    assert.match(
      (await run('index', 'build', '--input', join(dir, 'bad.tsv'), '--out', join(dir, 'x.jbi'))).err,
      /ERR_BAD_FILE: .*bad\.tsv:2/,
    );
  });

  it('searches an index built with a JobBERT model with the model it records, as serve does, or the one --model gives; a model folder that is gone is said to be', async () => {
    const { makeTinyModel } = await import('./fixtures/tiny-model.js');
    const { rename } = await import('node:fs/promises');
    const model = (await makeTinyModel({ seed: 5 }, join(dir, 'tiny-model'))).dir;
    const file = join(dir, 'jobbert.jbi');
    const built = await run('index', 'build', '--input', join(dir, 'titles.tsv'), '--out', file, '--model', model);
    assert.equal(built.code, 0, built.err);
    // The model from where the index was built (it said to give --model, while serve --index loaded it from there).
    for (const argv of [
      ['index', 'search', file, 'Nurse', '--k', '1', '--json'],
      ['match', 'Nurse', '--index', file, '--k', '1', '--json'],
    ]) {
      const bare = await run(...argv);
      assert.equal(bare.code, 0, bare.err);
      assert.equal(JSON.parse(bare.out).results[0][0].id, '5');
    }
    // Moved away: said, with the folder and what to do.
    await rename(model, `${model}-moved`);
    const gone = await run('index', 'search', file, 'nurse');
    await rename(`${model}-moved`, model);
    assert.equal(gone.code, 1);
    assert.match(
      gone.err,
      /ERR_NO_ENCODER: .*jobbert\.jbi: the JobBERT model it was built with \(.*tiny-model\) cannot be loaded \(.*\); give the model it was built with: --model DIR/,
    );
    const withModel = await run('index', 'search', file, 'Nurse', '--model', model, '--k', '1', '--json');
    assert.equal(withModel.code, 0, withModel.err);
    assert.equal(JSON.parse(withModel.out).results[0][0].id, '5');
    const match = await run('match', 'Nurse', '--index', file, '--model', model, '--k', '1', '--json');
    assert.equal(match.code, 0, match.err);
    assert.equal(JSON.parse(match.out).results[0][0].id, '5');
    // Another model than the one it was built with.
    const other = (await makeTinyModel({ seed: 6, headDim: 16 }, join(dir, 'tiny-other'))).dir;
    const wrong = await run('index', 'search', file, 'Nurse', '--model', other);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /ERR_ENCODER_MISMATCH/);
  });

  it('evaluates a cross-lingual pair: queries from one folder, corpus from another', async () => {
    for (const [lang, rows] of [
      ['de', ['1\tSoftwareentwickler', '2\tKrankenschwester']],
      ['en', ['10\tSoftware developer', '11\tNurse', '12\tBaker']],
    ] as const) {
      const d = join(dir, lang);
      await mkdir(d, { recursive: true });
      await writeFile(join(d, lang === 'de' ? 'queries' : 'corpus_elements'), `id\tjobtitle\n${rows.join('\n')}\n`);
    }
    await writeFile(join(dir, 'de-en.qrels'), '1\t0\t10\t1\n2\t0\t11\t1\n');
    const r = await run(
      'eval',
      'talentclef-a',
      '--queries',
      join(dir, 'de'),
      '--corpus',
      join(dir, 'en'),
      '--qrels',
      join(dir, 'de-en.qrels'),
      '--json',
    );
    assert.equal(r.code, 0, r.err);
    const [row] = JSON.parse(r.out).results;
    assert.equal(row.lang, 'de→en');
    assert.equal(row.queries, 2);
    assert.ok(row.map > 0 && row.map <= 1);
    assert.equal((await run('eval', 'talentclef-a', '--queries', join(dir, 'de'))).code, 2);
    const pair = ['eval', 'talentclef-a', '--queries', join(dir, 'de'), '--corpus', join(dir, 'en'), '--json'];
    // Judgments naming ids the folders do not hold counted as misses (MAP 0.33, exit 0); none at all was a usage error.
    for (const [qrels, why] of [
      ['x\t0\t10\t1\n1\t0\t10\t1\n', /query id 'x' is not in .*de.queries/],
      ['1\t0\t99\t1\n', /corpus id '99' \(query '1'\) is not in .*en.corpus_elements/],
      ['', /empty\.qrels holds no judgments/],
    ] as const) {
      const file = join(dir, qrels ? 'unknown.qrels' : 'empty.qrels');
      await writeFile(file, qrels);
      const bad = await run(...pair, '--qrels', file);
      assert.equal(bad.code, 1, bad.out);
      assert.match(bad.err, /ERR_BAD_FILE/);
      assert.match(bad.err, why);
    }
    // Options that would be ignored: --data and --lang with a pair; --lang with one language's folder.
    const ignored = await run(...pair, '--qrels', join(dir, 'de-en.qrels'), '--data', join(dir, 'en'));
    assert.equal(ignored.code, 2);
    assert.match(ignored.err, /--data is for one language's folders/);
    await writeFile(join(dir, 'de', 'corpus_elements'), 'id\tjobtitle\n1\tSoftwareentwickler\n');
    await writeFile(join(dir, 'de', 'qrels.tsv'), '1\t0\t1\t1\n');
    const lang = await run('eval', 'talentclef-a', '--data', join(dir, 'de'), '--lang', 'en');
    assert.equal(lang.code, 2);
    assert.match(lang.err, /--lang picks language folders under --data/);
    // --run is checked before the evaluation: a folder, a missing folder, a file as a folder.
    for (const [runFile, code, why] of [
      [join(dir, 'de'), 'ERR_IO', /is a directory/],
      [join(dir, 'nope', 'run.trec'), 'ERR_NOT_FOUND', /the folder .*nope does not exist/],
      [join(dir, 'de', 'queries', 'run.trec'), 'ERR_IO', /queries is a file, not a folder/],
    ] as const) {
      const bad = await run('eval', 'talentclef-a', '--data', join(dir, 'de'), '--run', runFile);
      assert.equal(bad.code, 1, bad.out);
      assert.match(bad.err, new RegExp(`${code}: --run .*${why.source}`));
    }
  });

  it('evaluates TalentCLEF Task A and writes a TREC run', {
    skip: existsSync(join(DATA, 'en', 'qrels.tsv')) ? false : `TalentCLEF data not found at ${DATA}`,
  }, async () => {
    const runFile = join(dir, 'en.trec');
    const r = await run('eval', 'talentclef-a', '--data', join(DATA, 'en'), '--run', runFile, '--json');
    assert.equal(r.code, 0, r.err);
    const [row] = JSON.parse(r.out).results;
    assert.equal(row.queries, 105);
    // The default model: well above chance, below JobBERT-V3's published .63.
    assert.ok(row.map > 0.35 && row.map < 0.63, `map ${row.map}`);
    const lines = (await readFile(runFile, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 105 * 2619);
    assert.match(lines[0], /^\S+ Q0 \S+ 1 \S+ jobbert-lite$/);
  });
});
