/**
 * The service against hostile-but-fair clients on loopback: clients that ask
 * for large answers and never read them, a graceful close while large answers
 * are on their way, and requests that time out or are malformed mid-body.
 * Every loop here is bounded and stops by itself; requests go to 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Encoder } from '../src/encoders/encoder.js';
import type { Matrix } from '../src/kernels/matrix.js';
import { MatchIndex } from '../src/match/match-index.js';
import { RESPONSE_PIECE_BYTES } from '../src/serve/http.js';
import { createServer, type JobbertServer, type ServeOptions } from '../src/serve/index.js';
import { rng } from './reference.js';

/** Each text's vector is seeded by its characters: cheap, deterministic, any size. */
class HashEncoder implements Encoder {
  readonly dim = 32;
  readonly fingerprint = 'hash:32';
  async encode(texts: string[]): Promise<Matrix> {
    const data = new Float32Array(texts.length * this.dim);
    texts.forEach((t, i) => {
      let h = 2166136261;
      for (const ch of t) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619);
      const r = rng(h >>> 0);
      for (let j = 0; j < this.dim; j++) data[i * this.dim + j] = r() * 2 - 1;
    });
    return { data, rows: texts.length, cols: this.dim };
  }
  async dispose(): Promise<void> {}
}

let index: MatchIndex;
const encoder = new HashEncoder();
/** 256 queries at k = 1,000: about 25 MB of JSON, more than loopback's socket buffers hold. */
const BIG = JSON.stringify({ queries: Array.from({ length: 256 }, (_, i) => `query number ${i}`), k: 1000 });
before(async () => {
  const entries = Array.from({ length: 2000 }, (_, i) => ({
    id: `entry-${i}`,
    text: `a fairly long job title used to make the response large, number ${i}`,
  }));
  index = await MatchIndex.build(encoder, entries);
});
after(async () => index.dispose());

async function start(opts: Partial<ServeOptions> = {}): Promise<{ service: JobbertServer; port: number }> {
  // --max-results raised so that BIG (256,000 results) is allowed: these tests need responses larger than the socket buffers.
  const service = createServer({ index, encoder, port: 0, maxResults: 256_000, ...opts });
  const { port } = await service.listen();
  return { service, port };
}

const rawRequest = (body: string) =>
  `POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** A raw connection that collects what it receives and resolves `closed` with it. */
function rawClient(port: number): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (d) => (got += d));
  const closed = new Promise<string>((resolve) => {
    socket.on('close', () => resolve(got));
    socket.on('error', () => {});
  });
  return { socket, closed };
}

describe('serve: clients that never read their responses', () => {
  it('hold at most one piece of a response each and are cut after writeTimeoutMs', { timeout: 60_000 }, async () => {
    const { service, port } = await start({ writeTimeoutMs: 1000 });
    const serverSockets: Socket[] = [];
    service.server.on('connection', (s) => serverSockets.push(s));
    let maxQueued = 0;
    const sample = setInterval(() => {
      for (const s of serverSockets) maxQueued = Math.max(maxQueued, s.writableLength);
    }, 5);
    try {
      const clients = Array.from({ length: 6 }, () => {
        const c = rawClient(port);
        c.socket.write(rawRequest(BIG));
        c.socket.pause(); // never reads (so it cannot see the close either: watch the server's side)
        return c;
      });
      while (serverSockets.length < clients.length) await new Promise((r) => setTimeout(r, 10));
      // Bounded: the test's own timeout fails it if the server never cuts them.
      await Promise.all(serverSockets.map((s) => (s.destroyed ? null : new Promise((r) => s.once('close', r)))));
      for (const c of clients) c.socket.destroy();
      assert.ok(maxQueued <= 2 * RESPONSE_PIECE_BYTES, `at most one piece queued per connection; saw ${maxQueued} bytes`);
      // The service still answers others.
      const ok = await post(port, JSON.stringify({ queries: ['query number 1'], k: 3 }));
      assert.equal(ok.status, 200);
    } finally {
      clearInterval(sample);
      await service.close();
    }
  });

  it('a client that reads gets the whole large response, identical to index.search', { timeout: 60_000 }, async () => {
    const { service, port } = await start();
    try {
      const got = await post(port, BIG);
      assert.equal(got.status, 200);
      assert.equal(got.headers['transfer-encoding'], 'chunked');
      const { queries, k } = JSON.parse(BIG);
      assert.deepEqual(JSON.parse(got.text), { results: await index.search(queries, { k }) });
    } finally {
      await service.close();
    }
  });
});

function post(port: number, body: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/v1/match', method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('serve: graceful close with large responses on their way', () => {
  it('every large response in flight arrives whole (none cut by closing idle connections)', { timeout: 60_000 }, async () => {
    const { service, port } = await start();
    const results = Array.from({ length: 8 }, () => post(port, BIG));
    // Close once the first response has started to arrive: it is then written but not yet flushed.
    const first = await new Promise<void>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.on('error', () => {});
      c.once('data', () => resolve());
      c.write(rawRequest(BIG));
    });
    void first;
    const closing = service.close();
    const settled = await Promise.allSettled(results);
    await closing;
    for (const [i, r] of settled.entries()) {
      assert.equal(r.status, 'fulfilled', `response ${i}: ${r.status === 'rejected' ? (r.reason as Error).message : ''}`);
      if (r.status === 'fulfilled') {
        assert.equal(r.value.status, 200);
        assert.equal(JSON.parse(r.value.text).results.length, 256, `response ${i} is whole`);
      }
    }
  });
});

describe('serve: timeouts and malformed bodies get their status', () => {
  let service: JobbertServer;
  let port: number;
  before(async () => ({ service, port } = await start({ headersTimeoutMs: 200, requestTimeoutMs: 400 })));
  after(async () => service.close());

  it('headers that never finish: 408 ERR_REQUEST_TIMEOUT', { timeout: 10_000 }, async () => {
    const c = rawClient(port);
    c.socket.write('POST /v1/match HTTP/1.1\r\nhost: x\r\n');
    const got = await c.closed;
    assert.match(got, /^HTTP\/1\.1 408 /);
    assert.match(got, /"code":"ERR_REQUEST_TIMEOUT"/);
  });

  it('a body that never finishes: 408 ERR_REQUEST_TIMEOUT, not a dropped socket', { timeout: 10_000 }, async () => {
    const c = rawClient(port);
    c.socket.write('POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"queries": [');
    const got = await c.closed;
    assert.match(got, /^HTTP\/1\.1 408 /);
    assert.match(got, /"code":"ERR_REQUEST_TIMEOUT"/);
  });

  it('a bad chunk size: 400 ERR_BAD_HTTP, not a dropped socket', { timeout: 10_000 }, async () => {
    const c = rawClient(port);
    c.socket.write(
      'POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n',
    );
    const got = await c.closed;
    assert.match(got, /^HTTP\/1\.1 400 /);
    assert.match(got, /"code":"ERR_BAD_HTTP"/);
  });

  it('headers over Node’s limit: 431 ERR_HEADERS_TOO_LARGE', { timeout: 10_000 }, async () => {
    const c = rawClient(port);
    c.socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const got = await c.closed;
    assert.match(got, /^HTTP\/1\.1 431 /);
  });
});
