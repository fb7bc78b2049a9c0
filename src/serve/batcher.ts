/**
 * Dynamic micro-batching: requests that arrive close together are coalesced
 * into one call of the underlying batch function, so one encode and one top-k
 * pass serve many clients.
 *
 * Policy: `concurrency` batches run at a time (default one: the kernels
 * already use every core; /v1/match runs two and /v1/normalize three, so that
 * one batch's native search overlaps the others' encoding and formatting on
 * the JavaScript thread). Whenever the batcher has a free slot and holds jobs, it waits at most `maxWaitMs`
 * for the batch to fill and goes at once when `maxBatch` items are there.
 * Jobs that arrive while a batch runs queue up for the next one. Waiting again
 * after a batch, rather than running the queue at once, matters under closed-
 * loop load: the clients just answered send their next request within a
 * millisecond or two, and without the wait batches alternate between the two
 * halves of the clients (half-size batches, same latency, less throughput).
 * A job larger than `maxBatch` runs as a batch of its own (it is never
 * split, so its results come from one call). Jobs with different keys (e.g. a
 * language filter) go to separate calls of `run` within the same flush. When
 * a batch of several jobs fails, each job runs again alone, so that one bad
 * job does not fail its neighbours, unless `shared` says every job would meet
 * the error alone too (a shard that is down): then they all get it at once.
 *
 * Results stay identical to unbatched calls as long as `run` gives each job
 * what it would have got alone; the callers in matcher.ts rely on the kernels'
 * batch-invariant scores for that, and the tests check it.
 */
import { assertInteger } from '../util/validate.js';
import { ServeError } from './http.js';

export interface BatchJob<P, R> {
  /** Jobs with equal keys may share one call of `run`. */
  key: string;
  /** Items (queries, texts) this job adds to a batch. */
  size: number;
  params: P;
  resolve(value: R): void;
  reject(error: unknown): void;
  /** Stops listening to the job's abort signal, once it has left the queue. */
  release(): void;
}

export interface BatcherOptions<P, R> {
  /** Most items in one batch (a single larger job still runs, alone). */
  maxBatch: number;
  /** Longest an idle batcher waits for more jobs before running what it has. */
  maxWaitMs: number;
  /** Most items waiting; beyond it submit() rejects with 503 ERR_OVERLOADED. */
  maxQueue: number;
  /** Batches running at once (default 1). */
  concurrency?: number;
  /** Runs jobs that share a key; returns one result per job, in order. */
  run(key: string, params: P[]): Promise<R[]>;
  /** Told the item count of every call of `run` (for metrics). */
  onBatch?(items: number, jobs: number): void;
  /** Is `error` one that every job of the batch would get alone (not caused by one job's input)? Default: never. */
  shared?(error: unknown): boolean;
}

export class MicroBatcher<P, R> {
  readonly #opts: BatcherOptions<P, R>;
  #pending: BatchJob<P, R>[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #running = new Set<Promise<void>>();
  readonly #concurrency: number;

  constructor(opts: BatcherOptions<P, R>) {
    this.#opts = opts;
    const concurrency = opts.concurrency ?? 1;
    assertInteger('MicroBatcher', 'concurrency', concurrency, 1);
    this.#concurrency = concurrency;
  }

  /** Items waiting (not yet in a running batch). */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Queues a job; resolves with its own result. Rejects with 503 ERR_OVERLOADED
   * when the queue is full, and with `signal`'s reason when it is aborted while
   * the job still waits (the job leaves the queue; once in a batch it runs).
   */
  submit(key: string, size: number, params: P, signal?: AbortSignal): Promise<R> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queued > 0 && this.#queued + size > this.#opts.maxQueue) {
      return Promise.reject(
        new ServeError(503, 'ERR_OVERLOADED', `the server has ${this.#queued} items queued; retry shortly`, {
          headers: { 'retry-after': '1' },
        }),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const job: BatchJob<P, R> = { key, size, params, resolve, reject, release: () => {} };
      if (signal) {
        const abort = () => {
          const at = this.#pending.indexOf(job);
          if (at < 0) return;
          this.#pending.splice(at, 1);
          this.#queued -= size;
          reject(signal.reason);
        };
        signal.addEventListener('abort', abort, { once: true });
        job.release = () => signal.removeEventListener('abort', abort);
      }
      this.#pending.push(job);
      this.#queued += size;
      this.#schedule();
    });
  }

  /** Resolves once every job queued so far has settled. */
  async drain(): Promise<void> {
    while (this.#pending.length > 0 || this.#running.size > 0) {
      this.#flush();
      await Promise.race(this.#running);
    }
  }

  #schedule(): void {
    if (this.#running.size >= this.#concurrency) return; // a running batch flushes the queue when it ends
    if (this.#queued >= this.#opts.maxBatch) {
      this.#flush();
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#flush(), this.#opts.maxWaitMs);
    }
  }

  #flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#pending.length === 0 || this.#running.size >= this.#concurrency) return;
    // Take whole jobs, oldest first, up to maxBatch items (at least one job).
    let items = 0;
    let n = 0;
    while (n < this.#pending.length && (n === 0 || items + this.#pending[n].size <= this.#opts.maxBatch)) items += this.#pending[n++].size;
    const batch = this.#pending.splice(0, n);
    for (const job of batch) job.release();
    this.#queued -= items;
    const running: Promise<void> = this.#runBatch(batch).finally(() => {
      this.#running.delete(running);
      if (this.#pending.length > 0) this.#schedule();
    });
    this.#running.add(running);
  }

  async #runBatch(batch: BatchJob<P, R>[]): Promise<void> {
    const groups = new Map<string, BatchJob<P, R>[]>();
    for (const job of batch) {
      const group = groups.get(job.key);
      if (group) group.push(job);
      else groups.set(job.key, [job]);
    }
    await Promise.all(
      [...groups].map(([key, jobs]) => {
        this.#opts.onBatch?.(
          jobs.reduce((s, j) => s + j.size, 0),
          jobs.length,
        );
        return this.#runGroup(key, jobs);
      }),
    );
  }

  async #runGroup(key: string, jobs: BatchJob<P, R>[]): Promise<void> {
    try {
      const results = await this.#opts.run(
        key,
        jobs.map((j) => j.params),
      );
      jobs.forEach((job, i) => job.resolve(results[i]));
    } catch (error) {
      if (jobs.length === 1 || this.#opts.shared?.(error)) {
        for (const job of jobs) job.reject(error);
        return;
      }
      // One bad job must not fail its neighbours: run each alone so the error lands where it belongs.
      await Promise.all(jobs.map((job) => this.#runGroup(key, [job])));
    }
  }
}
