/** An idle server hands a burst's memory back: the release itself, when it runs, and createServer's option. */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { MatchIndex, TfIdfEncoder } from '../src/index.js';
import { type MemoryRelease, releaseMemory, releaseMemoryWhenIdle } from '../src/serve/idle-memory.js';
import { createServer } from '../src/serve/index.js';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const close of cleanup.reverse()) await close();
});

/** A plain HTTP server whose requests stay open until `finish()`; its URL once listening. */
async function holdingServer(): Promise<{ server: Server; url: string; finish: () => void }> {
  const waiting: (() => void)[] = [];
  const server = createHttpServer((_req, res) => waiting.push(() => res.end('ok')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    finish: () => {
      for (const end of waiting.splice(0)) end();
    },
  };
}

async function releasesTotal(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^jobbert_memory_releases_total (\d+)$/m.exec(text);
  assert.ok(m, 'the counter is in /metrics');
  return Number(m[1]);
}

describe('releaseMemory', () => {
  it('runs a full collection: an object only a WeakRef holds is gone', async () => {
    const ref = new WeakRef({ payload: new Array(1000).fill('x') });
    await sleep(1); // a WeakRef keeps its target alive until the job that made it ends
    const r = releaseMemory();
    assert.equal(ref.deref(), undefined);
    assert.ok(r.rssBefore > 0 && r.rssAfter > 0);
  });
});

describe('releaseMemoryWhenIdle', () => {
  it('releases once the last request in flight has been idle for idleMs, not while one is open', async () => {
    const { server, url, finish } = await holdingServer();
    const heard: MemoryRelease[] = [];
    const stop = releaseMemoryWhenIdle(server, 30, { minBytes: 0, onRelease: (r) => heard.push(r) });
    const first = fetch(url);
    const second = fetch(url);
    await sleep(150);
    assert.equal(heard.length, 0, 'no release with requests in flight');
    finish();
    await Promise.all([first, second]);
    for (let i = 0; i < 100 && heard.length === 0; i++) await sleep(20);
    assert.equal(heard.length, 1);
    await sleep(150);
    assert.equal(heard.length, 1, 'one release an idle period');
    stop();
    const third = fetch(url);
    await sleep(10);
    finish();
    await third;
    await sleep(150);
    assert.equal(heard.length, 1, 'nothing after stop()');
  });

  it('does not release when memory grew by less than minBytes', async () => {
    const { server, url, finish } = await holdingServer();
    const heard: MemoryRelease[] = [];
    const stop = releaseMemoryWhenIdle(server, 20, { minBytes: 2 ** 40, onRelease: (r) => heard.push(r) });
    const res = fetch(url);
    await sleep(10);
    finish();
    await res;
    await sleep(150);
    assert.equal(heard.length, 0);
    stop();
  });
});

describe('createServer({ idleReleaseMs })', () => {
  const index = async () => {
    const texts = ['baker', 'nurse'];
    return MatchIndex.build(
      TfIdfEncoder.fit(texts),
      texts.map((text, i) => ({ id: String(i), text })),
    );
  };

  it('refuses a negative or fractional value, or one past what a timer can wait, naming it', async () => {
    const idx = await index();
    for (const idleReleaseMs of [-1, 1.5, '10', 2 ** 31])
      assert.throws(() => createServer({ index: idx, idleReleaseMs: idleReleaseMs as number }), /idleReleaseMs/);
    // 2³¹ ms fired after 1 ms (a TimeoutOverflowWarning): a release after every request, and a shutdown that cut
    // the requests in flight at once. Every timer option is bounded alike.
    for (const name of ['requestTimeoutMs', 'headersTimeoutMs', 'keepAliveTimeoutMs', 'shutdownTimeoutMs', 'writeTimeoutMs'])
      assert.throws(() => createServer({ index: idx, [name]: 2 ** 31 }), new RegExp(`${name} must be an integer in \\[\\d, 2147483647\\]`));
    createServer({ index: idx, idleReleaseMs: 2 ** 31 - 1, shutdownTimeoutMs: 2 ** 31 - 1 });
    await idx.dispose();
  });

  it('releases after RSS grew by 64 MiB and it went idle; 0 never does', async () => {
    const idx = await index();
    const off = createServer({ index: idx, port: 0, idleReleaseMs: 0, log: () => {} });
    const on = createServer({ index: idx, port: 0, idleReleaseMs: 30, log: () => {} });
    cleanup.push(
      () => idx.dispose(),
      () => off.close(),
      () => on.close(),
    );
    const offUrl = (await off.listen()).url;
    const onUrl = (await on.listen()).url;
    const before = await releasesTotal(offUrl);
    const grown = Buffer.alloc(96 << 20).fill(1); // resident, and held: only RSS growth can set the release off
    await fetch(`${offUrl}/healthz`);
    await sleep(200);
    assert.equal(await releasesTotal(offUrl), before, 'idleReleaseMs 0: no release');
    await fetch(`${onUrl}/healthz`);
    let total = before;
    for (let i = 0; i < 100 && total === before; i++) {
      await sleep(50);
      total = await releasesTotal(onUrl);
    }
    assert.ok(total > before, 'a release is counted');
    assert.equal(grown[grown.length - 1], 1);
  });
});
