/**
 * A broker whose JetStream storage is full (nats-server's max_file_store): a
 * batch fails with ERR_BROKER_FULL saying so and what to do, and once space is
 * freed the same command resumes and completes; an index publish fails the
 * same way. On a real nats-server; skips with a reason when it is absent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { publishIndex } from '../src/cluster/index-store.js';
import { encodeRunner } from '../src/cluster/jobs.js';
import { connectCluster } from '../src/cluster/nats.js';
import { startWorker } from '../src/cluster/worker.js';
import { JobBERTError } from '../src/errors.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { MatchIndex } from '../src/match/match-index.js';
import { natsSkip, startNats } from './fixtures/nats.js';

const BIN = join(import.meta.dirname, '..', 'src', 'bin.ts');

/** `jobbert ARGS` in a process of its own (a submitter that has ended leaves no live lease): its status and stderr. */
function cli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 100_000);
  return new Promise((resolve) =>
    child.once('exit', (status) => {
      clearTimeout(killer);
      resolve({ status, stderr });
    }),
  );
}

test('a full broker: batch encode fails with ERR_BROKER_FULL saying what to do (it was ERR_NATS "insufficient resources"); freed, the rerun completes the job', {
  skip: natsSkip(),
  timeout: 300_000,
}, async () => {
  await using nats = await startNats({ jetstream: 'max_file_store: 8MB' });
  const encoder = await LiteEncoder.load();
  const work = await mkdtemp(join(tmpdir(), 'jobbert-full-'));
  const admin = await connectCluster(nats.url, 'jobbert-test-admin');
  const worker = await startWorker({ nats: nats.url, runners: [encodeRunner(encoder)], ackWaitMs: 2000 });
  try {
    // 8,000 titles of 96 floats: about 3 MB of results, where 2 MB is left.
    const titles = Array.from({ length: 8000 }, (_, i) => `${['java', 'nurse', 'chef', 'sales'][i % 4]} ${i}`);
    const input = join(work, 'titles.txt');
    await writeFile(input, `${titles.join('\n')}\n`);
    const output = join(work, 'vectors.jsonl');
    const filler = await admin.objm.create('filler');
    await filler.putBlob({ name: 'ballast' }, new Uint8Array(6 << 20));
    const args = ['batch', 'encode', '--nats', nats.url, '--input', input, '--output', output, '--chunk', '500'];

    const full = await cli(args);
    assert.equal(full.status, 1, full.stderr);
    assert.match(full.stderr, /jobbert: ERR_BROKER_FULL: .*storage is full/);
    assert.match(full.stderr, /jobbert batch remove --job NAME/);
    assert.match(full.stderr, /max_file_store/);
    assert.match(full.stderr, /resumes/);

    await filler.destroy();
    const again = await cli(args);
    assert.equal(again.status, 0, again.stderr);
    const m = await encoder.encode(titles);
    const want = titles.map((_, r) => JSON.stringify(Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols))));
    assert.deepEqual((await readFile(output, 'utf8')).split('\n').slice(0, -1), want);
  } finally {
    await worker.stop();
    await admin.close();
    await encoder.dispose();
    await rm(work, { recursive: true, force: true });
  }
});

test('a full broker: index publish fails with ERR_BROKER_FULL', { skip: natsSkip(), timeout: 120_000 }, async () => {
  await using nats = await startNats({ jetstream: 'max_file_store: 1MB' });
  const encoder = await LiteEncoder.load();
  const work = await mkdtemp(join(tmpdir(), 'jobbert-full-'));
  try {
    const index = await MatchIndex.build(
      encoder,
      Array.from({ length: 4000 }, (_, i) => ({ id: `e${i}`, text: `title ${i}`, lang: 'en' })),
    );
    const file = join(work, 'titles.jbi');
    await index.save(file);
    await index.dispose();
    await assert.rejects(
      publishIndex({ nats: nats.url, file, name: 'titles' }),
      (e: Error) => e instanceof JobBERTError && e.code === 'ERR_BROKER_FULL' && /cannot publish titles: .*storage is full/.test(e.message),
    );
  } finally {
    await encoder.dispose();
    await rm(work, { recursive: true, force: true });
  }
});
