/**
 * `startWorker`: takes chunks of batch jobs from the JetStream work queue, runs
 * them, stores each result in the job's object store, then acknowledges.
 *
 * Delivery is at least once: a worker that dies mid-chunk never acknowledged
 * it, so JetStream redelivers it after the ack wait; results are written per
 * chunk, so a chunk done twice is stored once. Long chunks keep their lease
 * with in-progress acks. A chunk that fails `maxAttempts` times (or keeps
 * killing its workers) is stored as a failure with its error and acknowledged:
 * the job finishes and reports it instead of retrying forever.
 */
import { AckPolicy, DeliverPolicy, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import { JobBERTError } from '../errors.js';
import { finishedWithin } from '../util/deadline.js';
import { assertInteger, assertOptions, assertTimerMs } from '../util/validate.js';
import { chunkObject, problemSubject, routeOf, type ChunkFailure, type ChunkMessage, type JobProblem, type TaskRunner } from './jobs.js';
import { connectCluster, ensureWorkStream, isTransient, retry, sleep, WORK_STREAM } from './nats.js';

/** How long stop() waits for the pull loop to notice, once the chunks in hand are done or handed back, in ms. */
const LOOP_STOP_MS = 2000;

export interface WorkerOptions {
  /** NATS server URL, e.g. nats://127.0.0.1:4222. */
  nats: string;
  /** The tasks this worker runs (encodeRunner(encoder), a normalize runner). */
  runners: TaskRunner[];
  /**
   * How long a chunk may go without an (in-progress) ack before JetStream redelivers it, in ms (default
   * 30,000; at least 1,000). The queue keeps the longest any of its workers asked for.
   */
  ackWaitMs?: number;
  /** Runs of a chunk before it is reported as failed (default 3); set when the queue is first made. */
  maxAttempts?: number;
  /** On stop(): how long the chunks in hand may take to finish before they are handed back (nak), in ms (default 30,000). */
  shutdownTimeoutMs?: number;
  /**
   * Chunks in hand at once (default 1). More let one chunk's search (native
   * threads) overlap another's encoding, formatting and storing in the broker:
   * batch normalize with the built-in model, 100,000 titles through one worker,
   * gained 8% at 2 and 13% at 3. Each chunk in hand runs the model on its own,
   * so more also means more threads than `--threads` and more memory.
   */
  concurrency?: number;
  /** Where the worker reports chunks and problems (default: nothing). */
  log?: (line: string) => void;
}

export interface WorkerStats {
  chunks: number;
  rows: number;
  failed: number;
  /** Seconds spent running chunks (the model), and storing their results in the broker. */
  runSeconds: number;
  storeSeconds: number;
}

export interface Worker {
  /** Counts of chunks done (and given up) by this worker. */
  readonly stats: Readonly<WorkerStats>;
  /**
   * Stops taking chunks, lets the chunks in hand finish (or naks those still
   * running after shutdownTimeoutMs so another worker takes them at once), and
   * closes the connection. Async; idempotent.
   */
  stop(): Promise<void>;
  /** Settles when the worker has stopped. */
  readonly stopped: Promise<void>;
}

interface Route {
  runner: TaskRunner;
  consumer: Consumer | null;
  name: string;
  maxAttempts: number;
  /** The queue's ack wait, which the worker that made it chose: chunks in hand are kept alive within it. */
  ackWaitMs: number;
}

/**
 * Connects to NATS and starts taking chunks for the given runners. Async;
 * rejects with JobBERTError ERR_NATS when the server cannot be reached, and
 * TypeError/RangeError naming a bad option.
 */
export async function startWorker(opts: WorkerOptions): Promise<Worker> {
  const fn = 'startWorker';
  assertOptions(fn, opts);
  const ackWaitMs = opts.ackWaitMs ?? 30_000;
  // Under a second, a chunk whose formatting keeps the JavaScript thread busy would outlast it between renewals.
  assertTimerMs(fn, 'ackWaitMs', ackWaitMs, 1000);
  const maxAttempts = opts.maxAttempts ?? 3;
  assertInteger(fn, 'maxAttempts', maxAttempts, 1, 1000);
  const shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 30_000;
  assertTimerMs(fn, 'shutdownTimeoutMs', shutdownTimeoutMs, 0);
  const concurrency = opts.concurrency ?? 1;
  assertInteger(fn, 'concurrency', concurrency, 1, 64);
  if (!Array.isArray(opts.runners) || opts.runners.length === 0)
    throw new TypeError(`${fn}: runners must be a non-empty array of task runners; received ${String(opts.runners)}`);
  const log = opts.log ?? (() => {});

  const c = await connectCluster(opts.nats, 'jobbert-worker');
  try {
    await ensureWorkStream(c);
  } catch (e) {
    await c.close();
    throw e;
  }
  const routes: Route[] = opts.runners.map((runner) => {
    const route = routeOf(runner.task, runner.fingerprint);
    return { runner, consumer: null, name: `jobbert-${runner.task}-${route}`, maxAttempts, ackWaitMs };
  });
  const stats: WorkerStats = { chunks: 0, rows: 0, failed: 0, runSeconds: 0, storeSeconds: 0 };
  const buckets = new Map<string, ObjectStore>();
  let stopping = false;
  /** The chunks in hand (running or storing), for stop(). */
  const inHand = new Set<{ msg: JsMsg; abandoned: boolean; done: Promise<void> }>();

  /** The route's durable consumer: shared by every worker of this task and model, made by the first. */
  async function consumerOf(r: Route): Promise<Consumer> {
    if (r.consumer) return r.consumer;
    const route = routeOf(r.runner.task, r.runner.fingerprint);
    const info = await c.jsm.consumers.info(WORK_STREAM, r.name).catch(() => null);
    if (!info) {
      await c.jsm.consumers
        .add(WORK_STREAM, {
          durable_name: r.name,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(ackWaitMs),
          // One delivery beyond the attempts: the worker that gets it records the failure.
          max_deliver: maxAttempts + 1,
          filter_subject: `jobbert.work.${route}.>`,
        })
        .catch(async (e) => {
          if (!(await c.jsm.consumers.info(WORK_STREAM, r.name).catch(() => null))) throw e;
        });
    }
    const live = await c.jsm.consumers.info(WORK_STREAM, r.name);
    r.maxAttempts = Math.max(1, (live.config.max_deliver ?? maxAttempts + 1) - 1);
    // The queue keeps the ack wait of the worker that made it. A shorter one than this worker's is raised
    // (a longer wait is safe for every worker: each renews its chunks well within it); a chunk's lease is
    // renewed within the queue's own wait. (A 100 ms wait left by another worker had every chunk that
    // kept the JavaScript thread busy longer redelivered until it failed.)
    let queueAckWaitMs = live.config.ack_wait ? Math.round(live.config.ack_wait / 1e6) : ackWaitMs;
    if (queueAckWaitMs < ackWaitMs) {
      const raised = await c.jsm.consumers.update(WORK_STREAM, r.name, { ack_wait: nanos(ackWaitMs) }).catch(() => null);
      if (raised) {
        log(`jobbert worker: raised the ack wait of the ${r.runner.task} queue ${r.name} from ${queueAckWaitMs} to ${ackWaitMs} ms`);
        queueAckWaitMs = ackWaitMs;
      }
    }
    r.ackWaitMs = queueAckWaitMs;
    r.consumer = await c.js.consumers.get(WORK_STREAM, r.name);
    return r.consumer;
  }

  /** The job's result store, or null when it is gone (the job ended or was abandoned: its chunks are dropped). */
  async function bucketOf(name: string): Promise<ObjectStore | null> {
    const known = buckets.get(name);
    if (known) return known;
    // Made by the submitter before it publishes; looked up again each time it is missing, as a rerun makes it anew.
    const exists = await retry('look up a job', () => jobExists(name));
    if (!exists) return null;
    const store = await c.objm.open(name);
    buckets.set(name, store);
    return store;
  }

  const jobExists = (name: string) =>
    c.jsm.streams.info(`OBJ_${name}`).then(
      () => true,
      (e) => {
        if (/not found/i.test((e as Error).message)) return false;
        throw e;
      },
    );

  async function store(bucket: ObjectStore, chunk: ChunkMessage, status: 'ok' | 'failed', data: Uint8Array): Promise<void> {
    await retry(
      `store the result of chunk ${chunk.chunk} of job ${chunk.job}`,
      () =>
        bucket.putBlob(
          { name: chunkObject(chunk.chunk), metadata: { status, rows: String(chunk.titles.length), first: String(chunk.first) } },
          data,
        ),
      { limitMs: Math.max(ackWaitMs * 2, 10_000) },
    );
  }

  async function fail(bucket: ObjectStore, chunk: ChunkMessage, msg: JsMsg, failure: ChunkFailure): Promise<void> {
    log(
      `jobbert worker: job ${chunk.job} chunk ${chunk.chunk} failed after ${failure.deliveries} deliveries: ${failure.code}: ${failure.message}`,
    );
    await store(bucket, chunk, 'failed', new TextEncoder().encode(JSON.stringify(failure)));
    msg.ack();
    stats.failed++;
  }

  async function handle(r: Route, msg: JsMsg): Promise<void> {
    let chunk: ChunkMessage;
    try {
      chunk = JSON.parse(new TextDecoder().decode(msg.data)) as ChunkMessage;
      if (chunk?.v !== 1 || !Array.isArray(chunk.titles)) throw new Error('not a jobbert chunk');
    } catch (e) {
      log(`jobbert worker: dropping message ${msg.subject}: ${(e as Error).message}`);
      msg.term();
      return;
    }
    if (chunk.task !== r.runner.task || chunk.fingerprint !== r.runner.fingerprint) {
      // Never mix models: a chunk for another model is not ours to run.
      log(
        `jobbert worker: refusing job ${chunk.job} chunk ${chunk.chunk}: it needs ${chunk.task} with model ${chunk.fingerprint}; this worker has ${r.runner.fingerprint}`,
      );
      msg.nak(1000);
      return;
    }
    const bucket = await bucketOf(chunk.bucket);
    if (!bucket) {
      msg.ack(); // its job is over
      log(`jobbert worker: job ${chunk.job} chunk ${chunk.chunk}: dropped, the job is gone (finished elsewhere, or removed)`);
      return;
    }
    const deliveries = msg.info.deliveryCount;
    if (deliveries > r.maxAttempts) {
      await fail(bucket, chunk, msg, {
        code: 'ERR_CHUNK_FAILED',
        message: `delivered ${deliveries - 1} times without completing (its workers died or overran the ack wait)`,
        deliveries: deliveries - 1,
      });
      return;
    }
    log(`jobbert worker: job ${chunk.job} chunk ${chunk.chunk}: taking it (delivery ${deliveries})`);
    const heartbeat = setInterval(() => msg.working(), Math.max(20, Math.floor(r.ackWaitMs / 3)));
    const job = { msg, abandoned: false, done: Promise.resolve() };
    inHand.add(job);
    let settle!: () => void;
    job.done = new Promise<void>((resolve) => (settle = resolve));
    try {
      let result: Uint8Array;
      const t0 = performance.now();
      try {
        result = await r.runner.run(chunk);
        stats.runSeconds += (performance.now() - t0) / 1000;
      } catch (e) {
        if (job.abandoned) return;
        const code =
          e instanceof JobBERTError ? e.code : e instanceof TypeError || e instanceof RangeError ? 'ERR_VALIDATION' : 'ERR_INTERNAL';
        const message = (e as Error)?.message ?? String(e);
        if (deliveries >= r.maxAttempts) await fail(bucket, chunk, msg, { code, message, deliveries });
        else {
          log(`jobbert worker: job ${chunk.job} chunk ${chunk.chunk} failed (delivery ${deliveries} of ${r.maxAttempts}): ${message}`);
          msg.nak(200 * deliveries);
        }
        return;
      }
      if (job.abandoned) return;
      const t1 = performance.now();
      await store(bucket, chunk, 'ok', result);
      stats.storeSeconds += (performance.now() - t1) / 1000;
      msg.ack();
      stats.chunks++;
      stats.rows += chunk.titles.length;
      log(`jobbert worker: job ${chunk.job} chunk ${chunk.chunk} done (${chunk.titles.length} rows)`);
    } finally {
      clearInterval(heartbeat);
      inHand.delete(job);
      settle();
    }
  }

  /** Runs one message to its end; a failure to store is logged, and the chunk comes back later. */
  async function take(r: Route, msg: JsMsg): Promise<void> {
    try {
      await handle(r, msg);
    } catch (e) {
      const chunk = msg.subject.split('.');
      if (e instanceof JobBERTError && e.code === 'ERR_BROKER_FULL') {
        // The broker has no room for the result. Its attempts are not spent on that (they ran out, and the
        // chunk stayed queued, never delivered again, or failed on a rerun): it leaves the queue, for a rerun
        // to submit again, and the submitter, which sees nothing change in the job's store, is told.
        log(`jobbert worker: ${e.message}`);
        const problem: JobProblem = { code: e.code, message: e.message, chunk: Number(chunk[4]) };
        c.nc.publish(problemSubject(chunk[3]), JSON.stringify(problem));
        msg.term();
        return;
      }
      // Storing failed: if the job's store is gone, the job is over and the chunk is dropped;
      // otherwise (the broker stayed away past the retries) it will be redelivered.
      const bucket = `jobbert-job-${chunk[3]}`;
      if (!(await jobExists(bucket).catch(() => true))) {
        buckets.delete(bucket);
        msg.ack();
        log(`jobbert worker: job ${chunk[3]} chunk ${chunk[4]}: dropped, the job is gone (finished elsewhere, or removed)`);
      } else log(`jobbert worker: ${(e as Error).message}`);
    }
  }

  /**
   * The route to take the next chunk from. With one, it. With more (encode and
   * normalize), the first from the current turn on whose queue holds a chunk
   * now, so that an empty queue is not waited on while another has work (a
   * worker alternating between them waited a second for each chunk); when none
   * has, the one whose turn it is, waited on.
   */
  async function pick(turn: number): Promise<Route> {
    if (routes.length === 1) return routes[0];
    for (let i = 0; i < routes.length; i++) {
      const r = routes[(turn + i) % routes.length];
      await consumerOf(r);
      const info = await c.jsm.consumers.info(WORK_STREAM, r.name).catch(() => null);
      if (info && info.num_pending > 0) return r;
    }
    return routes[turn % routes.length];
  }

  async function loop(): Promise<void> {
    const taking = new Set<Promise<void>>();
    let turn = 0;
    while (!stopping) {
      // A free slot first: at most `concurrency` chunks in hand.
      while (taking.size >= concurrency) await Promise.race(taking);
      if (stopping) break;
      let r = routes[turn % routes.length];
      let msg: JsMsg | null = null;
      try {
        r = await pick(turn++);
        const consumer = await consumerOf(r);
        msg = await consumer.next({ expires: 1000 });
      } catch (e) {
        r.consumer = null; // re-fetch it after a broker restart
        if (!stopping && !isTransient(e)) log(`jobbert worker: ${(e as Error).message}`);
        if (!stopping) await sleep(250);
        continue;
      }
      if (!msg) continue;
      if (stopping) {
        msg.nak();
        break;
      }
      const t: Promise<void> = take(r, msg).finally(() => taking.delete(t));
      taking.add(t);
    }
    await Promise.allSettled(taking);
  }

  const running = loop();
  let stopped: Promise<void> | null = null;
  let markStopped!: () => void;
  const whenStopped = new Promise<void>((resolve) => (markStopped = resolve));
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      const jobs = [...inHand];
      if (jobs.length) {
        // Those still running go back to the queue at once, for another worker.
        if (!(await finishedWithin(Promise.all(jobs.map((j) => j.done)), shutdownTimeoutMs)))
          for (const job of jobs)
            if (inHand.has(job)) {
              job.abandoned = true;
              job.msg.nak();
            }
      }
      // The pull loop ends at its next look for chunks, but with the broker away that look retries for
      // good: a worker told to stop then stayed up until the broker came back (706 s in a test).
      if (!jobs.some((j) => j.abandoned))
        await finishedWithin(
          running.catch(() => {}),
          LOOP_STOP_MS,
        );
      await c.close();
      markStopped();
    })();
    return stopped;
  };
  return { stats, stop, stopped: whenStopped };
}
