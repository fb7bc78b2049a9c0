/**
 * download(): a tiny model served by a local hub stand-in (test/fixtures/hub-server.ts)
 * in the hub's URL layout — full download, cache reuse without requests,
 * resume after a dropped connection, corruption, 404, an unreachable server —
 * and the CLI's download / convert / encode commands. No test touches the
 * real network.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../src/cli/args.js';
import { convertCommand, downloadCommand, encodeCommand } from '../src/cli/model-commands.js';
import { download, modelCacheDir, type DownloadProgress } from '../src/model/download.js';
import { JobBERTError } from '../src/errors.js';
import { convertModelDir, JobBERT } from '../src/model/jobbert.js';
import { startHub, type HubServer } from './fixtures/hub-server.js';
import { makeTinyModel } from './fixtures/tiny-model.js';
import { rejectsWith } from './rejects.js';

const REPO = 'acme/tiny-jobbert';
const WEIGHTS = 'model.safetensors';
const EXPECTED_FILES = [
  '1_Pooling/config.json',
  '2_Asym/140230011_Dense/config.json',
  '2_Asym/140230011_Dense/model.safetensors',
  '2_Asym/140230012_Dense/config.json',
  '2_Asym/140230012_Dense/model.safetensors',
  '2_Asym/config.json',
  'config.json',
  'config_sentence_transformers.json',
  'model.safetensors',
  'modules.json',
  'sentence_bert_config.json',
  'tokenizer.json',
];
const TITLES = ['Software Engineer', '高级软件开发人员', 'Produktmanager', 'Científica de datos'];

let hub: HubServer;
let source: string;
let work: string;

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

/** A fresh cache folder for one test. */
const cache = () => mkdtemp(join(work, 'cache-'));

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'jobbert-download-'));
  source = (await makeTinyModel({ seed: 41 }, join(work, 'source'))).dir;
  hub = await startHub();
  await hub.publish(REPO, source);
});

after(async () => {
  await hub.close();
  await rm(work, { recursive: true, force: true });
});

describe('download', () => {
  test('fetches the sentence-transformers files, and JobBERT.load encodes from them as from the original', async () => {
    const progress: DownloadProgress[] = [];
    const dir = await download(REPO, { endpoint: hub.endpoint, cacheDir: await cache(), onProgress: (p) => progress.push(p) });
    assert.equal(dir.endsWith('acme--tiny-jobbert'), true, dir);
    const files = (await listFiles(dir)).filter((f) => !f.startsWith('.jobbert-download'));
    assert.deepEqual(files, EXPECTED_FILES);
    for (const f of files) assert.deepEqual(await readFile(join(dir, f)), await readFile(join(source, f)), f);
    // the large files came from the CDN, pinned to the commit the listing named
    assert.ok(hub.requests.some((r) => r.server === 'cdn'));
    // progress ends at the full size of every file
    for (const f of files) {
      const last = progress.filter((p) => p.file === f).at(-1);
      assert.ok(last, `no progress for ${f}`);
      assert.equal(last.bytes, (await stat(join(dir, f))).size);
      assert.equal(last.total, last.bytes);
    }

    const [ours, reference] = [await JobBERT.load(dir, { cache: false }), await JobBERT.load(source, { cache: false })];
    try {
      const a = await ours.encode(TITLES);
      const b = await reference.encode(TITLES);
      assert.equal(a.cols, 24);
      assert.deepEqual(a.data, b.data);
    } finally {
      await ours.dispose();
      await reference.dispose();
    }
  });

  test('a complete cache is reused without a single request', async () => {
    const cacheDir = await cache();
    const dir = await download(REPO, { endpoint: hub.endpoint, cacheDir });
    const before = hub.requests.length;
    const offline: typeof fetch = () => Promise.reject(new Error('no network in this test'));
    assert.equal(await download(REPO, { endpoint: hub.endpoint, cacheDir, fetch: offline }), dir);
    assert.equal(await download(REPO, { endpoint: hub.endpoint, cacheDir }), dir);
    assert.equal(hub.requests.length, before);
  });

  test('refresh asks the hub again but fetches only what changed', async () => {
    const cacheDir = await cache();
    await download(REPO, { endpoint: hub.endpoint, cacheDir });
    const before = hub.requests.length;
    await download(REPO, { endpoint: hub.endpoint, cacheDir, refresh: true });
    const fresh = hub.requests.slice(before);
    assert.deepEqual(
      fresh.map((r) => r.path),
      [`/api/models/${REPO}/revision/main`],
    );
  });

  test('an interrupted transfer fails with ERR_NETWORK, keeps the partial file, and the next call resumes it with a Range request', async () => {
    const cacheDir = await cache();
    const size = (await stat(join(source, WEIGHTS))).size;
    hub.cutOnce(WEIGHTS, Math.floor(size / 2));
    const e = await rejectsWith(download(REPO, { endpoint: hub.endpoint, cacheDir, retries: 0 }), 'ERR_NETWORK', /broke off/);
    assert.match(e.message, new RegExp(`${hub.endpoint}/${REPO}/resolve/[0-9a-f]{40}/${WEIGHTS}`));
    const part = join(modelCacheDir(REPO, cacheDir), `${WEIGHTS}.part`);
    const partial = (await stat(part)).size;
    assert.ok(partial > 0 && partial <= size / 2, `partial size ${partial}`);

    const before = hub.requests.length;
    const dir = await download(REPO, { endpoint: hub.endpoint, cacheDir, retries: 0 });
    const cdn = hub.requests.slice(before).filter((r) => r.server === 'cdn' && r.path.length > 0);
    assert.ok(
      cdn.some((r) => r.range === `bytes=${partial}-`),
      `no resume request in ${JSON.stringify(cdn)}`,
    );
    assert.deepEqual(await readFile(join(dir, WEIGHTS)), await readFile(join(source, WEIGHTS)));
    await assert.rejects(stat(part), { code: 'ENOENT' });
  });

  test('a dropped connection is resumed within the same call', async () => {
    const cacheDir = await cache();
    hub.cutOnce('tokenizer.json', 1000);
    const dir = await download(REPO, { endpoint: hub.endpoint, cacheDir });
    assert.deepEqual(await readFile(join(dir, 'tokenizer.json')), await readFile(join(source, 'tokenizer.json')));
    assert.ok(hub.requests.some((r) => r.path.endsWith('/tokenizer.json') && r.range !== undefined));
  });

  test('a server that ignores Range sends the whole file again, which is taken from the start', async () => {
    const cacheDir = await cache();
    hub.cutOnce(WEIGHTS, 5000);
    await rejectsWith(download(REPO, { endpoint: hub.endpoint, cacheDir, retries: 0 }), 'ERR_NETWORK', /broke off/);
    hub.ignoreRange = true;
    try {
      const dir = await download(REPO, { endpoint: hub.endpoint, cacheDir, retries: 0 });
      assert.deepEqual(await readFile(join(dir, WEIGHTS)), await readFile(join(source, WEIGHTS)));
    } finally {
      hub.ignoreRange = false;
    }
  });

  for (const file of [WEIGHTS, 'tokenizer.json']) {
    const kind = file === WEIGHTS ? 'an LFS file (sha256 from X-Linked-Etag)' : 'a small file (git blob sha1 from ETag)';
    test(`corrupted bytes in ${kind} give ERR_CORRUPT and remove the partial file`, async () => {
      const cacheDir = await cache();
      hub.corrupt(file);
      try {
        const e = await rejectsWith(download(REPO, { endpoint: hub.endpoint, cacheDir }), 'ERR_CORRUPT', /corrupt/);
        assert.ok(e.message.includes(`${hub.endpoint}/${REPO}/resolve/`), e.message);
      } finally {
        hub.heal(file);
      }
      const dir = modelCacheDir(REPO, cacheDir);
      await assert.rejects(stat(join(dir, `${file}.part`)), { code: 'ENOENT' });
      await assert.rejects(stat(join(dir, file)), { code: 'ENOENT' });
      await assert.rejects(stat(join(dir, '.jobbert-download.json')), { code: 'ENOENT' });
      await download(REPO, { endpoint: hub.endpoint, cacheDir }); // and a clean server fixes it
      assert.deepEqual(await readFile(join(dir, file)), await readFile(join(source, file)));
    });
  }

  test('a size that disagrees with the listing gives ERR_CORRUPT', async () => {
    const other = await makeTinyModel({ seed: 42, headDim: 20 }, join(work, 'resized'));
    await hub.publish('acme/resized', other.dir);
    const cacheDir = await cache();
    const bad: typeof fetch = async (url, init) => {
      const res = await fetch(url, init);
      if (
        !String(url).endsWith('/config.json') ||
        String(url).includes('_Dense') ||
        String(url).includes('Pooling') ||
        String(url).includes('Asym')
      )
        return res;
      const body = Buffer.concat([Buffer.from(await res.arrayBuffer()), Buffer.from('  ')]);
      return new Response(body, {
        status: res.status,
        headers: { etag: res.headers.get('etag') ?? '', 'content-length': String(body.length) },
      });
    };
    await rejectsWith(
      download('acme/resized', { endpoint: hub.endpoint, cacheDir, fetch: bad }),
      'ERR_CORRUPT',
      /conflicting sizes|expected \d+ bytes/,
    );
  });

  test('a file whose headers name another hash than the file list gives ERR_CORRUPT, even with bytes that match the headers (they were taken)', async () => {
    const cacheDir = await cache();
    const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
    // A proxy that serves other bytes of the same size for config.json, with their own (right) ETag.
    const other: typeof fetch = async (url, init) => {
      const res = await fetch(url, init);
      if (!/\/resolve\/[0-9a-f]{40}\/config\.json$/.test(String(url))) return res;
      const body = Buffer.from(await res.arrayBuffer());
      body[body.length - 2] = body[body.length - 2] === 0x20 ? 0x0a : 0x20;
      return new Response(body, { status: res.status, headers: { etag: `"${gitSha1(body)}"`, 'content-length': String(body.length) } });
    };
    await rejectsWith(
      download(REPO, { endpoint: hub.endpoint, cacheDir, fetch: other }),
      'ERR_CORRUPT',
      /conflicting hashes for config\.json \(git blob sha1 [0-9a-f]{40} in its headers, [0-9a-f]{40} in the file list\)/,
    );
    await assert.rejects(stat(join(modelCacheDir(REPO, cacheDir), 'config.json')), { code: 'ENOENT' });
  });

  test('a missing repository, revision or file gives ERR_NOT_FOUND naming the URL', async () => {
    const cacheDir = await cache();
    await rejectsWith(
      download('acme/no-such-model', { endpoint: hub.endpoint, cacheDir }),
      'ERR_NOT_FOUND',
      /HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/api\/models\/acme\/no-such-model\/revision\/main/,
    );
    await rejectsWith(
      download(REPO, { endpoint: hub.endpoint, cacheDir, revision: 'v9' }),
      'ERR_NOT_FOUND',
      /revision 'v9'.*\/revision\/v9/,
    );
    await rejectsWith(download(REPO, { endpoint: hub.endpoint, cacheDir, onnx: true }), 'ERR_NOT_FOUND', /onnx\/model\.onnx/);

    const gone = await makeTinyModel({ seed: 43 }, join(work, 'gone'));
    await hub.publish('acme/gone', gone.dir);
    hub.hide('acme/gone', 'sentence_bert_config.json');
    await rejectsWith(
      download('acme/gone', { endpoint: hub.endpoint, cacheDir }),
      'ERR_NOT_FOUND',
      /resolve\/[0-9a-f]{40}\/sentence_bert_config\.json/,
    );
  });

  test('an unreachable server gives ERR_NETWORK naming the URL', { timeout: 15_000 }, async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    await rejectsWith(
      download(REPO, { endpoint: `http://127.0.0.1:${port}`, cacheDir: await cache(), retries: 1 }),
      'ERR_NETWORK',
      new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}/api/models/${REPO}/revision/main\\?blobs=true: ECONNREFUSED`),
    );
  });

  test('a hub that never answers, or stops sending its file list, fails after idleTimeoutMs an attempt (it waited 300 s an attempt in silence)', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      if (req.url?.includes('/stall-body/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"sha": "'); // and nothing more
      }
      if (req.url?.includes('/null/')) res.end('null');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const opts = async () => ({ endpoint, cacheDir: await cache(), retries: 1, idleTimeoutMs: 200 });
      await rejectsWith(
        download('acme/silent', await opts()),
        'ERR_NETWORK',
        /acme\/silent\/revision\/main\?blobs=true sent no answer for 0\.2 s/,
      );
      assert.equal(requests, 2);
      await rejectsWith(download('acme/stall-body', await opts()), 'ERR_NETWORK', /stopped sending its file list for 0\.2 s/);
      assert.equal(requests, 4);
      // JSON, but not an object: a clear error, not "Cannot read properties of null".
      await rejectsWith(download('acme/null', await opts()), 'ERR_NETWORK', /answered without a "siblings" file list/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    await assert.rejects(download(REPO, { idleTimeoutMs: 0 }), (e: Error) => e instanceof RangeError && /idleTimeoutMs/.test(e.message));
  });

  test('a partial answer (206) to a request for the whole file fails after the retries (it was asked again forever)', async () => {
    let partials = 0;
    const partial: typeof fetch = async (url, init) => {
      if (String(url).endsWith(`/${WEIGHTS}`) && !String(url).includes('_Dense')) {
        partials++;
        return new Response('abc', { status: 206 });
      }
      return fetch(url, init);
    };
    await rejectsWith(
      download(REPO, { endpoint: hub.endpoint, cacheDir: await cache(), retries: 2, fetch: partial }),
      'ERR_NETWORK',
      /answered a request for all of model\.safetensors with a part of it \(HTTP 206, Content-Range: none\)/,
    );
    assert.equal(partials, 3);
  });

  test('a cache folder that cannot be written gives ERR_IO naming it, not a stack trace', async () => {
    const file = join(work, 'not-a-folder');
    await writeFile(file, 'x');
    await rejectsWith(
      download(REPO, { endpoint: hub.endpoint, cacheDir: file }),
      'ERR_IO',
      /cannot write the cache folder .*not-a-folder.*ENOTDIR/,
    );
  });

  test('onnx: true also fetches onnx/model.onnx, which JobBERT.load then uses', async () => {
    const withOnnx = join(work, 'with-onnx');
    await cp(source, withOnnx, { recursive: true });
    await convertModelDir(withOnnx);
    await hub.publish('acme/with-onnx', withOnnx);
    const cacheDir = await cache();
    const plain = await download('acme/with-onnx', { endpoint: hub.endpoint, cacheDir });
    await assert.rejects(stat(join(plain, 'onnx', 'model.onnx')), { code: 'ENOENT' });
    const dir = await download('acme/with-onnx', { endpoint: hub.endpoint, cacheDir, onnx: true });
    assert.deepEqual(await readFile(join(dir, 'onnx', 'model.onnx')), await readFile(join(withOnnx, 'onnx', 'model.onnx')));
    const model = await JobBERT.load(dir, { cache: false });
    try {
      assert.equal(model.source, 'onnx');
    } finally {
      await model.dispose();
    }
  });

  test('new weights on the hub replace the cached ones and drop the graph converted from the old weights', async () => {
    const v1 = await makeTinyModel({ seed: 44 }, join(work, 'moving-v1'));
    const first = await hub.publish('acme/moving', v1.dir);
    const cacheDir = await cache();
    const dir = await download('acme/moving', { endpoint: hub.endpoint, cacheDir });
    await (await JobBERT.load(dir)).dispose(); // caches onnx/model.onnx beside the weights
    await stat(join(dir, 'onnx', 'model.onnx'));

    const v2 = await makeTinyModel({ seed: 45 }, join(work, 'moving-v2'));
    const second = await hub.publish('acme/moving', v2.dir);
    assert.notEqual(first, second);
    assert.equal(await download('acme/moving', { endpoint: hub.endpoint, cacheDir }), dir); // cached: main is not re-checked
    assert.deepEqual(await readFile(join(dir, WEIGHTS)), await readFile(join(v1.dir, WEIGHTS)));
    await download('acme/moving', { endpoint: hub.endpoint, cacheDir, refresh: true });
    assert.deepEqual(await readFile(join(dir, WEIGHTS)), await readFile(join(v2.dir, WEIGHTS)));
    await assert.rejects(stat(join(dir, 'onnx', 'model.onnx')), { code: 'ENOENT' });
    const manifest = JSON.parse(await readFile(join(dir, '.jobbert-download.json'), 'utf8'));
    assert.equal(manifest.commit, second);
    // the commit pins the cache as well as the branch does
    const before = hub.requests.length;
    await download('acme/moving', { endpoint: hub.endpoint, cacheDir, revision: second });
    assert.equal(hub.requests.length, before);
  });

  test('concurrent calls for one model share the work', async () => {
    const cacheDir = await cache();
    const before = hub.requests.length;
    const [a, b] = await Promise.all([
      download(REPO, { endpoint: hub.endpoint, cacheDir }),
      download(REPO, { endpoint: hub.endpoint, cacheDir }),
    ]);
    assert.equal(a, b);
    const listings = hub.requests.slice(before).filter((r) => r.path.startsWith('/api/'));
    assert.equal(listings.length, 1);
  });

  test('a lock held by a live process gives ERR_BUSY; a stale one is taken over', async () => {
    const cacheDir = await cache();
    const dir = modelCacheDir(REPO, cacheDir);
    await download(REPO, { endpoint: hub.endpoint, cacheDir }); // creates the folder
    await writeFile(join(dir, '.jobbert-download.lock'), String(process.ppid));
    await rejectsWith(download(REPO, { endpoint: hub.endpoint, cacheDir, refresh: true }), 'ERR_BUSY', /downloading into/);
    await writeFile(join(dir, '.jobbert-download.lock'), '999999999');
    await download(REPO, { endpoint: hub.endpoint, cacheDir, refresh: true });
    await assert.rejects(stat(join(dir, '.jobbert-download.lock')), { code: 'ENOENT' });
  });

  test('the cache folder comes from cacheDir, else JOBBERT_CACHE', () => {
    assert.equal(modelCacheDir('TechWolf/JobBERT-v3', '/tmp/models'), join('/tmp/models', 'TechWolf--JobBERT-v3'));
    const saved = process.env.JOBBERT_CACHE;
    process.env.JOBBERT_CACHE = '/srv/jobbert';
    try {
      assert.equal(modelCacheDir('TechWolf/JobBERT-v3'), join('/srv/jobbert', 'TechWolf--JobBERT-v3'));
    } finally {
      if (saved === undefined) delete process.env.JOBBERT_CACHE;
      else process.env.JOBBERT_CACHE = saved;
    }
  });

  test('BAD CALL - malformed arguments throw TypeError/RangeError naming the argument', async () => {
    for (const repo of ['JobBERT-v3', '../etc/passwd', 'a/b/c', '', 42]) {
      await assert.rejects(download(repo as string), (e: Error) => e instanceof TypeError && /repo must be a hub model id/.test(e.message));
    }
    await assert.rejects(download(REPO, { retries: -1 }), (e: Error) => e instanceof RangeError && /retries/.test(e.message));
    await assert.rejects(download(REPO, { endpoint: 'ftp://x' }), (e: Error) => e instanceof TypeError && /endpoint/.test(e.message));
    await assert.rejects(
      download(REPO, { onnx: 'yes' as unknown as boolean }),
      (e: Error) => e instanceof TypeError && /onnx/.test(e.message),
    );
    await assert.rejects(download(REPO, 'x' as never), (e: Error) => e instanceof TypeError && /options/.test(e.message));
  });
});

describe('CLI: download, convert, encode', () => {
  const run = async (fn: (argv: string[], out: (s: string) => void) => Promise<number>, argv: string[]) => {
    const lines: string[] = [];
    const status = await fn(argv, (s) => lines.push(s));
    return { status, lines };
  };

  test('download --json prints the directory; plain output lists each file', async () => {
    const cacheDir = await cache();
    const json = await run(downloadCommand, [REPO, '--endpoint', hub.endpoint, '--cache-dir', cacheDir, '--json']);
    assert.equal(json.status, 0);
    const r = JSON.parse(json.lines.join(''));
    assert.equal(r.dir, modelCacheDir(REPO, cacheDir));
    assert.ok(r.downloadedBytes > (await stat(join(source, WEIGHTS))).size);

    const plain = await run(
      (a, o) => downloadCommand(a, o, { isTTY: false, write: () => assert.fail('no bar off a terminal') }),
      [REPO, '--endpoint', hub.endpoint, '--cache-dir', await cache()],
    );
    assert.ok(
      plain.lines.some((l) => /^fetched model\.safetensors \(\d/.test(l)),
      plain.lines.join('\n'),
    );
    assert.match(plain.lines.at(-1) ?? '', /acme\/tiny-jobbert → .*acme--tiny-jobbert \(/);
  });

  test('download on a terminal draws a progress bar with bytes, percent and rate', async () => {
    let drawn = '';
    const { status } = await run(
      (a, o) => downloadCommand(a, o, { isTTY: true, write: (s) => (drawn += s) }),
      [REPO, '--endpoint', hub.endpoint, '--cache-dir', await cache()],
    );
    assert.equal(status, 0);
    assert.match(drawn, /\r\x1b\[2Kmodel\.safetensors \[#+\] 100% [\d.]+ kB\/[\d.]+ kB [\d.]+ [kMG]?B\/s/);
  });

  test('download reports a missing model as ERR_NOT_FOUND and bad usage as UsageError', async () => {
    await assert.rejects(
      run(downloadCommand, ['acme/nothing', '--endpoint', hub.endpoint, '--cache-dir', await cache(), '--json']),
      (e: Error) => e instanceof JobBERTError && e.code === 'ERR_NOT_FOUND',
    );
    await assert.rejects(run(downloadCommand, []), UsageError);
    await assert.rejects(run(downloadCommand, ['not-a-repo']), UsageError);
    await assert.rejects(run(downloadCommand, [REPO, '--bogus']), UsageError);
  });

  test('convert writes onnx/model.onnx (and int8 onnx/model_quantized.onnx) and says where, how big and how long', async () => {
    const dir = join(work, 'convert-me');
    await cp(source, dir, { recursive: true });
    const plain = await run(convertCommand, [dir]);
    assert.equal(plain.status, 0);
    assert.match(plain.lines[0], /^wrote .*onnx\/model\.onnx \(fp32, [\d.]+ kB\) in [\d.]+ s$/);
    const json = await run(convertCommand, [dir, '--precision', 'int8', '--json']);
    const r = JSON.parse(json.lines[0]);
    assert.equal(r.precision, 'int8');
    assert.ok(r.file.endsWith(join('onnx', 'model_quantized.onnx')));
    assert.equal(r.bytes, (await stat(r.file)).size);
    await assert.rejects(run(convertCommand, []), UsageError);
    await assert.rejects(run(convertCommand, [dir, '--precision', 'fp16']), /--precision must be fp32 or int8/);
    await assert.rejects(
      run(convertCommand, [join(work, 'nowhere')]),
      (e: Error) => e instanceof JobBERTError && e.code === 'ERR_NOT_FOUND',
    );
  });

  test('encode prints one JSON vector per text; --json one object; --branch base gives the pooled vector', async () => {
    const plain = await run(encodeCommand, [...TITLES.slice(0, 2), '--model', source]);
    assert.equal(plain.lines.length, 2);
    const model = await JobBERT.load(source, { cache: false });
    try {
      const expected = await model.encode(TITLES.slice(0, 2));
      plain.lines.forEach((l, i) => {
        const v = JSON.parse(l) as number[];
        assert.equal(v.length, 24);
        v.forEach((x, j) => assert.equal(x, expected.data[i * 24 + j]));
      });
    } finally {
      await model.dispose();
    }
    const base = JSON.parse((await run(encodeCommand, ['Data', '--model', source, '--branch', 'base', '--json'])).lines[0]);
    assert.equal(base.branch, 'base');
    assert.equal(base.dim, 32);
    assert.equal(base.vectors[0].length, 32);
    assert.ok(Math.abs(Math.hypot(...base.vectors[0]) - 1) < 1e-5);
    // Without --model: the built-in model (as batch encode and worker).
    assert.equal(JSON.parse((await run(encodeCommand, ['x', '--json'])).lines[0]).dim, 96);
    await assert.rejects(run(encodeCommand, ['--model', source]), /at least one text/);
    await assert.rejects(run(encodeCommand, ['x', '--model', source, '--branch', 'query']), /--branch must be anchor or positive or base/);
    await assert.rejects(run(encodeCommand, ['x', '--model', 'nobody/nothing']), /jobbert download nobody\/nothing/);
  });

  test('encode --model accepts a repo id already in the cache', async () => {
    const cacheDir = await cache();
    await download(REPO, { endpoint: hub.endpoint, cacheDir });
    const saved = process.env.JOBBERT_CACHE;
    process.env.JOBBERT_CACHE = cacheDir;
    try {
      const r = JSON.parse((await run(encodeCommand, ['Data', '--model', REPO, '--json'])).lines[0]);
      assert.equal(r.dim, 24);
    } finally {
      if (saved === undefined) delete process.env.JOBBERT_CACHE;
      else process.env.JOBBERT_CACHE = saved;
    }
  });
});
