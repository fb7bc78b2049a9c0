/**
 * `jobbert serve` and its library API on loopback: the endpoint contract,
 * batching equivalence under concurrency, every limit, auth, bad input,
 * graceful shutdown, and the CLI under SIGTERM. Servers listen on
 * 127.0.0.1:0; the index is a small TF-IDF one made here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { MatchIndex, SkillIndex, TfIdfEncoder, type Skill } from '../src/index.js';
import type { Encoder } from '../src/encoders/encoder.js';
import { MicroBatcher } from '../src/serve/batcher.js';
import { acceptsGzip } from '../src/serve/http.js';
import { createMatcher, createServer, ServeError, type JobbertServer, type ServeOptions } from '../src/serve/index.js';

const EN = [
  'Software Engineer',
  'Senior Software Developer',
  'Data Scientist',
  'Data Analyst',
  'Machine Learning Engineer',
  'Nurse',
  'Registered Nurse',
  'Head Nurse',
  'Baker',
  'Pastry Chef',
  'Cook',
  'Truck Driver',
  'Bus Driver',
  'Accountant',
  'Financial Controller',
  'Teacher',
  'Primary School Teacher',
  'Electrician',
  'Plumber',
  'Sales Manager',
  'Product Manager',
  'Project Manager',
  'Web Developer',
  'Frontend Developer',
  'Backend Developer',
];
const DE = [
  'Softwareentwickler',
  'Datenwissenschaftler',
  'Krankenschwester',
  'Bäcker',
  'Koch',
  'Lkw-Fahrer',
  'Buchhalter',
  'Lehrer',
  'Elektriker',
  'Klempner',
  'Vertriebsleiter',
  'Produktmanager',
  'Projektleiter',
  'Webentwickler',
];
const SKILLS: Skill[] = [
  { id: 'py', name: 'Python', aliases: ['python programming'] },
  { id: 'ml', name: 'machine learning', aliases: ['maschinelles Lernen'] },
  { id: 'care', name: 'patient care', aliases: ['Patientenversorgung'] },
  { id: 'bake', name: 'baking bread', aliases: ['Brot backen'] },
  { id: 'drive', name: 'driving heavy vehicles' },
  { id: 'acct', name: 'bookkeeping', aliases: ['Buchhaltung'] },
  { id: 'teach', name: 'teaching children' },
  { id: 'wire', name: 'electrical wiring' },
  { id: 'sell', name: 'sales negotiation' },
  { id: 'plan', name: 'project planning', aliases: ['Projektplanung'] },
  { id: 'js', name: 'JavaScript', aliases: ['web development'] },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ENTRIES = [
  ...EN.map((text, i) => ({ id: `en${i}`, text, lang: 'en' })),
  ...DE.map((text, i) => ({ id: `de${i}`, text, lang: 'de' })),
];
const QUERIES = [
  'software engineer',
  'nurse',
  'Bäckerin',
  'data science',
  'driver',
  'teacher for kids',
  'Projektmanagerin',
  'java developer',
  'Koch',
  'sales',
  'electric',
  'accounting clerk',
];

let dir: string;
let indexPath: string;
let encoder: TfIdfEncoder;
let index: MatchIndex;
let skills: SkillIndex;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-serve-'));
  encoder = TfIdfEncoder.fit(
    ENTRIES.map((e) => e.text),
    { dim: 1024 },
  );
  index = await MatchIndex.build(encoder, ENTRIES);
  skills = await SkillIndex.build(encoder, SKILLS);
  indexPath = join(dir, 'titles.jbi');
  await index.save(indexPath);
});
after(async () => {
  await skills.dispose();
  await index.dispose();
  await rm(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whichever response shape they asked for
  json: any;
}

/** One HTTP request on a fresh connection; `body` objects are sent as JSON. */
function request(
  url: string,
  path: string,
  opts: { method?: string; body?: unknown; headers?: Record<string, string | number> } = {},
): Promise<Reply> {
  const raw =
    opts.body === undefined
      ? undefined
      : Buffer.isBuffer(opts.body) || typeof opts.body === 'string'
        ? opts.body
        : JSON.stringify(opts.body);
  const headers: Record<string, string | number> = {
    ...(raw !== undefined ? { 'content-type': 'application/json' } : {}),
    ...opts.headers,
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, url),
      { method: opts.method ?? (raw === undefined ? 'GET' : 'POST'), headers, agent: false },
      (res) => collect(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(raw);
  });
}

async function collect(res: IncomingMessage): Promise<Reply> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode!, headers: res.headers, text, json };
}

const post = (url: string, path: string, body: unknown, headers?: Record<string, string>) => request(url, path, { body, headers });

async function start(opts: Partial<ServeOptions> = {}): Promise<{ url: string; service: JobbertServer }> {
  const service = createServer({ index, encoder, skills, port: 0, ...opts });
  const { url } = await service.listen();
  return { url, service };
}

/** Asserts a JSON error reply: status, code and (when given) the field and a message fragment. */
function assertError(r: Reply, status: number, code: string, field?: string, message?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
  if (message) assert.match(r.json.error.message, message);
}

/** Sum of a Prometheus sample's values over label sets matching `filter`. */
function metric(text: string, name: string, filter: RegExp = /.*/): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && filter.test(m[2] ?? '')) total += Number(m[3]);
  }
  return total;
}

describe('jobbert serve: endpoint contract', () => {
  let url: string;
  let service: JobbertServer;
  before(async () => ({ url, service } = await start()));
  after(() => service.close());

  it('GET /healthz reports status, entries, dim, fingerprint and what is served', async () => {
    const r = await request(url, '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.entries, ENTRIES.length);
    assert.equal(r.json.dim, 1024);
    assert.equal(r.json.fingerprint, encoder.fingerprint);
    assert.deepEqual(r.json.languages.sort(), ['de', 'en']);
    assert.equal(r.json.skills, SKILLS.length);
    assert.equal(r.json.encode, true);
    assert.equal(r.json.batching, true);
    assert.ok(r.json.uptime >= 0);
    assert.match(r.json.version, /^\d+\.\d+\.\d+/);
    assert.equal((await request(url, '/healthz', { method: 'HEAD' })).status, 200);
  });

  it('POST /v1/match returns what MatchIndex.search returns (k default 10, lang filter, k clamped)', async () => {
    const r = await post(url, '/v1/match', { queries: ['software engineer', 'Krankenpfleger'] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { results: await index.search(['software engineer', 'Krankenpfleger'], { k: 10 }) });
    assert.equal(r.json.results[0][0].text, 'Software Engineer');
    for (const hit of r.json.results.flat()) assert.deepEqual(Object.keys(hit).sort(), ['id', 'score', 'text']);
    const de = await post(url, '/v1/match', { queries: ['nurse'], k: 3, lang: 'de' });
    assert.deepEqual(de.json.results, await index.search(['nurse'], { k: 3, lang: 'de' }));
    assert.ok(de.json.results[0].every((h: { id: string }) => h.id.startsWith('de')));
    const all = await post(url, '/v1/match', { queries: ['nurse'], k: 1000 });
    assert.equal(all.json.results[0].length, ENTRIES.length);
    assert.deepEqual(await post(url, '/v1/match', { queries: [] }).then((x) => x.json), { results: [] });
  });

  it('POST /v1/encode returns the encoder’s vectors exactly, for every branch', async () => {
    const texts = ['Software Engineer', '高级软件开发人员'];
    const expected = await encoder.encode(texts);
    for (const branch of [undefined, 'anchor', 'positive', 'base']) {
      const r = await post(url, '/v1/encode', branch ? { texts, branch } : { texts });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.dim, 1024);
      assert.equal(r.json.vectors.length, 2);
      assert.deepEqual(Float32Array.from(r.json.vectors.flat() as number[]), expected.data);
    }
  });

  it('POST /v1/skills returns SkillIndex.rank as {id, text: name, score}', async () => {
    const r = await post(url, '/v1/skills', { titles: ['Data Scientist', 'Bäcker'], k: 3 });
    assert.equal(r.status, 200, r.text);
    const ranked = await skills.rank(['Data Scientist', 'Bäcker'], { k: 3 });
    assert.deepEqual(
      r.json.results,
      ranked.map((list) => list.map((s) => ({ id: s.id, text: s.name, score: s.score }))),
    );
    assert.equal(r.json.results[1][0].id, 'bake');
  });

  it('GET /metrics is Prometheus text with request counts, latency and batch histograms, in-flight and RSS', async () => {
    await post(url, '/v1/match', { queries: ['baker'] });
    const r = await request(url, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /^text\/plain; version=0\.0\.4/);
    for (const family of [
      'jobbert_http_requests_total counter',
      'jobbert_http_request_duration_seconds histogram',
      'jobbert_batch_size histogram',
      'jobbert_http_requests_in_flight gauge',
      'process_resident_memory_bytes gauge',
    ]) {
      assert.ok(r.text.includes(`# TYPE ${family}`), family);
    }
    assert.ok(metric(r.text, 'jobbert_http_requests_total', /route="\/v1\/match",method="POST",status="200"/) >= 1);
    assert.ok(metric(r.text, 'jobbert_http_request_duration_seconds_count', /route="\/v1\/match"/) >= 1);
    assert.ok(metric(r.text, 'jobbert_batch_size_count', /op="match"/) >= 1);
    assert.equal(metric(r.text, 'jobbert_http_requests_in_flight'), 1); // this very request
    assert.ok(metric(r.text, 'process_resident_memory_bytes') > 1e6);
  });

  it('GET /openapi.json is an OpenAPI 3.1 document describing every route and the configured limits', async () => {
    const r = await request(url, '/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.json.openapi, '3.1.0');
    assert.deepEqual(Object.keys(r.json.paths).sort(), [
      '/healthz',
      '/metrics',
      '/openapi.json',
      '/v1/embeddings',
      '/v1/encode',
      '/v1/match',
      '/v1/models',
      '/v1/models/{id}',
      '/v1/normalize',
      '/v1/skills',
    ]);
    assert.equal(r.json.components.schemas.MatchRequest.properties.queries.maxItems, 256);
    assert.equal(r.json.components.schemas.MatchRequest.properties.k.maximum, 1000);
    assert.ok(r.json.paths['/v1/match'].post.responses['422']);
  });

  it('answers unknown routes with 404 and wrong methods with 405 and an Allow header', async () => {
    assertError(await request(url, '/v2/match'), 404, 'ERR_NOT_FOUND');
    assertError(await request(url, '/'), 404, 'ERR_NOT_FOUND');
    const wrong = await request(url, '/v1/match');
    assertError(wrong, 405, 'ERR_METHOD_NOT_ALLOWED');
    assert.equal(wrong.headers.allow, 'POST');
    const del = await request(url, '/healthz', { method: 'DELETE' });
    assertError(del, 405, 'ERR_METHOD_NOT_ALLOWED');
    assert.equal(del.headers.allow, 'GET, HEAD');
    assert.equal((await request(url, '/healthz?verbose=1')).status, 200);
  });
});

describe('jobbert serve: optional endpoints', () => {
  it('/v1/skills without --skills and /v1/encode without an encoder answer 404 saying how to enable them', async () => {
    const { url, service } = await start({ skills: undefined, encoder: undefined });
    try {
      assertError(await post(url, '/v1/skills', { titles: ['baker'] }), 404, 'ERR_NOT_CONFIGURED', undefined, /--skills FILE/);
      assertError(await post(url, '/v1/encode', { texts: ['baker'] }), 404, 'ERR_NOT_CONFIGURED', undefined, /encoder/);
      const health = (await request(url, '/healthz')).json;
      assert.equal(health.skills, null);
      assert.equal(health.encode, false);
      assert.equal((await post(url, '/v1/match', { queries: ['baker'] })).status, 200);
    } finally {
      await service.close();
    }
  });
});

describe('jobbert serve: micro-batching', () => {
  it('gives 200 concurrent requests exactly what unbatched calls give, in batches larger than one', async () => {
    const { url, service } = await start({ maxBatch: 64, maxWaitMs: 5 });
    try {
      const ks = [1, 3, 10, 50];
      const langs = [undefined, 'en', 'de'];
      const requests = Array.from({ length: 200 }, (_, i) => {
        const queries = Array.from({ length: 1 + (i % 3) }, (_, j) => QUERIES[(i * 7 + j * 5) % QUERIES.length]);
        const body: { queries: string[]; k: number; lang?: string } = { queries, k: ks[i % ks.length] };
        if (langs[i % langs.length]) body.lang = langs[i % langs.length];
        return body;
      });
      const replies = await Promise.all(requests.map((b) => post(url, '/v1/match', b)));
      for (const [i, r] of replies.entries()) {
        assert.equal(r.status, 200, r.text);
        const expected = await index.search(requests[i].queries, { k: requests[i].k, lang: requests[i].lang });
        assert.deepEqual(r.json.results, expected, `request ${i}`);
      }
      // The same for /v1/encode and /v1/skills.
      const texts = Array.from({ length: 60 }, (_, i) => [QUERIES[i % QUERIES.length], QUERIES[(i * 5) % QUERIES.length]]);
      const encoded = await Promise.all(texts.map((t, i) => post(url, '/v1/encode', { texts: t, branch: i % 2 ? 'anchor' : 'base' })));
      for (const [i, r] of encoded.entries())
        assert.deepEqual(Float32Array.from(r.json.vectors.flat() as number[]), (await encoder.encode(texts[i])).data);
      const ranked = await Promise.all(texts.map((t, i) => post(url, '/v1/skills', { titles: t, k: 1 + (i % 5) })));
      for (const [i, r] of ranked.entries()) {
        const expected = (await skills.rank(texts[i], { k: 1 + (i % 5) })).map((l) =>
          l.map((s) => ({ id: s.id, text: s.name, score: s.score })),
        );
        assert.deepEqual(r.json.results, expected, `skills request ${i}`);
      }
      const m = (await request(url, '/metrics')).text;
      const batches = metric(m, 'jobbert_batch_size_count', /op="match"/);
      const queries = metric(m, 'jobbert_batch_size_sum', /op="match"/);
      const singles = metric(m, 'jobbert_batch_size_bucket', /op="match",le="1"/);
      assert.equal(
        queries,
        requests.reduce((s, b) => s + b.queries.length, 0),
      );
      assert.ok(batches < requests.length, `expected coalescing: ${batches} batches for ${requests.length} requests`);
      assert.ok(batches - singles > 0, 'some batch held more than one query');
      assert.ok(metric(m, 'jobbert_batch_size_count', /op="encode"/) < texts.length);
    } finally {
      await service.close();
    }
  });

  it('with batching off, answers the same and runs one call per request', async () => {
    const { url, service } = await start({ batching: false });
    try {
      const bodies = QUERIES.map((q, i) => ({ queries: [q], k: 1 + i }));
      const replies = await Promise.all(bodies.map((b) => post(url, '/v1/match', b)));
      for (const [i, r] of replies.entries()) assert.deepEqual(r.json.results, await index.search(bodies[i].queries, { k: bodies[i].k }));
      const m = (await request(url, '/metrics')).text;
      assert.equal(metric(m, 'jobbert_batch_size_count', /op="match"/), bodies.length);
      assert.equal((await request(url, '/healthz')).json.batching, false);
    } finally {
      await service.close();
    }
  });

  it('runs a request larger than max-batch on its own, whole', async () => {
    const { url, service } = await start({ maxBatch: 4 });
    try {
      const queries = Array.from({ length: 10 }, (_, i) => QUERIES[i]);
      const r = await post(url, '/v1/match', { queries, k: 2 });
      assert.deepEqual(r.json.results, await index.search(queries, { k: 2 }));
    } finally {
      await service.close();
    }
  });
});

describe('MicroBatcher', () => {
  const echo = (opts: { maxBatch?: number; maxQueue?: number; fail?: string } = {}) => {
    const calls: string[][] = [];
    const batcher = new MicroBatcher<string, string>({
      maxBatch: opts.maxBatch ?? 8,
      maxWaitMs: 5,
      maxQueue: opts.maxQueue ?? 100,
      run: async (_key, params) => {
        calls.push(params);
        if (params.includes(opts.fail ?? '\0')) throw new RangeError(`bad job ${opts.fail}`);
        return params.map((p) => p.toUpperCase());
      },
    });
    return { batcher, calls };
  };

  it('coalesces jobs by key, caps batches at maxBatch items and keeps each result with its job', async () => {
    const { batcher, calls } = echo({ maxBatch: 4 });
    const jobs = ['a', 'b', 'c', 'd', 'e', 'f'].map((p, i) => batcher.submit(i % 2 ? 'odd' : 'even', 1, p));
    assert.deepEqual(await Promise.all(jobs), ['A', 'B', 'C', 'D', 'E', 'F']);
    assert.deepEqual(calls, [['a', 'c'], ['b', 'd'], ['e'], ['f']]);
  });

  it('fails only the job that fails, not its batch neighbours', async () => {
    const { batcher } = echo({ fail: 'bad' });
    const results = await Promise.allSettled(['x', 'bad', 'y'].map((p) => batcher.submit('', 1, p)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /bad job/);
  });

  it('fails every job of a batch at once, without running each again, when the error is shared (a shard that is down)', async () => {
    const calls: string[][] = [];
    const batcher = new MicroBatcher<string, string>({
      maxBatch: 8,
      maxWaitMs: 5,
      maxQueue: 100,
      run: async (_key, params) => {
        calls.push(params);
        throw params.length > 1 ? new Error('shard 0 is down') : new RangeError(`bad job ${params[0]}`);
      },
      shared: (e) => !(e instanceof RangeError),
    });
    const results = await Promise.allSettled(['x', 'y', 'z'].map((p) => batcher.submit('', 1, p)));
    assert.deepEqual(
      results.map((r) => String((r as PromiseRejectedResult).reason)),
      ['Error: shard 0 is down', 'Error: shard 0 is down', 'Error: shard 0 is down'],
    );
    assert.deepEqual(calls, [['x', 'y', 'z']]);
  });

  it('runs at most `concurrency` batches at once (one by default), each job still with its own result', async () => {
    for (const concurrency of [undefined, 1, 2, 3]) {
      let running = 0;
      let most = 0;
      const gates: (() => void)[] = [];
      const batcher = new MicroBatcher<string, string>({
        maxBatch: 1,
        maxWaitMs: 0,
        maxQueue: 100,
        concurrency,
        run: async (_key, params) => {
          running++;
          most = Math.max(most, running);
          await new Promise<void>((resolve) => gates.push(resolve));
          running--;
          return params.map((p) => p.toUpperCase());
        },
      });
      const jobs = ['a', 'b', 'c', 'd', 'e'].map((p) => batcher.submit('', 1, p));
      const drained = batcher.drain();
      // Open the gates one at a time as batches reach them, until every job has run.
      for (let opened = 0; opened < 5; opened++) {
        while (gates.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        await new Promise((resolve) => setTimeout(resolve, 5)); // time for any further batch to start
        gates.shift()!();
      }
      assert.deepEqual(await Promise.all(jobs), ['A', 'B', 'C', 'D', 'E']);
      await drained;
      assert.equal(most, concurrency ?? 1, `concurrency ${concurrency}`);
    }
    for (const bad of [0, -1, 1.5, Number.NaN])
      assert.throws(
        () => new MicroBatcher({ maxBatch: 1, maxWaitMs: 0, maxQueue: 1, concurrency: bad, run: async () => [] }),
        /MicroBatcher: concurrency must be an integer in \[1, \d+\]; received /,
      );
  });

  it('refuses work beyond maxQueue with 503 ERR_OVERLOADED', async () => {
    const { batcher } = echo({ maxQueue: 3 });
    const ok = [batcher.submit('', 2, 'a')];
    await assert.rejects(
      batcher.submit('', 2, 'b'),
      (e: unknown) => e instanceof ServeError && e.status === 503 && e.code === 'ERR_OVERLOADED',
    );
    ok.push(batcher.submit('', 1, 'c'));
    assert.deepEqual(await Promise.all(ok), ['A', 'C']);
    await batcher.drain();
  });

  it('a job whose signal aborts while it waits leaves the queue unrun; one already in a batch runs to its result', async () => {
    const { batcher, calls } = echo({ maxBatch: 2 });
    const first = new AbortController();
    const queued = new AbortController();
    const running = batcher.submit('', 2, 'a', first.signal); // a full batch: runs at once
    const waiting = batcher.submit('', 2, 'b', queued.signal); // waits for the next batch
    const other = batcher.submit('', 1, 'c');
    assert.equal(batcher.queued, 3);
    first.abort(new Error('too late'));
    queued.abort(new Error('gone'));
    assert.equal(batcher.queued, 1, 'the aborted job no longer counts against maxQueue');
    await assert.rejects(waiting, /gone/);
    assert.deepEqual(await Promise.all([running, other]), ['A', 'C']);
    await batcher.drain();
    assert.deepEqual(calls, [['a'], ['c']]);
    // Aborted before it is submitted: refused at once.
    await assert.rejects(batcher.submit('', 1, 'd', AbortSignal.abort(new Error('never'))), /never/);
  });
});

describe('jobbert serve: clients that go away while they wait', () => {
  it('a request whose client disconnects while it waits for a batch is taken out of the queue, never searched', {
    timeout: 30_000,
  }, async () => {
    // Both /v1/match batches (it runs two at once) are held in the encoder; a third request waits, then its client goes.
    let gating = false;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const encoded: string[] = [];
    const gated: Encoder = {
      dim: encoder.dim,
      fingerprint: encoder.fingerprint,
      encode: async (texts, opts) => {
        if (gating) {
          encoded.push(...texts);
          await gate;
        }
        return encoder.encode(texts, opts);
      },
      dispose: async () => {},
    };
    const held = await MatchIndex.build(gated, ENTRIES);
    const service = createServer({ index: held, port: 0, maxBatch: 1, maxWaitMs: 0 });
    const { url } = await service.listen();
    try {
      gating = true;
      const answered = [post(url, '/v1/match', { queries: ['nurse'] }), post(url, '/v1/match', { queries: ['baker'] })];
      while (encoded.length < 2) await sleep(10);
      const body = JSON.stringify({ queries: ['abandoned'] });
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      // Queued behind the two batches (waited for, so the test cannot pass without the request ever queueing).
      const queued = async () => metric((await request(url, '/metrics')).text, 'jobbert_batch_queue_items', /op="match"/);
      /** Polls `queued` until `want` holds (at most 10 s), and says what it is then. */
      const until = async (want: (n: number) => boolean) => {
        let n = await queued();
        for (let i = 0; i < 1000 && !want(n); i++, n = await queued()) await sleep(10);
        return n;
      };
      assert.equal(await until((n) => n >= 1), 1, 'the third request waits in the queue');
      socket.destroy();
      assert.equal(await until((n) => n === 0), 0, 'it leaves the queue with its client');
      open();
      for (const r of await Promise.all(answered)) assert.equal(r.status, 200, r.text);
      await sleep(100);
      assert.deepEqual(encoded.sort(), ['baker', 'nurse'], 'the abandoned query was never encoded');
      const m = (await request(url, '/metrics')).text;
      assert.equal(metric(m, 'jobbert_http_requests_total', /status="499"/), 1);
    } finally {
      open();
      await service.close();
      await held.dispose();
    }
  });
});

describe('jobbert serve: limits and bad input', () => {
  let url: string;
  let service: JobbertServer;
  before(
    async () =>
      ({ url, service } = await start({
        maxBodyBytes: 4096,
        maxQueries: 8,
        maxTextLength: 40,
        maxK: 20,
        maxResults: 60,
        requestTimeoutMs: 400,
      })),
  );
  after(() => service.close());

  it('refuses bodies over --max-body-bytes with 413, announced or streamed', async () => {
    const big = JSON.stringify({ queries: ['x'.repeat(5000)] });
    assertError(await post(url, '/v1/match', big), 413, 'ERR_BODY_TOO_LARGE', undefined, /4096 bytes/);
    // Chunked (no Content-Length): counted as it arrives.
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(
        new URL('/v1/match', url),
        { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false },
        (res) => collect(res).then(resolve, reject),
      );
      req.on('error', reject);
      req.write('{"queries": ["');
      req.write('y'.repeat(3000));
      req.end(`${'y'.repeat(3000)}"]}`);
    });
    assertError(chunked, 413, 'ERR_BODY_TOO_LARGE');
    assert.equal((await request(url, '/healthz')).status, 200);
  });

  it('reads and drops the rest of a refused body, so a client that sends it all before reading gets its 413 and can go on', async () => {
    // 2 MB sent in one go, then a second request on the same connection: closing with the body unread
    // would reset the connection and the client would see EPIPE/ECONNRESET instead of either answer.
    const { port } = new URL(url);
    const small = JSON.stringify({ queries: ['nurse'], k: 1 });
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.on('data', (d) => {
        received += d.toString('latin1');
        if ((received.match(/HTTP\/1\.1 /g) ?? []).length === 2 && received.endsWith('}')) socket.end();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
      socket.write(`POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2000000\r\n\r\n`);
      socket.write(Buffer.alloc(2_000_000, 0x20));
      socket.write(
        `POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${small.length}\r\n\r\n${small}`,
      );
    });
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [413, 200], text.slice(0, 500));
    assert.match(text, /ERR_BODY_TOO_LARGE/);
    assert.match(text, /"results"/);
  });

  it('reads gzip, deflate and br request bodies (the limit holds for the decompressed JSON); refuses other encodings and corrupt ones', async () => {
    const body = JSON.stringify({ queries: ['nurse', 'Krankenpfleger'], k: 2 });
    const plain = await post(url, '/v1/match', body);
    assert.equal(plain.status, 200, plain.text);
    for (const [coding, bytes] of [
      ['gzip', gzipSync(body)],
      ['x-gzip', gzipSync(body)],
      ['deflate', deflateSync(body)],
      ['br', brotliCompressSync(body)],
      ['GZIP ', gzipSync(body)],
      ['identity', Buffer.from(body)],
    ] as const) {
      const r = await post(url, '/v1/match', bytes, { 'content-encoding': coding });
      assert.equal(r.status, 200, `${coding}: ${r.text}`);
      assert.deepEqual(r.json, plain.json, coding);
    }
    // Streamed in small pieces, the whole body arriving before it is all decompressed.
    const pieces = gzipSync(body);
    const streamed = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(
        new URL('/v1/match', url),
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, agent: false },
        (res) => collect(res).then(resolve, reject),
      );
      req.on('error', reject);
      for (let i = 0; i < pieces.length; i += 7) req.write(pieces.subarray(i, i + 7));
      req.end();
    });
    assert.deepEqual(streamed.json, plain.json);
    // 100 kB of JSON in a 200-byte gzip: the 4096-byte limit is for the JSON.
    const bomb = gzipSync(JSON.stringify({ queries: ['x'.repeat(100_000)] }));
    assert.ok(bomb.length < 4096);
    assertError(await post(url, '/v1/match', bomb, { 'content-encoding': 'gzip' }), 413, 'ERR_BODY_TOO_LARGE', undefined, /decompressed/);
    assertError(
      await post(url, '/v1/match', gzipSync(body).subarray(0, 20), { 'content-encoding': 'gzip' }),
      400,
      'ERR_INVALID_ENCODING',
      undefined,
      /not valid gzip/,
    );
    assertError(await post(url, '/v1/match', body, { 'content-encoding': 'gzip' }), 400, 'ERR_INVALID_ENCODING');
    assertError(
      await post(url, '/v1/match', body, { 'content-encoding': 'zstd' }),
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      undefined,
      /Content-Encoding 'zstd' is not supported/,
    );
    assertError(
      await post(url, '/v1/match', gzipSync(gzipSync(body)), { 'content-encoding': 'gzip, gzip' }),
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    assert.equal((await request(url, '/healthz')).status, 200);
  });

  it('refuses invalid JSON, invalid UTF-8, empty bodies and non-JSON content types', async () => {
    assertError(await post(url, '/v1/match', '{"queries": ["nurse"'), 400, 'ERR_INVALID_JSON');
    assertError(await post(url, '/v1/match', 'nurse'), 400, 'ERR_INVALID_JSON');
    assertError(
      await post(url, '/v1/match', Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d, 0x7d])),
      400,
      'ERR_INVALID_UTF8',
    );
    assertError(await post(url, '/v1/match', Buffer.from('{"queries": ["\xc3"]}', 'latin1')), 400, 'ERR_INVALID_UTF8');
    assertError(await post(url, '/v1/match', ''), 400, 'ERR_EMPTY_BODY');
    assertError(
      await request(url, '/v1/match', {
        method: 'POST',
        body: 'queries=nurse',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    assert.equal(
      (await request(url, '/v1/match', { body: { queries: ['nurse'] }, headers: { 'content-type': 'application/json; charset=utf-8' } }))
        .status,
      200,
    );
    // JSON is UTF-8: another charset is named as the problem, not reported as bad JSON.
    assertError(
      await request(url, '/v1/match', {
        body: Buffer.from('{"queries": ["nurse"]}', 'utf16le'),
        headers: { 'content-type': 'application/json; charset=utf-16le' },
      }),
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      undefined,
      /charset 'utf-16le'/,
    );
    for (const type of ['application/json; charset=UTF8', 'application/json;charset="utf-8"'])
      assert.equal(
        (await request(url, '/v1/match', { body: { queries: ['nurse'] }, headers: { 'content-type': type } })).status,
        200,
        type,
      );
    assertError(await post(url, '/v1/match', '['.repeat(3000) + ']'.repeat(1000)), 400, 'ERR_INVALID_JSON');
  });

  it('refuses bad fields with 422 naming the field', async () => {
    const cases: [string, unknown, string, RegExp][] = [
      ['/v1/match', {}, 'queries', /queries is required/],
      ['/v1/match', [], 'body', /JSON object/],
      ['/v1/match', 'null', 'body', /JSON object/],
      ['/v1/match', { queries: 'nurse' }, 'queries', /array of strings; received 'nurse'/],
      ['/v1/match', { queries: ['nurse', 3] }, 'queries[1]', /must be a string; received 3/],
      ['/v1/match', { queries: ['nurse', '  '] }, 'queries[1]', /non-empty/],
      // whitespace as Python's str.strip() sees it (what the encoders strip), not JavaScript's trim()
      ['/v1/encode', { texts: ['nurse', '\x1c\x85\u3000'] }, 'texts[1]', /non-empty/],
      ['/v1/match', { queries: Array(9).fill('nurse') }, 'queries', /at most 8 .*received 9/],
      ['/v1/match', { queries: ['n'.repeat(41)] }, 'queries[0]', /at most 40 characters .*received 41/],
      ['/v1/match', { queries: ['nurse'], k: 0 }, 'k', /\[1, 20\]; received 0/],
      ['/v1/match', { queries: ['nurse'], k: 21 }, 'k', /received 21/],
      ['/v1/match', { queries: ['nurse'], k: 2.5 }, 'k', /integer/],
      ['/v1/match', { queries: ['nurse'], k: '5' }, 'k', /received '5'/],
      ['/v1/match', { queries: ['nurse'], k: null }, 'k', /received null/],
      // --max-results bounds a response: texts × k (the default k, 10, counts too).
      ['/v1/match', { queries: Array(4).fill('nurse'), k: 20 }, 'k', /at most 60 results \(--max-results\); received 20 × 4/],
      ['/v1/match', { queries: Array(7).fill('nurse') }, 'k', /received 10 × 7/],
      ['/v1/skills', { titles: Array(8).fill('nurse'), k: 8 }, 'k', /--max-results/],
      ['/v1/match', { queries: ['nurse'], lang: 'fr' }, 'lang', /'en', 'de'|'de', 'en'/],
      ['/v1/match', { queries: ['nurse'], lang: 7 }, 'lang', /must be a string/],
      ['/v1/match', { query: ['nurse'] }, 'query', /not a field/],
      ['/v1/encode', { texts: ['nurse'], branch: 'skills' }, 'branch', /'anchor', 'positive', 'base'; received 'skills'/],
      ['/v1/encode', { texts: ['nurse'], branch: null }, 'branch', /received null/],
      ['/v1/encode', { texts: [{}] }, 'texts[0]', /must be a string/],
      ['/v1/skills', { titles: ['nurse'], k: -1 }, 'k', /received -1/],
      ['/v1/skills', { titles: [''] }, 'titles[0]', /non-empty/],
    ];
    for (const [path, body, field, message] of cases) {
      assertError(await post(url, path, typeof body === 'string' ? body : body), 422, 'ERR_VALIDATION', field, message);
    }
    // Up to the bound is fine.
    const bound = await post(url, '/v1/match', { queries: Array(3).fill('nurse'), k: 20 });
    assert.equal(bound.status, 200, bound.text);
    const m = (await request(url, '/metrics')).text;
    assert.ok(metric(m, 'jobbert_http_requests_total', /status="422"/) >= cases.length);
  });

  // The test's own timeout is what fails it if a stalled client is never cut.
  it('answers malformed HTTP with 400 and survives clients that stall or vanish', { timeout: 10_000 }, async () => {
    const { port } = new URL(url);
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let got = '';
        socket.on('data', (d) => (got += d));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
        socket.end(text);
      });
    assert.match(await raw('NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400/);
    // An Expect other than 100-continue, and CONNECT, get a JSON error like every other (Node sent an empty 417, and nothing).
    const expect = await raw('POST /v1/match HTTP/1.1\r\nhost: x\r\nexpect: foo\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    assert.match(expect, /^HTTP\/1\.1 417[\s\S]*"code":"ERR_EXPECTATION_FAILED"/);
    assert.match(
      await raw('CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n'),
      /^HTTP\/1\.1 405[\s\S]*"code":"ERR_METHOD_NOT_ALLOWED"/,
    );
    // Stalls mid-body: the request timeout (400 ms here) ends it.
    const stalled = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      let got = '';
      socket.on('data', (d) => (got += d));
      socket.on('close', () => resolve(got));
      socket.on('error', () => resolve(got));
      socket.write('POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"queries": [');
    });
    assert.match(stalled, /^HTTP\/1\.1 408|^$/);
    // Vanishes mid-body.
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"queries": [');
        setTimeout(() => socket.destroy(), 20);
      });
      socket.on('close', () => resolve());
    });
    const health = await request(url, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(metric((await request(url, '/metrics')).text, 'jobbert_http_requests_in_flight'), 1);
  });

  it('refuses bad options with errors naming them', () => {
    assert.throws(() => createServer({ index, maxBatch: 0 }), {
      name: 'RangeError',
      message: /createMatcher: maxBatch must be an integer in \[1, 65536\]; received 0/,
    });
    assert.throws(() => createServer({ index, port: 70000 }), { name: 'RangeError', message: /port/ });
    assert.throws(() => createServer({ index, token: '' }), { name: 'TypeError', message: /token/ });
    // A client could never send these after "Bearer ": every request would be refused.
    for (const token of ['a b', ' ', 'tab\t', 'naïve'])
      assert.throws(() => createServer({ index, token }), { name: 'RangeError', message: /token must be printable ASCII without spaces/ });
    assert.throws(() => createServer({ index, maxResults: 0 }), { name: 'RangeError', message: /maxResults/ });
    assert.throws(() => createMatcher({ index: {} as MatchIndex }), { name: 'TypeError', message: /index must be a MatchIndex/ });
    assert.throws(() => createMatcher({ index, batching: 'yes' as unknown as boolean }), { name: 'TypeError', message: /batching/ });
  });
});

describe('jobbert serve: gzip responses', () => {
  /** One request; the body's bytes as they came (not decompressed). */
  const raw = (url: string, path: string, headers: Record<string, string>, body?: unknown) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; bytes: Buffer }>((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = httpRequest(
        new URL(path, url),
        {
          method: text === undefined ? 'GET' : 'POST',
          headers: { ...(text ? { 'content-type': 'application/json' } : {}), ...headers },
          agent: false,
        },
        async (res) => {
          const chunks: Buffer[] = [];
          for await (const c of res) chunks.push(c as Buffer);
          resolve({ status: res.statusCode!, headers: res.headers, bytes: Buffer.concat(chunks) });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  // Many 64 KiB pieces of JSON, each compressed on its own.
  const big = { texts: Array.from({ length: 256 }, (_, i) => `${EN[i % EN.length]} ${i}`) };

  it('with gzip on, compresses a body of 1 KiB or more for a client that takes gzip: the same bytes once gunzipped', async () => {
    const { url, service } = await start({ gzip: true });
    try {
      const plain = await raw(url, '/v1/encode', {}, big);
      assert.equal(plain.status, 200);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.headers.vary, 'accept-encoding');
      assert.ok(plain.bytes.length > 8 * 65536, `${plain.bytes.length} bytes`);
      for (const accept of ['gzip', 'deflate, gzip;q=0.5, br', 'GZIP', 'x-gzip', '*', 'br;q=1, *;q=0.1']) {
        const packed = await raw(url, '/v1/encode', { 'accept-encoding': accept }, big);
        assert.equal(packed.status, 200, accept);
        assert.equal(packed.headers['content-encoding'], 'gzip', accept);
        assert.equal(packed.headers['content-length'], undefined, accept);
        assert.equal(packed.headers.vary, 'accept-encoding', accept);
        assert.ok(gunzipSync(packed.bytes).equals(plain.bytes), `${accept}: gunzipped body differs`);
        assert.ok(packed.bytes.length < plain.bytes.length / 2, `${accept}: ${packed.bytes.length} of ${plain.bytes.length}`);
      }
      // A one-piece body over 1 KiB is compressed too; gzip refused, or not offered, leaves it as it is.
      const one = { titles: ['nurse', 'Bäcker'], k: 10 };
      const small = await raw(url, '/v1/skills', { 'accept-encoding': 'gzip' }, one);
      const smallPlain = await raw(url, '/v1/skills', {}, one);
      assert.ok(smallPlain.bytes.length >= 1024 && smallPlain.bytes.length < 65536, `${smallPlain.bytes.length} bytes`);
      assert.equal(small.headers['content-encoding'], 'gzip');
      assert.ok(gunzipSync(small.bytes).equals(smallPlain.bytes));
      for (const accept of ['gzip;q=0', 'br', 'identity', '*;q=0', 'gzip;q=0, *']) {
        const r = await raw(url, '/v1/encode', { 'accept-encoding': accept }, big);
        assert.equal(r.headers['content-encoding'], undefined, accept);
        assert.ok(r.bytes.equals(plain.bytes), accept);
      }
      // Under 1 KiB: as it is, with its length.
      const health = await raw(url, '/healthz', { 'accept-encoding': 'gzip' });
      assert.ok(health.bytes.length < 1024);
      assert.equal(health.headers['content-encoding'], undefined);
      assert.equal(health.headers['content-length'], String(health.bytes.length));
      // Errors too: a 404's body is short.
      const missing = await raw(url, '/nowhere', { 'accept-encoding': 'gzip' });
      assert.equal(missing.status, 404);
      assert.equal(JSON.parse(missing.bytes.toString()).error.code, 'ERR_NOT_FOUND');
      // fetch (undici) asks for gzip by itself and reads the result.
      const viaFetch = await fetch(new URL('/v1/encode', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(big),
      });
      assert.equal(viaFetch.headers.get('content-encoding'), 'gzip');
      assert.deepEqual(await viaFetch.json(), JSON.parse(plain.bytes.toString()));
    } finally {
      await service.close();
    }
  });

  it('is off by default: no client gets gzip, and there is no Vary header', async () => {
    const { url, service } = await start();
    try {
      const r = await raw(url, '/v1/encode', { 'accept-encoding': 'gzip' }, big);
      assert.equal(r.headers['content-encoding'], undefined);
      assert.equal(r.headers.vary, undefined);
      assert.ok(Array.isArray(JSON.parse(r.bytes.toString()).vectors));
    } finally {
      await service.close();
    }
    assert.throws(() => createServer({ index, gzip: 'yes' as unknown as boolean }), {
      name: 'TypeError',
      message: /createServer: gzip must be a boolean; received 'yes'/,
    });
  });

  it('reads Accept-Encoding as RFC 9110 does', () => {
    for (const [header, want] of [
      [undefined, false],
      ['', false],
      ['gzip', true],
      ['gzip;q=0', false],
      ['gzip; q=0.001', true],
      ['gzip;q=0.0', false],
      ['br, deflate', false],
      ['*', true],
      ['*;q=0', false],
      ['gzip;q=0, *', false],
      ['identity, x-gzip', true],
      [['br', 'gzip'], true],
    ] as const)
      assert.equal(acceptsGzip(header as string | string[] | undefined), want, JSON.stringify(header));
  });
});

describe('jobbert serve: bearer token', () => {
  it('requires the token on /v1/* and /metrics, not on /healthz and /openapi.json', async () => {
    const { url, service } = await start({ token: 's3cret' });
    try {
      const body = { queries: ['nurse'] };
      const missing = await post(url, '/v1/match', body);
      assertError(missing, 401, 'ERR_UNAUTHORIZED');
      assert.match(String(missing.headers['www-authenticate']), /^Bearer/);
      assertError(await post(url, '/v1/match', body, { authorization: 'Bearer wrong' }), 401, 'ERR_UNAUTHORIZED');
      assertError(await post(url, '/v1/match', body, { authorization: 's3cret' }), 401, 'ERR_UNAUTHORIZED');
      assertError(await post(url, '/v1/encode', { texts: ['x'] }), 401, 'ERR_UNAUTHORIZED');
      assertError(await request(url, '/metrics'), 401, 'ERR_UNAUTHORIZED');
      assert.equal((await post(url, '/v1/match', body, { authorization: 'Bearer s3cret' })).status, 200);
      assert.equal((await post(url, '/v1/match', body, { authorization: 'bearer s3cret' })).status, 200);
      assert.equal((await request(url, '/metrics', { headers: { authorization: 'Bearer s3cret' } })).status, 200);
      assert.equal((await request(url, '/healthz')).status, 200);
      const doc = await request(url, '/openapi.json');
      assert.equal(doc.status, 200);
      assert.deepEqual(doc.json.paths['/v1/match'].post.security, [{ bearer: [] }]);
    } finally {
      await service.close();
    }
  });
});

describe('jobbert serve: graceful shutdown', () => {
  it('close() stops accepting, lets an in-flight request finish, then resolves', async () => {
    const { url, service } = await start();
    const { port } = new URL(url);
    // A request whose body is half sent when close() begins.
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const body = JSON.stringify({ queries: ['baker'], k: 2 });
    let got = '';
    socket.on('data', (d) => (got += d));
    const ended = new Promise((r) => socket.once('close', r));
    socket.write(
      `POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 50));
    let closed = false;
    const closing = service.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false, 'close() waits for the request in flight');
    await assert.rejects(request(url, '/healthz'), { code: 'ECONNREFUSED' });
    socket.write(body.slice(10));
    await closing;
    await ended;
    assert.match(got, /^HTTP\/1\.1 200/);
    assert.match(got, /connection: close/i);
    const json = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(json.results, await index.search(['baker'], { k: 2 }));
  });

  // Without the cut, close() would wait for the request forever and the test's timeout fails it.
  it('close() cuts a request that does not finish within shutdownTimeoutMs', { timeout: 10_000 }, async () => {
    const { url, service } = await start({ shutdownTimeoutMs: 200 });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const ended = new Promise((r) => socket.once('close', r));
    socket.on('error', () => {});
    socket.write('POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
    await new Promise((r) => setTimeout(r, 30));
    await service.close();
    await ended;
  });
});

describe('jobbert serve: an index that waits on the network', () => {
  it('runs as many /v1/match searches at once as the index allows (a shard router: 16), two otherwise', async () => {
    for (const parallel of [undefined, 5]) {
      let running = 0;
      let most = 0;
      let open = false;
      const waiting: (() => void)[] = [];
      const index = {
        size: 1,
        dim: 2,
        fingerprint: 'waits',
        languages: [''],
        parallel,
        search: async (queries: string[]) => {
          most = Math.max(most, ++running);
          if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
          running--;
          return queries.map(() => []);
        },
      };
      const matcher = createMatcher({ index: index as never, maxBatch: 1 });
      const calls = Array.from({ length: 8 }, (_, i) => matcher.match({ queries: [`title ${i}`] }));
      const want = parallel ?? 2;
      for (let i = 0; i < 200 && running < want; i++) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 30)); // time for any further search to start
      assert.equal(most, want, `parallel ${parallel}`);
      open = true;
      for (const release of waiting) release();
      assert.equal((await Promise.all(calls)).length, 8);
      await matcher.close();
    }
  });
});

describe('jobbert serve: mounting the matcher in an existing app', () => {
  it('the (req, res) handler serves a host app’s routes, taking a body a framework already parsed', async () => {
    const matcher = createMatcher({ index, encoder });
    // A host app: its own route, the matcher under /jobbert (as Express strips a mount path), and a JSON body parser in front.
    const app = createHttpServer(async (req, res) => {
      if (req.url === '/own') return void res.end('host');
      if (req.url?.startsWith('/jobbert/')) {
        req.url = req.url.slice('/jobbert'.length);
        if (req.method === 'POST') {
          const chunks: Buffer[] = [];
          for await (const c of req) chunks.push(c as Buffer);
          (req as IncomingMessage & { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        }
        return matcher.handler(req, res);
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
    try {
      assert.equal((await request(url, '/own')).text, 'host');
      const r = await post(url, '/jobbert/v1/match', { queries: ['nurse'], k: 2 });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.results, await index.search(['nurse'], { k: 2 }));
      assert.equal((await request(url, '/jobbert/healthz')).json.status, 'ok');
      // The JSON-level functions, as a Fastify route would call them.
      assert.deepEqual(await matcher.match({ queries: ['nurse'], k: 2 }), { results: r.json.results });
      await assert.rejects(
        matcher.match({ queries: [1] }),
        (e: unknown) => e instanceof ServeError && e.status === 422 && e.field === 'queries[0]',
      );
      await assert.rejects(matcher.skills({ titles: ['x'] }), (e: unknown) => e instanceof ServeError && e.status === 404);
    } finally {
      await matcher.close();
      await new Promise((r) => app.close(r));
    }
  });
});

/**
 * Starts `jobbert serve ARGS --port 0 --json` in a child process and waits for
 * its start-up line. `stop()` sends SIGTERM and resolves to the exit code;
 * `kill()` (for finally blocks) ends it for sure. A watchdog kills it after 25 s.
 */
async function spawnServe(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'bin.ts'), 'serve', ...args, '--port', '0', '--json'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const out = { stderr: '' };
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const kill = () => {
    clearTimeout(killer);
    child.kill('SIGKILL');
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${out.stderr}`)));
    });
    const stop = () => (child.kill('SIGTERM'), exited);
    return { started: JSON.parse(line), stop, kill, out };
  } catch (e) {
    kill();
    throw e;
  }
}

/**
 * `jobbert serve` started as npm starts a bin: node under `sh -c`, the shell
 * then killed (what a SIGTERM to `npx` does). Resolves with the serve's pid,
 * its start-up line and a promise of its stderr once it has closed its output
 * (exited); `kill()` ends it for sure.
 */
async function serveUnderShell(env: NodeJS.ProcessEnv) {
  const bin = join(import.meta.dirname, '..', 'src', 'bin.ts');
  const sh = spawn(
    'sh',
    ['-c', '"$0" "$@" & echo "pid $!"; wait', process.execPath, '--import', 'tsx', bin, 'serve', '--port', '0', '--json'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  let stderr = '';
  sh.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<string>((r) => sh.stderr.once('close', () => r(stderr)));
  const lines: string[] = [];
  const started = await new Promise<{ pid: number; line: Record<string, unknown> }>((resolve, reject) => {
    let out = '';
    sh.stdout.on('data', (d) => {
      out += d;
      lines.splice(0, lines.length, ...out.split('\n'));
      if (lines.length >= 3) resolve({ pid: Number(lines[0].slice(4)), line: JSON.parse(lines[1]) });
    });
    sh.once('exit', (code) => reject(new Error(`sh exited with ${code} before serve listened: ${stderr}`)));
  });
  sh.removeAllListeners('exit');
  const kill = () => {
    try {
      process.kill(started.pid, 'SIGKILL');
    } catch {}
  };
  return { ...started, shell: sh, closed, kill };
}

describe('jobbert serve: the CLI', () => {
  it('starts, answers /healthz and /v1/match, and exits 0 on SIGTERM', { timeout: 30_000 }, async () => {
    const skillsPath = join(dir, 'skills.jsonl');
    await writeFile(skillsPath, `${SKILLS.map((s) => JSON.stringify(s)).join('\n')}\n`);
    const serve = await spawnServe(['--index', indexPath, '--skills', skillsPath], { ...process.env, JOBBERT_TOKEN: 'from-env' });
    try {
      const { started } = serve;
      assert.equal(started.host, '127.0.0.1');
      assert.ok(started.port > 0);
      assert.equal(started.entries, ENTRIES.length);
      assert.equal(started.skills, SKILLS.length);
      assert.equal(started.auth, true);
      const health = await request(started.url, '/healthz');
      assert.equal(health.json.status, 'ok');
      assert.equal(health.json.entries, ENTRIES.length);
      const auth = { authorization: 'Bearer from-env' };
      const found = await post(started.url, '/v1/match', { queries: ['nurse'], k: 2 }, auth);
      assert.deepEqual(found.json.results, await index.search(['nurse'], { k: 2 }));
      assert.equal((await post(started.url, '/v1/skills', { titles: ['Bäcker'], k: 1 }, auth)).json.results[0][0].id, 'bake');
      assert.equal(await serve.stop(), 0, serve.out.stderr);
      assert.match(serve.out.stderr, /SIGTERM/);
    } finally {
      serve.kill();
    }
  });

  it('stops gracefully once the npm that started it has gone (npx under a SIGTERM), and not when a plain shell goes', {
    timeout: 60_000,
  }, async () => {
    // Under npm (npm_command set): the shell between npm and node is killed, node follows, finishing requests.
    const underNpm = await serveUnderShell({ ...process.env, npm_command: 'exec' });
    try {
      assert.equal((await request(underNpm.line.url as string, '/healthz')).json.status, 'ok');
      underNpm.shell.kill('SIGKILL');
      assert.match(await underNpm.closed, /the npm process that started it has exited: finishing requests in flight, then stopping/);
    } finally {
      underNpm.kill();
    }
    // Started from a shell (`jobbert serve &`): it outlives the shell, as a daemon does.
    const env = { ...process.env };
    delete env.npm_command;
    const plain = await serveUnderShell(env);
    try {
      plain.shell.kill('SIGKILL');
      await sleep(1500); // three looks at the parent, were it watched
      assert.equal((await request(plain.line.url as string, '/healthz')).json.status, 'ok');
      process.kill(plain.pid, 'SIGTERM');
      assert.match(await plain.closed, /SIGTERM: finishing requests in flight/);
    } finally {
      plain.kill();
    }
  });

  it('serves the built-in catalogue with the default model when no --index is given', { timeout: 30_000 }, async () => {
    const serve = await spawnServe([]);
    try {
      const { started } = serve;
      assert.ok(started.entries > 1000, `catalogue entries ${started.entries}`);
      const found = await post(started.url, '/v1/match', { queries: ['Softwareentwickler'], k: 1 });
      assert.equal(found.json.results[0][0].text, 'Softwareentwickler');
      assert.equal(await serve.stop(), 0, serve.out.stderr);
    } finally {
      serve.kill();
    }
  });

  it('reports positional arguments and bad limits as usage errors, a busy port as a failure', async () => {
    const { main } = await import('../src/cli/index.js');
    const err: string[] = [];
    assert.equal(
      await main(
        ['serve', 'extra'],
        () => {},
        (s) => err.push(s),
      ),
      2,
    );
    assert.match(err.join('\n'), /serve takes no positional arguments/);
    assert.equal(
      await main(
        ['serve', '--index', indexPath, '--max-batch', '0'],
        () => {},
        (s) => err.push(s),
      ),
      2,
    );
    assert.match(err.join('\n'), /--max-batch must be an integer/);
    const { url, service } = await start();
    try {
      assert.equal(
        await main(
          ['serve', '--index', indexPath, '--port', new URL(url).port],
          () => {},
          (s) => err.push(s),
        ),
        1,
      );
      assert.match(err.join('\n'), /ERR_LISTEN: cannot listen on 127\.0\.0\.1:\d+.*EADDRINUSE/);
    } finally {
      await service.close();
    }
  });
});
