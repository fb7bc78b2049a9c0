/**
 * Sharded serving: `serveShard` answers searches over one shard as a NATS
 * service (replicas of a shard share subject jobbert.shard.<name>.<I> in one
 * queue group), and `ShardRouter` encodes the queries once, asks every shard
 * and merges their top-k lists exactly: by score, then by the entry's
 * position in the whole index, which is the order the unsharded index breaks
 * ties in. A shard that does not answer before the deadline fails the search
 * with ERR_SHARD_UNAVAILABLE naming it: never a partial answer.
 *
 * Requests are a JSON header line and the query vectors as float32; replies
 * are JSON. Query groups are sized so that requests and replies stay under
 * the server's max_payload.
 */
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Encoder } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import { encoderFromSpec } from '../match/encoder-spec.js';
import type { MatchResult, SearchOptions } from '../match/match-index.js';
import { assertInteger, assertOptions } from '../util/validate.js';
import { readManifest, watchIndex, type IndexLoader, type ShardManifest, type ShardVersion, type WatchedIndex } from './index-store.js';
import { connectCluster, INDEX_BUCKET, objectStore, sleep, type ClusterConnection } from './nats.js';

const subjectOf = (name: string, shard: number) => `jobbert.shard.${name}.${shard}`;

interface ShardRequest {
  k: number;
  lang?: string;
  queries: number;
  dim: number;
}

/** A shard's hit: the entry, its score and its position in the whole index. */
type ShardHit = [id: string, text: string, score: number, position: number];

interface ShardReply {
  shard: number;
  version: string;
  hits?: ShardHit[][];
  error?: { code: string; message: string };
}

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
  const sub: Subscription = nc.subscribe(subjectOf(opts.name, opts.shard), { queue: `jobbert-shard-${opts.name}-${opts.shard}` });
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
        const positions = (v as ShardVersion).positions;
        const lists = await v.index.searchVectors(vectors, { k: req.k, lang: req.lang });
        return {
          shard: opts.shard,
          version: v.version,
          hits: lists.map((list) => list.map((r): ShardHit => [r.id, r.text, r.score, positions.get(r.id)!])),
        };
      });
    } catch (e) {
      reply = {
        shard: opts.shard,
        version: watched.index.version,
        error: { code: (e as JobBERTError).code ?? 'ERR_INTERNAL', message: (e as Error).message },
      };
    }
    m.respond(new TextEncoder().encode(JSON.stringify(reply)));
  };
  (async () => {
    for await (const m of sub) void answer(m);
  })();
  return {
    watched,
    async close() {
      sub.unsubscribe();
      await watched.close();
    },
  };
}

export interface RouterOptions {
  nats: string;
  name: string;
  /** Encodes the queries (default: the encoder saved in the index, when it can be rebuilt: LiteEncoder, TF-IDF). */
  encoder?: Encoder;
  /** How long a search may wait for every shard, in ms (default 5000); then ERR_SHARD_UNAVAILABLE. */
  deadlineMs?: number;
  /** How long one request to a shard may take before it is sent again (to another replica), in ms (default 1000). */
  attemptMs?: number;
}

/**
 * A sharded index seen as one: search() encodes the queries, asks every shard
 * and merges their top-k lists into exactly what the unsharded index would
 * answer. Shaped like a MatchIndex for the HTTP service (size, dim,
 * fingerprint, languages, search).
 */
export class ShardRouter {
  readonly manifest: ShardManifest;
  readonly encoder: Encoder;
  readonly #c: ClusterConnection;
  readonly #ownsEncoder: boolean;
  readonly #deadlineMs: number;
  readonly #attemptMs: number;

  private constructor(
    c: ClusterConnection,
    manifest: ShardManifest,
    encoder: Encoder,
    owns: boolean,
    deadlineMs: number,
    attemptMs: number,
  ) {
    this.#c = c;
    this.manifest = manifest;
    this.encoder = encoder;
    this.#ownsEncoder = owns;
    this.#deadlineMs = deadlineMs;
    this.#attemptMs = attemptMs;
  }

  /**
   * Reads the index's manifest and connects. Async; rejects with JobBERTError
   * ERR_NOT_FOUND (no such sharded index), ERR_NO_ENCODER (the index's encoder
   * cannot be rebuilt and none was given), ERR_ENCODER_MISMATCH, ERR_NATS.
   */
  static async open(opts: RouterOptions): Promise<ShardRouter> {
    const fn = 'ShardRouter.open';
    assertOptions(fn, opts);
    const deadlineMs = opts.deadlineMs ?? 5000;
    assertInteger(fn, 'deadlineMs', deadlineMs, 1);
    const attemptMs = opts.attemptMs ?? 1000;
    assertInteger(fn, 'attemptMs', attemptMs, 1);
    const c = await connectCluster(opts.nats, `jobbert-router-${opts.name}`);
    try {
      const manifest = await readManifest(await objectStore(c, INDEX_BUCKET), opts.name);
      let encoder = opts.encoder;
      const owns = !encoder;
      if (!encoder) {
        if (!manifest.encoder || !['lite', 'tfidf'].includes(manifest.encoder.kind))
          throw new JobBERTError(
            'ERR_NO_ENCODER',
            `${fn}: index ${opts.name} was built with ${manifest.fingerprint}, which the index cannot rebuild (only LiteEncoder and TF-IDF indexes can); pass that encoder to ShardRouter.open({ encoder })`,
          );
        encoder = await encoderFromSpec(manifest.encoder);
      }
      if (encoder.fingerprint !== manifest.fingerprint) {
        if (owns) await encoder.dispose();
        throw new JobBERTError(
          'ERR_ENCODER_MISMATCH',
          `${fn}: index ${opts.name} was built with encoder ${manifest.fingerprint}, not ${encoder.fingerprint}`,
        );
      }
      return new ShardRouter(c, manifest, encoder, owns, deadlineMs, attemptMs);
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  get size(): number {
    return this.manifest.entries;
  }
  get dim(): number {
    return this.manifest.dim;
  }
  get fingerprint(): string {
    return this.manifest.fingerprint;
  }
  get languages(): string[] {
    return this.manifest.languages;
  }
  /** The published version the router was opened on. */
  get version(): string {
    return this.manifest.version;
  }

  /** The k best entries for each query over every shard, as the unsharded index answers. Async; JobBERTError ERR_SHARD_UNAVAILABLE names a shard that did not answer. */
  async search(queries: string[], opts: SearchOptions = {}): Promise<MatchResult[][]> {
    if (queries.length === 0) return [];
    const k = opts.k ?? 10;
    assertInteger('ShardRouter.search', 'k', k, 1);
    const m = await this.encoder.encode(queries, { branch: 'anchor' });
    const deadline = performance.now() + this.#deadlineMs;
    // Queries per request: vectors and the replies' hits must fit in a message.
    const maxPayload = this.#c.nc.info?.max_payload ?? 1 << 20;
    const group = Math.max(1, Math.min(Math.floor((maxPayload * 0.8) / (m.cols * 4)), Math.floor((maxPayload * 0.5) / (k * 200))));
    const out: MatchResult[][] = [];
    for (let start = 0; start < m.rows; start += group) {
      const rows = Math.min(group, m.rows - start);
      const header = new TextEncoder().encode(
        `${JSON.stringify({ k, lang: opts.lang, queries: rows, dim: m.cols } satisfies ShardRequest)}\n`,
      );
      const body = new Uint8Array(header.length + rows * m.cols * 4);
      body.set(header);
      body.set(new Uint8Array(m.data.buffer, m.data.byteOffset + start * m.cols * 4, rows * m.cols * 4), header.length);
      const replies = await Promise.all(Array.from({ length: this.manifest.shards }, (_, s) => this.#ask(s, body, deadline)));
      for (let q = 0; q < rows; q++) {
        const hits: ShardHit[] = [];
        for (const r of replies) hits.push(...r.hits![q]);
        hits.sort((a, b) => b[2] - a[2] || a[3] - b[3]);
        out.push(hits.slice(0, k).map(([id, text, score]) => ({ id, text, score })));
      }
    }
    return out;
  }

  /** One shard's reply, asking again (another replica of the queue group answers) until the deadline. */
  async #ask(shard: number, body: Uint8Array, deadline: number): Promise<ShardReply> {
    let why = 'no replica is serving it';
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      try {
        const msg = await this.#c.nc.request(subjectOf(this.manifest.name, shard), body, {
          timeout: Math.max(1, Math.min(this.#attemptMs, left)),
        });
        const reply = JSON.parse(new TextDecoder().decode(msg.data)) as ShardReply;
        if (reply.error) {
          if (reply.error.code === 'ERR_VALIDATION' || reply.error.code === 'ERR_ENCODER_MISMATCH')
            throw new RangeError(reply.error.message);
          why = `${reply.error.code}: ${reply.error.message}`;
        } else return reply;
      } catch (e) {
        if (e instanceof RangeError) throw e;
        const text = String((e as Error)?.message ?? e);
        why = /no responders/i.test(text) ? 'no replica is serving it' : /timeout/i.test(text) ? 'it did not answer in time' : text;
        // No replica at all: look again a few times (one may be restarting), not until the deadline.
        if (/no responders/i.test(text) && attempt >= 3) break;
      }
      await sleep(Math.min(50 * 2 ** attempt, 200));
    }
    throw new JobBERTError(
      'ERR_SHARD_UNAVAILABLE',
      `shard ${shard} of ${this.manifest.shards} of index ${this.manifest.name} is unavailable: ${why}`,
    );
  }

  /** Closes the connection (and the encoder it rebuilt). Async. */
  async dispose(): Promise<void> {
    await this.#c.close();
    if (this.#ownsEncoder) await this.encoder.dispose();
  }
}
