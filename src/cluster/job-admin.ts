/**
 * The batch jobs a broker holds, and removing one: `jobbert batch list` and
 * `jobbert batch remove`. A job is its object store (`jobbert-job-<job>`: its
 * settings, its submitter's lease, one result per chunk done) and its chunks
 * still in the work queue (`jobbert.work.<route>.<job>.<chunk>`). A job that
 * finished cleanly left neither; one stopped, crashed or failed left both
 * until a rerun finishes it — or, abandoned, for good.
 *
 * The queues themselves (one durable consumer per task and model) are shared
 * by every job of that task and model and are not a job's to remove.
 */
import { JobBERTError } from '../errors.js';
import { assertOptions, describe } from '../util/validate.js';
import { BATCH_TASKS, JOB_NAME, jobBucket, outcomes, type BatchTask } from './jobs.js';
import { leaseAge, leaseLive, readLease } from './job-lease.js';
import { connectCluster, retry, WORK_STREAM, type ClusterConnection } from './nats.js';

/** What `listJobs` says of one job. */
export interface JobSummary {
  job: string;
  /** From the job's recorded settings; null where its store holds none (a submitter stopped before recording them, or no store). */
  task: BatchTask | null;
  rows: number | null;
  chunks: number | null;
  /** Chunks with a stored result, of which failed (given up after their attempts). */
  chunksDone: number;
  chunksFailed: number;
  /** Chunks in the work queue, waiting or being worked on. */
  queued: number;
  /** Bytes the job's store holds. */
  bytes: number;
  /** When the job's store was made (ISO 8601), null without one. */
  created: string | null;
  /** Its submitter, as its lease last said; null where none was recorded. */
  submitter: { pid: number; host: string; secondsAgo: number } | null;
  /**
   * running: its submitter runs (its lease is live); finished: every chunk has a
   * result (some failed, or its submitter stopped before writing the output and
   * cleaning up); stopped: neither (a rerun of the same command resumes it).
   */
  state: 'running' | 'stopped' | 'finished';
}

export interface JobRemoval {
  job: string;
  /** Chunks purged from the work queue, results removed with the job's store, and that store's bytes. */
  queued: number;
  results: number;
  bytes: number;
}

const STORE_PREFIX = 'OBJ_jobbert-job-';

/** The job's chunks in the work queue, by job. Async; ERR_NATS. */
async function queuedByJob(c: ClusterConnection, job = '*'): Promise<Map<string, Set<number>>> {
  const info = await retry('read the work queue', () =>
    c.jsm.streams.info(WORK_STREAM, { subjects_filter: `jobbert.work.*.${job}.*` }).catch((e: Error) => {
      if (/not found/i.test(e.message)) return null; // no work stream: nothing was ever queued
      throw e;
    }),
  );
  const out = new Map<string, Set<number>>();
  for (const subject of Object.keys(info?.state.subjects ?? {})) {
    const [, , , name, chunk] = subject.split('.');
    let chunks = out.get(name);
    if (!chunks) out.set(name, (chunks = new Set()));
    chunks.add(Number(chunk));
  }
  return out;
}

/** The job's store's stream, or null. Async; ERR_NATS. */
async function storeOf(c: ClusterConnection, job: string) {
  return retry(`look up job ${job}`, () =>
    c.jsm.streams.info(`${STORE_PREFIX}${job}`).catch((e: Error) => {
      if (/not found/i.test(e.message)) return null;
      throw e;
    }),
  );
}

/**
 * One job's summary from its store (if any) and its chunks in the queue, read
 * before the store: a chunk is in both between a worker storing its result and
 * acknowledging it, and one the list saw queued may have been finished since,
 * so a chunk with a stored outcome counts as done only. (Counted in both, done
 * plus queued passed the chunks.) Async; ERR_NATS.
 */
async function summarize(c: ClusterConnection, job: string, queued: ReadonlySet<number>): Promise<JobSummary> {
  const summary: JobSummary = {
    job,
    task: null,
    rows: null,
    chunks: null,
    chunksDone: 0,
    chunksFailed: 0,
    queued: queued.size,
    bytes: 0,
    created: null,
    submitter: null,
    state: 'stopped',
  };
  const stream = await storeOf(c, job);
  if (!stream) return summary;
  summary.bytes = stream.state.bytes;
  summary.created = stream.created;
  const bucket = await retry(`open job ${job}`, () => c.objm.open(jobBucket(job)));
  const raw = await retry('read the job', () => bucket.getBlob('job'));
  let spec: { task?: unknown; rows?: unknown; chunks?: unknown } | null = null;
  try {
    spec = raw ? JSON.parse(new TextDecoder().decode(raw)) : null;
  } catch {
    // Not a job's settings (written by something else, or cut short): listed with what else is known.
  }
  if (spec && typeof spec === 'object') {
    if (BATCH_TASKS.includes(spec.task as BatchTask)) summary.task = spec.task as BatchTask;
    if (Number.isInteger(spec.rows)) summary.rows = spec.rows as number;
    if (Number.isInteger(spec.chunks)) summary.chunks = spec.chunks as number;
  }
  const done = await retry(`list job ${job}`, () => outcomes(bucket));
  summary.chunksDone = done.size;
  summary.chunksFailed = [...done.values()].filter((o) => o === 'failed').length;
  summary.queued = [...queued].filter((n) => !done.has(n)).length;
  const lease = await readLease(bucket);
  if (lease) summary.submitter = { pid: lease.pid, host: lease.host, secondsAgo: leaseAge(lease) };
  summary.state =
    lease && leaseLive(lease) ? 'running' : summary.chunks !== null && summary.chunksDone >= summary.chunks ? 'finished' : 'stopped';
  return summary;
}

/**
 * The batch jobs on the broker at `nats`, by name: those with a store, and
 * those with chunks queued and no store (left by a store removed under them).
 * Async; rejects with JobBERTError ERR_NATS.
 */
export async function listJobs(opts: { nats: string }): Promise<JobSummary[]> {
  assertOptions('listJobs', opts);
  const c = await connectCluster(opts.nats, 'jobbert-batch-list');
  try {
    const queued = await queuedByJob(c);
    const names = new Set(queued.keys());
    const stores = await retry('list the streams', async () => {
      const found: string[] = [];
      for await (const s of c.jsm.streams.list()) if (s.config.name.startsWith(STORE_PREFIX)) found.push(s.config.name);
      return found;
    });
    for (const s of stores) names.add(s.slice(STORE_PREFIX.length));
    const jobs: JobSummary[] = [];
    for (const job of [...names].sort()) jobs.push(await summarize(c, job, queued.get(job) ?? new Set()));
    return jobs;
  } finally {
    await c.close();
  }
}

/**
 * Removes the batch job `job` from the broker at `nats`: its chunks in the
 * work queue, then its store (settings, lease, results). Safe while workers
 * run: a worker that takes or holds one of its chunks finds the job gone and
 * drops the chunk. Async; rejects with TypeError for a bad name, JobBERTError
 * ERR_NOT_FOUND when the broker holds no such job, ERR_BUSY while its
 * submitter runs (removing the job would fail it: stop it first), ERR_NATS.
 */
export async function removeJob(opts: { nats: string; job: string }): Promise<JobRemoval> {
  assertOptions('removeJob', opts);
  if (typeof opts.job !== 'string' || !JOB_NAME.test(opts.job))
    throw new TypeError(`removeJob: job must be 1 to 64 letters, digits, _ or -; received ${describe(opts.job)}`);
  const { job } = opts;
  const c = await connectCluster(opts.nats, 'jobbert-batch-remove');
  try {
    const queued = (await queuedByJob(c, job)).get(job)?.size ?? 0;
    const stream = await storeOf(c, job);
    if (!stream && queued === 0)
      throw new JobBERTError('ERR_NOT_FOUND', `no batch job ${job} on the broker at ${opts.nats} (jobbert batch list shows those there)`);
    let results = 0;
    if (stream) {
      const bucket = await retry(`open job ${job}`, () => c.objm.open(jobBucket(job)));
      const lease = await readLease(bucket);
      if (lease && leaseLive(lease))
        throw new JobBERTError(
          'ERR_BUSY',
          `job ${job} is being submitted by process ${lease.pid} on ${lease.host} (its lease renewed ${leaseAge(lease)} s ago): removing it would fail that submitter; stop it first (Ctrl-C), then remove the job (a lease whose holder ran on another machine lapses 20 s after its last renewal)`,
        );
      results = (await retry(`list job ${job}`, () => outcomes(bucket))).size;
    }
    // The queue first, so that no worker takes another of its chunks; a worker holding one finds the store gone and drops it.
    const purged = await retry('purge the job from the work queue', () =>
      c.jsm.streams.purge(WORK_STREAM, { filter: `jobbert.work.*.${job}.*` }).catch((e: Error) => {
        if (/not found/i.test(e.message)) return { purged: 0 };
        throw e;
      }),
    );
    if (stream)
      await retry(`remove job ${job}'s store`, () =>
        c.jsm.streams.delete(`${STORE_PREFIX}${job}`).catch((e: Error) => {
          if (/not found/i.test(e.message)) return true; // removed meanwhile
          throw e;
        }),
      );
    return { job, queued: purged.purged, results, bytes: stream?.state.bytes ?? 0 };
  } finally {
    await c.close();
  }
}
