/**
 * `runBatch`: the submitter of a distributed batch job. It splits the input
 * into chunks with deterministic ids, publishes those not already queued or
 * done, follows progress in the job's object store, and writes the output in
 * input order once every chunk has a result.
 *
 * Resuming is the same call: the job name derives from the task, model,
 * options, chunk size and input bytes, so a rerun finds the job's store and
 * submits only chunks that are neither queued nor done (and retries those
 * that failed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Writable } from 'node:stream';
import type { ObjectStore } from '@nats-io/obj';
import { JobBERTError } from '../errors.js';
import { outputFile, type OutputTarget, outputTarget } from '../util/output-file.js';
import { assertChoice, assertInteger, assertOptions, assertTimerMs, describe } from '../util/validate.js';
import {
  BATCH_TASKS,
  chunked,
  chunkObject,
  outcomes,
  chunkSubject,
  encodeLines,
  JOB_NAME,
  jobBucket,
  readBatchInput,
  routeOf,
  type BatchRow,
  type BatchTask,
  type ChunkFailure,
  type ChunkMessage,
  type JobProblem,
  problemSubject,
} from './jobs.js';
import { connectCluster, ensureWorkStream, objectStore, retry, sleep, WORK_STREAM, type ClusterConnection } from './nats.js';
import { removeLeftovers } from '../util/process.js';
import { claimJob, type JobClaim } from './job-lease.js';

export interface BatchOptions {
  /** NATS server URL, e.g. nats://127.0.0.1:4222. */
  nats: string;
  task: BatchTask;
  /** Input file: one title per line, or JSON Lines of {"id"?, "title"} (.jsonl/.ndjson). */
  input: string;
  /** Output file (JSON Lines), written atomically when every chunk is done. */
  output: string;
  /** The fingerprint workers must have (the encoder's; for normalize, the normalizer's). */
  fingerprint: string;
  /** Task options (encode: { branch }; normalize: { k, lang, outputLang }). */
  options?: Record<string, unknown>;
  /** Titles per chunk (default 1000). */
  chunkSize?: number;
  /** CSV/TSV (and JSON Lines) input: the title column (default title, vacancyTitle or jobtitle). */
  column?: string;
  /** The job's name (letters, digits, _ and -); default: derived from the task, model, options and input. */
  job?: string;
  /** How often progress is read, in ms (default 500). */
  pollMs?: number;
  /** Called after each progress read. */
  onProgress?: (p: BatchProgress) => void;
}

export interface BatchProgress {
  job: string;
  /** Input rows, and rows whose chunk has a result (done or failed). */
  rows: number;
  done: number;
  chunks: number;
  chunksDone: number;
  failed: number;
  /** Rows per second since this call started, and the seconds left at that rate (null before any). */
  titlesPerSecond: number;
  etaSeconds: number | null;
  /** No worker for this task and model takes chunks: none was seen at two looks at the queue 2 s apart, and no chunk was done since. */
  noWorkers: boolean;
}

export interface ChunkReport extends ChunkFailure {
  chunk: number;
  /** Input row number of the chunk's first row, and its row count. */
  firstRow: number;
  rows: number;
}

export interface BatchResult {
  job: string;
  output: string;
  rows: number;
  chunks: number;
  /** Chunks done before this call started (a resumed job). */
  resumed: number;
  /** Chunks this call published. */
  submitted: number;
  /** Chunks given up after their attempts; their rows are error lines in the output. */
  failures: ChunkReport[];
  seconds: number;
  /** Where the seconds went: reading the input, publishing chunks, waiting for the workers (while writing what is done), writing the rest. */
  timings: { scan: number; submit: number; wait: number; write: number };
}

interface JobSpec {
  task: BatchTask;
  fingerprint: string;
  options: Record<string, unknown>;
  chunkSize: number;
  rows: number;
  chunks: number;
  digest: string;
}

/** The input's rows and a digest of them, read once. */
async function scanInput(path: string, column?: string): Promise<{ rows: number; digest: string }> {
  const h = createHash('sha256');
  let rows = 0;
  for await (const r of readBatchInput(path, { column })) {
    h.update(`${r.id}\t${r.title}\n`);
    rows++;
  }
  return { rows, digest: h.digest('hex') };
}

/** Stable JSON: keys sorted, so equal options give equal job names. */
const stable = (v: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))));

/**
 * Runs a batch job over NATS workers and writes its output. Async; resolves
 * once the output is written (failed chunks are reported in the result and
 * written as error lines). Rejects with JobBERTError ERR_NATS when the broker
 * cannot be reached, ERR_BROKER_FULL when it has no room left (for the chunks,
 * or a worker for a result: a rerun, once there is, resumes), ERR_JOB_MISMATCH when `job` names a job with other
 * settings or input, ERR_NOT_FOUND/ERR_IO/ERR_BAD_FILE for the input.
 */
export async function runBatch(opts: BatchOptions): Promise<BatchResult> {
  const fn = 'runBatch';
  assertOptions(fn, opts);
  assertChoice(fn, 'task', opts.task, BATCH_TASKS);
  for (const k of ['input', 'output', 'fingerprint'] as const)
    if (typeof opts[k] !== 'string' || opts[k] === '')
      throw new TypeError(`${fn}: ${k} must be a non-empty string; received ${describe(opts[k])}`);
  const chunkSize = opts.chunkSize ?? 1000;
  assertInteger(fn, 'chunkSize', chunkSize, 1, 100_000);
  const pollMs = opts.pollMs ?? 500;
  assertTimerMs(fn, 'pollMs', pollMs, 10);
  if (opts.job !== undefined && (typeof opts.job !== 'string' || !JOB_NAME.test(opts.job)))
    throw new TypeError(`${fn}: job must be 1 to 64 letters, digits, _ or -; received ${describe(opts.job)}`);
  const options = opts.options ?? {};
  const t0 = performance.now();

  const { rows, digest } = await scanInput(opts.input, opts.column);
  const tScanned = performance.now();
  const spec: JobSpec = {
    task: opts.task,
    fingerprint: opts.fingerprint,
    options,
    chunkSize,
    rows,
    chunks: Math.ceil(rows / chunkSize),
    digest,
  };
  const job =
    opts.job ??
    `j${createHash('sha256')
      .update(`${spec.task}\n${spec.fingerprint}\n${stable(options)}\n${chunkSize}\n${digest}`)
      .digest('hex')
      .slice(0, 24)}`;
  const route = routeOf(opts.task, opts.fingerprint);

  const c = await connectCluster(opts.nats, `jobbert-batch-${job}`);
  // What workers report that the job's store cannot show (a result with no room in the broker).
  let problem: JobBERTError | undefined;
  c.nc.subscribe(problemSubject(job), {
    callback: (_, m) => {
      try {
        const p = m.json<JobProblem>();
        if (p?.code === 'ERR_BROKER_FULL' && typeof p.message === 'string') problem ??= new JobBERTError(p.code, `a worker ${p.message}`);
      } catch {
        // not a report of ours
      }
    },
  });
  let claim: JobClaim | undefined;
  try {
    await ensureWorkStream(c);
    const bucket = await objectStore(c, jobBucket(job));
    await checkSpec(bucket, job, spec);
    claim = await claimJob(bucket, job);

    // Queued first, then done: a chunk acknowledged in between has its result stored already.
    const queued = await queuedChunks(c, route, job);
    const outcome = await outcomes(bucket);
    const resumed = [...outcome.values()].filter((s) => s === 'ok').length;
    const failedBefore = [...outcome].filter(([, s]) => s === 'failed').map(([n]) => n);
    for (const n of failedBefore) await retry('clear a failed chunk', () => bucket.delete(chunkObject(n)));

    // Publish what is neither queued nor done. The message id makes a retried publish land once.
    const run = randomBytes(4).toString('hex');
    let submitted = 0;
    const pending = new Set<Promise<unknown>>();
    let index = 0;
    for await (const rowsOfChunk of chunked(readBatchInput(opts.input, { column: opts.column }), chunkSize)) {
      const n = index++;
      if (queued.has(n) || outcome.get(n) === 'ok') continue;
      const msg: ChunkMessage = {
        v: 1,
        job,
        bucket: jobBucket(job),
        chunk: n,
        first: n * chunkSize,
        task: opts.task,
        fingerprint: opts.fingerprint,
        options,
        titles: rowsOfChunk.map((r) => r.title),
        ids: rowsOfChunk.map((r) => r.id),
      };
      const payload = new TextEncoder().encode(JSON.stringify(msg));
      const max = c.nc.info?.max_payload ?? 1 << 20;
      if (payload.length > max)
        throw new RangeError(
          `${fn}: chunk ${n} is ${payload.length} bytes, over the server's max_payload (${max}); use a smaller chunkSize`,
        );
      const p = retry(`submit chunk ${n}`, () =>
        c.js.publish(chunkSubject(route, job, n), payload, { msgID: `${job}.${n}.${run}` }),
      ).finally(() => pending.delete(p));
      pending.add(p);
      submitted++;
      if (pending.size >= 32) await Promise.race(pending);
    }
    await Promise.all(pending);
    const tSubmitted = performance.now();

    // Follow progress until every chunk has an outcome.
    const doneAtStart = [...outcome.values()].filter((s) => s === 'ok').length;
    const rowsAtStart = Math.min(rows, doneAtStart * chunkSize);
    const started = performance.now();
    let finished: Map<number, 'ok' | 'failed'>;
    let tDone = 0;
    const target = outputTarget('runBatch: output', opts.output);
    if (!target.inPlace) await removeStaleTemps(target.path);
    const writer = new OutputWriter(opts.output, target, opts.input, opts.column, opts.task, bucket, spec);
    let checkedWorkers = 0;
    let noWorkers = false;
    let idleBefore = false;
    let chunksSeen = resumed;
    try {
      for (;;) {
        if (problem) throw problem;
        await claim.renew();
        finished = await retry('read progress', () => outcomes(bucket), { limitMs: 600_000 });
        let doneRows = 0;
        let failed = 0;
        for (const [n, s] of finished) {
          doneRows += Math.min(chunkSize, rows - n * chunkSize);
          if (s === 'failed') failed++;
        }
        if (finished.size > chunksSeen) {
          // Chunks moved, so a worker takes them: the note that none did stayed on every later line, as
          // a job's chunks can all be done between two looks at the queue.
          noWorkers = false;
          idleBefore = false;
        } else if (performance.now() - checkedWorkers > 2000) {
          checkedWorkers = performance.now();
          // A live worker holds a pull request open (num_waiting) or a chunk (num_ack_pending); the queue
          // itself outlives its workers. Twice in a row, as a worker between two pulls has neither for a moment.
          const info = await c.jsm.consumers.info(WORK_STREAM, `jobbert-${opts.task}-${route}`).catch(() => null);
          const idle = !info || (info.num_waiting === 0 && info.num_ack_pending === 0);
          noWorkers = idle && idleBefore;
          idleBefore = idle;
        }
        chunksSeen = finished.size;
        const rate = (doneRows - rowsAtStart) / Math.max(1e-3, (performance.now() - started) / 1000);
        opts.onProgress?.({
          job,
          rows,
          done: doneRows,
          chunks: spec.chunks,
          chunksDone: finished.size,
          failed,
          titlesPerSecond: rate,
          etaSeconds: rate > 0 ? (rows - doneRows) / rate : null,
          noWorkers,
        });
        if (finished.size >= spec.chunks) break;
        const t = performance.now();
        await writer.advance(finished);
        await sleep(Math.max(0, pollMs - (performance.now() - t)));
      }

      tDone = performance.now();
      await writer.advance(finished);
      await writer.finish();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    const failures = writer.failures;
    // The job is over: drop queued duplicates, and the results unless a chunk failed (a rerun retries it).
    await c.jsm.streams.purge(WORK_STREAM, { filter: `jobbert.work.${route}.${job}.>` }).catch(() => {});
    if (failures.length === 0 && (await bucket.destroy().catch(() => false))) claim = undefined;
    const tWritten = performance.now();
    return {
      job,
      output: opts.output,
      rows,
      chunks: spec.chunks,
      resumed,
      submitted,
      failures,
      seconds: (performance.now() - t0) / 1000,
      timings: {
        scan: (tScanned - t0) / 1000,
        submit: (tSubmitted - tScanned) / 1000,
        wait: (tDone - tSubmitted) / 1000,
        write: (tWritten - tDone) / 1000,
      },
    };
  } finally {
    // Failed, or done with chunks that failed: a rerun (in this process too) goes ahead at once.
    await claim?.release();
    await c.close();
  }
}

/** Records the job's settings, or checks them against those of the job already there. */
async function checkSpec(bucket: ObjectStore, job: string, spec: JobSpec): Promise<void> {
  const raw = await retry('read the job', () => bucket.getBlob('job'));
  if (raw) {
    const have = JSON.parse(new TextDecoder().decode(raw)) as JobSpec;
    const keys: (keyof JobSpec)[] = ['task', 'fingerprint', 'chunkSize', 'rows', 'digest'];
    const differs = keys.filter((k) => have[k] !== spec[k]);
    if (stable(have.options) !== stable(spec.options)) differs.push('options');
    if (differs.length)
      throw new JobBERTError(
        'ERR_JOB_MISMATCH',
        `job ${job} exists with another ${differs.join(', ')}; choose another --job name, or let jobbert name the job`,
      );
    return;
  }
  await retry('record the job', () => bucket.putBlob({ name: 'job' }, new TextEncoder().encode(JSON.stringify(spec))));
}

/** Chunks of the job waiting in the work queue (or being worked on). */
async function queuedChunks(c: ClusterConnection, route: string, job: string): Promise<Set<number>> {
  const prefix = `jobbert.work.${route}.${job}.`;
  const info = await retry('read the work queue', () => c.jsm.streams.info(WORK_STREAM, { subjects_filter: `${prefix}*` }));
  const out = new Set<number>();
  for (const subject of Object.keys(info.state.subjects ?? {})) out.add(Number(subject.slice(prefix.length)));
  return out;
}

/** A failed chunk's rows in the output: one error line each, so every input row is there once. */
function errorLine(task: BatchTask, row: BatchRow, f: ChunkReport): string {
  const error = { code: f.code, message: f.message, chunk: f.chunk };
  return JSON.stringify(task === 'normalize' ? { id: row.id, input: row.title, error } : { error });
}

/**
 * Removes the temp files of earlier submitters of `output` that are no longer
 * running (stopped by Ctrl-C or killed: `OUT.tmp-<pid>-<hex>`, whose pid is
 * gone), which a rerun would otherwise never clean up. Async; best effort.
 */
function removeStaleTemps(output: string): Promise<void> {
  const name = basename(output);
  return removeLeftovers(dirname(output), (f) => {
    const m = f.startsWith(`${name}.tmp-`) ? /^(\d+)-[0-9a-f]{6}$/.exec(f.slice(name.length + 5)) : null;
    return m ? Number(m[1]) : undefined;
  });
}

/**
 * Writes the output in input order while the job runs: each chunk as soon as
 * it and every chunk before it have an outcome, into a temp file that is
 * fsynced and renamed over the output at the end (a crash leaves no partial
 * output; a resumed job writes it again from its stored results) — or into
 * a FIFO or device as it is (outputTarget). An output named .gz is
 * gzip-compressed as written, at level 1, as `jobbert normalize` writes one.
 */
class OutputWriter {
  readonly failures: ChunkReport[] = [];
  /** The temporary file renamed over the output at the end ('' when written in place). */
  readonly #tmp: string;
  readonly #target: OutputTarget;
  readonly #input: string;
  readonly #out: Writable;
  readonly #closed: Promise<void>;
  readonly #rows: AsyncGenerator<BatchRow[]>;
  readonly #fetches = new Map<number, Promise<Uint8Array | null>>();
  #next = 0;

  constructor(
    readonly path: string,
    target: OutputTarget,
    input: string,
    column: string | undefined,
    readonly task: BatchTask,
    readonly bucket: ObjectStore,
    readonly spec: JobSpec,
  ) {
    this.#target = target;
    this.#tmp = target.inPlace ? '' : `${target.path}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    ({ stream: this.#out, closed: this.#closed } = outputFile(this.#tmp || target.path, path));
    this.#input = input;
    this.#rows = chunked(readBatchInput(input, { column }), spec.chunkSize);
  }

  /** The input grew while the job ran: its rows past those submitted have no results. */
  #changed(): JobBERTError {
    return new JobBERTError(
      'ERR_IO',
      `${this.#input}: the input changed while the job ran (it has rows past the ${this.spec.chunks} chunk(s) submitted); run the job again on the finished file`,
    );
  }

  /** Chunks written so far. */
  get written(): number {
    return this.#next;
  }

  #fetch(n: number): void {
    if (n < this.spec.chunks && !this.#fetches.has(n)) {
      const read = retry(`read chunk ${n}`, () => this.bucket.getBlob(chunkObject(n)), { limitMs: 600_000 });
      // Awaited in its turn; a read ahead that fails before then (the job's store deleted under it) must not
      // be an unhandled rejection that ends the process with a stack trace.
      read.catch(() => {});
      this.#fetches.set(n, read);
    }
  }

  /** Writes every chunk from the next unwritten one on that has an outcome in `finished`. Async. */
  async advance(finished: Map<number, 'ok' | 'failed'>): Promise<void> {
    try {
      while (finished.has(this.#next)) {
        // Read ahead among the finished chunks: each read is a few round trips to the broker.
        for (let a = this.#next; a < this.#next + 16 && finished.has(a); a++) this.#fetch(a);
        const n = this.#next;
        const bytes = await this.#fetches.get(n)!;
        this.#fetches.delete(n);
        const next = await this.#rows.next();
        const rows = next.done ? null : next.value;
        if (!rows) throw new JobBERTError('ERR_IO', `${this.path}: the input ended before chunk ${n}; it changed while the job ran`);
        if (!bytes) throw new JobBERTError('ERR_NATS', `the result of chunk ${n} disappeared from the job's store`);
        let lines: string[];
        if (finished.get(n) === 'failed') {
          const f = JSON.parse(new TextDecoder().decode(bytes)) as ChunkFailure;
          const report: ChunkReport = { chunk: n, firstRow: n * this.spec.chunkSize, rows: rows.length, ...f };
          this.failures.push(report);
          lines = rows.map((r) => errorLine(this.task, r, report));
        } else if (this.task === 'encode') {
          lines = encodeLines(bytes, rows.length);
        } else {
          lines = new TextDecoder()
            .decode(bytes)
            .split('\n')
            .filter((l) => l !== '');
        }
        if (lines.length !== rows.length)
          throw n === this.spec.chunks - 1
            ? this.#changed() // the last chunk, read longer: rows appended to the input
            : new JobBERTError('ERR_CORRUPT', `chunk ${n} has ${lines.length} results for ${rows.length} rows`);
        if (lines.length && !this.#out.write(`${lines.join('\n')}\n`))
          // A failed write never drains: its error settles #closed instead.
          await Promise.race([new Promise<void>((resolve) => this.#out.once('drain', resolve)), this.#closed]);
        this.#next++;
      }
    } catch (e) {
      await this.abort();
      throw e instanceof JobBERTError ? e : new JobBERTError('ERR_IO', `${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Ends the file, fsyncs it and renames it over the output. Async. */
  async finish(): Promise<void> {
    try {
      // Rows appended to the input after it was submitted were dropped without a word (exit 0).
      if (!(await this.#rows.next()).done) throw this.#changed();
      await new Promise<void>((resolve, reject) => this.#out.end((e?: Error | null) => (e ? reject(e) : resolve())));
      await this.#closed;
      if (!this.#tmp) return;
      const fh = await open(this.#tmp, 'r');
      await fh.sync();
      await fh.close();
      await rename(this.#tmp, this.#target.path);
    } catch (e) {
      await this.abort();
      throw e instanceof JobBERTError ? e : new JobBERTError('ERR_IO', `${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Drops the temp file. Async; idempotent. */
  async abort(): Promise<void> {
    this.#out.destroy();
    await this.#rows.return(undefined);
    if (this.#tmp) await rm(this.#tmp, { force: true });
  }
}
