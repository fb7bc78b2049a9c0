/** `POST /v1/normalize` on loopback: the contract, batching equivalence, bad input (clear 4xx), and the route without a Normalizer. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MatchIndex, Normalizer, TfIdfEncoder } from '../src/index.js';
import { createServer, type JobbertServer } from '../src/serve/index.js';
import { OCC, writeTinyTaxonomy } from './fixtures/tiny-taxonomy.js';

let dir: string;
let normalizer: Normalizer;
let index: MatchIndex;
let server: JobbertServer;
let bare: JobbertServer;
let url: string;
let bareUrl: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-normalize-serve-'));
  normalizer = await Normalizer.load({ taxonomy: await writeTinyTaxonomy(join(dir, 'esco')) });
  const texts = ['baker', 'nurse', 'taxi driver'];
  index = await MatchIndex.build(
    TfIdfEncoder.fit(texts),
    texts.map((text, i) => ({ id: String(i), text })),
  );
  server = createServer({ index, normalizer, port: 0, maxQueries: 8, maxTextLength: 64, maxK: 20, maxResults: 100, log: () => {} });
  url = (await server.listen()).url;
  bare = createServer({ index, port: 0, log: () => {} });
  bareUrl = (await bare.listen()).url;
});
after(async () => {
  await server?.close();
  await bare?.close();
  await normalizer?.dispose();
  await index?.dispose();
  await rm(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field below
type Json = any;

async function post(body: unknown, base = url, raw?: string): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}/v1/normalize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('POST /v1/normalize', () => {
  it('answers one result per title, in order, ids the positions, as Normalizer.normalize does', async () => {
    const titles = ['Java Developer', 'Krankenpfleger', '', 'bread baker'];
    const r = await post({ titles, k: 2, outputLang: 'de' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.results, await normalizer.normalize(titles, { k: 2, outputLang: 'de' }));
    assert.equal(r.json.results[0].alternatives[0].uri, OCC.developer);
    assert.equal(r.json.results[0].alternatives[0].label, 'Softwareentwickler/Softwareentwicklerin');
    assert.equal(r.json.results[2].occupation, null);
    assert.deepEqual((await post({ titles: [] })).json, { results: [] });
  });

  it('concurrent requests with different k get exactly what they would get alone', async () => {
    const reqs = Array.from({ length: 12 }, (_, i) => ({ titles: [['baker', 'nurse', 'taxi'][i % 3], 'accountant'], k: 1 + (i % 4) }));
    const answers = await Promise.all(reqs.map((b) => post(b)));
    for (let i = 0; i < reqs.length; i++) {
      assert.equal(answers[i].status, 200);
      assert.deepEqual(answers[i].json.results, await normalizer.normalize(reqs[i].titles, { k: reqs[i].k }));
    }
  });

  it('the threshold of a request decides its occupations, also among concurrent requests of other thresholds', async () => {
    const titles = ['a developer of things', 'Krankenpfleger', '', 'xqzjv kkwpt'];
    const reqs = Array.from({ length: 9 }, (_, i) => ({ titles, k: 1 + (i % 3), threshold: [0, 1, undefined][i % 3] }));
    const answers = await Promise.all(reqs.map((b) => post(b)));
    for (let i = 0; i < reqs.length; i++) {
      assert.equal(answers[i].status, 200);
      assert.deepEqual(answers[i].json.results, await normalizer.normalize(titles, { k: reqs[i].k, threshold: reqs[i].threshold }));
    }
    const lax = answers[0].json.results;
    assert.notEqual(lax[0].occupation, null);
    assert.equal(lax[2].occupation, null, 'a meaningless title has no occupation at any threshold');
    assert.ok(answers[1].json.results.every((r: Json) => r.occupation === null || r.confidence === 1));
  });

  it('the body is byte for byte JSON.stringify of the results, in one piece or many, plain or gzip, and matcher.normalize parses it', async () => {
    const big = createServer({ index, normalizer, port: 0, gzip: true, maxQueries: 1000, log: () => {} });
    const base = (await big.listen()).url;
    try {
      const odd = ['Koch "Chef" \\ <b>', 'Ärztin\u0001', '\ud800 nurse', '🙂 baker', 'taxi\ndriver', '', 'Developer\u2028'];
      // 7 titles (one piece), and 700 (about 700 KB: many pieces).
      for (const [titles, k] of [
        [odd, 3],
        [Array.from({ length: 700 }, (_, i) => `${odd[i % odd.length]} ${i}`), 20],
      ] as const) {
        const body = JSON.stringify({ titles, k });
        const expected = JSON.stringify({ results: await normalizer.normalize([...titles], { k }) });
        const plain = await new Promise<{ text: string; encoding?: string }>((resolve, reject) => {
          const req = request(`${base}/v1/normalize`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () => resolve({ text: Buffer.concat(parts).toString('utf8'), encoding: res.headers['content-encoding'] }));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end(body);
        });
        assert.equal(plain.encoding, undefined);
        assert.equal(plain.text, expected);
        const zipped = await fetch(`${base}/v1/normalize`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' },
          body,
        });
        assert.equal(zipped.headers.get('content-encoding'), 'gzip');
        assert.equal(await zipped.text(), expected);
        assert.deepEqual(await big.matcher.normalize({ titles, k }), JSON.parse(expected));
      }
    } finally {
      await big.close();
    }
  });

  it('BAD CALL - bad bodies get a 4xx naming the field; the server keeps serving', async () => {
    const cases: [unknown, number, string][] = [
      [{}, 422, 'titles'],
      [{ titles: 'baker' }, 422, 'titles'],
      [{ titles: ['baker', 3] }, 422, 'titles[1]'],
      [{ titles: ['x'.repeat(65)] }, 422, 'titles[0]'],
      [{ titles: Array(9).fill('baker') }, 422, 'titles'],
      [{ titles: ['baker'], k: 0 }, 422, 'k'],
      [{ titles: ['baker'], k: 21 }, 422, 'k'],
      [{ titles: ['baker'], k: 'five' }, 422, 'k'],
      [{ titles: Array(6).fill('baker'), k: 20 }, 422, 'k'],
      [{ titles: ['baker'], lang: 'fr' }, 422, 'lang'],
      [{ titles: ['baker'], outputLang: 7 }, 422, 'outputLang'],
      [{ titles: ['baker'], threshold: 1.5 }, 422, 'threshold'],
      [{ titles: ['baker'], threshold: '0.5' }, 422, 'threshold'],
      [{ titles: ['baker'], threshold: null }, 422, 'threshold'],
      [{ titles: ['baker'], query: 'x' }, 422, 'query'],
      [[1, 2], 422, 'body'],
    ];
    for (const [body, status, field] of cases) {
      const r = await post(body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.json.error.code, 'ERR_VALIDATION');
      assert.equal(r.json.error.field, field, JSON.stringify(body));
    }
    const bad = await post(undefined, url, '{"titles": [');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'ERR_INVALID_JSON');
    const weird = await post({ titles: ['!!!', '   ', '\u0000\u0001', '🙂🙂'] });
    assert.equal(weird.status, 200);
    for (const x of weird.json.results) assert.equal(x.occupation, null);
    assert.equal((await post({ titles: ['baker'] })).status, 200);
  });

  it('a server without a Normalizer answers 404 ERR_NOT_CONFIGURED; the OpenAPI document and /healthz describe the route', async () => {
    const r = await post({ titles: ['baker'] }, bareUrl);
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'ERR_NOT_CONFIGURED');
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as Json;
    assert.ok(doc.paths['/v1/normalize'].post);
    assert.deepEqual(doc.components.schemas.NormalizeRequest.properties.outputLang.enum, ['en', 'de']);
    const health = (await (await fetch(`${url}/healthz`)).json()) as Json;
    assert.equal(health.normalize, 5);
  });
});
