/** finishedWithin: waiting on work for at most a while, its timer cleared either way. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finishedWithin } from '../src/util/deadline.js';

/** The timers this process has pending (a timer left behind keeps a stopping process alive). */
const pendingTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('finishedWithin', () => {
  test('work that finishes in time resolves true, and leaves no timer behind', async () => {
    const before = pendingTimers();
    assert.equal(await finishedWithin(Promise.resolve('done'), 3_600_000), true);
    assert.equal(pendingTimers(), before);
  });

  test('work that is still under way when the time is up resolves false, and the work goes on', async () => {
    let finish!: () => void;
    const work = new Promise<void>((resolve) => (finish = resolve));
    assert.equal(await finishedWithin(work, 10), false);
    finish();
    await work;
  });

  test("work that fails first rejects with its error, and leaves no timer behind; failing late is nobody's rejection", async () => {
    const before = pendingTimers();
    await assert.rejects(finishedWithin(Promise.reject(new Error('broker gone')), 3_600_000), /broker gone/);
    assert.equal(pendingTimers(), before);
    let fail!: (e: Error) => void;
    const late = new Promise<void>((_, reject) => (fail = reject));
    assert.equal(await finishedWithin(late, 10), false);
    fail(new Error('too late')); // an unhandled rejection would fail this test file
    await new Promise((resolve) => setImmediate(resolve));
  });
});
