/**
 * The NATS plumbing every cluster role shares: a connection that keeps
 * reconnecting (a broker restart is an outage to wait out, not an error), the
 * JetStream names jobbert uses, and a retry loop for calls that fail while the
 * broker is away.
 */
import { connect as netConnect } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { JobBERTError } from '../errors.js';

/** The work-queue stream holding batch chunks (subjects jobbert.work.<route>.<job>.<chunk>). */
export const WORK_STREAM = 'JOBBERT_WORK';
export const WORK_SUBJECTS = 'jobbert.work.>';
/** The object store holding published indexes. */
export const INDEX_BUCKET = 'jobbert-indexes';

export interface ClusterConnection {
  readonly nc: NatsConnection;
  readonly js: ReturnType<typeof jetstream>;
  readonly jsm: JetStreamManager;
  readonly objm: Objm;
  close(): Promise<void>;
}

/**
 * Resolves with the first of `servers` (`url`'s comma-separated list) to greet
 * as NATS does, with an INFO line, each asked at once on a socket of its own
 * that is then closed: a bad entry before a good one costs nothing (asked in
 * turn, each bad one cost up to 10 s before the next was tried). A port that
 * accepts connections but is not NATS — its HTTP monitoring port, 8222, is the
 * likely mistake — made the client time out and then keep the process alive
 * on a socket it never closed. Async; rejects, when none greets within
 * `timeoutMs`, with what went wrong with each server. WebSocket URLs are left
 * to the client; a TLS server greets in plain text first, as NATS does, and
 * any other scheme is read as nats://.
 */
async function greeting(servers: string[], timeoutMs: number): Promise<string> {
  const failures: string[] = [];
  const asked = new AbortController();
  try {
    return await Promise.any(
      servers.map((server, i) =>
        greet(server, timeoutMs, asked.signal).then(
          () => server,
          (e: Error) => {
            failures[i] = e.message;
            throw e;
          },
        ),
      ),
    );
  } catch {
    throw new Error(failures.join('; '));
  } finally {
    asked.abort(); // the others' sockets
  }
}

/** A socket error in words: refused, unreachable, a name that does not resolve (it said "accepted the connection" for a host that never answered). */
function socketProblem(address: string, host: string, e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return `${address} refused the connection (nothing listens on that port)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host name ${host} (${e.code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${address} is unreachable (${e.code}: no route to it)`;
    case 'ETIMEDOUT':
      return `${address} did not answer (${e.code})`;
    default:
      return `${address}: ${e.message}`;
  }
}

async function greet(server: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  let u: URL;
  try {
    u = new URL(server.includes('://') ? server : `nats://${server}`);
  } catch {
    return; // the client names a malformed URL
  }
  if (['ws:', 'wss:'].includes(u.protocol)) return;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 4222);
  const address = `${host}:${port}`;
  await new Promise<void>((resolve, reject) => {
    const socket = netConnect({ host, port });
    let connected = false;
    let head = '';
    const done = (e?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (e) reject(e);
      else resolve();
    };
    const timer = setTimeout(
      () =>
        done(
          new Error(
            connected
              ? // What opened the connection may not be the host: some networks' proxies and firewalls accept any.
                `no NATS server answered at ${address} within ${timeoutMs} ms (a connection opened but no NATS greeting came: another service's port, such as NATS's monitoring port 8222, or a proxy or firewall that accepts connections for a host it cannot reach)`
              : `no NATS server answered at ${address} within ${timeoutMs} ms (the connection timed out: the host is down or unreachable, or a firewall drops the packets)`,
          ),
        ),
      timeoutMs,
    );
    socket.on('connect', () => (connected = true));
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\n') || head.length > 4096)
        done(
          head.startsWith('INFO ') ? undefined : new Error(`${address} is not a NATS server: it sent ${JSON.stringify(head.slice(0, 60))}`),
        );
    });
    socket.on('error', (e) => done(new Error(socketProblem(address, host, e))));
    socket.on('close', () => done(new Error(`${address} closed the connection before greeting`)));
    signal.addEventListener('abort', () => done(new Error(`${address}: not asked further`)), { once: true });
  });
}

/**
 * Connects to the NATS server at `url` (e.g. nats://127.0.0.1:4222) with
 * JetStream. Reconnects forever once connected; the first connection must
 * succeed (JobBERTError ERR_NATS otherwise). Async.
 */
export async function connectCluster(url: string, name: string): Promise<ClusterConnection> {
  if (typeof url !== 'string' || !/[^,\s]/.test(url))
    throw new TypeError(
      `connectCluster: url must be a NATS URL such as nats://127.0.0.1:4222 (or a comma-separated list); received ${JSON.stringify(url) ?? String(url)}`,
    );
  let nc: NatsConnection;
  try {
    const servers = url
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const first = await greeting(servers, 5000);
    nc = await connect({
      // The one that greeted first, then the rest in their order for reconnects: the client, left to shuffle
      // them, dialled a bad one first as often as not, for its whole timeout.
      servers: [first, ...servers.filter((s) => s !== first)],
      noRandomize: true,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 5000,
      // A tls:// URL asks for TLS: an empty TlsOptions makes the client accept no other connection
      // (the scheme alone was ignored, and a whole batch ran in plain text).
      ...(servers.some((s) => /^tls:\/\//i.test(s)) ? { tls: {} } : {}),
    });
  } catch (e) {
    throw new JobBERTError('ERR_NATS', `cannot connect to NATS at ${url}: ${(e as Error).message}`, { cause: e });
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5000 });
  } catch (e) {
    await nc.close();
    throw new JobBERTError('ERR_NATS', `NATS at ${url} has no JetStream (start nats-server with -js): ${(e as Error).message}`, {
      cause: e,
    });
  }
  const js = jetstream(nc, { timeout: 5000 });
  return {
    nc,
    js,
    jsm,
    objm: new Objm(nc),
    async close() {
      if (nc.isClosed()) return;
      // A drain waits for the server: one that hangs (SIGSTOP, a dead link) kept a stopping process alive for good.
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<'gave up'>((resolve) => (timer = setTimeout(() => resolve('gave up'), DRAIN_MS)));
      const drained = await Promise.race([
        nc.drain().then(
          () => 'drained',
          () => 'failed',
        ),
        gaveUp,
      ]);
      clearTimeout(timer);
      if (drained !== 'drained') await nc.close().catch(() => {});
    },
  };
}

/** How long close() lets a drain take before it closes the connection as it is. */
const DRAIN_MS = 5000;

/** Creates the work-queue stream if it is missing. Async. */
export async function ensureWorkStream(c: ClusterConnection): Promise<void> {
  await retry('create the work stream', async () => {
    try {
      await c.jsm.streams.info(WORK_STREAM);
    } catch {
      await c.jsm.streams
        .add({ name: WORK_STREAM, subjects: [WORK_SUBJECTS], retention: RetentionPolicy.Workqueue, storage: StorageType.File })
        .catch(async (e) => {
          // Another process created it first.
          if (!(await c.jsm.streams.info(WORK_STREAM).catch(() => null))) throw e;
        });
    }
  });
}

/** Opens (creating if needed) an object store. Async. */
export async function objectStore(c: ClusterConnection, bucket: string): Promise<ObjectStore> {
  return retry(`open object store ${bucket}`, () => c.objm.create(bucket, { storage: StorageType.File }));
}

/**
 * Did JetStream refuse a write for want of room: its storage limits
 * (max_file_store, max_memory_store: "insufficient resources"), or a stream's
 * max bytes or messages?
 */
export function isStorageFull(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  // JSInsufficientResourcesErr, JSMemoryResourcesExceededErr, JSStorageResourcesExceededErr.
  if (code === 10023 || code === 10028 || code === 10047) return true;
  return /insufficient (storage |memory )?resources|maximum (bytes|messages) exceeded/i.test((e as Error)?.message ?? '');
}

/** JobBERTError ERR_BROKER_FULL for `what`, failed on a full broker, saying what to do (it was NATS's bare "insufficient resources"). */
export function brokerFull(what: string, e: unknown): JobBERTError {
  return new JobBERTError(
    'ERR_BROKER_FULL',
    `cannot ${what}: the NATS broker's JetStream storage is full (it said: ${(e as Error)?.message}). Free space on it (jobbert batch list shows the batch jobs it holds, jobbert batch remove --job NAME deletes one) or raise its limits (max_file_store or max_memory_store in nats-server's jetstream block, or the stream's max bytes), then run the command again: a batch resumes from the chunks already done`,
    { cause: e },
  );
}

/** Is this error one that goes away when the broker comes back (timeout, disconnect, no JetStream leader yet)? */
export function isTransient(e: unknown): boolean {
  const text = `${(e as Error)?.name ?? ''} ${(e as Error)?.message ?? ''} ${(e as { code?: unknown })?.code ?? ''}`.toLowerCase();
  return /timeout|disconnect|closed|reconnect|no responders|503|connection|unavailable|not ready|leader/.test(text);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn`, retrying transient failures (see isTransient) with a growing
 * pause for up to `limitMs` (default 120 s) or until `stop()` says so; a full
 * broker rejects as JobBERTError ERR_BROKER_FULL, other errors, and a transient
 * one past the limit, as ERR_NATS. Async.
 */
export async function retry<T>(what: string, fn: () => Promise<T>, opts: { limitMs?: number; stop?: () => boolean } = {}): Promise<T> {
  const until = performance.now() + (opts.limitMs ?? 120_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof JobBERTError || e instanceof TypeError || e instanceof RangeError) throw e;
      if (isStorageFull(e)) throw brokerFull(what, e);
      if (!isTransient(e) || performance.now() > until || opts.stop?.())
        throw new JobBERTError('ERR_NATS', `cannot ${what}: ${(e as Error).message}`, { cause: e });
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
    }
  }
}
