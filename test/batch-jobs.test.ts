/**
 * `jobbert batch list` and `jobbert batch remove` on a real nats-server: the
 * jobs a broker holds and their state, removing an abandoned one (also while a
 * worker holds one of its chunks), and refusing a running or unknown one.
 * Skips with a reason when nats-server is absent (under CI=true its absence fails).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../src/cli/index.js';
import { runBatch } from '../src/cluster/batch.js';
import type { JobSummary } from '../src/cluster/job-admin.js';
import { encodeRunner } from '../src/cluster/jobs.js';
import { connectCluster } from '../src/cluster/nats.js';
import { startWorker } from '../src/cluster/worker.js';
import type { Encoder } from '../src/encoders/encoder.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { natsSkip, startNats, type NatsServer } from './fixtures/nats.js';

const BIN = join(import.meta.dirname, '..', 'src', 'bin.ts');

/** `jobbert ARGS` in this process: status, stdout and stderr. */
async function run(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(
    args,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { status, out: out.join('\n'), err: err.join('\n') };
}

describe('batch list and batch remove', { skip: natsSkip(), timeout: 300_000 }, () => {
  let nats: NatsServer;
  let work: string;
  let encoder: LiteEncoder;
  before(async () => {
    nats = await startNats();
    work = await mkdtemp(join(tmpdir(), 'jobbert-jobs-'));
    encoder = await LiteEncoder.load();
  });
  after(async () => {
    await encoder?.dispose();
    await nats?.dispose();
    await rm(work, { recursive: true, force: true });
  });

  const list = async (): Promise<JobSummary[]> => {
    const r = await run('batch', 'list', '--nats', nats.url, '--json');
    assert.equal(r.status, 0, r.err);
    return (JSON.parse(r.out) as { jobs: JobSummary[] }).jobs;
  };

  test('an empty broker has no jobs', async () => {
    assert.deepEqual(await list(), []);
    const r = await run('batch', 'list', '--nats', nats.url);
    assert.equal(r.out, `no batch jobs on ${nats.url}`);
  });

  test('a store whose settings and lease are not JSON is listed, with what else is known, and removed', async () => {
    const c = await connectCluster(nats.url, 'test-garbled');
    try {
      const bucket = await c.objm.create('jobbert-job-garbled', {});
      await bucket.putBlob({ name: 'job' }, new TextEncoder().encode('{"task": "encode", "rows"'));
      await bucket.putBlob({ name: 'submitter' }, new TextEncoder().encode('{"pid": 1'));
    } finally {
      await c.close();
    }
    const [job] = await list();
    assert.deepEqual([job.job, job.task, job.rows, job.chunks, job.state], ['garbled', null, null, null, 'stopped']);
    const r = await run('batch', 'remove', '--nats', nats.url, '--job', 'garbled');
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(await list(), []);
  });

  test('a chunk whose result is stored but not yet taken off the queue counts as done, not also queued: done + queued never pass the chunks', async () => {
    // The state a worker leaves a chunk in between storing its result and acknowledging it (and a list that read the
    // queue before a worker finished a chunk saw the same): the list said 2/3 done and 3 queued.
    const { WORK_STREAM, ensureWorkStream } = await import('../src/cluster/nats.js');
    const { chunkObject, chunkSubject } = await import('../src/cluster/jobs.js');
    const c = await connectCluster(nats.url, 'test-mid-ack');
    try {
      await ensureWorkStream(c);
      const bucket = await c.objm.create('jobbert-job-midack', {});
      await bucket.putBlob({ name: 'job' }, new TextEncoder().encode(JSON.stringify({ task: 'encode', rows: 30, chunks: 3 })));
      for (const n of [0, 1, 2]) await c.js.publish(chunkSubject('0123456789abcdef', 'midack', n), '{}');
      for (const n of [0, 1]) await bucket.putBlob({ name: chunkObject(n) }, new TextEncoder().encode('[]'));
      const [job] = await list();
      assert.deepEqual([job.job, job.chunks, job.chunksDone, job.queued], ['midack', 3, 2, 1]);
      const r = await run('batch', 'list', '--nats', nats.url);
      assert.match(r.out, /^midack: encode, 30 rows, stopped: 2\/3 chunks done, 1 queued/);
      await c.jsm.streams.purge(WORK_STREAM, { filter: 'jobbert.work.*.midack.*' });
    } finally {
      await c.close();
    }
    assert.equal((await run('batch', 'remove', '--nats', nats.url, '--job', 'midack')).status, 0);
  });

  test('BAD CALL - remove without --job, with a bad name, or of an unknown job; list with --job', async () => {
    let r = await run('batch', 'remove', '--nats', nats.url);
    assert.equal(r.status, 2);
    assert.match(r.err, /batch remove needs --job NAME/);
    r = await run('batch', 'remove', '--nats', nats.url, '--job', 'no such/job');
    assert.equal(r.status, 2);
    assert.match(r.err, /--job must be 1 to 64 letters/);
    r = await run('batch', 'remove', '--nats', nats.url, '--job', 'nosuchjob');
    assert.equal(r.status, 1);
    assert.match(r.err, /ERR_NOT_FOUND: no batch job nosuchjob on the broker at nats:\/\//);
    r = await run('batch', 'list', '--nats', nats.url, '--job', 'x');
    assert.equal(r.status, 2);
    r = await run('batch', 'list');
    assert.equal(r.status, 2);
    assert.match(r.err, /batch list needs --nats URL/);
    const { removeJob } = await import('../src/cluster/job-admin.js');
    await assert.rejects(
      removeJob({ nats: nats.url, job: 7 as unknown as string }),
      (e: Error) => e instanceof TypeError && /job must be/.test(e.message),
    );
  });

  test('a job whose submitter was killed while a worker held a chunk: listed as running then stopped, with its chunks; removed (refused while its submitter ran), the worker drops the chunk and takes other jobs', async () => {
    const input = join(work, 'titles.txt');
    await writeFile(input, `${Array.from({ length: 40 }, (_, i) => `nurse ${i}`).join('\n')}\n`);
    // A worker that does two chunks, then holds the third until released.
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const gated: Encoder = {
      dim: encoder.dim,
      fingerprint: encoder.fingerprint,
      encode: async (texts, opts) => {
        if (++calls === 3) {
          holding();
          await gate;
        }
        return encoder.encode(texts, opts);
      },
      dispose: async () => {},
    };
    const logs: string[] = [];
    const worker = await startWorker({ nats: nats.url, runners: [encodeRunner(gated)], ackWaitMs: 2000, log: (line) => logs.push(line) });
    const submitter = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        BIN,
        'batch',
        'encode',
        '--nats',
        nats.url,
        '--input',
        input,
        '--output',
        join(work, 'out.jsonl'),
        '--chunk',
        '10',
        '--job',
        'held',
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => submitter.once('exit', resolve));
    try {
      await held;
      let jobs = await list();
      assert.equal(jobs.length, 1);
      const running = jobs[0];
      assert.equal(running.job, 'held');
      assert.equal(running.task, 'encode');
      assert.equal(running.rows, 40);
      assert.equal(running.chunks, 4);
      assert.equal(running.chunksDone, 2);
      assert.equal(running.chunksFailed, 0);
      assert.equal(running.queued, 2);
      assert.ok(running.bytes >= 2 * 10 * encoder.dim * 4, `${running.bytes} bytes stored`);
      assert.equal(running.state, 'running');
      assert.equal(running.submitter?.pid, submitter.pid);

      const busy = await run('batch', 'remove', '--nats', nats.url, '--job', 'held');
      assert.equal(busy.status, 1);
      assert.match(busy.err, new RegExp(`ERR_BUSY: job held is being submitted by process ${submitter.pid}`));

      submitter.kill('SIGKILL');
      await exited;
      jobs = await list();
      assert.equal(jobs[0].state, 'stopped');
      const text = await run('batch', 'list', '--nats', nats.url);
      assert.match(text.out, /^held: encode, 40 rows, stopped: 2\/4 chunks done, 2 queued, [\d.]+ KiB stored; submitter pid \d+/);

      const removed = await run('batch', 'remove', '--nats', nats.url, '--job', 'held', '--json');
      assert.equal(removed.status, 0, removed.err);
      const r = JSON.parse(removed.out) as { job: string; queued: number; results: number; bytes: number };
      assert.deepEqual([r.job, r.queued, r.results], ['held', 2, 2]);
      assert.ok(r.bytes >= 2 * 10 * encoder.dim * 4, `${r.bytes} bytes removed`);
      assert.deepEqual(await list(), []);
      const again = await run('batch', 'remove', '--nats', nats.url, '--job', 'held');
      assert.equal(again.status, 1);
      assert.match(again.err, /ERR_NOT_FOUND/);

      // The chunk the worker held is dropped: its store is not made again, and the worker goes on to other jobs.
      release();
      const other = join(work, 'other.txt');
      await writeFile(other, 'chef\nsales manager\n');
      const done = await runBatch({
        nats: nats.url,
        task: 'encode',
        input: other,
        output: join(work, 'other.jsonl'),
        fingerprint: encoder.fingerprint,
      });
      assert.equal(done.rows, 2);
      assert.equal((await readFile(join(work, 'other.jsonl'), 'utf8')).split('\n').filter(Boolean).length, 2);
      assert.ok(
        logs.some((l) => /job held chunk \d+: dropped, the job is gone/.test(l)),
        logs.join('\n'),
      );
      const c = await connectCluster(nats.url, 'jobbert-test-jobs');
      try {
        await assert.rejects(c.jsm.streams.info('OBJ_jobbert-job-held'), /not found/);
        const queue = await c.jsm.streams.info('JOBBERT_WORK', { subjects_filter: 'jobbert.work.*.held.*' });
        assert.deepEqual(Object.keys(queue.state.subjects ?? {}), []);
      } finally {
        await c.close();
      }
      assert.deepEqual(await list(), []);
    } finally {
      release();
      if (submitter.exitCode === null && submitter.signalCode === null) submitter.kill('SIGKILL');
      await worker.stop();
    }
  });
});
