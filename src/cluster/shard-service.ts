/**
 * A shard replica: `serveShard` loads one shard of a sharded index (swapping
 * in new versions as they are published) and answers searches over it as a
 * NATS service — in the shard's queue group, on a subject of its own, and the
 * router's pings (shard-protocol.ts). ShardRouter (shard-router.ts) asks
 * every shard and merges their answers.
 */
import { randomBytes } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { JobBERTError } from '../errors.js';
import { watchIndex, type IndexLoader, type ShardVersion, type WatchedIndex } from './index-store.js';
import {
  pingSubjectOf,
  REPLY_TOO_LARGE,
  replicaSubjectOf,
  subjectOf,
  type ShardHit,
  type ShardReply,
  type ShardRequest,
} from './shard-protocol.js';

export interface ShardService {
  readonly watched: WatchedIndex;
  /** Stops answering (the queue group's other replicas take over), disposes the index. Async. */
  close(): Promise<void>;
}

/**
 * Serves shard `shard` of the sharded index `name`: loads its newest version
 * (swapping in new ones as they are published) and answers the router's
 * requests. Async; rejects like watchIndex.
 */
export async function serveShard(opts: {
  nats: string;
  name: string;
  shard: number;
  load?: IndexLoader;
  log?: (line: string) => void;
}): Promise<ShardService> {
  const watched = await watchIndex({ nats: opts.nats, name: opts.name, shard: opts.shard, load: opts.load, log: opts.log });
  const nc = watched.connection.nc;
  const replica = randomBytes(8).toString('hex');
  const sub: Subscription = nc.subscribe(subjectOf(opts.name, opts.shard), { queue: `jobbert-shard-${opts.name}-${opts.shard}` });
  const own: Subscription = nc.subscribe(replicaSubjectOf(opts.name, opts.shard, replica));
  const answer = async (m: Msg) => {
    let reply: ShardReply;
    try {
      const data = m.data;
      const nl = data.indexOf(10);
      const req = JSON.parse(new TextDecoder().decode(data.subarray(0, nl))) as ShardRequest;
      const bytes = new Uint8Array(data.subarray(nl + 1)); // a copy: aligned for float32 (data may be a Buffer view at any offset)
      if (bytes.length !== req.queries * req.dim * 4) throw new RangeError(`expected ${req.queries}×${req.dim} float32 values`);
      const vectors = { data: new Float32Array(bytes.buffer, bytes.byteOffset, req.queries * req.dim), rows: req.queries, cols: req.dim };
      reply = await watched.index.use(async (v) => {
        // Another encoder of the same dimension scored the router's queries against vectors of another space: wrong 200s.
        if (req.dim !== v.index.dim || (req.fingerprint !== undefined && req.fingerprint !== v.index.fingerprint))
          throw new JobBERTError(
            'ERR_ENCODER_MISMATCH',
            `shard ${opts.shard} serves version ${v.version}, made with encoder ${v.index.fingerprint} (${v.index.dim}-d), and the router's queries come from ${req.fingerprint ?? 'another encoder'} (${req.dim}-d): the index was published with another encoder since the router started; restart the router`,
          );
        const positions = (v as ShardVersion).positions;
        const lists = await v.index.searchVectors(vectors, { k: req.k, lang: req.lang });
        return {
          shard: opts.shard,
          shards: watched.shards,
          version: v.version,
          hits: lists.map((list) => list.map((r): ShardHit => [r.id, r.text, r.score, positions.get(r.id)!])),
        };
      });
    } catch (e) {
      const code = (e as JobBERTError).code ?? (e instanceof RangeError || e instanceof TypeError ? 'ERR_VALIDATION' : 'ERR_INTERNAL');
      reply = { shard: opts.shard, shards: watched.shards, version: watched.index.version, error: { code, message: (e as Error).message } };
    }
    let bytes = new TextEncoder().encode(JSON.stringify(reply));
    const max = nc.info?.max_payload ?? 1 << 20;
    if (bytes.length > max) {
      const error = { code: REPLY_TOO_LARGE, message: `the reply is ${bytes.length} bytes, over the server's max_payload (${max})` };
      bytes = new TextEncoder().encode(JSON.stringify({ shard: opts.shard, shards: watched.shards, version: reply.version, error }));
    }
    try {
      m.respond(bytes);
    } catch (e) {
      // Never the end of the process (it was: an unhandled rejection, on every replica the router tried in turn).
      opts.log?.(`jobbert serve: shard ${opts.shard}: cannot answer a search: ${(e as Error).message}`);
    }
  };
  for (const s of [sub, own])
    (async () => {
      for await (const m of s) void answer(m);
    })();
  const pings: Subscription = nc.subscribe(pingSubjectOf(opts.name, opts.shard));
  (async () => {
    for await (const m of pings) {
      const reply: ShardReply = {
        shard: opts.shard,
        replica,
        shards: watched.shards,
        version: watched.index.version,
        fingerprint: watched.index.fingerprint,
      };
      try {
        m.respond(new TextEncoder().encode(JSON.stringify(reply)));
      } catch {
        // the connection is closing: the router's next ping says so
      }
    }
  })();
  return {
    watched,
    async close() {
      sub.unsubscribe();
      own.unsubscribe();
      pings.unsubscribe();
      await watched.close();
    },
  };
}
