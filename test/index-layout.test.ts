/**
 * Serving a published index the way it was published: `serve --nats
 * --index-name NAME` of an index published sharded, and `--router` / `--shard`
 * of one published whole, fail saying how it was published and how to serve
 * it. On a real nats-server; skips with a reason when it is absent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../src/cli/index.js';
import { publishIndex } from '../src/cluster/index-store.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { MatchIndex } from '../src/match/match-index.js';
import { natsSkip, startNats, type NatsServer } from './fixtures/nats.js';

describe('serving an index as it was published', { skip: natsSkip(), timeout: 120_000 }, () => {
  let work: string;
  let nats: NatsServer;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jobbert-layout-'));
    const encoder = await LiteEncoder.load();
    const index = await MatchIndex.build(
      encoder,
      ['data scientist', 'nurse', 'Softwareentwickler', 'chef de cuisine', 'sales manager'].map((text, i) => ({
        id: `e${i}`,
        text,
        lang: 'en',
      })),
    );
    const file = join(work, 'titles.jbi');
    await index.save(file);
    await index.dispose();
    await encoder.dispose();
    nats = await startNats();
    await publishIndex({ nats: nats.url, file, name: 'split', shards: 3 });
    await publishIndex({ nats: nats.url, file, name: 'whole' });
  });
  after(async () => {
    await nats?.dispose();
    await rm(work, { recursive: true, force: true });
  });

  /** `jobbert serve ARGS`: its exit status and what it wrote to stderr (it must fail, not serve). */
  async function serve(args: string[]): Promise<{ status: number; err: string }> {
    const err: string[] = [];
    const status = await main(
      ['serve', '--nats', nats.url, ...args],
      () => {},
      (s) => err.push(s),
    );
    return { status, err: err.join('\n') };
  }

  test('serve --index-name NAME of an index published with --shards 3 says so, and to use --router or --shard I (it said to publish it)', async () => {
    const r = await serve(['--index-name', 'split', '--port', '0']);
    assert.equal(r.status, 1);
    assert.match(r.err, /ERR_NOT_FOUND/);
    assert.match(r.err, /split is published sharded, into 3 shards/);
    assert.match(r.err, /--router/);
    assert.match(r.err, /--shard I \(0 to 2\)/);
  });

  test('serve --router and --shard of an index published whole say so, and to leave them out', async () => {
    for (const args of [
      ['--router', '--port', '0'],
      ['--shard', '0'],
    ]) {
      const r = await serve(['--index-name', 'whole', ...args]);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.err, /ERR_NOT_FOUND/);
      assert.match(r.err, /whole is published unsharded/);
      assert.match(r.err, /without --router or --shard/);
    }
  });

  test('a name published neither way is still ERR_NOT_FOUND saying to publish it', async () => {
    const r = await serve(['--index-name', 'nothing', '--port', '0']);
    assert.equal(r.status, 1);
    assert.match(r.err, /ERR_NOT_FOUND: no object nothing in the jobbert-indexes store/);
  });
});
