/**
 * A batch job's progress reports on a real nats-server: the note that no
 * worker takes the job's chunks. Skips with a reason when nats-server is
 * absent (under CI=true its absence fails).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBatch, type BatchProgress } from '../src/cluster/batch.js';
import { encodeRunner } from '../src/cluster/jobs.js';
import { startWorker, type Worker } from '../src/cluster/worker.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { natsSkip, startNats } from './fixtures/nats.js';

test('the "no worker" note leaves the progress reports once chunks move (it stayed on every later line)', {
  skip: natsSkip(),
  timeout: 120_000,
}, async () => {
  await using nats = await startNats();
  const encoder = await LiteEncoder.load();
  const work = await mkdtemp(join(tmpdir(), 'jobbert-progress-'));
  const reports: BatchProgress[] = [];
  let starting: Promise<Worker | undefined> | undefined;
  try {
    const input = join(work, 'titles.txt');
    await writeFile(input, `${Array.from({ length: 40 }, (_, i) => `java developer ${i}`).join('\n')}\n`);
    const output = join(work, 'vectors.jsonl');
    const result = await runBatch({
      nats: nats.url,
      task: 'encode',
      input,
      output,
      fingerprint: encoder.fingerprint,
      chunkSize: 10,
      pollMs: 50,
      onProgress: (p) => {
        reports.push(p);
        // A worker arrives once the note is up: the job's few chunks are then done within a second or so.
        if (p.noWorkers && !starting)
          starting = startWorker({ nats: nats.url, runners: [encodeRunner(encoder)] }).catch((e: unknown) => {
            assert.fail(`the worker did not start: ${String(e)}`);
          });
      },
    });
    assert.equal(result.rows, 40);
    assert.equal((await readFile(output, 'utf8')).split('\n').filter(Boolean).length, 40);
    const noted = reports.findIndex((p) => p.noWorkers);
    assert.ok(noted >= 0, 'the note was up while no worker ran');
    assert.equal(reports[noted].chunksDone, 0);
    for (let i = noted + 1; i < reports.length; i++)
      if (reports[i].chunksDone > reports[i - 1].chunksDone)
        assert.equal(reports[i].noWorkers, false, `report ${i} (${reports[i].chunksDone} chunks done) still says no worker`);
    assert.equal(reports.at(-1)!.noWorkers, false);
  } finally {
    await (await starting)?.stop();
    await encoder.dispose();
    await rm(work, { recursive: true, force: true });
  }
});
