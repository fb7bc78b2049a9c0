/**
 * The router of a sharded index: `ShardRouter` encodes the queries once, asks
 * every shard (its replicas: shard-service.ts; the protocol: shard-protocol.ts)
 * and merges their top-k lists exactly: by score, then by the entry's position
 * in the whole index, which is the order the unsharded index breaks ties in. A
 * shard that does not answer before the deadline fails the search with
 * ERR_SHARD_UNAVAILABLE naming it: never a partial answer. The router pings
 * every replica of every shard every few seconds (a subject outside the queue
 * group, so one hung replica beside a healthy one does not count), and
 * `problem()` (the service's /healthz) names a shard no replica of which
 * answers; searches still wait for a shard until the deadline, so a shard that
 * stalls and comes back loses no request. Searches go to the replicas that
 * answered the last pings, in turn, each on its own subject: a resend goes to
 * another replica, and one that left a search unanswered is passed over for a
 * while (the queue group, whose draws are random, is the fallback).
 *
 * Query groups are sized so that requests and replies stay under the server's
 * max_payload.
 */
import type { Encoder } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import type { Matrix } from '../kernels/matrix.js';
import { encoderFromSpec } from '../match/encoder-spec.js';
import type { MatchResult, SearchOptions } from '../match/match-index.js';
import { assertInteger, assertOptions, assertTimerMs } from '../util/validate.js';
import type { ObjectStore } from '@nats-io/obj';
import { manifestObject, readManifest, type ShardManifest } from './index-store.js';
import { connectCluster, INDEX_BUCKET, objectStore, sleep, type ClusterConnection } from './nats.js';
import {
  pingSubjectOf,
  REPLY_TOO_LARGE,
  replicaSubjectOf,
  subjectOf,
  type ShardHit,
  type ShardReply,
  type ShardRequest,
} from './shard-protocol.js';

/** How long a replica that left a search unanswered for attemptMs is passed over, unless it answers meanwhile, in ms. */
const SHUN_MS = 15_000;
/** A round of pings ends this long after the last answer (or at attemptMs), in ms. */
const PING_STALL_MS = 50;
/** Copies of a request a search sends once it has asked every replica known (or the queue group, where none is). */
const MAX_COPIES = 2;
/** How long after the router reconnects to NATS a shard's replicas may still be reconnecting, in ms. */
const RECONNECT_GRACE_MS = 3000;

/** A promise with its settle function outside it (Promise.withResolvers, which Node 20 lacks). */
function settlesOnce<T>(): { promise: Promise<T>; settle: (value: T) => void } {
  let settle!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    settle = resolve;
  });
  return { promise, settle };
}

/** A shard said its reply would not fit in a message (REPLY_TOO_LARGE). */
class TooLarge extends Error {}

export interface RouterOptions {
  nats: string;
  name: string;
  /** Encodes the queries (default: the encoder saved in the index, when it can be rebuilt: LiteEncoder, TF-IDF). */
  encoder?: Encoder;
  /** How long a search may wait for every shard, in ms (default 5000); then ERR_SHARD_UNAVAILABLE. */
  deadlineMs?: number;
  /** How long a shard may take to answer before the request is sent again (another replica may take it; the first answer wins), in ms (default 500). */
  attemptMs?: number;
  /** How often every shard is pinged, so that problem() knows of a lost shard without a search, in ms (default 2000). */
  pingMs?: number;
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
  /**
   * Searches the HTTP service runs at once: a router's wait on its shards, not
   * its CPU, so requests queued behind a search waiting on a hung shard would
   * wait a deadline more each (5.2 / 10.4 s with two at once).
   */
  readonly parallel = 16;
  readonly #c: ClusterConnection;
  readonly #ownsEncoder: boolean;
  readonly #deadlineMs: number;
  readonly #attemptMs: number;
  /** Shards whose last ping no replica answered (or that serve another layout or encoder), with why; cleared by their next answer. */
  readonly #down = new Map<number, string>();
  /** The replicas of each shard that answered its last ping round, by id: searches go to them in turn. */
  readonly #replicas = new Map<number, string[]>();
  /** Replicas that left a search unanswered for attemptMs, with when they may be asked again (performance.now()). */
  readonly #shunned = new Map<string, number>();
  /** Where the next search starts in each shard's list of replicas. */
  readonly #turns = new Map<number, number>();
  /** Each shard's round of pings under way (one at a time: a search that ran out of replicas asks for one too). */
  readonly #pinging = new Map<number, Promise<void>>();
  /** Whether every shard has been pinged once: until then the router cannot say it is ready. */
  #pinged = false;
  /** Whether the router's own NATS connection is up (a lost one is no shard's fault). */
  #connected = true;
  /** Settles at the router's next reconnect to NATS: requests under way may have been lost with the server. */
  #reconnected = settlesOnce<'reconnected'>();
  /** When the router last reconnected (performance.now()): replicas reconnect in their own time after it. */
  #reconnectedAt = Number.NEGATIVE_INFINITY;
  /** How many times the router's NATS connection was lost: a ping round that spans one learns nothing of the shards. */
  #disconnects = 0;
  #pinger: NodeJS.Timeout | null = null;
  /** Starts a round of pings of every shard now, or as soon as the one under way ends (set by #ping). */
  #pingNow: () => void = () => {};
  #disposed = false;

  /** The newest manifest read of the router's layout and encoder (version, entries, languages). */
  #published: ShardManifest;
  #reading = false;
  readonly #store: ObjectStore;

  private constructor(
    c: ClusterConnection,
    store: ObjectStore,
    manifest: ShardManifest,
    encoder: Encoder,
    owns: boolean,
    deadlineMs: number,
    attemptMs: number,
    pingMs: number,
  ) {
    this.#c = c;
    this.#store = store;
    this.manifest = manifest;
    this.#published = manifest;
    this.encoder = encoder;
    this.#ownsEncoder = owns;
    this.#deadlineMs = deadlineMs;
    this.#attemptMs = attemptMs;
    (async () => {
      for await (const st of c.nc.status()) {
        if (st.type === 'disconnect') {
          this.#connected = false;
          this.#disconnects++;
        } else if (st.type === 'reconnect') {
          this.#connected = true;
          this.#reconnectedAt = performance.now();
          const searches = this.#reconnected;
          this.#reconnected = settlesOnce();
          searches.settle('reconnected');
          this.#pingNow(); // so that problem() says soon which replicas are back
        }
      }
    })().catch(() => {});
    this.#ping(pingMs);
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
    assertTimerMs(fn, 'deadlineMs', deadlineMs, 1);
    const attemptMs = opts.attemptMs ?? 500;
    assertTimerMs(fn, 'attemptMs', attemptMs, 1);
    const pingMs = opts.pingMs ?? 2000;
    assertTimerMs(fn, 'pingMs', pingMs, 1);
    const c = await connectCluster(opts.nats, `jobbert-router-${opts.name}`);
    try {
      const store = await objectStore(c, INDEX_BUCKET);
      const manifest = await readManifest(store, opts.name);
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
      return new ShardRouter(c, store, manifest, encoder, owns, deadlineMs, attemptMs, pingMs);
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  get size(): number {
    return this.#published.entries;
  }
  get dim(): number {
    return this.manifest.dim;
  }
  get fingerprint(): string {
    return this.manifest.fingerprint;
  }
  get languages(): string[] {
    return this.#published.languages;
  }
  /**
   * The newest version published in the router's layout (the manifest is read
   * again with each round of pings): /healthz and /metrics kept the version
   * the router was opened on after every publish.
   */
  get version(): string {
    return this.#published.version;
  }

  /** Reads the manifest again; a version of this layout and encoder becomes the one reported (another is the pings' to name). */
  async #readPublished(): Promise<void> {
    if (this.#reading) return; // (one read at a time; with NATS away one may take a while)
    this.#reading = true;
    try {
      // Once, not through readManifest's retries: a round of pings must not wait on it.
      const raw = await this.#store.getBlob(manifestObject(this.manifest.name));
      const m = raw && (JSON.parse(new TextDecoder().decode(raw)) as ShardManifest);
      if (m && m.shards === this.manifest.shards && m.fingerprint === this.manifest.fingerprint && m.dim === this.manifest.dim)
        this.#published = m;
    } catch {
      // NATS away, or the index deleted or damaged: the pings say what matters; keep the last version read.
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Why a search would fail now, as far as the router knows (its own NATS
   * connection is down; a shard none of whose replicas answered its last ping,
   * or one that serves another layout or encoder; before the first ping round,
   * that it has not heard from every shard yet), else null. Pings unanswered
   * while the connection was down, or within RECONNECT_GRACE_MS of its return,
   * change nothing. Sync; what the HTTP service's /healthz reports.
   */
  problem(): string | null {
    if (!this.#connected) return `index ${this.manifest.name}: the router has lost its connection to NATS; it is reconnecting`;
    const first = [...this.#down].sort((a, b) => a[0] - b[0])[0]?.[1];
    return first ?? (this.#pinged ? null : `index ${this.manifest.name}: the router has not heard from every shard yet`);
  }

  /** Pings every shard now and every `ms` (and at once after a reconnect: #pingNow), until dispose(). */
  #ping(ms: number): void {
    let running = false;
    let again = false;
    const round = async () => {
      running = true;
      again = false;
      const started = performance.now();
      // Settled, not all: a round that threw would have ended the pings for good, unhandled.
      void this.#readPublished();
      await Promise.allSettled(Array.from({ length: this.manifest.shards }, (_, s) => this.#pingShard(s)));
      this.#pinged = true;
      const now = performance.now();
      for (const [replica, until] of this.#shunned) if (until <= now) this.#shunned.delete(replica);
      running = false;
      // A round waits attemptMs for every replica's answer: the next starts `ms` after this one did.
      if (!this.#disposed) this.#pinger = setTimeout(round, again ? 0 : Math.max(0, started + ms - performance.now())).unref();
    };
    this.#pingNow = () => {
      if (this.#disposed) return;
      if (running) again = true;
      else {
        if (this.#pinger) clearTimeout(this.#pinger);
        void round();
      }
    };
    void round();
  }

  /** A round of pings of `shard` (#pingReplicas): the one under way, else a new one. */
  #pingShard(shard: number): Promise<void> {
    let ping = this.#pinging.get(shard);
    if (!ping) {
      ping = this.#pingReplicas(shard).finally(() => this.#pinging.delete(shard));
      this.#pinging.set(shard, ping);
    }
    return ping;
  }

  /**
   * Pings every replica of `shard` and collects their answers (until 50 ms
   * pass without one, or attemptMs): the shard is up as soon as one answers
   * (of this router's layout and encoder), and the replicas that answered are
   * those searches go to. Replicas of a jobbert before this ping subject
   * answer nowhere there: then one of them is asked for no queries.
   */
  async #pingReplicas(shard: number): Promise<void> {
    const began = performance.now();
    const disconnects = this.#disconnects;
    const replicas: string[] = [];
    let layout: string | null = null;
    let up = false;
    try {
      // Until PING_STALL_MS pass without another answer (replicas answer pings at once), or attemptMs in all.
      const answers = await this.#c.nc.requestMany(pingSubjectOf(this.manifest.name, shard), undefined, {
        strategy: 'stall',
        stall: Math.min(PING_STALL_MS, this.#attemptMs),
        maxWait: this.#attemptMs,
      });
      for await (const msg of answers) {
        const reply = JSON.parse(new TextDecoder().decode(msg.data)) as ShardReply;
        const other = this.#otherLayout(reply);
        if (other) layout ??= other;
        else {
          up = true;
          this.#down.delete(shard);
          if (typeof reply.replica === 'string') replicas.push(reply.replica);
        }
      }
    } catch (e) {
      if (this.#disposed) return;
      if (/no responders/i.test(String((e as Error)?.message ?? e))) return this.#pingQueue(shard);
    }
    if (this.#disposed) return;
    // Silence while the router's own connection was away, or while replicas may still be reconnecting
    // after it came back, is no news of the shard: it said a shard was down while searches succeeded.
    const blind = disconnects !== this.#disconnects || !this.#connected || began < this.#reconnectedAt + RECONNECT_GRACE_MS;
    if (!up && !layout && blind) return;
    this.#replicas.set(shard, replicas);
    if (!up) this.#down.set(shard, layout ?? this.#unavailable(shard, `no replica answered a ping within ${this.#attemptMs} ms`));
  }

  /** The ping of a shard whose replicas predate the ping subject: one of its queue group is asked for no queries. */
  async #pingQueue(shard: number): Promise<void> {
    this.#replicas.set(shard, []);
    const ping: ShardRequest = { k: 1, queries: 0, dim: this.manifest.dim, fingerprint: this.manifest.fingerprint };
    const header = new TextEncoder().encode(`${JSON.stringify(ping)}\n`);
    let reply: ShardReply;
    try {
      reply = await this.#ask(shard, header, performance.now() + this.#attemptMs);
    } catch (e) {
      if (e instanceof JobBERTError) this.#down.set(shard, e.message);
      else this.#down.delete(shard); // it answered, refusing the ping (an older shard): it is there
      return;
    }
    const layout = this.#otherLayout(reply);
    if (layout) this.#down.set(shard, layout);
    else this.#down.delete(shard);
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
    for (let start = 0; start < m.rows; start += group)
      out.push(...(await this.#searchRows(m, start, Math.min(group, m.rows - start), k, opts.lang, deadline)));
    return out;
  }

  /**
   * Rows [start, start + rows) of the query vectors, from every shard, merged.
   * The shards' replies must come from one version of this router's layout:
   * until they do (shards swap in a new version one by one), the group is asked
   * again, and past the deadline the search fails naming the disagreement —
   * merging a shard of another layout (the index published since in another
   * number of shards) silently lost the entries of the missing shards. A
   * group whose replies would not fit in one message is asked in halves.
   */
  async #searchRows(
    m: Matrix,
    start: number,
    rows: number,
    k: number,
    lang: string | undefined,
    deadline: number,
  ): Promise<MatchResult[][]> {
    const request: ShardRequest = { k, lang, queries: rows, dim: m.cols, fingerprint: this.manifest.fingerprint };
    const header = new TextEncoder().encode(`${JSON.stringify(request)}\n`);
    const body = new Uint8Array(header.length + rows * m.cols * 4);
    body.set(header);
    body.set(new Uint8Array(m.data.buffer, m.data.byteOffset + start * m.cols * 4, rows * m.cols * 4), header.length);
    for (let attempt = 0; ; attempt++) {
      let replies: ShardReply[];
      try {
        replies = await Promise.all(Array.from({ length: this.manifest.shards }, (_, s) => this.#ask(s, body, deadline)));
      } catch (e) {
        if (!(e instanceof TooLarge)) throw e;
        if (rows === 1)
          throw new RangeError(
            `ShardRouter.search: the ${k} best entries of one query do not fit in a NATS message (${e.message}); ask for a smaller k, or raise the server's max_payload`,
          );
        const half = Math.ceil(rows / 2);
        return [
          ...(await this.#searchRows(m, start, half, k, lang, deadline)),
          ...(await this.#searchRows(m, start + half, rows - half, k, lang, deadline)),
        ];
      }
      const stale = replies.map((r) => this.#otherLayout(r)).find(Boolean);
      const versions = [...new Set(replies.map((r) => r.version))];
      if (!stale && versions.length === 1) {
        const out: MatchResult[][] = [];
        for (let q = 0; q < rows; q++) {
          const hits: ShardHit[] = [];
          for (const r of replies) hits.push(...r.hits![q]);
          hits.sort((a, b) => b[2] - a[2] || a[3] - b[3]);
          out.push(hits.slice(0, k).map(([id, text, score]) => ({ id, text, score })));
        }
        return out;
      }
      // Asked again after a pause, unless the deadline would pass first (then the disagreement is the answer).
      const pause = Math.min(50 * 2 ** attempt, 500);
      if (performance.now() + pause + 100 >= deadline) {
        throw new JobBERTError(
          'ERR_SHARD_UNAVAILABLE',
          stale ??
            `index ${this.manifest.name}: the shards answer from different versions (${versions.join(', ')}), as while a new version is swapped in`,
        );
      }
      await sleep(pause);
    }
  }

  /** Why a shard's reply must not be merged by this router (it serves another layout or encoder), else null. */
  #otherLayout(r: ShardReply): string | null {
    if (r.fingerprint !== undefined && r.fingerprint !== this.fingerprint)
      return `index ${this.manifest.name}: shard ${r.shard} serves version ${r.version}, made with encoder ${r.fingerprint}, but the router encodes with ${this.fingerprint}: the index was published with another encoder; restart the router`;
    if (r.shards === undefined || r.shards === this.manifest.shards) return null;
    return `index ${this.manifest.name}: shard ${r.shard} serves a ${r.shards}-shard layout (version ${r.version}), but the router reads ${this.manifest.shards} shards: the index was published in another number of shards; restart the shard processes and the router`;
  }

  /** `shard`'s unavailability, worded as searches and /healthz give it. */
  #unavailable(shard: number, why: string): string {
    return `shard ${shard} of ${this.manifest.shards} of index ${this.manifest.name} is unavailable: ${why}`;
  }

  /**
   * The replica of `shard` to send a search to next: the next in turn of
   * those that answered the last pings, not yet `tried` by this search and not
   * shunned; null when none is left (the shard's queue group then takes it).
   */
  #pick(shard: number, tried: Set<string>, take = true): string | null {
    const replicas = this.#replicas.get(shard) ?? [];
    const now = performance.now();
    const turn = this.#turns.get(shard) ?? 0;
    for (let i = 0; i < replicas.length; i++) {
      const replica = replicas[(turn + i) % replicas.length];
      if (tried.has(replica)) continue;
      const until = this.#shunned.get(replica);
      if (until !== undefined && until > now) continue;
      if (!take) return replica;
      this.#turns.set(shard, (turn + i + 1) % replicas.length);
      return replica;
    }
    return null;
  }

  /** Forgets a replica NATS says is not there (it stopped): the next ping round finds it again if it comes back. */
  #forget(shard: number, replica: string): void {
    const replicas = this.#replicas.get(shard);
    if (replicas)
      this.#replicas.set(
        shard,
        replicas.filter((r) => r !== replica),
      );
    this.#shunned.delete(replica);
  }

  /**
   * One shard's reply. The request goes to a replica that answered the last
   * pings (in turn), else to the shard's queue group; every attemptMs without
   * an answer it is sent again — to another replica, the one that has not
   * answered being passed over by later searches for a while — while the
   * earlier ones are still awaited, and the first answer wins. Once every
   * replica known was asked, the pings look for new ones, and at most
   * MAX_COPIES copies follow at doubling intervals; a reconnect to NATS asks
   * every replica again at once. So a shard slower than attemptMs is not
   * asked away (each attempt was given up after attemptMs: a search that took
   * longer never succeeded), nor buried in copies of its own searches, and a
   * hung replica costs one search a resend, not the search (sent to the queue
   * group, every attempt could draw it). No replica at all is known within a
   * few tries (NATS says so at once), not at the deadline, even with a request
   * to a killed one still awaited.
   */
  async #ask(shard: number, body: Uint8Array, deadline: number): Promise<ShardReply> {
    type Outcome = { ask: Promise<Outcome>; reply?: ShardReply; error?: unknown };
    const group = subjectOf(this.manifest.name, shard);
    const inflight = new Set<Promise<Outcome>>();
    /** The replica each attempt went to (null: the queue group). */
    const asked = new Map<Promise<Outcome>, string | null>();
    const tried = new Set<string>();
    /** When the next copy of a request still awaited may go, once every replica known was asked (0: not yet). */
    let copyAt = 0;
    let copies = 0;
    /** NATS said no replica is there at all: the next look goes at once. */
    let lookNow = false;
    /** The round of pings this search asked for once it had asked every replica known; 'pinged' when it ends. */
    let looking: Promise<'pinged'> | null = null;
    let looked = false;
    const send = () => {
      let replica = this.#pick(shard, tried);
      if (replica === null && inflight.size > 0 && !lookNow) {
        // Every replica the last pings found was asked (or is passed over), or they found none, and a request is
        // still awaited. A copy now would reach one of the same replicas and queue there behind the first: a
        // replica that took 100 ms a search, asked every 50 ms, got 23 copies of each and fell behind until
        // searches failed. So the pings look for new replicas now (the next send goes to what they find), and
        // at most MAX_COPIES copies go, at doubling intervals, for a request lost on the way (a replica dropped
        // as a slow consumer; a NATS restart is known, and asks every replica again).
        if (!looked && (this.#replicas.get(shard)?.length ?? 0) > 0) {
          looked = true;
          looking = this.#pingShard(shard).then(
            () => 'pinged' as const,
            () => 'pinged' as const, // it records what it finds; a failed round is the next one's to mend
          );
        }
        const now = performance.now();
        if (copyAt === 0) copyAt = now + this.#attemptMs;
        if (copies >= MAX_COPIES || now < copyAt) return;
        copyAt = now + this.#attemptMs * 2 ** (1 + ++copies);
        replica = this.#pick(shard, new Set()); // the next in turn again (else the queue group)
      }
      lookNow = false;
      if (replica !== null) tried.add(replica);
      const subject = replica === null ? group : replicaSubjectOf(this.manifest.name, shard, replica);
      const ask: Promise<Outcome> = this.#c.nc
        .request(subject, body, { timeout: Math.max(1, deadline - performance.now()) })
        .then((msg) => {
          const reply = JSON.parse(new TextDecoder().decode(msg.data)) as ShardReply;
          if (replica !== null && !reply.error) this.#shunned.delete(replica); // late, perhaps, but there
          return { ask, reply };
        })
        .catch((error: unknown) => ({ ask, error }));
      inflight.add(ask);
      asked.set(ask, replica);
    };
    let why = 'no replica is serving it';
    let absent = 0;
    while (performance.now() < deadline) {
      send();
      // Outcomes as they come, until it is time to send again.
      const resend = sleep(Math.min(this.#attemptMs, deadline - performance.now()));
      for (;;) {
        const o = await Promise.race<Outcome | 'pinged' | 'reconnected' | null>([
          resend.then(() => null),
          this.#reconnected.promise,
          ...(looking ? [looking] : []),
          ...inflight,
        ]);
        if (o === 'reconnected') {
          // What was sent before may have been lost with the server: every replica is asked again, at once.
          tried.clear();
          copyAt = 0;
          copies = 0;
          lookNow = true;
          break;
        }
        if (o === 'pinged') {
          looking = null;
          if (this.#pick(shard, tried, false) !== null) break; // a replica the pings found: asked now
          continue;
        }
        if (o === null) {
          // attemptMs without an answer: the replicas still asked are passed over by later searches for a while.
          for (const ask of inflight) {
            const replica = asked.get(ask);
            if (replica) this.#shunned.set(replica, performance.now() + SHUN_MS);
          }
          break;
        }
        inflight.delete(o.ask);
        const { reply, error } = o;
        if (reply?.error) {
          if (reply.error.code === REPLY_TOO_LARGE) throw new TooLarge(reply.error.message);
          if (reply.error.code === 'ERR_VALIDATION') throw new RangeError(reply.error.message);
          // Not the client's error, and no other replica will answer otherwise.
          if (reply.error.code === 'ERR_ENCODER_MISMATCH') throw new JobBERTError('ERR_SHARD_UNAVAILABLE', reply.error.message);
          why = `${reply.error.code}: ${reply.error.message}`;
        } else if (reply) return reply;
        else {
          const text = String((error as Error)?.message ?? error);
          if (/no responders/i.test(text)) {
            const replica = asked.get(o.ask);
            if (replica) {
              // That replica has stopped: another one (or the queue group) is asked at once.
              this.#forget(shard, replica);
              lookNow = true;
              break;
            }
            why = 'no replica is serving it';
            // No replica at all, so none of the last pings' is there either, and a request still awaited
            // went to one that has gone (killed: its answer never comes). Look again a few times (one may
            // be restarting), not until the deadline.
            this.#replicas.set(shard, []);
            lookNow = true; // it reached no one: the next look need not wait its turn
            // Not just after the router reconnected: the replicas reconnect in their own time (2 s apart, in nats.js).
            if (++absent > 3 && performance.now() - this.#reconnectedAt > RECONNECT_GRACE_MS)
              throw new JobBERTError('ERR_SHARD_UNAVAILABLE', this.#unavailable(shard, why));
            await sleep(Math.min(50 * 2 ** absent, 200));
            break;
          }
          why = /timeout/i.test(text) ? 'it did not answer in time' : text;
        }
        if (inflight.size === 0 && performance.now() >= deadline) break;
      }
    }
    if (inflight.size > 0) {
      // The last attempts run until the deadline too: one may still answer.
      for (const o of await Promise.all(inflight)) if (o.reply && !o.reply.error) return o.reply;
      why = 'it did not answer in time';
    }
    throw new JobBERTError('ERR_SHARD_UNAVAILABLE', this.#unavailable(shard, why));
  }

  /** Closes the connection (and the encoder it rebuilt). Async. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    if (this.#pinger) clearTimeout(this.#pinger);
    await this.#c.close();
    if (this.#ownsEncoder) await this.encoder.dispose();
  }
}
