/**
 * Index distribution through a JetStream object store (bucket
 * `jobbert-indexes`): `publishIndex` stores an index file under its name (or,
 * with shards, one object per shard plus a manifest), and `watchIndex` loads
 * the newest version into a SwappableIndex and swaps in each new one.
 *
 * Objects: `NAME` (an unsharded index file); `NAME/shards` (a JSON manifest)
 * and `NAME/shard-I-of-N` (a shard: magic, a JSON table of its entries' ids
 * and their positions in the whole index, then an index file of the entries
 * whose id hashes to I, kept in the whole index's order). The positions let a router
 * break score ties exactly as the unsharded index does.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';
import type { Encoder, EncoderSpec } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import { readIndexFile, writeIndexFile } from '../match/index-file.js';
import { MatchIndex, type MatchEntry } from '../match/match-index.js';
import type { ResidentMatrix } from '../kernels/resident.js';
import { removeLeftovers } from '../util/process.js';
import { assertInteger, assertOptions, assertTimerMs, describe } from '../util/validate.js';
import { connectCluster, INDEX_BUCKET, objectStore, retry, sleep, type ClusterConnection } from './nats.js';
import { SwappableIndex, type IndexVersion } from './swap.js';

/** Index names: they become object names and NATS subject tokens. */
export const INDEX_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SHARD_MAGIC = Buffer.from('JBSHARD\0', 'latin1');

/** What a sharded index's manifest says. */
export interface ShardManifest {
  name: string;
  version: string;
  shards: number;
  entries: number;
  dim: number;
  fingerprint: string;
  encoder: EncoderSpec | null;
  languages: string[];
}

export const shardObject = (name: string, shard: number, shards: number) => `${name}/shard-${shard}-of-${shards}`;
export const manifestObject = (name: string) => `${name}/shards`;

/** The shard an entry id belongs to: the first 4 bytes of its SHA-256, modulo the shard count. */
export function shardOf(id: string, shards: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % shards;
}

export function checkIndexName(fn: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !INDEX_NAME.test(name))
    throw new TypeError(`${fn}: name must be 1 to 64 letters, digits, _ or -; received ${describe(name)}`);
}

async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

const stamp = () =>
  new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

export interface PublishResult {
  name: string;
  version: string;
  bytes: number;
  /** 0 for an unsharded index. */
  shards: number;
  entries: number;
}

/**
 * Stores the index file at `file` under `name` as a new version (sharded by
 * id hash into `shards` objects when shards > 0). Async; rejects with
 * JobBERTError ERR_NATS, or the index file's errors (ERR_NOT_FOUND, ERR_CORRUPT).
 */
export async function publishIndex(opts: { nats: string; file: string; name: string; shards?: number }): Promise<PublishResult> {
  const fn = 'publishIndex';
  assertOptions(fn, opts);
  checkIndexName(fn, opts.name);
  const shards = opts.shards ?? 0;
  assertInteger(fn, 'shards', shards, 0, 1024);
  // Reading it checks it (checksums, format) before anything is published.
  const contents = await readIndexFile(fn, opts.file);
  const version = `${stamp()}-${(await fileDigest(opts.file)).slice(0, 12)}`;
  const entries = contents.entries.length;
  const c = await connectCluster(opts.nats, 'jobbert-publish');
  try {
    const store = await objectStore(c, INDEX_BUCKET);
    if (shards === 0) {
      const bytes = (await stat(opts.file)).size;
      await putFile(store, opts.name, opts.file, { version, entries: String(entries), fingerprint: contents.fingerprint });
      return { name: opts.name, version, bytes, shards: 0, entries };
    }
    const work = await mkdtemp(join(tmpdir(), 'jobbert-shards-'));
    let bytes = 0;
    try {
      const owner = contents.entries.map((e) => shardOf(e.id, shards));
      for (let s = 0; s < shards; s++) {
        // The shard's entries in the whole index's order, and their positions in it.
        const positions: number[] = [];
        owner.forEach((o, i) => o === s && positions.push(i));
        const local = new Int32Array(entries).fill(-1);
        positions.forEach((g, l) => (local[g] = l));
        const partitions: { lang: string; vectors: ResidentMatrix; rows: Int32Array }[] = [];
        for (const p of contents.partitions) {
          const keep: number[] = [];
          p.rows.forEach((entry, r) => owner[entry] === s && keep.push(r));
          if (keep.length === 0) continue;
          partitions.push({
            lang: p.lang,
            vectors: await (p.vectors as ResidentMatrix).take(Int32Array.from(keep)),
            rows: Int32Array.from(keep, (r) => local[p.rows[r]]),
          });
        }
        const shardEntries: MatchEntry[] = positions.map((g) => contents.entries[g]);
        const indexPath = join(work, `shard-${s}.jbi`);
        await writeIndexFile(fn, indexPath, {
          dim: contents.dim,
          fingerprint: contents.fingerprint,
          encoder: contents.encoder,
          entries: shardEntries,
          partitions,
        });
        for (const p of partitions) p.vectors.dispose();
        const table = Buffer.from(JSON.stringify({ ids: shardEntries.map((e) => e.id), positions }));
        const head = Buffer.alloc(16);
        SHARD_MAGIC.copy(head, 0);
        head.writeUInt32LE(table.length, 8);
        head.writeUInt32LE(shards, 12);
        const bundle = join(work, `shard-${s}.bundle`);
        await writeFile(bundle, Buffer.concat([head, table]));
        await pipeline(createReadStream(indexPath), createWriteStream(bundle, { flags: 'a' }));
        bytes += (await stat(bundle)).size;
        await putFile(store, shardObject(opts.name, s, shards), bundle, { version, entries: String(positions.length) });
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const manifest: ShardManifest = {
      name: opts.name,
      version,
      shards,
      entries,
      dim: contents.dim,
      fingerprint: contents.fingerprint,
      encoder: contents.encoder,
      languages: contents.partitions.map((p) => p.lang),
    };
    // The manifest last: a router never sees a shard count whose shards are not all there.
    await retry('publish the manifest', () =>
      store.putBlob({ name: manifestObject(opts.name), metadata: { version } }, new TextEncoder().encode(JSON.stringify(manifest))),
    );
    return { name: opts.name, version, bytes, shards, entries };
  } finally {
    for (const p of contents.partitions) p.vectors.dispose();
    await c.close();
  }
}

async function putFile(store: ObjectStore, name: string, path: string, metadata: Record<string, string>): Promise<void> {
  await retry(`publish ${name}`, () =>
    store.put({ name, metadata }, Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>),
  );
}

/** Downloads an object to a file. Async. */
async function download(store: ObjectStore, name: string, path: string): Promise<ObjectInfo> {
  const result = await retry(`read ${name}`, async () => {
    const r = await store.get(name);
    if (!r)
      throw new JobBERTError('ERR_NOT_FOUND', `no object ${name} in the ${INDEX_BUCKET} store; publish it with jobbert index publish`);
    return r;
  });
  await pipeline(Readable.fromWeb(result.data as import('node:stream/web').ReadableStream), createWriteStream(path));
  const e = await result.error;
  if (e) throw new JobBERTError('ERR_CORRUPT', `${name}: ${e.message}`, { cause: e });
  return result.info;
}

/** How a downloaded index file becomes a served version (default: MatchIndex.load with `encoder`). */
export type IndexLoader = (path: string) => Promise<{ index: MatchIndex; encoder?: Encoder }>;

/** A loaded shard: its index and each entry's position in the whole index. */
export interface ShardVersion extends IndexVersion {
  positions: Map<string, number>;
}

/**
 * The temp folders replicas download into: `jobbert-replica-HOST.PID-XXXXXX`.
 * A replica killed while it loads (SIGKILL, out of memory) cannot remove its
 * folder, which holds a whole shard; the next replica on this host removes
 * those whose process no longer runs.
 */
const REPLICA_DIR = 'jobbert-replica-';
const replicaDirPrefix = () => join(tmpdir(), `${REPLICA_DIR}${hostname()}.${process.pid}-`);
const removeReplicaLeftovers = () =>
  removeLeftovers(tmpdir(), (name) => {
    const m = /^jobbert-replica-(.+)\.(\d+)-[^-.]+$/.exec(name);
    return m && m[1] === hostname() ? Number(m[2]) : undefined;
  });

/**
 * A downloaded shard object as an index file: after its magic, table length
 * and shard count, its JSON table of ids and positions, then the index file.
 * Reads the table and copies the index file out, both streamed (a shard can
 * be larger than a replica's spare memory). Async; ERR_CORRUPT.
 */
async function splitShard(object: string, path: string, indexPath: string): Promise<Map<string, number>> {
  const corrupt = (why: string) => new JobBERTError('ERR_CORRUPT', `${object} is not a jobbert shard: ${why}`);
  const file = await open(path, 'r');
  let start: number;
  let table: { ids: string[]; positions: number[] };
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(16);
    if (size < 16 || (await file.read(head, 0, 16, 0)).bytesRead < 16 || !head.subarray(0, 8).equals(SHARD_MAGIC))
      throw corrupt('no shard header');
    const length = head.readUInt32LE(8);
    if (16 + length > size) throw corrupt(`its table (${length} bytes) runs past its end (${size} bytes)`);
    const json = Buffer.alloc(length);
    await file.read(json, 0, length, 16);
    try {
      table = JSON.parse(json.toString('utf8'));
    } catch (e) {
      throw corrupt(`its table is not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(table?.ids) || !Array.isArray(table.positions) || table.ids.length !== table.positions.length)
      throw corrupt('its table lists no ids and positions of one length');
    start = 16 + length;
  } finally {
    await file.close();
  }
  await pipeline(createReadStream(path, { start }), createWriteStream(indexPath));
  return new Map(table.ids.map((id, i) => [id, table.positions[i]]));
}

async function loadObject(
  store: ObjectStore,
  object: string,
  load: IndexLoader,
  sharded: boolean,
): Promise<{ version: IndexVersion | ShardVersion; nuid: string }> {
  const dir = await mkdtemp(replicaDirPrefix());
  try {
    const path = join(dir, 'index');
    const info = await download(store, object, path);
    let positions: Map<string, number> | undefined;
    let indexPath = path;
    if (sharded) {
      indexPath = join(dir, 'shard-index');
      positions = await splitShard(object, path, indexPath);
      await rm(path);
    }
    const { index, encoder } = await load(indexPath);
    if (sharded && index.size !== positions!.size) {
      await index.dispose();
      throw new JobBERTError('ERR_CORRUPT', `${object} lists ${positions!.size} positions for ${index.size} entries`);
    }
    const version = info.metadata?.version ?? info.nuid;
    return { version: positions ? { index, encoder, version, positions } : { index, encoder, version }, nuid: info.nuid };
  } catch (e) {
    // The download's temporary path means nothing in a log (and differs at each try): the error names the object.
    if (e instanceof Error) e.message = e.message.replaceAll(join(dir, 'shard-index'), object).replaceAll(join(dir, 'index'), object);
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface WatchedIndex {
  /** The index to serve: searches see the newest loaded version. */
  readonly index: SwappableIndex;
  /** The connection the watch uses (shared with a shard service). */
  readonly connection: ClusterConnection;
  /** For a shard, the shard count of the layout it serves (read when the watch began); undefined for an unsharded index. */
  readonly shards: number | undefined;
  /** Stops watching, disposes every version and closes the connection. Async. */
  close(): Promise<void>;
}

/** The longest wait before a published version that failed to load is tried again. */
const RETRY_MAX_MS = 5 * 60_000;

export interface WatchOptions {
  nats: string;
  name: string;
  /** Serve shard `shard` of a sharded index instead of the unsharded one. */
  shard?: number;
  /** Loads a downloaded index file (default: MatchIndex.load(path, encoder)). */
  load?: IndexLoader;
  /** How often to look for a new version, in ms (default 1000). */
  pollMs?: number;
  /** Told about each swap and each failed load. */
  log?: (line: string) => void;
}

/**
 * Loads the newest version of an index (or of one shard) from the store and
 * keeps swapping in new versions as they are published. Async; rejects with
 * JobBERTError ERR_NOT_FOUND when nothing is published under that name, ERR_NATS.
 */
export async function watchIndex(opts: WatchOptions): Promise<WatchedIndex> {
  const fn = 'watchIndex';
  assertOptions(fn, opts);
  checkIndexName(fn, opts.name);
  const pollMs = opts.pollMs ?? 1000;
  assertTimerMs(fn, 'pollMs', pollMs, 10);
  const load: IndexLoader = opts.load ?? (async (path) => ({ index: await MatchIndex.load(path) }));
  const log = opts.log ?? (() => {});
  const c = await connectCluster(opts.nats, `jobbert-replica-${opts.name}`);
  let object = opts.name;
  let shards: number | undefined;
  const sharded = opts.shard !== undefined;
  let swappable: SwappableIndex;
  let nuid: string;
  try {
    const store = await objectStore(c, INDEX_BUCKET);
    if (sharded) {
      assertInteger(fn, 'shard', opts.shard, 0, 1023);
      const manifest = await readManifest(store, opts.name);
      if (opts.shard! >= manifest.shards)
        throw new RangeError(`${fn}: shard must be below the index's shard count (${manifest.shards}); received ${opts.shard}`);
      object = shardObject(opts.name, opts.shard!, manifest.shards);
      shards = manifest.shards;
    } else await refuseSharded(store, opts.name);
    await removeReplicaLeftovers();
    const first = await loadObject(store, object, load, sharded);
    swappable = new SwappableIndex(first.version);
    nuid = first.nuid;

    let stopped = false;
    /** Why the last look for a new version failed (said once, not every poll while NATS is away), else null. */
    let lookFailed: string | null = null;
    /**
     * The published version that failed to load, how often, and when to try it again: a damaged version, or one whose
     * encoder is gone, was downloaded again and logged at every poll (once a second) until another was published.
     */
    let failed = null as { nuid: string; message: string; tries: number; retryAt: number } | null;
    const watching = (async () => {
      while (!stopped) {
        await sleep(pollMs);
        if (stopped) break;
        let info: Awaited<ReturnType<typeof store.info>>;
        try {
          info = await store.info(object);
        } catch (e) {
          // No new version was seen: "cannot load the new version" said so after every NATS restart.
          if (lookFailed === null)
            log(`jobbert serve: cannot look for a new version of ${object} (still serving ${swappable.version}): ${(e as Error).message}`);
          lookFailed = (e as Error).message;
          continue;
        }
        if (lookFailed !== null) log(`jobbert serve: looking for new versions of ${object} again`);
        lookFailed = null;
        if (!info || info.deleted || info.nuid === nuid) continue;
        if (failed?.nuid === info.nuid && Date.now() < failed.retryAt) continue;
        try {
          const next = await loadObject(store, object, load, sharded);
          if (stopped) {
            await next.version.index.dispose();
            await next.version.encoder?.dispose();
            break;
          }
          nuid = next.nuid;
          failed = null;
          await swappable.swap(next.version);
          log(`jobbert serve: now serving ${object} version ${next.version.version}`);
        } catch (e) {
          // Tried again at doubling intervals up to RETRY_MAX_MS (the cause may pass: a broker gone mid-download), and
          // said again only when the reason changes.
          const message = (e as Error).message;
          const again: typeof failed = failed?.nuid === info.nuid ? failed : null;
          const tries = (again?.tries ?? 0) + 1;
          const waitMs = Math.min(RETRY_MAX_MS, pollMs * 2 ** tries);
          if (again?.message !== message)
            log(
              `jobbert serve: cannot load the new version of ${object} (still serving ${swappable.version}; trying it again at growing intervals, up to every ${RETRY_MAX_MS / 60_000} min): ${message}`,
            );
          failed = { nuid: info.nuid, message, tries, retryAt: Date.now() + waitMs };
        }
      }
    })();
    return {
      index: swappable,
      connection: c,
      shards,
      async close() {
        stopped = true;
        await watching;
        await swappable.dispose();
        await c.close();
      },
    };
  } catch (e) {
    await c.close();
    throw e;
  }
}

/** Is an object there (not deleted)? Async. */
const published = async (store: ObjectStore, object: string) =>
  retry(`look up ${object}`, async () => {
    const info = await store.info(object);
    return info !== null && !info.deleted;
  });

/**
 * Rejects with JobBERTError ERR_NOT_FOUND, saying how to serve it, when `name`
 * is published sharded only: asked for whole, it was said to be missing. Async.
 */
async function refuseSharded(store: ObjectStore, name: string): Promise<void> {
  if (await published(store, name)) return;
  const raw = await retry('read the manifest', () => store.getBlob(manifestObject(name)));
  if (!raw) return; // published neither way: the download names it
  const { shards } = JSON.parse(new TextDecoder().decode(raw)) as ShardManifest;
  throw new JobBERTError(
    'ERR_NOT_FOUND',
    `${name} is published sharded, into ${shards} shards, not whole: serve it with --router (the HTTP API, asking every shard) and each shard with --shard I (0 to ${shards - 1}); in code, ShardRouter.open or watchIndex({ shard })`,
  );
}

/** Reads a sharded index's manifest. Async; JobBERTError ERR_NOT_FOUND when there is none (saying so when the index is published whole). */
export async function readManifest(store: ObjectStore, name: string): Promise<ShardManifest> {
  const raw = await retry('read the manifest', () => store.getBlob(manifestObject(name)));
  if (!raw)
    throw new JobBERTError(
      'ERR_NOT_FOUND',
      (await published(store, name))
        ? `${name} is published unsharded, as one index: serve it without --router or --shard (serve --nats URL --index-name ${name}), or publish it again with --shards N`
        : `no sharded index ${name} in the ${INDEX_BUCKET} store; publish it with jobbert index publish --shards N`,
    );
  return JSON.parse(new TextDecoder().decode(raw)) as ShardManifest;
}
