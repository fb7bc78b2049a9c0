/**
 * Index files from a hostile or broken disk: a damaged length field on a
 * > 2 GiB file, crafted headers with recomputed checksums, non-regular paths
 * and the temp files of killed saves. Every one is refused with JobBERTError
 * (ERR_CORRUPT or ERR_IO) — never an abort, a hang, a TypeError or wrong results.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../src/cli/index.js';
import type { Encoder } from '../src/encoders/encoder.js';
import { JobBERTError } from '../src/errors.js';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import { checksum } from '../src/kernels/resident.js';
import { MatchIndex, type MatchEntry } from '../src/match/match-index.js';
import { loadIndexWithEncoder } from '../src/serve/load.js';

const ENTRIES: MatchEntry[] = [
  { id: 'n1', text: 'nurse', lang: 'en' },
  { id: 'n2', text: 'Krankenpfleger', lang: 'de' },
  { id: 'n3', text: 'software engineer', lang: 'en' },
  { id: 'n4', text: 'Softwareentwickler', lang: 'de' },
  { id: 'n5', text: 'data scientist', lang: 'en' },
  { id: 'n6', text: 'Datenwissenschaftler', lang: 'de' },
  { id: 'n7', text: 'cook' },
];

let dir: string;
let good: string;
let encoder: TfIdfEncoder;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-hostile-'));
  encoder = TfIdfEncoder.fit(ENTRIES.map((e) => e.text));
  const index = await MatchIndex.build(encoder, ENTRIES);
  good = join(dir, 'good.jbi');
  await index.save(good);
  await index.dispose();
});
after(async () => rm(dir, { recursive: true, force: true }));

/** Rejects with JobBERTError of this code (not a TypeError, RangeError or SyntaxError). */
async function refuses(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof JobBERTError, `expected a JobBERTError ${code}; received ${e?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

async function withHeaderLength(name: string, length: number, size: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, await readFile(good));
  const f = await open(path, 'r+');
  const b = Buffer.alloc(4);
  b.writeUInt32LE(length >>> 0);
  await f.write(b, 0, 4, 12);
  await f.close();
  await truncate(path, size); // sparse: no disk space is used
  return path;
}

describe('index files: a damaged header length', () => {
  it('a length of 2^31 on a file over 2 GiB is ERR_CORRUPT, not an abort (exit 134), for index search and serve', async () => {
    const path = await withHeaderLength('huge.jbi', 0x80000000, 2 ** 31 + 64);
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'bin.ts'), 'index', 'search', path, 'nurse'],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(cli.signal, null, `killed by ${cli.signal}: ${cli.stderr}`);
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stderr, /ERR_CORRUPT|not a valid jobbert index/);
    await refuses(loadIndexWithEncoder(path), 'ERR_CORRUPT', /header length 2147483648/);
  });

  it('a length of 0x7fffffff is refused before anything is allocated', async () => {
    const path = await withHeaderLength('huge2.jbi', 0x7fffffff, 2 ** 31 + 64);
    const before = process.memoryUsage().arrayBuffers;
    await refuses(MatchIndex.load(path), 'ERR_CORRUPT', /header length 2147483647/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 26, 'no large buffer was allocated');
    await rm(path);
  });

  it('a length past the end of a small file is ERR_CORRUPT', async () => {
    await refuses(MatchIndex.load(await withHeaderLength('past.jbi', 1 << 20, 4096)), 'ERR_CORRUPT', /does not fit/);
  });
});

describe('index files: paths that are not regular files', () => {
  it('a FIFO is refused at once with ERR_IO (it would otherwise wait for a writer forever)', async () => {
    const fifo = join(dir, 'pipe.jbi');
    execFileSync('mkfifo', [fifo]);
    await refuses(MatchIndex.load(fifo), 'ERR_IO', /is a FIFO; an index must be a regular file/);
    await refuses(loadIndexWithEncoder(fifo), 'ERR_IO', /FIFO/);
  });

  it('a directory is refused with ERR_IO naming it', async () => {
    await refuses(MatchIndex.load(dir), 'ERR_IO', /is a directory/);
  });

  it('saving over a FIFO (or a device) is refused: the rename into place replaced it with a regular file (/dev/null, as root)', async () => {
    const { writeRun } = await import('../src/eval/trec.js');
    const fifo = join(dir, 'save-pipe');
    execFileSync('mkfifo', [fifo]);
    const index = await MatchIndex.load(good, encoder);
    try {
      await refuses(index.save(fifo), 'ERR_IO', /is not a regular file \(a device, FIFO or socket\)/);
    } finally {
      await index.dispose();
    }
    await refuses(writeRun(fifo, new Map([['q', [{ id: 'd', score: 1 }]]]), 'tag'), 'ERR_IO', /is not a regular file/);
    assert.ok((await import('node:fs')).statSync(fifo).isFIFO(), 'still a FIFO');
    await refuses(writeRun(dir, new Map([['q', [{ id: 'd', score: 1 }]]]), 'tag'), 'ERR_IO', /is a directory; name a file/);
  });

  it('saving through a symbolic link writes the file it names and keeps the link (the link was replaced by a regular file)', async () => {
    const { writeRun } = await import('../src/eval/trec.js');
    const { lstatSync, mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(join(dir, 'kept'), { recursive: true });
    const index = await MatchIndex.load(good, encoder);
    try {
      for (const [name, existing] of [
        ['index', true],
        ['dangling', false],
      ] as const) {
        const file = join(dir, 'kept', `${name}.jbi`);
        if (existing) await writeFile(file, 'old');
        const link = join(dir, `${name}-link.jbi`);
        symlinkSync(file, link);
        await index.save(link);
        assert.ok(lstatSync(link).isSymbolicLink(), `${name}: the link is kept`);
        const back = await MatchIndex.load(file, encoder);
        assert.equal(back.size, index.size);
        await back.dispose();
      }
    } finally {
      await index.dispose();
    }
    const run = join(dir, 'kept', 'run.txt');
    symlinkSync(run, join(dir, 'run-link.txt'));
    await writeRun(join(dir, 'run-link.txt'), new Map([['q', [{ id: 'd', score: 1 }]]]), 'tag');
    assert.ok(lstatSync(join(dir, 'run-link.txt')).isSymbolicLink());
    assert.equal(await readFile(run, 'utf8'), 'q Q0 d 1 1 tag\n');
    assert.deepEqual(
      (await readdir(join(dir, 'kept'))).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });
});

describe('index files: replaced while being read', () => {
  /** Two versions of one index, of 1,200 and 900 entries (ids `${prefix}0`…): a load must give the one or the other, whole. */
  const twoVersions = async (prefix: string) => {
    const big = Array.from({ length: 1200 }, (_, i) => ({
      id: `${prefix}${i}`,
      text: `${ENTRIES[i % ENTRIES.length].text} ${i}`,
      lang: i % 2 ? 'en' : 'de',
    }));
    return [await MatchIndex.build(encoder, big), await MatchIndex.build(encoder, big.slice(0, 900))];
  };

  it('a load while saves replace the file gives one whole version or the other, never a false ERR_CORRUPT', async () => {
    const path = join(dir, 'swapped.jbi');
    const versions = await twoVersions('b');
    await versions[0].save(path);
    let saving = true;
    const saves = (async () => {
      for (let i = 1; saving; i++) {
        await versions[i % 2].save(path);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      for (let i = 0; i < 60; i++) {
        const loaded = await MatchIndex.load(path, encoder, { storage: i % 2 ? 'int8' : 'fp32' });
        assert.ok([1200, 900].includes(loaded.size), `size ${loaded.size}`);
        await loaded.dispose();
      }
    } finally {
      saving = false;
      await saves;
      for (const v of versions) await v.dispose();
    }
  });

  it('a load while another process replaces the file as fast as it can reads one whole file (it read again 10 times, then failed ERR_CORRUPT: 31 of 40 loads)', {
    skip: process.platform !== 'linux' && 'the partitions are read through the open file only where /proc/self/fd names it',
  }, async () => {
    const path = join(dir, 'raced.jbi');
    const versions = await twoVersions('r');
    const sources = [join(dir, 'raced-a.jbi'), join(dir, 'raced-b.jbi')];
    await versions[0].save(sources[0]);
    await versions[1].save(sources[1]);
    await versions[0].save(path);
    // A hard link renamed over the path, again and again: a new file at the path every few microseconds.
    const racer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs'); const [a, b, path] = process.argv.slice(1);
         for (let i = 0; ; i++) { const t = path + '.' + (i % 2); fs.rmSync(t, { force: true }); fs.linkSync(i % 2 ? a : b, t); fs.renameSync(t, path); }`,
        ...sources,
        path,
      ],
      { stdio: 'ignore' },
    );
    try {
      for (let i = 0; i < 40; i++) {
        const loaded = await MatchIndex.load(path, encoder, { storage: i % 2 ? 'int8' : 'fp32' });
        assert.ok([1200, 900].includes(loaded.size), `size ${loaded.size}`);
        const [hit] = (await loaded.search([ENTRIES[0].text], { k: 1 }))[0];
        assert.ok(hit.id.startsWith('r'), hit.id);
        await loaded.dispose();
      }
    } finally {
      racer.kill('SIGKILL');
      for (const v of versions) await v.dispose();
    }
  });
});

describe('indexes and runs: what callers pass', () => {
  it('searchVectors checks the query matrix even with no partition to search (it answered lists, or ran out of heap)', async () => {
    const index = await MatchIndex.load(good, encoder);
    try {
      await assert.rejects(index.searchVectors({ data: 'x', rows: 3, cols: index.dim } as never, { lang: 'fr' }), {
        name: 'TypeError',
        message: /vectors\.data must be a Float32Array/,
      });
      await assert.rejects(index.searchVectors({ data: new Float32Array(4), rows: 2 ** 31 - 1, cols: index.dim }, { lang: 'fr' }), {
        name: 'RangeError',
      });
      await assert.rejects(index.searchVectors(null as never), { name: 'TypeError' });
      const { ResidentMatrix } = await import('../src/kernels/resident.js');
      const gone = new ResidentMatrix({ data: new Float32Array(index.dim), rows: 1, cols: index.dim });
      gone.dispose();
      await refuses(index.searchVectors(gone, { lang: 'fr' }), 'ERR_DISPOSED', /were disposed/);
    } finally {
      await index.dispose();
    }
  });

  it('a search in flight when the index is disposed rejects with ERR_DISPOSED (it answered empty lists)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = {
      dim: encoder.dim,
      fingerprint: encoder.fingerprint,
      encode: async (texts: string[], opts?: object) => {
        await gate;
        return encoder.encode(texts, opts);
      },
      dispose: async () => {},
    };
    const index = await MatchIndex.load(good, slow as never);
    const searching = index.search(['nurse'], { k: 3 });
    await index.dispose();
    release();
    await refuses(searching, 'ERR_DISPOSED', /disposed/);
  });

  it("an encoder's zero vector is refused at build and add naming the entry (every later search failed naming a corpus row)", async () => {
    const zeroForEmpty = {
      dim: encoder.dim,
      fingerprint: 'zero-for-empty',
      encode: async (texts: string[]) => {
        const m = await encoder.encode(texts);
        texts.forEach((t, i) => t === '' && m.data.fill(0, i * m.cols, (i + 1) * m.cols));
        return m;
      },
      dispose: async () => {},
    };
    const entries = [
      { id: 'a', text: 'nurse' },
      { id: 'b', text: '' },
    ];
    await assert.rejects(MatchIndex.build(zeroForEmpty, entries), {
      name: 'RangeError',
      message: /the encoder gives entries\[1\] \(text ''\) a zero vector/,
    });
    const index = await MatchIndex.build(zeroForEmpty, entries.slice(0, 1));
    try {
      await assert.rejects(index.add([{ id: 'c', text: '' }]), { name: 'RangeError', message: /entries\[0\] \(text ''\) a zero vector/ });
      assert.equal((await index.search(['nurse'], { k: 1 }))[0][0].id, 'a');
    } finally {
      await index.dispose();
    }
  });

  it('writeRun refuses an id with a lone surrogate (written as U+FFFD, two such ids read back as one); fromSpec(null) is ERR_BAD_SPEC', async () => {
    const { writeRun } = await import('../src/eval/trec.js');
    await assert.rejects(writeRun(join(dir, 'run.trec'), new Map([['q', [{ id: 'doc\ud800', score: 1 }]]]), 'tag'), {
      name: 'RangeError',
      message: /must be well-formed Unicode \(it holds a lone surrogate\)/,
    });
    assert.throws(() => TfIdfEncoder.fromSpec(null as never), { code: 'ERR_BAD_SPEC' });
  });
});

// biome-ignore lint/suspicious/noExplicitAny: a crafted header is any JSON at all
type Json = any;

/**
 * Rewrites `good` with its header (and entries) changed by `mutate`, laying
 * the segments out again and recomputing every checksum, as an attacker who
 * knows the format would. A partition keeps the vectors found at its
 * original offset; `pad` copies of its first row are appended. With
 * `layout: false` the offsets are kept as the mutation left them.
 */
async function craft(name: string, mutate: (h: Json, entries: Json[]) => unknown, opts: { layout?: boolean } = {}): Promise<string> {
  const buf = await readFile(good);
  const h = JSON.parse(buf.subarray(32, 32 + buf.readUInt32LE(12)).toString('utf8'));
  const vectors = new Map<number, Buffer>(
    h.partitions.map((p: Json) => [p.offset, buf.subarray(p.offset, p.offset + p.count * h.dim * 4)] as [number, Buffer]),
  );
  const entries = JSON.parse(buf.subarray(h.entries.offset, h.entries.offset + h.entries.bytes).toString('utf8'));
  const replaced = mutate(h, entries);
  const entriesJson = Buffer.from(JSON.stringify(entries));
  const parts: Json[] = Array.isArray(h.partitions) ? h.partitions.filter((p: Json) => p && typeof p === 'object') : [];
  const payloads = parts.map((p) => {
    const v = vectors.get(p.offset) ?? Buffer.alloc(0);
    const pad = p.pad ?? 0;
    delete p.pad;
    return Buffer.concat([v, ...Array.from({ length: pad }, () => v.subarray(0, h.dim * 4))]);
  });
  const place = (headerLength: number) => {
    let at = Math.ceil((32 + headerLength) / 64) * 64;
    parts.forEach((p, i) => {
      if (opts.layout !== false) p.offset = at;
      if ('checksum' in p) p.checksum = checksum(payloads[i]);
      at = Math.ceil((at + payloads[i].length) / 64) * 64;
    });
    if (opts.layout !== false) {
      if (h.entries && typeof h.entries === 'object')
        h.entries = { offset: at, bytes: entriesJson.length, checksum: checksum(entriesJson) };
      h.fileBytes = at + entriesJson.length;
    }
    return at;
  };
  const whole = replaced && typeof replaced === 'object' && 'header' in replaced ? (replaced as { header: unknown }).header : h;
  const text = () => JSON.stringify(whole);
  let header = Buffer.from(text());
  let end = 0;
  for (let round = 0; round < 8; round++) {
    end = place(header.length);
    const next = Buffer.from(text());
    if (next.length === header.length) {
      header = next;
      break;
    }
    header = next;
  }
  let out: Buffer;
  if (opts.layout === false) {
    out = Buffer.from(buf);
    assert.ok(32 + header.length <= Math.min(...vectors.keys()), 'the crafted header fits before the vectors');
  } else {
    out = Buffer.alloc(end + entriesJson.length);
    parts.forEach((p, i) => payloads[i].copy(out, p.offset));
    entriesJson.copy(out, end);
  }
  buf.copy(out, 0, 0, 12);
  out.writeUInt32LE(header.length, 12);
  out.write(checksum(header), 16, 'latin1');
  header.copy(out, 32);
  const path = join(dir, name);
  await writeFile(path, out);
  return path;
}

describe('index files: crafted headers with recomputed checksums', () => {
  it('the crafting helper itself makes a valid file when it changes nothing', async () => {
    const index = await MatchIndex.load(await craft('same.jbi', () => {}), encoder);
    const original = await MatchIndex.load(good, encoder);
    assert.deepEqual(await index.search(['nurse', 'software'], { k: 7 }), await original.search(['nurse', 'software'], { k: 7 }));
    await index.dispose();
    await original.dispose();
  });

  const en = (h: Json) => h.partitions.find((p: Json) => p.lang === 'en');
  const de = (h: Json) => h.partitions.find((p: Json) => p.lang === 'de');
  const cases: [string, (h: Json, entries: Json[]) => unknown, { layout?: boolean }?][] = [
    // Accepted with wrong results before.
    ['a partition row listed twice', (h) => (en(h).rows.push(en(h).rows[0]), en(h).count++, (en(h).pad = 1))],
    [
      "two partitions' rows swapped",
      (h) => {
        const [a, b] = [en(h), de(h)];
        [a.rows, b.rows] = [b.rows, a.rows];
      },
    ],
    ['rows of a partition out of order', (h) => en(h).rows.reverse()],
    ['an empty partition list', (h) => (h.partitions = [])],
    ['a language with two partitions', (h) => (de(h).lang = 'en')],
    ['a partition duplicated', (h) => h.partitions.push({ ...en(h), rows: [...en(h).rows] })],
    ['duplicate ids', (_h, entries) => (entries[1][0] = entries[0][0])],
    ['an entry in the partition of another language', (_h, entries) => (entries[0][2] = 'de')],
    ["a partition's checksum removed (its vectors would load unverified)", (h) => delete en(h).checksum],
    // Refused with TypeError/RangeError/SyntaxError before.
    ['a header that is null', () => ({ header: null })],
    ['a header that is an array', (h) => ({ header: [h] })],
    ['dim as a string', (h) => (h.dim = String(h.dim))],
    ['dim 0', (h) => (h.dim = 0)],
    ['count negative', (h) => (h.count = -1)],
    ['count fractional', (h) => (h.count = 6.5)],
    // A count no file of this size could hold: refused before an entry table that large is allocated.
    ['count 2^40', (h) => (h.count = 2 ** 40)],
    ['partitions null', (h) => (h.partitions = null)],
    ['a partition null', (h) => h.partitions.push(null)],
    ['rows a string', (h) => (en(h).rows = 'abc')],
    ['a partition with no rows', (h) => ((en(h).rows = []), (en(h).count = 0))],
    ['a lang that is a number', (h) => (en(h).lang = 7)],
    ['entries segment an object', (_h, entries) => (entries.length = 0)],
    ['an entry that is not an array', (_h, entries) => (entries[2] = { id: 'x' })],
    ['an entry id that is a number', (_h, entries) => (entries[2][0] = 12)],
    ['an entry id that is empty', (_h, entries) => (entries[2][0] = '')],
    ['entries missing', (h) => delete h.entries],
    ['format wrong', (h) => (h.format = 'other')],
    ['metric wrong', (h) => (h.metric = 'l2')],
    ['fingerprint missing', (h) => delete h.fingerprint],
    ['encoder a string', (h) => (h.encoder = 'tfidf')],
    // Offsets that point where they must not.
    ['a partition at offset 0 (inside the preamble and header)', (h) => (en(h).offset = 0), { layout: false }],
    ['a partition offset not 64-aligned', (h) => (en(h).offset += 4), { layout: false }],
    ['two partitions at one offset', (h) => (de(h).offset = en(h).offset), { layout: false }],
    ['a partition past the entries', (h) => (en(h).offset = h.entries.offset), { layout: false }],
    ['a partition offset of 2^60', (h) => (en(h).offset = 2 ** 60), { layout: false }],
    ['entries offset inside the header', (h) => ((h.entries.offset = 40), (h.entries.bytes = h.fileBytes - 40)), { layout: false }],
  ];
  for (const [what, mutate, opts] of cases) {
    it(`${what}: ERR_CORRUPT`, async () => {
      const path = await craft(`crafted-${what.replace(/\W+/g, '-')}.jbi`, mutate, opts);
      // Refused by the structural checks, not because the crafting broke the file's size or checksums.
      await refuses(MatchIndex.load(path, encoder), 'ERR_CORRUPT', /^(?!.*(checksum mismatch|truncated or appended))/);
      await refuses(MatchIndex.load(path, encoder, { storage: 'int8' }), 'ERR_CORRUPT');
      await refuses(
        loadIndexWithEncoder(path).then((r) => r.index.dispose()),
        'ERR_CORRUPT',
      );
    });
  }
});

describe('index files: an encoder that cannot be loaded', () => {
  /** ENTRIES saved with a spec naming a JobBERT folder that is not there, then one byte of their vectors flipped. */
  async function goneEncoderDamagedVectors(): Promise<string> {
    const gone: Encoder = {
      dim: encoder.dim,
      fingerprint: encoder.fingerprint,
      encode: (texts, opts) => encoder.encode(texts, opts),
      dispose: async () => {},
      spec: () => ({ kind: 'jobbert', dir: join(dir, 'no-such-model') }),
    };
    const index = await MatchIndex.build(gone, ENTRIES);
    const path = join(dir, 'gone-encoder.jbi');
    await index.save(path);
    await index.dispose();
    const bytes = await readFile(path);
    const header = JSON.parse(bytes.subarray(32, 32 + bytes.readUInt32LE(12)).toString('utf8'));
    bytes[header.partitions[0].offset] ^= 0xff;
    await writeFile(path, bytes);
    return path;
  }

  it('is refused with ERR_NO_ENCODER before the vectors are read, by index search, serve and requireEncoder (they read the vectors first: ERR_CORRUPT)', async () => {
    const path = await goneEncoderDamagedVectors();
    // The vectors are damaged: a load that reads them says so.
    await refuses(loadIndexWithEncoder(path), 'ERR_CORRUPT', /checksum/);
    await refuses(loadIndexWithEncoder(path, { requireEncoder: true }), 'ERR_NO_ENCODER', /no-such-model\) cannot be loaded/);
    const run = async (...argv: string[]) => {
      const err: string[] = [];
      const code = await main(
        argv,
        () => {},
        (line) => err.push(line),
      );
      return { code, err: err.join('\n') };
    };
    for (const [argv, hint] of [
      [['index', 'search', path, 'nurse'], /; give the model it was built with: --model DIR/],
      [['match', 'nurse', '--index', path], /; give the model it was built with: --model DIR/],
      [['serve', '--index', path, '--port', '0'], /, so queries cannot be encoded; rebuild it with jobbert index build/],
    ] as const) {
      const r = await run(...argv);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /ERR_NO_ENCODER: .*gone-encoder\.jbi: the JobBERT model it was built with \(.*no-such-model\) cannot be loaded/);
      assert.match(r.err, hint);
    }
  });

  it('an index whose encoder loads is loaded whole with requireEncoder', async () => {
    const { index, encoder: rebuilt } = await loadIndexWithEncoder(good, { requireEncoder: true });
    assert.equal(rebuilt.fingerprint, encoder.fingerprint);
    assert.equal(index.size, ENTRIES.length);
    assert.equal((await index.search(['nurse'], { k: 1 }))[0][0].id, 'n1');
    await index.dispose();
    await rebuilt.dispose();
  });

  it('BAD CALL - loadIndexWithEncoder options: requireEncoder not a boolean, or misspelt, is a TypeError naming it', async () => {
    await assert.rejects(
      loadIndexWithEncoder(good, { requireEncoder: 'yes' as unknown as boolean }),
      (e: Error) => e instanceof TypeError && /requireEncoder must be a boolean/.test(e.message),
    );
    await assert.rejects(
      loadIndexWithEncoder(good, { requireEncoders: true } as never),
      (e: Error) => e instanceof TypeError && /unknown option 'requireEncoders'/.test(e.message),
    );
  });
});

describe('index files: the temp files of killed saves', () => {
  it('a save removes the temp files that dead processes left beside its path, and keeps those of live ones', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    const orphan = join(dir, `.target.jbi.${deadPid}.0badcafe.tmp`);
    const live = join(dir, `.target.jbi.${process.ppid}.0123abcd.tmp`);
    const other = join(dir, `.elsewhere.jbi.${deadPid}.0badcafe.tmp`);
    for (const p of [orphan, live, other]) await writeFile(p, 'partial save');
    const index = await MatchIndex.build(encoder, ENTRIES);
    await index.save(join(dir, 'target.jbi'));
    await index.dispose();
    const names = await readdir(dir);
    assert.ok(!names.includes(`.target.jbi.${deadPid}.0badcafe.tmp`), 'the orphan is removed');
    assert.ok(names.includes(`.target.jbi.${process.ppid}.0123abcd.tmp`), 'a live process’s temp file is kept');
    assert.ok(names.includes(`.elsewhere.jbi.${deadPid}.0badcafe.tmp`), 'another path’s temp file is not touched');
    await refuses(MatchIndex.load(live), 'ERR_CORRUPT');
  });
});
