/**
 * Scale-out on a real nats-server (one per test, on a free loopback port with
 * a temporary store): distributed batch jobs (workers killed, the submitter
 * killed, a poison chunk, a broker restart), index distribution with hot
 * swap, and sharded serving. Skips with a reason when nats-server is absent
 * (under CI=true its absence fails).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, symlinkSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { main } from '../src/cli/index.js';
import type { JobBERTError } from '../src/errors.js';
import { runBatch, type BatchProgress } from '../src/cluster/batch.js';
import { encodeRunner } from '../src/cluster/jobs.js';
import { startWorker } from '../src/cluster/worker.js';
import type { Encoder } from '../src/encoders/encoder.js';
import { JobBERT } from '../src/model/jobbert.js';
import { finishedWithin } from '../src/util/deadline.js';
import { makeTinyModel } from './fixtures/tiny-model.js';
import { natsSkip, startNats } from './fixtures/nats.js';
import { rng } from './reference.js';

/** `encoder`, with `before(texts)` awaited ahead of every encode: a delay, a gate, a refusal. */
function wrapped(encoder: Encoder, before: (texts: string[]) => unknown): Encoder {
  return {
    dim: encoder.dim,
    fingerprint: encoder.fingerprint,
    encode: async (texts, opts) => {
      await before(texts);
      return encoder.encode(texts, opts);
    },
    dispose: async () => {},
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker's log, and a promise that settles once it has taken `n` chunks. */
function takenChunks(n: number): { log: (line: string) => void; taken: Promise<void> } {
  let count = 0;
  let done!: () => void;
  const taken = new Promise<void>((resolve) => (done = resolve));
  return { log: (line) => void (/taking it/.test(line) && ++count === n && done()), taken };
}

const skip = natsSkip();
const BIN = join(import.meta.dirname, '..', 'src', 'bin.ts');
const WORDS = ['senior', 'java', 'developer', 'nurse', 'sales', 'manager', 'data', 'scientist', 'Entwickler', 'ingeniero', '软件', 'chef'];

/** n titles from a seeded generator: several languages, many duplicates (ties). */
function titles(n: number, seed: number): string[] {
  const next = rng(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + Math.floor(next() * 6) }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '),
  );
}

/** A CLI child process; `lines` collects stdout+stderr lines, `waitFor` resolves on the first match. */
function spawnCli(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  let buffer = '';
  const onData = (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) {
        const m = line.match(w.re);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => (clearTimeout(killer), r(code))));
  return {
    child,
    lines,
    exited,
    waitFor(re: RegExp): Promise<RegExpMatchArray> {
      const hit = lines.map((l) => l.match(re)).find(Boolean);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        child.once('exit', (code) => reject(new Error(`exited (${code}) before printing ${re}:\n${lines.slice(-20).join('\n')}`)));
      });
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
  };
}

describe('batch jobs over NATS', { skip, timeout: 600_000 }, () => {
  let work: string;
  let modelDir: string;
  let input: string;
  let expected: string;
  const N = 20_000;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jobbert-cluster-'));
    modelDir = (await makeTinyModel({ seed: 16 }, join(work, 'model'))).dir;
    const list = titles(N, 1601);
    input = join(work, 'titles.txt');
    await writeFile(input, `${list.join('\n')}\n`);
    // The single-process command's output is the reference.
    const lines: string[] = [];
    assert.equal(await main(['encode', '--model', modelDir, '--', ...list], (s) => lines.push(s)), 0);
    expected = `${lines.join('\n')}\n`;
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test(`${N} titles over 2 worker processes, one SIGKILLed mid-chunk and restarted: the output equals jobbert encode's, every row once`, async () => {
    await using nats = await startNats();
    const workerArgs = ['worker', '--nats', nats.url, '--model', modelDir, '--threads', '1', '--ack-wait-ms', '2000', '--tasks', 'encode'];
    const a = spawnCli(workerArgs);
    const b = spawnCli(workerArgs);
    const output = join(work, 'two-workers.jsonl');
    try {
      await Promise.all([a.waitFor(/connected/), b.waitFor(/connected/)]);
      const batch = spawnCli([
        'batch',
        'encode',
        '--nats',
        nats.url,
        '--input',
        input,
        '--output',
        output,
        '--model',
        modelDir,
        '--chunk',
        '500',
        '--json',
      ]);
      // Kill a worker while it holds a chunk (it logs the chunk when it takes it), then start it again.
      const [, killedChunk] = (await a.waitFor(/chunk (\d+): taking it/)) as RegExpMatchArray;
      await a.kill('SIGKILL');
      const again = spawnCli(workerArgs);
      try {
        assert.equal(await batch.exited, 0, batch.lines.join('\n'));
        const result = JSON.parse(batch.lines.find((l) => l.startsWith('{'))!);
        assert.equal(result.rows, N);
        assert.equal(result.failures.length, 0);
        const got = await readFile(output, 'utf8');
        assert.equal(got.split('\n').length - 1, N);
        assert.ok(got === expected, 'the batch output differs from jobbert encode');
        // The killed worker's chunk was delivered again to another worker.
        const redelivered = [...b.lines, ...again.lines].some((l) =>
          new RegExp(`chunk ${killedChunk}: taking it \\(delivery [2-9]`).test(l),
        );
        assert.ok(redelivered, `chunk ${killedChunk} was not redelivered`);
      } finally {
        await again.kill('SIGTERM');
      }
    } finally {
      a.child.kill('SIGKILL');
      await b.kill('SIGTERM');
    }
  });

  test('killing the submitter mid-job and running it again finishes the job without redoing finished chunks', async () => {
    await using nats = await startNats();
    const encoder = await JobBERT.load(modelDir, { threads: 1 });
    // A worker slow enough that the job is still running when the submitter dies.
    const slow = wrapped(encoder, () => sleep(150));
    const worker = await startWorker({ nats: nats.url, runners: [encodeRunner(slow)], ackWaitMs: 2000 });
    const output = join(work, 'resumed.jsonl');
    try {
      const args = [
        'batch',
        'encode',
        '--nats',
        nats.url,
        '--input',
        input,
        '--output',
        output,
        '--model',
        modelDir,
        '--chunk',
        '1000',
        '--json',
      ];
      const first = spawnCli(args);
      await first.waitFor(/chunks ([3-9]|1\d)\/20/);
      await first.kill('SIGKILL');
      const second = spawnCli(args);
      assert.equal(await second.exited, 0, second.lines.join('\n'));
      const result = JSON.parse(second.lines.find((l) => l.startsWith('{'))!);
      assert.ok(result.resumed >= 3, `resumed ${result.resumed} chunks`);
      assert.equal(result.chunks, 20);
      assert.ok((await readFile(output, 'utf8')) === expected, 'the resumed output differs from jobbert encode');
      // The killed submitter's temp output is gone too: the rerun removes the temp files of submitters that are gone.
      assert.deepEqual(
        (await readdir(work)).filter((f) => f.startsWith('resumed.jsonl.tmp-')),
        [],
      );
      // Every chunk was run exactly once across both submitter runs.
      assert.equal(worker.stats.chunks, 20);
      assert.equal(worker.stats.rows, N);
    } finally {
      await worker.stop();
      await encoder.dispose();
    }
  });

  test('rows appended to the input while the job runs fail the job, naming the input (they were dropped, exit 0)', async () => {
    await using nats = await startNats();
    const encoder = await JobBERT.load(modelDir, { threads: 1 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let asked!: () => void;
    const firstAsk = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const held = wrapped(encoder, () => {
      asked();
      return gate;
    });
    const file = join(work, 'growing.txt');
    await writeFile(file, `${titles(100, 8).join('\n')}\n`);
    const worker = await startWorker({ nats: nats.url, runners: [encodeRunner(held)] });
    try {
      const job = runBatch({
        nats: nats.url,
        task: 'encode',
        input: file,
        output: join(work, 'growing.jsonl'),
        fingerprint: encoder.fingerprint,
        chunkSize: 10,
      });
      job.catch(() => {});
      await firstAsk;
      await sleep(500); // every chunk submitted
      await appendFile(file, `${titles(5, 9).join('\n')}\n`);
      open();
      await assert.rejects(job, { code: 'ERR_IO', message: /growing\.txt: the input changed while the job ran/ });
    } finally {
      open();
      await worker.stop();
      await encoder.dispose();
    }
  });

  test('a chunk with a title the encoder cannot encode fails after its attempts; the job finishes and reports the chunk and the error', async () => {
    await using nats = await startNats();
    const encoder = await JobBERT.load(modelDir, { threads: 1 });
    const poisoned = wrapped(encoder, (texts) => {
      if (texts.includes('POISON')) throw new RangeError('encode: texts[7] cannot be encoded (POISON)');
    });
    const list = titles(3000, 7);
    list[1507] = 'POISON';
    const file = join(work, 'poison.txt');
    await writeFile(file, `${list.join('\n')}\n`);
    const worker = await startWorker({ nats: nats.url, runners: [encodeRunner(poisoned)], ackWaitMs: 1000, maxAttempts: 2 });
    try {
      const output = join(work, 'poison.jsonl');
      const job = { nats: nats.url, task: 'encode' as const, input: file, output, fingerprint: encoder.fingerprint, chunkSize: 500 };
      const result = await runBatch(job);
      assert.equal(result.failures.length, 1);
      const [f] = result.failures;
      assert.deepEqual(
        { chunk: f.chunk, firstRow: f.firstRow, rows: f.rows, code: f.code, deliveries: f.deliveries },
        {
          chunk: 3,
          firstRow: 1500,
          rows: 500,
          code: 'ERR_VALIDATION',
          deliveries: 2,
        },
      );
      assert.match(f.message, /POISON/);
      const lines = (await readFile(output, 'utf8')).trimEnd().split('\n');
      assert.equal(lines.length, 3000);
      assert.match(lines[1500], /"error":\{"code":"ERR_VALIDATION"/);
      assert.match(lines[1499], /^\[/);
      assert.match(lines[2000], /^\[/);
      assert.equal(worker.stats.failed, 1);
      // A rerun in this process goes ahead at once, retrying the failed chunk: the lease was released (ERR_BUSY for 20 s before).
      const again = await runBatch(job);
      assert.deepEqual([again.resumed, again.submitted, again.failures.map((x) => x.chunk)], [5, 1, [3]]);
    } finally {
      await worker.stop();
      await encoder.dispose();
    }
  });

  test('stopping a worker (SIGTERM in jobbert worker) finishes the chunks in hand and takes no other; the next worker completes the job', async () => {
    const encoder = await JobBERT.load(modelDir, { threads: 1 });
    const slow = wrapped(encoder, () => sleep(400));
    try {
      // One chunk in hand at a time (the default), and two.
      for (const concurrency of [1, 2]) {
        await using nats = await startNats();
        const inHand = takenChunks(concurrency);
        const first = await startWorker({
          nats: nats.url,
          runners: [encodeRunner(slow)],
          ackWaitMs: 2000,
          concurrency: concurrency === 1 ? undefined : concurrency,
          log: inHand.log,
        });
        let second: Awaited<ReturnType<typeof startWorker>> | null = null;
        try {
          const file = join(work, `graceful-${concurrency}.txt`);
          await writeFile(file, `${titles(2000, 11).join('\n')}\n`);
          const job = runBatch({
            nats: nats.url,
            task: 'encode',
            input: file,
            output: join(work, `graceful-${concurrency}.jsonl`),
            fingerprint: encoder.fingerprint,
            chunkSize: 500,
          });
          job.catch(() => {}); // awaited below; a failed assertion must not leave it unhandled
          await inHand.taken;
          await first.stop();
          assert.equal(first.stats.chunks, concurrency, 'the chunks in hand were not finished, or more were taken');
          second = await startWorker({ nats: nats.url, runners: [encodeRunner(slow)], ackWaitMs: 2000 });
          const result = await job;
          assert.equal(result.failures.length, 0);
          assert.equal(second.stats.chunks, 4 - concurrency);
          assert.equal((await readFile(join(work, `graceful-${concurrency}.jsonl`), 'utf8')).split('\n').length - 1, 2000);
        } finally {
          await first.stop();
          await second?.stop();
        }
      }
    } finally {
      await encoder.dispose();
    }
  });

  test('stop() hands back every chunk still running after shutdownTimeoutMs; another worker does them', { timeout: 60_000 }, async () => {
    await assert.rejects(
      startWorker({ nats: 'nats://127.0.0.1:1', runners: [encodeRunner({} as Encoder)], concurrency: 0 }),
      (e: unknown) => e instanceof RangeError && /concurrency/.test(e.message),
    );
    await using nats = await startNats();
    const encoder = await JobBERT.load(modelDir, { threads: 1 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stuck = wrapped(encoder, () => gate);
    const inHand = takenChunks(2);
    const first = await startWorker({
      nats: nats.url,
      runners: [encodeRunner(stuck)],
      ackWaitMs: 60_000, // longer than the test: only the hand-back makes the chunks return
      shutdownTimeoutMs: 200,
      concurrency: 2,
      log: inHand.log,
    });
    let second: Awaited<ReturnType<typeof startWorker>> | null = null;
    try {
      const file = join(work, 'handed-back.txt');
      await writeFile(file, `${titles(1500, 12).join('\n')}\n`);
      const job = runBatch({
        nats: nats.url,
        task: 'encode',
        input: file,
        output: join(work, 'handed-back.jsonl'),
        fingerprint: encoder.fingerprint,
        chunkSize: 500,
      });
      job.catch(() => {}); // awaited below
      await inHand.taken;
      await first.stop(); // never returns if it waits for the stuck chunks instead of handing them back
      assert.equal(first.stats.chunks, 0);
      // A second submitter of the same job is refused while the first runs: the last to finish deletes the job's store.
      await assert.rejects(
        runBatch({
          nats: nats.url,
          task: 'encode',
          input: file,
          output: join(work, 'handed-back-2.jsonl'),
          fingerprint: encoder.fingerprint,
          chunkSize: 500,
        }),
        { code: 'ERR_BUSY', message: /is being submitted by process \d+ on / },
      );
      second = await startWorker({ nats: nats.url, runners: [encodeRunner(encoder)], ackWaitMs: 2000 });
      const result = await job;
      assert.equal(result.failures.length, 0);
      assert.equal(second.stats.chunks, 3, 'the two chunks handed back and the third were done by the second worker');
    } finally {
      release(); // the abandoned runs end, and store nothing
      await first.stop();
      await second?.stop();
      await encoder.dispose();
    }
  });

  test("a queue made by a worker with a short ack wait is raised to a later worker's longer one", async () => {
    const { connectCluster, WORK_STREAM } = await import('../src/cluster/nats.js');
    const { routeOf } = await import('../src/cluster/jobs.js');
    await using nats = await startNats();
    const encoder = await JobBERT.load(modelDir, { threads: 1 });
    const c = await connectCluster(nats.url, 'test');
    const name = `jobbert-encode-${routeOf('encode', encoder.fingerprint)}`;
    /** The queue's ack wait in ms once `want` holds, or after 10 s. */
    const ackWait = async (want: (ms: number | null) => boolean) => {
      let ms: number | null = null;
      for (let i = 0; i < 100 && !want(ms); i++, await sleep(100)) {
        const info = await c.jsm.consumers.info(WORK_STREAM, name).catch(() => null);
        ms = info ? (info.config.ack_wait ?? 0) / 1e6 : null;
      }
      return ms;
    };
    try {
      const first = await startWorker({ nats: nats.url, runners: [encodeRunner(encoder)], ackWaitMs: 1000 });
      assert.equal(await ackWait((ms) => ms !== null), 1000);
      await first.stop();
      const second = await startWorker({ nats: nats.url, runners: [encodeRunner(encoder)], ackWaitMs: 5000 });
      assert.equal(await ackWait((ms) => ms === 5000), 5000, 'a chunk that keeps its worker busy past 1 s would be redelivered');
      await second.stop();
      await assert.rejects(
        startWorker({ nats: nats.url, runners: [encodeRunner(encoder)], ackWaitMs: 500 }),
        /ackWaitMs must be an integer in \[1000,/,
      );
    } finally {
      await c.close();
      await encoder.dispose();
    }
  });

  test('batch normalize over 2 workers writes what jobbert normalize writes, ids included', async () => {
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    const { Normalizer } = await import('../src/normalize/normalizer.js');
    const { normalizeFingerprint, normalizeRunner } = await import('../src/cluster/normalize-task.js');
    const file = join(work, 'normalize.jsonl');
    const list = titles(3000, 23);
    list[5] = '';
    list[6] = '!!!';
    await writeFile(file, `${list.map((title, i) => JSON.stringify(i % 3 ? { id: `v${i}`, title } : { title })).join('\n')}\n`);
    // What the single-process command writes for `input`, at `output`.
    const single = async (input: string, output: string, ...more: string[]) =>
      assert.equal(
        await main(
          ['normalize', '--input', input, '--output', output, '--k', '3', ...more],
          () => {},
          () => {},
        ),
        0,
      );
    const reference = join(work, 'normalize-reference.jsonl');
    await single(file, reference);
    await using nats = await startNats();
    const encoder = await LiteEncoder.load();
    const normalizer = await Normalizer.load({ encoder });
    const fingerprint = await normalizeFingerprint(encoder.fingerprint);
    // The threshold is a job's option, not part of the workers' setup.
    await assert.rejects(
      normalizeFingerprint(encoder.fingerprint, { threshold: 0.5 } as object),
      (e: Error) => e instanceof TypeError && /threshold is not part of a setup/.test(e.message),
    );
    const workers = [
      await startWorker({ nats: nats.url, runners: [normalizeRunner(normalizer, fingerprint)] }),
      await startWorker({ nats: nats.url, runners: [normalizeRunner(normalizer, fingerprint)] }),
    ];
    try {
      const output = join(work, 'normalize-batch.jsonl');
      // The job over `input` into `out`, in chunks of 250 rows.
      const batch = (input: string, out: string, options: Record<string, unknown> = { k: 3 }) =>
        runBatch({ nats: nats.url, task: 'normalize', input, output: out, fingerprint, options, chunkSize: 250 });
      const result = await batch(file, output);
      assert.equal(result.failures.length, 0);
      assert.equal(result.rows, 3000);
      const got = await readFile(output, 'utf8');
      assert.ok(got === (await readFile(reference, 'utf8')), 'the batch output differs from jobbert normalize');
      assert.ok(workers[0].stats.chunks > 0 && workers[1].stats.chunks > 0, 'one worker did all the work');
      assert.equal(workers[0].stats.chunks + workers[1].stats.chunks, 12);
      // The same job to a .gz name: the output is gzip-compressed.
      const gz = join(work, 'normalize-batch.jsonl.gz');
      const again = await batch(file, gz);
      assert.equal(again.failures.length, 0);
      assert.ok(gunzipSync(await readFile(gz)).toString('utf8') === got, 'the .gz output does not gunzip to the plain output');
      // Through a symbolic link: the file it names is written and the link kept (it was replaced by a plain file).
      const target = join(work, 'normalize-linked.jsonl');
      const link = join(work, 'normalize-link.jsonl');
      symlinkSync(target, link);
      assert.equal((await batch(file, link)).failures.length, 0);
      assert.ok(lstatSync(link).isSymbolicLink());
      assert.ok((await readFile(target, 'utf8')) === got, 'the linked output differs');
      // A plain list of titles (.txt, an empty line among them): the same bytes as jobbert normalize on it.
      const txt = join(work, 'normalize.txt');
      await writeFile(txt, `${list.slice(0, 600).join('\n')}\n`);
      const txtReference = join(work, 'normalize-txt-reference.jsonl');
      await single(txt, txtReference);
      const txtOut = join(work, 'normalize-txt-batch.jsonl');
      const fromTxt = await batch(txt, txtOut);
      assert.equal(fromTxt.rows, 600);
      assert.ok(
        (await readFile(txtOut, 'utf8')) === (await readFile(txtReference, 'utf8')),
        'the .txt batch output differs from jobbert normalize',
      );
      // A job with its own threshold, served by the same workers: what jobbert normalize --threshold writes.
      const lowReference = join(work, 'normalize-low-reference.jsonl');
      await single(file, lowReference, '--threshold', '0.2');
      const low = await readFile(lowReference, 'utf8');
      assert.ok(low !== got, 'the threshold changes no answer: the check below could not fail');
      const lowOut = join(work, 'normalize-low-batch.jsonl');
      assert.equal((await batch(file, lowOut, { k: 3, threshold: 0.2 })).failures.length, 0);
      assert.ok(
        (await readFile(lowOut, 'utf8')) === low,
        'the batch output at threshold 0.2 differs from jobbert normalize --threshold 0.2',
      );
      // The CLI with --input a FIFO (as `<(…)` gives): read once, copied first — it read the rows to count them,
      // then found the pipe empty and waited forever. The same bytes as from the file.
      const fifo = join(work, 'normalize.fifo');
      execFileSync('mkfifo', [fifo]);
      const writer = spawn('sh', ['-c', `cat '${file}' > '${fifo}'`]);
      const written = new Promise((resolve) => writer.on('close', resolve));
      const fifoOut = join(work, 'normalize-fifo-batch.jsonl');
      const code = await main(
        ['batch', 'normalize', '--nats', nats.url, '--input', fifo, '--output', fifoOut, '--k', '3', '--chunk', '250'],
        () => {},
        () => {},
      );
      await written;
      assert.equal(code, 0);
      assert.ok((await readFile(fifoOut, 'utf8')) === got, 'the batch output from a FIFO differs');
      // A gzip'd CSV as Excel and pandas write it (a sep= line, quoted header names) through a FIFO without an
      // extension: named by what it holds, not read as a list of titles. The broker list's first server is down.
      const csv = join(work, 'normalize-semi.csv');
      await writeFile(
        csv,
        `sep=;\n"id";"title"\n${list
          .slice(0, 500)
          .map((t, i) => `r${i};"${t.replaceAll('"', '""')}"`)
          .join('\n')}\n`,
      );
      const csvReference = join(work, 'normalize-semi-reference.jsonl');
      await single(csv, csvReference);
      const gzFifo = join(work, 'semi.fifo');
      execFileSync('mkfifo', [gzFifo]);
      const gzWriter = spawn('sh', ['-c', `gzip -c '${csv}' > '${gzFifo}'`]);
      const gzWritten = new Promise((resolve) => gzWriter.on('close', resolve));
      const semiOut = join(work, 'normalize-semi-batch.jsonl');
      const semi = await main(
        ['batch', 'normalize', '--nats', `nats://127.0.0.1:1,${nats.url}`, '--input', gzFifo, '--output', semiOut, '--k', '3'],
        () => {},
        () => {},
      );
      await gzWritten;
      assert.equal(semi, 0);
      assert.ok((await readFile(semiOut, 'utf8')) === (await readFile(csvReference, 'utf8')), 'the gzip CSV FIFO batch output differs');
    } finally {
      for (const w of workers) await w.stop();
      await normalizer.dispose();
      await encoder.dispose();
    }
  });

  test('batch normalize --fast: a worker with the fast search writes what jobbert normalize --fast writes; a fast setup has its own fingerprint', async () => {
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    const { Normalizer } = await import('../src/normalize/normalizer.js');
    const { normalizeFingerprint, normalizeRunner } = await import('../src/cluster/normalize-task.js');
    const file = join(work, 'normalize-fast.jsonl');
    await writeFile(
      file,
      `${titles(600, 29)
        .map((title, i) => JSON.stringify({ id: `f${i}`, title }))
        .join('\n')}\n`,
    );
    const reference = join(work, 'normalize-fast-reference.jsonl');
    assert.equal(
      await main(
        ['normalize', '--input', file, '--output', reference, '--k', '3', '--fast'],
        () => {},
        () => {},
      ),
      0,
    );
    await using nats = await startNats();
    const encoder = await LiteEncoder.load();
    const fast = await Normalizer.load({ encoder, search: 'fast' });
    const fingerprint = await normalizeFingerprint(encoder.fingerprint, { search: 'fast' });
    assert.notEqual(fingerprint, await normalizeFingerprint(encoder.fingerprint), 'a fast setup is another setup');
    assert.equal(await normalizeFingerprint(encoder.fingerprint, { search: 'exact' }), await normalizeFingerprint(encoder.fingerprint));
    await assert.rejects(normalizeFingerprint(encoder.fingerprint, { search: 'quick' as never }), RangeError);
    const worker = await startWorker({ nats: nats.url, runners: [normalizeRunner(fast, fingerprint)] });
    try {
      const output = join(work, 'normalize-fast-batch.jsonl');
      const result = await runBatch({
        nats: nats.url,
        task: 'normalize',
        input: file,
        output,
        fingerprint,
        options: { k: 3 },
        chunkSize: 200,
      });
      assert.equal(result.failures.length, 0);
      assert.ok(
        (await readFile(output, 'utf8')) === (await readFile(reference, 'utf8')),
        'the batch output differs from jobbert normalize --fast',
      );
      assert.equal(worker.stats.chunks, 3);
    } finally {
      await worker.stop();
      await fast.dispose();
      await encoder.dispose();
    }
  });

  test('a NATS server restart during a batch: the job completes once the server is back', async () => {
    await using nats = await startNats();
    const encoder = await JobBERT.load(modelDir, { threads: 1 });
    const slow = wrapped(encoder, () => sleep(100));
    const worker = await startWorker({ nats: nats.url, runners: [encodeRunner(slow)], ackWaitMs: 2000 });
    try {
      const output = join(work, 'restart.jsonl');
      let restarted: Promise<void> | null = null;
      const onProgress = (p: BatchProgress) => {
        if (!restarted && p.chunksDone >= 3) restarted = nats.restart(1000);
      };
      const result = await runBatch({
        nats: nats.url,
        task: 'encode',
        input,
        output,
        fingerprint: encoder.fingerprint,
        chunkSize: 1000,
        pollMs: 100,
        onProgress,
      });
      assert.ok(restarted, 'the server was not restarted during the job');
      await restarted;
      assert.equal(result.failures.length, 0);
      assert.ok((await readFile(output, 'utf8')) === expected, 'the output differs from jobbert encode');
    } finally {
      await worker.stop();
      await encoder.dispose();
    }
  });
});

/** Entries with duplicated texts (score ties) in two languages. */
function entries(n: number, seed: number, prefix: string): { id: string; text: string; lang: string }[] {
  const list = titles(Math.ceil(n / 3), seed);
  const next = rng(seed + 1);
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    text: list[Math.floor(next() * list.length)],
    lang: next() < 0.5 ? 'en' : 'de',
  }));
}

interface Answer {
  results: { id: string; text: string; score: number }[][];
  error: { code: string; message: string };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Answer }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Answer };
}

/** Requests /v1/match on each url in a loop until stop(); counts answers and failures. */
function requestLoop(urls: string[], queries: string[], clients = 2) {
  let stopped = false;
  const stats = { ok: 0, failed: 0, errors: [] as string[], ids: new Set<string>() };
  const loops = urls.flatMap((url) =>
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; !stopped; i++) {
        try {
          const r = await post(`${url}/v1/match`, { queries: [queries[i % queries.length]], k: 3 });
          if (r.status === 200) {
            stats.ok++;
            for (const hit of r.json.results[0]) stats.ids.add(hit.id.split('-')[0]);
          } else {
            stats.failed++;
            stats.errors.push(`${r.status} ${JSON.stringify(r.json)}`);
          }
        } catch (e) {
          stats.failed++;
          stats.errors.push(String(e));
        }
      }
    }),
  );
  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return stats;
    },
  };
}

describe('index distribution and sharded serving over NATS', { skip }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jobbert-cluster-serve-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /**
   * The shard tests' setup: `list` as an index built with the built-in model,
   * saved as NAME.jbi, and a fresh nats-server. dispose() ends all three.
   */
  async function indexOnNats(list: { id: string; text: string; lang: string }[], name: string) {
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    const { MatchIndex } = await import('../src/match/match-index.js');
    const encoder = await LiteEncoder.load();
    const whole = await MatchIndex.build(encoder, list);
    const file = join(work, `${name}.jbi`);
    await whole.save(file);
    const nats = await startNats();
    return {
      encoder,
      whole,
      file,
      nats,
      async dispose() {
        await whole.dispose();
        await encoder.dispose();
        await nats.dispose();
      },
    };
  }

  test('publish → two replicas serve it; a new version published under a request loop: both switch within 5 s, no request fails', async () => {
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    const { MatchIndex } = await import('../src/match/match-index.js');
    const encoder = await LiteEncoder.load();
    const v1 = join(work, 'v1.jbi');
    const v2 = join(work, 'v2.jbi');
    for (const [file, prefix] of [
      [v1, 'one-'],
      [v2, 'two-'],
    ]) {
      const index = await MatchIndex.build(encoder, entries(1500, prefix.length + file.length, prefix));
      await index.save(file);
      await index.dispose();
    }
    await encoder.dispose();
    await using nats = await startNats();
    const replicas: ReturnType<typeof spawnCli>[] = [];
    try {
      const published: string[] = [];
      const publish = async (file: string) => {
        const lines: string[] = [];
        assert.equal(await main(['index', 'publish', file, '--nats', nats.url, '--name', 'titles', '--json'], (s) => lines.push(s)), 0);
        return JSON.parse(lines[0]).version as string;
      };
      published.push(await publish(v1));
      for (let i = 0; i < 2; i++) replicas.push(spawnCli(['serve', '--nats', nats.url, '--index-name', 'titles', '--port', '0', '--json']));
      const urls = (await Promise.all(replicas.map((r) => r.waitFor(/^\{.*"url"/)))).map((m) => JSON.parse(m.input!).url as string);
      for (const url of urls) assert.equal((await (await fetch(`${url}/healthz`)).json()).indexVersion, published[0]);
      const loop = requestLoop(urls, titles(50, 3));
      await new Promise((r) => setTimeout(r, 300));
      published.push(await publish(v2));
      const switched = await Promise.all(
        urls.map(async (url) => {
          const t0 = performance.now();
          while (performance.now() - t0 < 5000) {
            if ((await (await fetch(`${url}/healthz`)).json()).indexVersion === published[1]) return true;
            await new Promise((r) => setTimeout(r, 50));
          }
          return false;
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      const stats = await loop.stop();
      assert.deepEqual(switched, [true, true], 'a replica did not switch to the new version within 5 s');
      assert.equal(stats.failed, 0, stats.errors.slice(0, 3).join('\n'));
      assert.ok(stats.ok > 20, `only ${stats.ok} requests`);
      assert.deepEqual([...stats.ids].sort(), ['one', 'two']);
      const metrics = await (await fetch(`${urls[0]}/metrics`)).text();
      assert.match(metrics, new RegExp(`jobbert_index_info\\{version="${published[1]}"\\} 1`));
    } finally {
      await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
    }
  });

  test('a shard reply too large for one message is asked for in halves (it crashed every replica); a shard of another layout is never merged', async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { ShardRouter } = await import('../src/cluster/shard-router.js');
    const { publishIndex } = await import('../src/cluster/index-store.js');
    // 1,200 entries of ~2,000 characters: one query's 300 best from a shard are ~600 KB, its 1,200 best over 1 MB.
    const long = entries(1200, 41, 'L').map((e, i) => ({ ...e, text: `${e.text} ${'x'.repeat(1900 + (i % 50))}` }));
    const { whole, file, nats, dispose } = await indexOnNats(long, 'long');
    const shards: { close(): Promise<void> }[] = [];
    let router: Awaited<ReturnType<typeof ShardRouter.open>> | null = null;
    try {
      await publishIndex({ nats: nats.url, file, name: 'long', shards: 2 });
      for (const s of [0, 1]) shards.push(await serveShard({ nats: nats.url, name: 'long', shard: s }));
      router = await ShardRouter.open({ nats: nats.url, name: 'long' });
      const queries = titles(4, 8);
      assert.deepEqual(await router.search(queries, { k: 300 }), await whole.search(queries, { k: 300 }));
      await assert.rejects(router.search(['nurse'], { k: 1200 }), {
        name: 'RangeError',
        message: /do not fit in a NATS message.*smaller k/,
      });
      // The shards are still there.
      assert.deepEqual(await router.search(['nurse'], { k: 5 }), await whole.search(['nurse'], { k: 5 }));
      await router.dispose();
      router = null;
      // Published again in 3 shards while the 2-shard processes still run: a router of the new layout refuses
      // their answers (merged, the entries of the third shard would be missing from a 200).
      await publishIndex({ nats: nats.url, file, name: 'long', shards: 3 });
      shards.push(await serveShard({ nats: nats.url, name: 'long', shard: 2 }));
      router = await ShardRouter.open({ nats: nats.url, name: 'long', deadlineMs: 1500 });
      await assert.rejects(router.search(['nurse'], { k: 5 }), {
        code: 'ERR_SHARD_UNAVAILABLE',
        message: /serves a 2-shard layout .* but the router reads 3 shards/,
      });
    } finally {
      await router?.dispose();
      for (const s of shards) await s.close();
      await dispose();
    }
  });

  test('a replica removes the download folders of replicas killed on this host while they loaded, and leaves none of its own', async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { publishIndex } = await import('../src/cluster/index-store.js');
    const { file, nats, dispose } = await indexOnNats(entries(300, 43, 'T'), 'temp');
    // A pid that ran and has ended, as a SIGKILLed replica's.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.on('exit', resolve));
    const folder = (host: string, pid: number) => join(tmpdir(), `jobbert-replica-${host}.${pid}-t${pid % 100000}`);
    const left = folder(hostname(), dead.pid!);
    const live = folder(hostname(), process.pid); // this process: a load in progress
    const elsewhere = folder('another-host', dead.pid!); // another machine's, on a shared /tmp
    for (const dir of [left, live, elsewhere]) {
      await mkdir(dir);
      await writeFile(join(dir, 'index'), Buffer.alloc(1 << 20));
    }
    const shards: { close(): Promise<void> }[] = [];
    try {
      await publishIndex({ nats: nats.url, file, name: 'temp', shards: 2 });
      shards.push(await serveShard({ nats: nats.url, name: 'temp', shard: 0 }));
      assert.equal(existsSync(left), false, "the killed replica's folder is removed");
      assert.equal(existsSync(live), true);
      assert.equal(existsSync(elsewhere), true);
      const mine = (await readdir(tmpdir())).filter((n) => n.startsWith(`jobbert-replica-${hostname()}.${process.pid}-`));
      assert.deepEqual(mine, [basename(live)], 'the load leaves no folder behind');
    } finally {
      for (const s of shards) await s.close();
      for (const dir of [left, live, elsewhere]) await rm(dir, { recursive: true, force: true });
      await dispose();
    }
  });

  test('a published version that cannot be loaded is tried again at growing intervals and reported once (it was downloaded and logged at every poll); the next good one is served', async () => {
    const { publishIndex, watchIndex } = await import('../src/cluster/index-store.js');
    const { connectCluster, objectStore, INDEX_BUCKET } = await import('../src/cluster/nats.js');
    const { MatchIndex } = await import('../src/match/match-index.js');
    const { file, nats, dispose } = await indexOnNats(entries(100, 45, 'W'), 'watched');
    const lines: string[] = [];
    let loads = 0;
    try {
      const first = await publishIndex({ nats: nats.url, file, name: 'watched' });
      const watched = await watchIndex({
        nats: nats.url,
        name: 'watched',
        pollMs: 50,
        log: (line) => lines.push(line),
        load: async (path) => {
          loads++;
          return { index: await MatchIndex.load(path) };
        },
      });
      try {
        assert.equal(watched.index.version, first.version);
        await using c = await connectCluster(nats.url, 'test');
        await (await objectStore(c, INDEX_BUCKET)).putBlob({ name: 'watched' }, Buffer.from('not an index'));
        await sleep(1600); // 32 polls
        const failures = lines.filter((l) => l.includes('cannot load the new version'));
        assert.equal(failures.length, 1, lines.join('\n'));
        // Named by its object, not by the download's temporary path (which made each try's message differ).
        assert.match(failures[0], new RegExp(`still serving ${first.version}.*: MatchIndex.load: watched is not a valid jobbert index`));
        // Tries at about 0, 0.1, 0.3, 0.7 and 1.5 s (a slow machine makes fewer); at every poll that was ~30.
        assert.ok(loads - 1 <= 6, `the damaged version was loaded ${loads - 1} times in 1.6 s`);
        assert.equal(watched.index.version, first.version);
        const next = await publishIndex({ nats: nats.url, file, name: 'watched' });
        for (let t = 0; t < 200 && watched.index.version !== next.version; t++) await sleep(50);
        assert.equal(watched.index.version, next.version, lines.join('\n'));
      } finally {
        await watched.close();
      }
    } finally {
      await dispose();
    }
  });

  test('a damaged shard object is refused as ERR_CORRUPT, saying what is wrong, and leaves no folder behind', async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { publishIndex, shardObject } = await import('../src/cluster/index-store.js');
    const { connectCluster, objectStore, INDEX_BUCKET } = await import('../src/cluster/nats.js');
    const { file, nats, dispose } = await indexOnNats(entries(100, 44, 'D'), 'damaged');
    const c = await connectCluster(nats.url, 'test');
    try {
      await publishIndex({ nats: nats.url, file, name: 'damaged', shards: 2 });
      const store = await objectStore(c, INDEX_BUCKET);
      const head = (tableBytes: number) => {
        const b = Buffer.alloc(16);
        b.write('JBSHARD\0', 'latin1');
        b.writeUInt32LE(tableBytes, 8);
        b.writeUInt32LE(2, 12);
        return b;
      };
      const cases: [Buffer, RegExp][] = [
        [Buffer.from('not a shard at all'), /no shard header/],
        [Buffer.concat([head(1000), Buffer.from('{}')]), /table \(1000 bytes\) runs past its end/],
        [Buffer.concat([head(5), Buffer.from('{"ids"')]), /table is not JSON/],
        [Buffer.concat([head(13), Buffer.from('{"ids":[1,2]}')]), /no ids and positions of one length/],
      ];
      for (const [bytes, message] of cases) {
        await store.putBlob({ name: shardObject('damaged', 1, 2) }, bytes);
        await assert.rejects(serveShard({ nats: nats.url, name: 'damaged', shard: 1 }), { code: 'ERR_CORRUPT', message });
      }
      const mine = (await readdir(tmpdir())).filter((n) => n.startsWith(`jobbert-replica-${hostname()}.${process.pid}-`));
      assert.deepEqual(mine, []);
    } finally {
      await c.close();
      await dispose();
    }
  });

  test('a shard no replica of which answers: /healthz says so, concurrent requests fail together; a hung replica beside a healthy one fails nothing; back, it is used again', async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { ShardRouter } = await import('../src/cluster/shard-router.js');
    const { publishIndex } = await import('../src/cluster/index-store.js');
    const { createServer } = await import('../src/serve/server.js');
    const { connect } = await import('@nats-io/transport-node');
    const { whole, file, nats, dispose } = await indexOnNats(entries(600, 13, 'h'), 'hung');
    const shards: { close(): Promise<void> }[] = [];
    const nc = await connect({ servers: nats.url });
    const routers: Awaited<ReturnType<typeof ShardRouter.open>>[] = [];
    const servers: ReturnType<typeof createServer>[] = [];
    const serve = async (deadlineMs: number) => {
      const router = await ShardRouter.open({ nats: nats.url, name: 'hung', deadlineMs, attemptMs: 300, pingMs: 200 });
      routers.push(router);
      const server = createServer({ index: router, encoder: router.encoder, port: 0 });
      servers.push(server);
      return (await server.listen()).url;
    };
    const health = async (url: string) => {
      const r = await fetch(`${url}/healthz`);
      return { status: r.status, body: (await r.json()) as { status: string; problem: string | null } };
    };
    /** /healthz once `want` holds of it (bounded: it fails, rather than hangs, when it never does). */
    const until = async (url: string, want: (h: Awaited<ReturnType<typeof health>>) => boolean) => {
      for (let i = 0; i < 100; i++) {
        const h = await health(url);
        if (want(h)) return h;
        await sleep(100);
      }
      return health(url);
    };
    try {
      await publishIndex({ nats: nats.url, file, name: 'hung', shards: 2 });
      shards.push(await serveShard({ nats: nats.url, name: 'hung', shard: 1 }));
      // Shard 0 hangs: a replica that takes its searches and pings and never answers.
      for (const subject of ['jobbert.shard.hung.0', 'jobbert.shard-ping.hung.0'])
        nc.subscribe(subject, subject.includes('ping') ? {} : { queue: 'jobbert-shard-hung-0' });
      await nc.flush();
      const url = await serve(1500);
      // Found by the router's pings, before any search: a load balancer can take it out of rotation.
      const down = await until(url, (h) => /shard 0/.test(h.body.problem ?? ''));
      assert.deepEqual([down.status, down.body.status], [503, 'unavailable']);
      assert.match(down.body.problem!, /shard 0 of 2 of index hung is unavailable: no replica answered a ping within 300 ms/);
      // Concurrent searches fail together at the deadline, naming it (a batch is not run again request by request).
      const answers = await Promise.all(
        ['nurse', 'chef', 'data scientist', 'sales manager'].map((q, i) =>
          post(`${url}/v1/match`, { queries: [q], k: 3, lang: i % 2 ? 'de' : undefined }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => [a.status, a.json.error.code]),
        Array(4).fill([503, 'ERR_SHARD_UNAVAILABLE']),
      );
      for (const a of answers) assert.match(a.json.error.message, /shard 0 of 2/);

      // A healthy replica beside the hung one: the shard is up (pings reach every replica; it was marked down
      // whenever the hung one drew a ping, and searches then failed), and searches retry until one answers.
      shards.push(await serveShard({ nats: nats.url, name: 'hung', shard: 0 }));
      const patient = await serve(60_000);
      for (const u of [url, patient]) {
        const up = await until(u, (h) => h.status === 200);
        assert.deepEqual([up.status, up.body.status, up.body.problem], [200, 'ok', null]);
      }
      for (let i = 0; i < 8; i++) {
        const queries = [`nurse ${i}`, 'chef'];
        const r = await post(`${patient}/v1/match`, { queries, k: 5 });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(r.json.results, await whole.search(queries, { k: 5 }));
        assert.equal((await health(patient)).status, 200);
      }

      // A replica that answers pings but hangs on searches (its event loop is free, its search is not): a search
      // it draws is sent again to another replica after attemptMs, and later searches pass it over. Through the
      // queue group, whose draws are random, a search with a 1.5 s deadline failed when all five of its draws
      // (every 300 ms) went to one of the two hung replicas: (2/3)^5, 13% of searches.
      const stuck = { searches: 0, pings: new Map<string, number>() };
      const id = 'f00dfeedf00dfeed';
      const stuckPings = nc.subscribe('jobbert.shard-ping.hung.0', {
        callback: (_e, m) => {
          const router = m.reply!.split('.').slice(0, 2).join('.'); // the inbox of one router's connection
          stuck.pings.set(router, (stuck.pings.get(router) ?? 0) + 1);
          m.respond(JSON.stringify({ shard: 0, replica: id, shards: 2, version: routers[0].version, fingerprint: routers[0].fingerprint }));
        },
      });
      for (const [subject, queue] of [
        [`jobbert.shard-replica.hung.0.${id}`, undefined],
        ['jobbert.shard.hung.0', 'jobbert-shard-hung-0'],
      ] as const)
        nc.subscribe(subject, {
          queue,
          callback: () => {
            stuck.searches++;
          },
        });
      await nc.flush();
      // Two pings from each router: each has finished a round of pings that it answered, so it is a replica to ask.
      const known = () => stuck.pings.size === routers.length && [...stuck.pings.values()].every((n) => n >= 2);
      for (let i = 0; i < 100 && !known(); i++) await sleep(50);
      assert.ok(known(), `the routers do not ping the stuck replica: ${JSON.stringify([...stuck.pings])}`);
      for (let i = 0; i < 20; i++) {
        const queries = [`chef ${i}`];
        const r = await post(`${url}/v1/match`, { queries, k: 3 });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(r.json.results, await whole.search(queries, { k: 3 }));
      }
      assert.ok(stuck.searches >= 1 && stuck.searches <= 3, `the stuck replica was asked ${stuck.searches} times in 20 searches`);
      stuckPings.unsubscribe();
    } finally {
      for (const server of servers) await server.close();
      for (const router of routers) await router.dispose();
      for (const s of shards) await s.close();
      await nc.close();
      await dispose();
    }
  });

  test('a shard slower than attemptMs answers every search, each asked of it about once (every 50 ms it was sent a copy: 23 a search, and under load all failed)', async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { ShardRouter } = await import('../src/cluster/shard-router.js');
    const { publishIndex } = await import('../src/cluster/index-store.js');
    const { MatchIndex } = await import('../src/match/match-index.js');
    const { whole, file, nats, dispose } = await indexOnNats(entries(400, 17, 's'), 'slow');
    let searches = 0;
    const shards: { close(): Promise<void> }[] = [];
    let router: Awaited<ReturnType<typeof ShardRouter.open>> | null = null;
    try {
      await publishIndex({ nats: nats.url, file, name: 'slow', shards: 1 });
      // Its one replica takes 300 ms a search; the router gives a shard 50 ms before it asks again.
      const load = async (path: string) => {
        const index = await MatchIndex.load(path);
        const search = index.searchVectors.bind(index);
        index.searchVectors = async (...args) => {
          searches++;
          await sleep(300);
          return search(...args);
        };
        return { index };
      };
      shards.push(await serveShard({ nats: nats.url, name: 'slow', shard: 0, load }));
      router = await ShardRouter.open({ nats: nats.url, name: 'slow', deadlineMs: 10_000, attemptMs: 50, pingMs: 200 });
      for (let i = 0; i < 100 && router.problem() !== null; i++) await sleep(50);
      const queries = ['nurse', 'chef', 'data scientist', 'sales manager'];
      for (let round = 0; round < 2; round++) {
        const answers = await Promise.all(queries.map((q) => router!.search([`${q} ${round}`], { k: 3 })));
        for (const [i, q] of queries.entries()) assert.deepEqual(answers[i], await whole.search([`${q} ${round}`], { k: 3 }));
      }
      assert.ok(searches <= 3 * 2 * queries.length, `the shard ran ${searches} searches for ${2 * queries.length}`);
    } finally {
      await router?.dispose();
      for (const s of shards) await s.close();
      await dispose();
    }
  });

  test('published again with another encoder of the same dimension: the router refuses the shards (503 naming it; /healthz says so) rather than merge scores of another space', async () => {
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    const { TfIdfEncoder } = await import('../src/encoders/tfidf.js');
    const { MatchIndex } = await import('../src/match/match-index.js');
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { ShardRouter } = await import('../src/cluster/shard-router.js');
    const { publishIndex } = await import('../src/cluster/index-store.js');
    const lite = await LiteEncoder.load();
    const list = entries(300, 21, 'f');
    const tfidf = TfIdfEncoder.fit(
      list.map((e) => e.text),
      { dim: lite.dim },
    );
    const files = { lite: join(work, 'f-lite.jbi'), tfidf: join(work, 'f-tfidf.jbi') };
    for (const [name, encoder] of [
      ['lite', lite],
      ['tfidf', tfidf],
    ] as const) {
      const index = await MatchIndex.build(encoder, list);
      await index.save(files[name]);
      await index.dispose();
    }
    await using nats = await startNats();
    const shards: { close(): Promise<void> }[] = [];
    let router: Awaited<ReturnType<typeof ShardRouter.open>> | null = null;
    try {
      await publishIndex({ nats: nats.url, file: files.lite, name: 'swap', shards: 2 });
      for (const shard of [0, 1]) shards.push(await serveShard({ nats: nats.url, name: 'swap', shard }));
      router = await ShardRouter.open({ nats: nats.url, name: 'swap', deadlineMs: 1500, pingMs: 100 });
      assert.equal((await router.search(['nurse'], { k: 3 }))[0].length, 3);
      const { version } = await publishIndex({ nats: nats.url, file: files.tfidf, name: 'swap', shards: 2 });
      for (let i = 0; i < 100 && !/made with encoder tfidf/.test(router.problem() ?? ''); i++) await sleep(100);
      assert.match(
        router.problem() ?? '',
        new RegExp(`serves version ${version}, made with encoder tfidf:.* but the router encodes with lite:.*restart the router`),
      );
      await assert.rejects(router.search(['nurse'], { k: 3 }), {
        code: 'ERR_SHARD_UNAVAILABLE',
        message: /made with encoder tfidf.*restart the router/,
      });
    } finally {
      await router?.dispose();
      for (const s of shards) await s.close();
      await lite.dispose();
    }
  });

  test('a tls:// URL to a server without TLS is refused (it connected in plain text)', async () => {
    const { connectCluster } = await import('../src/cluster/nats.js');
    await using nats = await startNats();
    const tls = await connectCluster(`tls://127.0.0.1:${nats.port}`, 'jobbert-test-tls').then(
      async (c) => (await c.close(), 'connected in plain text'),
      (e: JobBERTError) => e.code,
    );
    assert.equal(tls, 'ERR_NATS');
    const plain = await connectCluster(nats.url, 'jobbert-test-plain');
    await plain.close();
  });

  test('closing a connection to a hung server ends (a router or worker told to stop waited on its drain for good)', {
    timeout: 60_000,
  }, async () => {
    const { connectCluster } = await import('../src/cluster/nats.js');
    await using nats = await startNats();
    try {
      const c = await connectCluster(nats.url, 'jobbert-test-close');
      nats.signal('SIGSTOP');
      await c.close();
      assert.equal(c.nc.isClosed(), true);
    } finally {
      nats.signal('SIGCONT');
    }
  });

  test('the router reports the newest version published in its layout, and its entries (/healthz and /metrics kept the first)', async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { ShardRouter } = await import('../src/cluster/shard-router.js');
    const { publishIndex } = await import('../src/cluster/index-store.js');
    const { MatchIndex } = await import('../src/match/match-index.js');
    const { encoder, file, nats, dispose } = await indexOnNats(entries(200, 46, 'V'), 'versions');
    const shards: { close(): Promise<void> }[] = [];
    let router: Awaited<ReturnType<typeof ShardRouter.open>> | null = null;
    try {
      const first = await publishIndex({ nats: nats.url, file, name: 'versions', shards: 2 });
      for (const s of [0, 1]) shards.push(await serveShard({ nats: nats.url, name: 'versions', shard: s }));
      router = await ShardRouter.open({ nats: nats.url, name: 'versions', pingMs: 100 });
      assert.deepEqual([router.version, router.size], [first.version, 200]);
      const smaller = await MatchIndex.build(encoder, entries(150, 47, 'W'));
      const file2 = join(work, 'versions-2.jbi');
      await smaller.save(file2);
      await smaller.dispose();
      await sleep(1100); // versions are stamped to the second
      const second = await publishIndex({ nats: nats.url, file: file2, name: 'versions', shards: 2 });
      for (let i = 0; i < 100 && router.version !== second.version; i++) await sleep(50);
      assert.deepEqual([router.version, router.size], [second.version, 150]);
    } finally {
      await router?.dispose();
      for (const s of shards) await s.close();
      await dispose();
    }
  });

  test('a worker told to stop while its broker is down stops (it waited on its pull loop until the broker came back)', {
    timeout: 60_000,
  }, async () => {
    await using nats = await startNats();
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    const encoder = await LiteEncoder.load();
    const worker = await startWorker({ nats: nats.url, runners: [encodeRunner(encoder)] });
    await sleep(500);
    nats.signal('SIGKILL'); // gone at once, as a crashed broker
    await sleep(1000);
    // (A bound that turns the hang into a failure, not a timing: it stayed up until the broker came back.)
    assert.ok(await finishedWithin(worker.stop(), 20_000), 'the worker stopped (it stayed up until the broker came back)');
    await encoder.dispose();
  });

  test("a NATS restart: the router's problem() names its own connection, then nothing, never a shard (it said shard 0 was down while searches succeeded); a shard lost meanwhile is named after the grace", async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { ShardRouter } = await import('../src/cluster/shard-router.js');
    const { publishIndex } = await import('../src/cluster/index-store.js');
    const { whole, file, nats, dispose } = await indexOnNats(entries(300, 45, 'R'), 'restart');
    const shards: { close(): Promise<void> }[] = [];
    let router: Awaited<ReturnType<typeof ShardRouter.open>> | null = null;
    try {
      await publishIndex({ nats: nats.url, file, name: 'restart', shards: 2 });
      for (const s of [0, 1]) shards.push(await serveShard({ nats: nats.url, name: 'restart', shard: s }));
      router = await ShardRouter.open({ nats: nats.url, name: 'restart', pingMs: 200 });
      for (let i = 0; i < 100 && router.problem() !== null; i++) await sleep(50);
      assert.equal(router.problem(), null);
      const seen = new Set<string | null>();
      let watching = true;
      const watch = (async () => {
        while (watching) {
          seen.add(router!.problem());
          await sleep(10);
        }
      })();
      await nats.restart(1000);
      const back = performance.now();
      while (router.problem() !== null && performance.now() - back < 10_000) await sleep(20);
      watching = false;
      await watch;
      const shardNamed = [...seen].filter((p) => p !== null && /shard/.test(p));
      assert.deepEqual(shardNamed, [], 'a shard named down across the restart');
      assert.ok([...seen].some((p) => p !== null && /lost its connection to NATS/.test(p)));
      assert.equal(router.problem(), null);
      assert.deepEqual(await router.search(['nurse'], { k: 5 }), await whole.search(['nurse'], { k: 5 }));
      // Shard 1 gone across a second restart: named once the replicas have had their time to come back.
      await shards[1].close();
      shards.pop();
      await nats.restart(500);
      let named = '';
      for (let i = 0; i < 200 && !/shard 1/.test(named); i++) {
        await sleep(50);
        named = router.problem() ?? '';
      }
      assert.match(named, /shard 1 of 2 of index restart is unavailable/);
    } finally {
      await router?.dispose();
      for (const s of shards) await s.close();
      await dispose();
    }
  });

  test('3 shards + router answer 500 random queries exactly as the unsharded index, ties included; a lost replica fails nothing; a lost shard is a 503 naming it', async () => {
    const { serveShard } = await import('../src/cluster/shard-service.js');
    const { whole, file, nats, dispose } = await indexOnNats(entries(3000, 99, 'e'), 'whole');
    const children: ReturnType<typeof spawnCli>[] = [];
    const inProcess: { close(): Promise<void> }[] = [];
    try {
      assert.equal(await main(['index', 'publish', file, '--nats', nats.url, '--name', 'big', '--shards', '3', '--json'], () => {}), 0);
      // Shard 0 has two replicas (processes, so one can be SIGKILLed); shards 1 and 2 run here.
      const shardArgs = ['serve', '--nats', nats.url, '--index-name', 'big', '--json', '--shard', '0'];
      children.push(spawnCli(shardArgs), spawnCli(shardArgs));
      for (const s of [1, 2]) inProcess.push(await serveShard({ nats: nats.url, name: 'big', shard: s }));
      const router = spawnCli(['serve', '--nats', nats.url, '--index-name', 'big', '--router', '--port', '0', '--json']);
      children.push(router);
      await Promise.all(children.slice(0, 2).map((c) => c.waitFor(/"shard":0/)));
      const url = JSON.parse((await router.waitFor(/^\{.*"url"/)).input!).url as string;

      // 500 queries: random titles, and entry texts themselves (duplicated entries tie exactly).
      const queries = [...titles(250, 5), ...entries(250, 7, 'q').map((e) => e.text)];
      for (const lang of [undefined, 'de']) {
        for (let start = 0; start < queries.length; start += 100) {
          const batch = queries.slice(start, start + 100);
          const r = await post(`${url}/v1/match`, { queries: batch, k: 10, lang });
          assert.equal(r.status, 200, JSON.stringify(r.json));
          assert.deepEqual(r.json.results, await whole.search(batch, { k: 10, lang }));
        }
      }
      const ties = (await whole.search(queries.slice(250), { k: 10 })).filter((list) => list[0].score === list[1].score).length;
      assert.ok(ties > 100, `only ${ties} queries with a tie at the top`);

      // One replica of shard 0 killed under load: the other answers, nothing fails.
      const loop = requestLoop([url], queries, 4);
      await new Promise((r) => setTimeout(r, 300));
      await children[0].kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      const stats = await loop.stop();
      assert.equal(stats.failed, 0, stats.errors.slice(0, 3).join('\n'));
      assert.ok(stats.ok > 10);

      // Every replica of shard 0 gone: 503 naming it.
      await children[1].kill('SIGKILL');
      const r = await post(`${url}/v1/match`, { queries: ['nurse'], k: 5 });
      assert.equal(r.status, 503);
      assert.equal(r.json.error.code, 'ERR_SHARD_UNAVAILABLE');
      assert.match(r.json.error.message, /shard 0 of 3/);
    } finally {
      for (const c of children) c.child.kill('SIGKILL');
      for (const s of inProcess) await s.close();
      await dispose();
    }
  });
});
