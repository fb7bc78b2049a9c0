/**
 * Reaching the broker: what connectCluster says when a server cannot be
 * reached (refused, no answer, not NATS), a server list whose first entries
 * are bad, and letting go of a connection (`await using`). Against a real
 * nats-server where one is needed; skips with a reason when nats-server is
 * absent.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { connectCluster, type ClusterConnection } from '../src/cluster/nats.js';
import { JobBERTError } from '../src/errors.js';
import { freePort, natsSkip, startNats } from './fixtures/nats.js';

/** A TCP server on loopback that accepts connections and never says a word (an HTTP port, say); `await using` closes it. */
async function silentServer(): Promise<{ port: number; url: string; [Symbol.asyncDispose](): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP server on loopback that greets as NATS does and refuses every client that then sends CONNECT (as a server
 * with other credentials would); counts those CONNECTs. Listens from listen(), so a client can list its port before.
 */
async function refusingServer(): Promise<{
  url: string;
  connects: () => number;
  listen(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let connects = 0;
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.write(
      `INFO {"server_id":"REFUSING","version":"2.9.0","proto":1,"host":"127.0.0.1","port":${port},"max_payload":1048576,"auth_required":true}\r\n`,
    );
    s.on('data', (d) => {
      if (!d.toString().startsWith('CONNECT')) return;
      connects++;
      s.end("-ERR 'Authorization Violation'\r\n");
    });
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    connects: () => connects,
    listen: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}

/** Resolves with the server of `c`'s next reconnect. */
async function nextReconnect(c: ClusterConnection): Promise<string> {
  for await (const s of c.nc.status()) if (s.type === 'reconnect') return s.server;
  throw new Error('the connection closed without reconnecting');
}

/** The client's dial timeout (connectCluster's): what each dead entry cost a reconnect, each time. */
const DIAL_TIMEOUT_MS = 5000;

/** connectCluster's rejection (the test fails if it connects). */
async function refusal(url: string): Promise<JobBERTError> {
  const c = await connectCluster(url, 'jobbert-test-connect').catch((e: unknown) => e);
  if (!(c instanceof Error)) {
    await (c as { close(): Promise<void> }).close();
    assert.fail(`connected to ${url}`);
  }
  assert.ok(c instanceof JobBERTError, `a JobBERTError, not ${String(c)}`);
  return c;
}

describe('connecting to NATS', () => {
  test('BAD CALL - a url naming no server is a TypeError naming url (an empty list meant the client default, localhost)', async () => {
    for (const url of ['', ' , ,', undefined])
      await assert.rejects(
        connectCluster(url as string, 'jobbert-test-connect'),
        (e: Error) => e instanceof TypeError && /url must be a NATS URL/.test(e.message),
      );
  });

  test('a closed port is ERR_NATS saying the connection was refused, with the URL', async () => {
    const port = await freePort();
    const e = await refusal(`nats://127.0.0.1:${port}`);
    assert.equal(e.code, 'ERR_NATS');
    assert.match(e.message, new RegExp(`nats://127\\.0\\.0\\.1:${port}`));
    assert.match(e.message, /refused the connection/);
  });

  test('an unroutable host is ERR_NATS saying no NATS server answered (it said the server "accepted the connection")', {
    timeout: 30_000,
  }, async () => {
    const e = await refusal('nats://10.255.255.1:4222');
    assert.equal(e.code, 'ERR_NATS');
    assert.match(e.message, /nats:\/\/10\.255\.255\.1:4222/);
    assert.doesNotMatch(e.message, /accepted/);
    // Where the network drops the packets it times out; where it has no route, the system says so at once; where a
    // proxy accepts every connection (as here, in a sandbox), nothing answers on it.
    assert.match(e.message, /no NATS server answered at 10\.255\.255\.1:4222 within \d+ ms|unreachable/);
  });

  test('a port that accepts but is not NATS is ERR_NATS saying no greeting came', { timeout: 30_000 }, async () => {
    await using silent = await silentServer();
    const e = await refusal(silent.url);
    assert.equal(e.code, 'ERR_NATS');
    assert.match(e.message, /no NATS server answered at .*\(a connection opened but no NATS greeting came/);
  });

  test('a list none of whose servers is NATS names what went wrong with each', { timeout: 30_000 }, async () => {
    await using silent = await silentServer();
    const closed = await freePort();
    const e = await refusal(`nats://127.0.0.1:${closed},${silent.url}`);
    assert.equal(e.code, 'ERR_NATS');
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${closed} refused the connection`));
    assert.match(e.message, new RegExp(`no NATS server answered at 127\\.0\\.0\\.1:${silent.port} within`));
  });

  test('a list whose first servers are not NATS (silent, refusing) connects to the one that is', {
    skip: natsSkip(),
    // Only a hang fails this: it took about 10 s a bad entry.
    timeout: 60_000,
  }, async () => {
    await using nats = await startNats();
    await using silent = await silentServer();
    const closed = await freePort();
    for (const first of [silent.url, `nats://127.0.0.1:${closed}`]) {
      const c = await connectCluster(`${first},${nats.url}`, 'jobbert-test-list');
      try {
        assert.equal(c.nc.getServer(), `127.0.0.1:${nats.port}`);
        await c.jsm.getAccountInfo();
      } finally {
        await c.close();
      }
    }
  });

  test('a restarted server is reconnected to without dialling the silent servers listed after it', {
    skip: natsSkip(),
    // Only a hang fails this: with three silent entries it took 15 s (5 s each) after the server was back.
    timeout: 60_000,
  }, async () => {
    await using nats = await startNats();
    await using silent1 = await silentServer(),
      silent2 = await silentServer(),
      silent3 = await silentServer();
    const c = await connectCluster([nats.url, silent1.url, silent2.url, silent3.url].join(','), 'jobbert-test-reconnect');
    try {
      const reconnected = nextReconnect(c);
      await nats.restart();
      const back = performance.now();
      assert.equal(await reconnected, `127.0.0.1:${nats.port}`);
      // Not a timing to meet: a silent entry dialled at all holds the reconnect for the whole dial timeout.
      assert.ok(performance.now() - back < DIAL_TIMEOUT_MS, 'reconnected before a single silent entry could have been dialled');
      await c.jsm.getAccountInfo();
    } finally {
      await c.close();
    }
  });

  test('a server that stops for good is left for the next one that answers, past silent entries between them', {
    skip: natsSkip(),
    // Only a hang fails this: it took 10 s, two silent entries' dial timeouts.
    timeout: 60_000,
  }, async () => {
    await using lost = await startNats(),
      other = await startNats();
    await using silent1 = await silentServer(),
      silent2 = await silentServer();
    // Connected to the first: the other, hung meanwhile, cannot greet first (then the list would start with it).
    other.signal('SIGSTOP');
    const c = await connectCluster([lost.url, silent1.url, silent2.url, other.url].join(','), 'jobbert-test-failover').finally(() =>
      other.signal('SIGCONT'),
    );
    try {
      assert.equal(c.nc.getServer(), `127.0.0.1:${lost.port}`);
      const reconnected = nextReconnect(c);
      const gone = performance.now();
      await lost.stop();
      assert.equal(await reconnected, `127.0.0.1:${other.port}`);
      assert.ok(performance.now() - gone < DIAL_TIMEOUT_MS, 'failed over before a single silent entry could have been dialled');
    } finally {
      await c.close();
    }
  });

  test('a connection held with `await using` is drained and closed at the end of its scope', { skip: natsSkip() }, async () => {
    await using nats = await startNats();
    let held: ClusterConnection;
    {
      await using c = await connectCluster(nats.url, 'jobbert-test-dispose');
      held = c;
      await c.jsm.getAccountInfo();
      assert.equal(c.nc.isClosed(), false);
    }
    assert.equal(held.nc.isClosed(), true);
    // A drain, as close() does: the connection ended without an error.
    assert.equal(await held.nc.closed(), undefined);
  });

  test('disposing a connection after close, twice, or during a close is harmless', { skip: natsSkip() }, async () => {
    await using nats = await startNats();
    const closedFirst = await connectCluster(nats.url, 'jobbert-test-dispose-closed');
    await closedFirst.close();
    await closedFirst[Symbol.asyncDispose]();
    await closedFirst[Symbol.asyncDispose]();
    assert.equal(closedFirst.nc.isClosed(), true);
    const both = await connectCluster(nats.url, 'jobbert-test-dispose-both');
    // At once: the second joins the first's drain (a second drain rejects, and closed it mid-drain).
    await Promise.all([both.close(), both[Symbol.asyncDispose](), both.close()]);
    assert.equal(both.nc.isClosed(), true);
    assert.equal(await both.nc.closed(), undefined);
  });

  test('a server that greets but refuses the client is dialled once an outage, not put first on every dial', {
    skip: natsSkip(),
    timeout: 60_000,
  }, async () => {
    await using lost = await startNats(),
      other = await startNats();
    await using refusing = await refusingServer();
    // Connected to the first: the refusing one is not yet listening, the other is held.
    other.signal('SIGSTOP');
    const c = await connectCluster([lost.url, refusing.url, other.url].join(','), 'jobbert-test-refusing');
    try {
      assert.equal(c.nc.getServer(), `127.0.0.1:${lost.port}`);
      await refusing.listen();
      const reconnected = nextReconnect(c);
      await lost.stop();
      // The refusing server greets first (the other is held): dialled, it refuses. Six rounds of asking later, it was
      // put first on every dial before (it still greets), and the client never tried past it.
      while (refusing.connects() === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(refusing.connects(), 1, 'dialled once');
      other.signal('SIGCONT');
      assert.equal(await reconnected, `127.0.0.1:${other.port}`);
    } finally {
      other.signal('SIGCONT');
      await c.close();
    }
  });
});
