/**
 * Who submits a batch job: one submitter at a time holds the job's lease, an
 * object `submitter` in the job's store that it renews while it runs. Two
 * submitters of one job (the same input and options, rerun while the first
 * still runs) tore its shared state down under each other; removing a job
 * whose submitter runs would fail that submitter.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ObjectStore } from '@nats-io/obj';
import { JobBERTError } from '../errors.js';
import { finishedWithin } from '../util/deadline.js';
import { processAlive } from '../util/process.js';
import { retry, sleep } from './nats.js';

/** A submitter's claim on its job. */
export interface Lease {
  pid: number;
  host: string;
  token: string;
  /** When it was last renewed (the holder's clock, ms). */
  at: number;
}

/** How often a submitter renews its lease, and when a lease not renewed is taken to be abandoned. */
const LEASE_RENEW_MS = 5_000;
const LEASE_STALE_MS = 20_000;
/** The longest release() waits on the broker. */
const RELEASE_MS = 2_000;

/** The lease in a `submitter` object's bytes, or null for none, or for bytes that are not a lease (cut short, or written by something else). */
function parseLease(raw: Uint8Array | null): Lease | null {
  if (!raw) return null;
  try {
    const l = JSON.parse(new TextDecoder().decode(raw)) as Lease;
    return l && typeof l === 'object' && typeof l.at === 'number' && typeof l.token === 'string' ? l : null;
  } catch {
    return null;
  }
}

/** The job's lease as its store holds it, or null (see parseLease). Async; ERR_NATS. */
export async function readLease(bucket: ObjectStore): Promise<Lease | null> {
  return parseLease(await retry('read the job lease', () => bucket.getBlob('submitter')));
}

/**
 * Is the lease held by a submitter that runs: renewed within LEASE_STALE_MS,
 * and, when its holder is a process on this host, that process still running
 * (a rerun after Ctrl-C goes ahead at once)?
 */
export function leaseLive(l: Lease): boolean {
  return Date.now() - l.at < LEASE_STALE_MS && (l.host !== hostname() || processAlive(l.pid));
}

/** Seconds since the lease was last renewed. */
export const leaseAge = (l: Lease) => Math.max(0, Math.round((Date.now() - l.at) / 1000));

/** A claimed lease: renew() while the job runs (a write at most every 5 s), release() once this submitter is done with it. */
export interface JobClaim {
  renew(): Promise<void>;
  /** Removes the lease if it is still this submitter's, so that a rerun in this process goes ahead at once. Never rejects. */
  release(): Promise<void>;
}

/**
 * Claims the job for this submitter, or rejects with JobBERTError ERR_BUSY
 * when another submitter holds it: one failed, hung or crashed, and the
 * broker's store could be left broken. Async.
 */
export async function claimJob(bucket: ObjectStore, job: string): Promise<JobClaim> {
  const mine: Lease = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex'), at: Date.now() };
  const write = () =>
    retry('renew the job lease', () => bucket.putBlob({ name: 'submitter' }, new TextEncoder().encode(JSON.stringify(mine))));
  const busy = (l: Lease) =>
    new JobBERTError(
      'ERR_BUSY',
      `job ${job} is being submitted by process ${l.pid} on ${l.host} (its lease renewed ${leaseAge(l)} s ago): wait for it to finish, or stop it; a rerun then resumes from the chunks already done`,
    );
  const held = await readLease(bucket);
  if (held && held.token !== mine.token && leaseLive(held)) throw busy(held);
  await write();
  // Two that claimed at once both wrote: the last write stands, and the other steps back.
  await sleep(250);
  const now = await readLease(bucket);
  if (now && now.token !== mine.token) throw busy(now);
  return {
    async renew() {
      if (Date.now() - mine.at < LEASE_RENEW_MS) return;
      mine.at = Date.now();
      await write();
    },
    async release() {
      // Not through retry(): after a failure the broker may be away, and the lease lapses on its own (LEASE_STALE_MS).
      const attempt = (async () => {
        if (parseLease(await bucket.getBlob('submitter'))?.token === mine.token) await bucket.delete('submitter');
      })().catch(() => {});
      await finishedWithin(attempt, RELEASE_MS);
    },
  };
}
