/**
 * The NATS plumbing every cluster role shares: a connection that keeps
 * reconnecting (a broker restart is an outage to wait out, not an error), the
 * JetStream names jobbert uses, and a retry loop for calls that fail while the
 * broker is away.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { JobBERTError } from '../errors.js';
import { finishedWithin } from '../util/deadline.js';
import { greeting, ReconnectSteering } from './nats-dial.js';

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
  /** Drains the connection (closing it as it is after DRAIN_MS). Async; idempotent, and a call while one runs joins it. */
  close(): Promise<void>;
  /** close(), for `await using c = await connectCluster(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
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
  let steering: ReconnectSteering;
  try {
    const servers = url
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const first = await greeting(servers, GREETING_MS);
    const tls = servers.some((s) => /^tls:\/\//i.test(s));
    // The client's own reconnect jitter (100 ms, 1 s with TLS), kept.
    steering = new ReconnectSteering(GREETING_MS, tls ? 1000 : 100);
    nc = await connect({
      // The one that greeted first, then the rest in their order: the client, left to shuffle
      // them, dialled a bad one first as often as not, for its whole timeout.
      servers: [first, ...servers.filter((s) => s !== first)],
      noRandomize: true,
      name,
      maxReconnectAttempts: -1,
      // Reconnects dial a server that answers, not the next in the list (see ReconnectSteering).
      reconnectDelayHandler: steering.delay,
      timeout: GREETING_MS,
      // A tls:// URL asks for TLS: an empty TlsOptions makes the client accept no other connection
      // (the scheme alone was ignored, and a whole batch ran in plain text).
      ...(tls ? { tls: {} } : {}),
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
  steering.attach(nc);
  const js = jetstream(nc, { timeout: 5000 });
  let closing: Promise<void> | null = null;
  // One close for every caller: a second drain while the first runs rejects, and closed the connection mid-drain.
  const close = () =>
    (closing ??= (async () => {
      if (nc.isClosed()) return;
      // A drain waits for the server: one that hangs (SIGSTOP, a dead link) kept a stopping process alive for good.
      const drained = await finishedWithin(nc.drain(), DRAIN_MS).catch(() => false);
      if (!drained) await nc.close().catch(() => {});
    })());
  return { nc, js, jsm, objm: new Objm(nc), close, [Symbol.asyncDispose]: close };
}

/** How long a server has to greet (and the client to finish its handshake) before it counts as unreachable. */
const GREETING_MS = 5000;

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
