/** The CLI's scale-out commands: `jobbert worker`, `jobbert batch encode|normalize`, `jobbert index publish`. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Encoder } from '../encoders/encoder.js';
import { runBatch, type BatchProgress, type BatchResult } from '../cluster/batch.js';
import { encodeRunner, type BatchTask, type TaskRunner } from '../cluster/jobs.js';
import { startWorker } from '../cluster/worker.js';
import { normalizeFingerprint, normalizeRunner, type NormalizeSettings } from '../cluster/normalize-task.js';
import { Normalizer } from '../normalize/normalizer.js';
import { LiteEncoder } from '../lite/encoder.js';
import { publishIndex, watchIndex } from '../cluster/index-store.js';
import { serveShard, ShardRouter } from '../cluster/shards.js';
import type { SwappableIndex } from '../cluster/swap.js';
import { JobBERTError } from '../errors.js';
import { loadIndexWithEncoder } from '../serve/load.js';
import type { ServedIndex } from '../serve/matcher.js';
import { JobBERT } from '../model/jobbert.js';
import { parseArgs, UsageError } from './args.js';
import type { ProgressSink } from './model-commands.js';

type Out = (line: string) => void;

/** The model the options name: `--model DIR` (LiteEncoder dir with lite.json, else JobBERT), else the built-in LiteEncoder. */
async function loadModel(o: Record<string, unknown>): Promise<Encoder> {
  const dir = o.model as string | undefined;
  if (!dir) return LiteEncoder.load();
  if (!existsSync(dir)) throw new UsageError(`--model ${dir}: no such directory`);
  if (existsSync(join(dir, 'lite.json'))) return LiteEncoder.load(dir);
  return JobBERT.load(dir, { threads: (o.threads as number | undefined) ?? 1, batchSize: o.batchSize as number | undefined });
}

function waitForSignal(signals: NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      for (const x of signals) process.off(x, on);
      resolve(s);
    };
    for (const s of signals) process.on(s, on);
  });
}

/** `jobbert worker --nats URL ...`: resolves with 0 once a signal has stopped it. */
export async function workerCommand(
  argv: string[],
  out: Out,
  err: Out,
  signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, {
    options: {
      nats: 'string',
      model: 'string',
      threads: 'integer',
      'batch-size': 'integer',
      'ack-wait-ms': 'integer',
      'max-attempts': 'integer',
      'shutdown-timeout-ms': 'integer',
      concurrency: 'integer',
      examples: 'string',
      taxonomy: 'string',
      threshold: 'string',
      tasks: 'string',
      json: 'boolean',
    },
  });
  if (positionals.length) throw new UsageError(`worker takes no positional arguments; received '${positionals[0]}'`);
  if (o.threshold !== undefined)
    throw new UsageError(
      'worker takes no --threshold: a job names its own (jobbert batch normalize --threshold X), and every worker serves it',
    );
  const tasks = ((o.tasks as string | undefined) ?? 'encode,normalize').split(',').map((t) => t.trim());
  for (const t of tasks)
    if (t !== 'encode' && t !== 'normalize') throw new UsageError(`--tasks must list encode and/or normalize; received '${t}'`);
  if (!o.nats) throw new UsageError('worker needs --nats URL (e.g. nats://127.0.0.1:4222)');
  const encoder = await loadModel(o);
  let normalizer: Normalizer | undefined;
  try {
    const runners: TaskRunner[] = [];
    if (tasks.includes('encode')) runners.push(encodeRunner(encoder));
    if (tasks.includes('normalize')) {
      const settings = normalizeSettings(o);
      normalizer = await Normalizer.load({ encoder, ...settings });
      runners.push(normalizeRunner(normalizer, await normalizeFingerprint(encoder.fingerprint, settings)));
    }
    const signal = waitForSignal(signals);
    const worker = await startWorker({
      nats: o.nats as string,
      runners,
      ackWaitMs: o.ackWaitMs as number | undefined,
      maxAttempts: o.maxAttempts as number | undefined,
      shutdownTimeoutMs: o.shutdownTimeoutMs as number | undefined,
      concurrency: o.concurrency as number | undefined,
      log: o.json ? undefined : err,
    });
    if (o.json) out(JSON.stringify({ nats: o.nats, tasks, fingerprint: encoder.fingerprint, pid: process.pid }));
    else
      out(
        `jobbert worker: connected to ${o.nats as string}; runs ${tasks.join(', ')} with model ${encoder.fingerprint} (pid ${process.pid})`,
      );
    const s = await signal;
    err(`jobbert worker: ${s}: finishing the chunks in hand, then stopping`);
    await worker.stop();
    if (o.json) out(JSON.stringify({ stopped: s, ...worker.stats }));
    else out(`jobbert worker: stopped (${worker.stats.chunks} chunks, ${worker.stats.rows} rows, ${worker.stats.failed} failed)`);
    return 0;
  } finally {
    await normalizer?.dispose();
    await encoder.dispose();
  }
}

/** The Normalizer settings the options name (they make part of a normalize job's fingerprint). */
function normalizeSettings(o: Record<string, unknown>): NormalizeSettings {
  const s: NormalizeSettings = {};
  if (o.taxonomy !== undefined) s.taxonomy = o.taxonomy as string;
  if (o.examples !== undefined) s.examples = o.examples as string;
  return s;
}

function progressLine(p: BatchProgress): string {
  const pct = p.rows ? ((100 * p.done) / p.rows).toFixed(1) : '100.0';
  const eta = p.etaSeconds === null ? '?' : `${Math.ceil(p.etaSeconds)} s`;
  const failed = p.failed ? `, ${p.failed} failed` : '';
  const waiting = p.noWorkers ? ' — no worker for this model has connected yet' : '';
  return `${p.job}: ${p.done}/${p.rows} rows (${pct}%), chunks ${p.chunksDone}/${p.chunks}${failed}, ${p.titlesPerSecond.toFixed(0)} titles/s, ETA ${eta}${waiting}`;
}

/** `jobbert batch encode|normalize --nats URL --input FILE --output FILE ...`. */
export async function batchCommand(argv: string[], out: Out, err: Out, progress: ProgressSink = process.stderr): Promise<number> {
  const [task, ...rest] = argv;
  if (task !== 'encode' && task !== 'normalize') throw new UsageError(`batch needs a task: encode or normalize; received '${task ?? ''}'`);
  const { options: o, positionals } = parseArgs(rest, {
    options: {
      nats: 'string',
      input: 'string',
      output: 'string',
      model: 'string',
      branch: 'string',
      chunk: 'integer',
      job: 'string',
      column: 'string',
      k: 'integer',
      lang: 'string',
      'output-lang': 'string',
      examples: 'string',
      taxonomy: 'string',
      threshold: 'number',
      json: 'boolean',
    },
  });
  if (positionals.length) throw new UsageError(`batch ${task} takes no positional arguments; received '${positionals[0]}'`);
  if (!o.nats || !o.input || !o.output) throw new UsageError(`batch ${task} needs --nats URL, --input FILE and --output FILE`);
  if (o.input === '-' || o.output === '-')
    throw new UsageError(`batch ${task} needs files, not stdin or stdout: a rerun resumes a job by reading its input and output again`);
  // jobbert normalize writes CSV to such a name; batch writes JSON Lines only, which a .csv name would hide.
  if (/\.(csv|tsv|tab)(\.gz)?$/i.test(o.output as string))
    throw new UsageError(`batch ${task} writes JSON Lines; name --output .jsonl (or .jsonl.gz), not ${o.output}`);
  const options: Record<string, unknown> = {};
  const only = (names: string[], t: string) => {
    for (const n of names)
      if (o[n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] !== undefined) throw new UsageError(`--${n} is for batch ${t}`);
  };
  if (task === 'encode') only(['k', 'lang', 'output-lang', 'examples', 'taxonomy', 'threshold'], 'normalize');
  else only(['branch'], 'encode');
  if (o.k !== undefined) options.k = o.k;
  if (o.lang !== undefined) options.lang = o.lang;
  if (o.outputLang !== undefined) options.outputLang = o.outputLang;
  if (o.threshold !== undefined) {
    const t = o.threshold as number;
    if (!(t >= 0 && t <= 1)) throw new UsageError(`--threshold must be a number in [0, 1]; received ${t}`);
    options.threshold = t;
  }
  if (o.branch !== undefined) {
    if (!['anchor', 'positive', 'base'].includes(o.branch as string))
      throw new UsageError(`--branch must be anchor, positive or base; received '${String(o.branch)}'`);
    options.branch = o.branch;
  }
  // The submitter needs only the model's fingerprint: the workers must have the same.
  const encoder = await loadModel(o);
  const fingerprint = task === 'encode' ? encoder.fingerprint : await normalizeFingerprint(encoder.fingerprint, normalizeSettings(o));
  await encoder.dispose();
  let last = 0;
  let lastDone = -1;
  const onProgress = (p: BatchProgress) => {
    const now = performance.now();
    const final = p.chunksDone === p.chunks;
    if (progress.isTTY) {
      if (now - last > 100 || final) progress.write(`\r\x1b[2K${progressLine(p)}${final ? '\n' : ''}`);
    } else if ((p.done !== lastDone && now - last > 1000) || final) {
      progress.write(`${progressLine(p)}\n`);
    } else return;
    last = now;
    lastDone = p.done;
  };
  const result: BatchResult = await runBatch({
    nats: o.nats as string,
    task: task as BatchTask,
    input: o.input as string,
    output: o.output as string,
    fingerprint,
    options,
    chunkSize: o.chunk as number | undefined,
    job: o.job as string | undefined,
    column: o.column as string | undefined,
    onProgress,
  });
  if (o.json) out(JSON.stringify(result));
  else
    out(
      `${result.output}: ${result.rows} rows in ${result.chunks} chunks (${result.resumed} done before, ${result.submitted} submitted) in ${result.seconds.toFixed(1)} s`,
    );
  for (const f of result.failures)
    err(
      `jobbert: ERR_CHUNK_FAILED: chunk ${f.chunk} (rows ${f.firstRow}–${f.firstRow + f.rows - 1}) failed after ${f.deliveries} deliveries: ${f.code}: ${f.message}`,
    );
  return result.failures.length ? 1 : 0;
}

/** `jobbert index publish FILE --nats URL --name NAME [--shards N] [--json]`. */
export async function indexPublishCommand(argv: string[], out: Out): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, { options: { nats: 'string', name: 'string', shards: 'integer', json: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(`index publish needs exactly one index file; received ${positionals.length}`);
  if (!o.nats || !o.name) throw new UsageError('index publish needs --nats URL and --name NAME');
  const r = await publishIndex({
    nats: o.nats as string,
    file: positionals[0],
    name: o.name as string,
    shards: o.shards as number | undefined,
  });
  if (o.json) out(JSON.stringify(r));
  else out(`published ${r.name} version ${r.version} (${r.entries} entries${r.shards ? ` in ${r.shards} shards` : ''})`);
  return 0;
}

/** The encoder of the version a SwappableIndex serves now: /v1/encode follows the swaps. */
function currentEncoder(index: SwappableIndex, first: Encoder): Encoder {
  return {
    get dim() {
      return index.dim;
    },
    get fingerprint() {
      return index.fingerprint;
    },
    encode: (texts, opts) =>
      index.use((v) => {
        if (!v.encoder) throw new JobBERTError('ERR_NO_ENCODER', `index version ${v.version} holds no encoder this version can rebuild`);
        return v.encoder.encode(texts, opts);
      }),
    spec: first.spec ? () => first.spec!() : undefined,
    dispose: async () => {},
  };
}

/** What `serve --nats` serves: a hot-swapped index, or (--router) every shard through a router. */
export async function natsIndex(
  o: Record<string, unknown>,
  err: Out,
): Promise<{ index: ServedIndex & { dispose(): Promise<void> }; encoder: Encoder | undefined }> {
  if (!o.indexName) throw new UsageError('serve --nats needs --index-name NAME');
  if (o.index) throw new UsageError('serve takes --index FILE or --nats URL --index-name NAME, not both');
  if (o.router) {
    const router = await ShardRouter.open({ nats: o.nats as string, name: o.indexName as string });
    return { index: router, encoder: router.encoder };
  }
  const watched = await watchIndex({ nats: o.nats as string, name: o.indexName as string, load: loadIndexWithEncoder, log: err });
  const index = watched.index;
  const first = await index.use(async (v) => v.encoder);
  // What the service sees; dispose() ends the watch, which disposes every version and the connection.
  const served: ServedIndex & { dispose(): Promise<void> } = {
    get size() {
      return index.size;
    },
    get dim() {
      return index.dim;
    },
    get fingerprint() {
      return index.fingerprint;
    },
    get languages() {
      return index.languages;
    },
    get version() {
      return index.version;
    },
    search: (queries, opts) => index.search(queries, opts),
    dispose: () => watched.close(),
  };
  return { index: served, encoder: first ? currentEncoder(index, first) : undefined };
}

/** `serve --nats URL --index-name NAME --shard I`: answers shard I's searches until a signal. */
export async function serveShardCommand(o: Record<string, unknown>, out: Out, err: Out, signals: NodeJS.Signals[]): Promise<number> {
  if (!o.nats || !o.indexName) throw new UsageError('serve --shard I needs --nats URL and --index-name NAME');
  const signal = waitForSignal(signals);
  const service = await serveShard({
    nats: o.nats as string,
    name: o.indexName as string,
    shard: o.shard as number,
    load: loadIndexWithEncoder,
    log: err,
  });
  const index = service.watched.index;
  const line = { shard: o.shard, name: o.indexName, version: index.version, entries: index.size, pid: process.pid };
  out(
    o.json
      ? JSON.stringify(line)
      : `jobbert serve: shard ${line.shard} of ${line.name} (version ${line.version}, ${line.entries} entries) on ${o.nats as string}`,
  );
  const s = await signal;
  err(`jobbert serve: ${s}: stopping shard ${o.shard}`);
  await service.close();
  return 0;
}
