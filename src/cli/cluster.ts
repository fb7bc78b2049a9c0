/** The CLI's scale-out commands: `jobbert worker`, `jobbert batch encode|normalize` (list|remove: batch-jobs.ts), `jobbert index publish`. */
import { createReadStream, createWriteStream, existsSync, rmSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Encoder } from '../encoders/encoder.js';
import { runBatch, type BatchProgress, type BatchResult } from '../cluster/batch.js';
import { encodeRunner, JOB_NAME, type BatchTask, type TaskRunner } from '../cluster/jobs.js';
import { startWorker } from '../cluster/worker.js';
import { normalizeFingerprint, normalizeRunner, type NormalizeSettings } from '../cluster/normalize-task.js';
import { Normalizer } from '../normalize/normalizer.js';
import { detectFormat, isPipe, namedFormat, pickColumn, readRows, TITLE_COLUMNS } from '../normalize/rows.js';
import { loadBuiltinTaxonomy, taxonomyLanguages } from '../normalize/taxonomy.js';
import { publishIndex, watchIndex } from '../cluster/index-store.js';
import { ShardRouter } from '../cluster/shard-router.js';
import { serveShard } from '../cluster/shard-service.js';
import type { SwappableIndex } from '../cluster/swap.js';
import { JobBERTError } from '../errors.js';
import { loadIndexWithEncoder } from '../serve/load.js';
import type { ServedIndex } from '../serve/matcher.js';
import { camel, parseArgs, UsageError } from './args.js';
import { modelEncoder } from './model.js';
import { stopReasonText, untilStopped } from './stop.js';
import { cleanupOnSignal, mustExist, refuseFolder, refuseSameFile } from './files.js';
import { checkNormalizeFlags, titlesPerChunk } from './normalize.js';
import type { ProgressSink } from './model-commands.js';

type Out = (line: string) => void;

/** The model the options name (model.ts), a JobBERT model on one thread unless --threads says otherwise. */
const loadModel = (o: Record<string, unknown>): Promise<Encoder> =>
  modelEncoder(o.model as string | undefined, {
    threads: (o.threads as number | undefined) ?? 1,
    batchSize: o.batchSize as number | undefined,
  });

/** Temporary copies of pipes made by {@link rereadable} and not yet removed: a signal removes them too. */
const copies = new Set<string>();
const removeCopies = () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
  copies.clear();
};

/**
 * `path` as a file that can be read more than once: a pipe or FIFO (`--examples
 * <(…)`, `--input <(…)`) is copied to a temporary file first — the Normalizer
 * and the fingerprint both read the examples, and a submitter reads its input
 * once to count the rows and again to send them, so a pipe read twice gave the
 * second reader nothing (a worker then ran with examples other than its
 * fingerprint said, or a job sent no chunks and waited forever). With
 * `asBatchInput`, a copy of a pipe whose name has no extension (`<(…)` is
 * /dev/fd/63) is named by its content, since batch reads a name without one as
 * a list of titles: JSON Lines and TSV by their first line, CSV when its
 * header (read as the CSV reader reads it: decompressed, after a `sep=` line,
 * quotes removed) holds the title column (`column`, else a known name).
 * `cleanup` removes the copy. Async.
 */
async function rereadable(path: string, asBatchInput?: { column?: string }): Promise<{ path: string; cleanup: () => Promise<void> }> {
  if (!isPipe(path)) return { path, cleanup: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-pipe-'));
  copies.add(dir);
  const cleanup = async () => {
    copies.delete(dir);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let copy = join(dir, basename(path));
    await pipeline(createReadStream(path), createWriteStream(copy));
    if (asBatchInput && namedFormat(path) === undefined) {
      const ext = await batchExtension(copy, asBatchInput.column);
      await rename(copy, `${copy}${ext}`);
      copy += ext;
    }
    return { path: copy, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The extension under which batch reads the unnamed file `path` as what it holds (see {@link rereadable}). */
async function batchExtension(path: string, column?: string): Promise<string> {
  const format = await detectFormat(path);
  if (format === 'jsonl') return '.jsonl';
  if (format === 'tsv') return '.tsv';
  const rows = readRows(path, 'csv');
  try {
    const first = await rows.next();
    const keys = first.done || first.value.record === undefined ? [] : Object.keys(first.value.record);
    return pickColumn(keys, column !== undefined ? [column] : TITLE_COLUMNS) !== undefined ? '.csv' : '.txt';
  } finally {
    await rows.return(undefined);
  }
}

/** UsageError unless the integer option `name` (given as `v`) is in [min, max]: named as the flag, before any work. */
function within(name: string, v: unknown, min: number, max: number): void {
  if (v !== undefined && ((v as number) < min || (v as number) > max))
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}]; received ${v as number}`);
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
      calibration: 'string',
      threshold: 'string',
      tasks: 'string',
      fast: 'boolean',
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
  for (const flag of ['fast', 'calibration'] as const)
    if (o[flag] !== undefined && !tasks.includes('normalize'))
      throw new UsageError(`--${flag} is for the normalize task (--tasks normalize)`);
  if (!o.nats) throw new UsageError('worker needs --nats URL (e.g. nats://127.0.0.1:4222)');
  for (const [name, min, max] of [
    ['threads', 1, 1024],
    ['batch-size', 1, 1 << 16],
    ['concurrency', 1, 64],
    ['max-attempts', 1, 1000],
    ['ack-wait-ms', 1000, 24 * 3600_000],
    ['shutdown-timeout-ms', 0, 24 * 3600_000],
  ] as const)
    within(name, o[camel(name)], min, max);
  if (o.examples !== undefined) mustExist('examples', o.examples as string);
  if (o.calibration !== undefined) mustExist('calibration', o.calibration as string);
  const examples = o.examples === undefined ? undefined : await rereadable(o.examples as string);
  if (examples) o.examples = examples.path;
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
    const signal = untilStopped(signals);
    const worker = await startWorker({
      nats: o.nats as string,
      runners,
      ackWaitMs: o.ackWaitMs as number | undefined,
      maxAttempts: o.maxAttempts as number | undefined,
      shutdownTimeoutMs: o.shutdownTimeoutMs as number | undefined,
      concurrency: o.concurrency as number | undefined,
      log: o.json ? undefined : err,
    }).catch((e: unknown) => {
      signal.cancel();
      throw e;
    });
    if (o.json) out(JSON.stringify({ nats: o.nats, tasks, fingerprint: encoder.fingerprint, pid: process.pid }));
    else
      out(
        `jobbert worker: connected to ${o.nats as string}; runs ${tasks.join(', ')} with model ${encoder.fingerprint} (pid ${process.pid})`,
      );
    const s = await signal;
    err(`jobbert worker: ${stopReasonText(s)}: finishing the chunks in hand, then stopping`);
    await worker.stop();
    if (o.json) out(JSON.stringify({ stopped: s, ...worker.stats }));
    else out(`jobbert worker: stopped (${worker.stats.chunks} chunks, ${worker.stats.rows} rows, ${worker.stats.failed} failed)`);
    return 0;
  } finally {
    await normalizer?.dispose();
    await encoder.dispose();
    await examples?.cleanup();
  }
}

/** The Normalizer settings the options name (they make part of a normalize job's fingerprint). */
function normalizeSettings(o: Record<string, unknown>): NormalizeSettings {
  const s: NormalizeSettings = {};
  if (o.taxonomy !== undefined) s.taxonomy = o.taxonomy as string;
  if (o.examples !== undefined) s.examples = o.examples as string;
  if (o.fast) s.search = 'fast';
  if (o.calibration !== undefined) s.calibration = o.calibration as string;
  return s;
}

function progressLine(p: BatchProgress): string {
  const pct = p.rows ? ((100 * p.done) / p.rows).toFixed(1) : '100.0';
  const eta = p.etaSeconds === null ? '?' : `${Math.ceil(p.etaSeconds)} s`;
  const failed = p.failed ? `, ${p.failed} failed` : '';
  const waiting = p.noWorkers ? ' — no worker for this model is connected' : '';
  return `${p.job}: ${p.done}/${p.rows} rows (${pct}%), chunks ${p.chunksDone}/${p.chunks}${failed}, ${p.titlesPerSecond.toFixed(0)} titles/s, ETA ${eta}${waiting}`;
}

/** `jobbert batch encode|normalize --nats URL --input FILE --output FILE ...`, and `jobbert batch list|remove`. */
export async function batchCommand(argv: string[], out: Out, err: Out, progress: ProgressSink = process.stderr): Promise<number> {
  const [task, ...rest] = argv;
  if (task === 'list' || task === 'remove') return (await import('./batch-jobs.js')).batchJobsCommand(task, rest, out);
  if (task !== 'encode' && task !== 'normalize')
    throw new UsageError(`batch needs a task (encode or normalize), or list or remove; received '${task ?? ''}'`);
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
      calibration: 'string',
      threshold: 'number',
      fast: 'boolean',
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
  if (task === 'encode') only(['k', 'lang', 'output-lang', 'examples', 'taxonomy', 'calibration', 'threshold', 'fast'], 'normalize');
  else only(['branch'], 'encode');
  if (o.k !== undefined) options.k = o.k;
  if (o.lang !== undefined) options.lang = o.lang;
  if (o.outputLang !== undefined) options.outputLang = o.outputLang;
  checkNormalizeFlags(o.k as number | undefined, o.threshold as number | undefined);
  if (o.threshold !== undefined) options.threshold = o.threshold;
  // Checked here, as jobbert normalize checks them, not by every worker on every chunk of a submitted job.
  within('chunk', o.chunk, 1, 100_000);
  if (o.job !== undefined && !JOB_NAME.test(o.job as string))
    throw new UsageError(`--job must be 1 to 64 letters, digits, _ or -; received '${o.job as string}'`);
  if (task === 'normalize' && (o.lang !== undefined || o.outputLang !== undefined)) {
    const langs = o.taxonomy === undefined ? (await loadBuiltinTaxonomy()).langs : taxonomyLanguages(o.taxonomy as string);
    for (const name of ['lang', 'output-lang'] as const) {
      const v = o[camel(name)] as string | undefined;
      if (v !== undefined && !langs.includes(v))
        throw new UsageError(`--${name} must be one of the taxonomy's languages (${langs.join(', ')}); received '${v}'`);
    }
  }
  for (const name of ['input', 'examples'] as const) if (o[name] !== undefined) mustExist(name, o[name] as string);
  const output = o.output as string;
  refuseFolder('output', output);
  refuseSameFile('output', output, { input: o.input, examples: o.examples, calibration: o.calibration });
  if (!existsSync(dirname(resolve(output))))
    throw new JobBERTError('ERR_NOT_FOUND', `--output ${output}: the folder ${dirname(resolve(output))} does not exist`);
  if (o.branch !== undefined) {
    if (!['anchor', 'positive', 'base'].includes(o.branch as string))
      throw new UsageError(`--branch must be anchor, positive or base; received '${String(o.branch)}'`);
    options.branch = o.branch;
  }
  // A chunk's results are one object in the broker and one string on the way to the output: fewer titles a
  // chunk at a large k (at k 10,000, 1,000 titles made a string longer than V8 allows, after the whole job had run).
  if (task === 'normalize' && o.k !== undefined) o.chunk = titlesPerChunk((o.chunk as number | undefined) ?? 1000, o.k as number);
  // Interrupted: the copies of pipes go too (the output's temp file is removed by the next run).
  const release = cleanupOnSignal(removeCopies);
  try {
    const input = await rereadable(o.input as string, { column: o.column as string | undefined });
    const examples = o.examples === undefined ? undefined : await rereadable(o.examples as string);
    try {
      if (examples) o.examples = examples.path;
      return await submit(task, o, options, input.path, out, err, progress);
    } finally {
      await input.cleanup();
      await examples?.cleanup();
    }
  } finally {
    release();
  }
}

async function submit(
  task: BatchTask,
  o: Record<string, unknown>,
  options: Record<string, unknown>,
  input: string,
  out: Out,
  err: Out,
  progress: ProgressSink,
): Promise<number> {
  // The submitter needs only the model's fingerprint: the workers must have the same.
  const encoder = await loadModel(o);
  let fingerprint: string;
  try {
    if (task === 'encode') fingerprint = encoder.fingerprint;
    else {
      const settings = normalizeSettings(o);
      // The Normalizer the workers will build, built once here: taxonomy, examples or a calibration that
      // every worker refuses queued the whole job, which then waited for a worker for good.
      await (await Normalizer.load({ encoder, ...settings })).dispose();
      fingerprint = await normalizeFingerprint(encoder.fingerprint, settings);
    }
  } finally {
    await encoder.dispose();
  }
  let last = 0;
  let lastDone = -1;
  let lastWaiting = false;
  const onProgress = (p: BatchProgress) => {
    const now = performance.now();
    const final = p.chunksDone === p.chunks;
    if (progress.isTTY) {
      if (now - last > 100 || final) progress.write(`\r\x1b[2K${progressLine(p)}${final ? '\n' : ''}`);
    } else if (
      // A line a second while rows get done; also when workers are found missing (or found), and every
      // 30 s of no progress, so a log shows a job that waits for workers rather than nothing.
      (p.done !== lastDone && now - last > 1000) ||
      p.noWorkers !== lastWaiting ||
      now - last > 30_000 ||
      final
    ) {
      progress.write(`${progressLine(p)}\n`);
    } else return;
    last = now;
    lastDone = p.done;
    lastWaiting = p.noWorkers;
  };
  const result: BatchResult = await runBatch({
    nats: o.nats as string,
    task,
    input,
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
  // 0 is the library's "unsharded": leave --shards out for that, rather than get it from a typo or an empty variable.
  within('shards', o.shards, 1, 1024);
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
  // A version whose encoder cannot be loaded is refused before its vectors are read: the first ends serve, a later one
  // is logged and the served one kept (swapped in, it failed every query with ERR_NO_ENCODER).
  const watched = await watchIndex({
    nats: o.nats as string,
    name: o.indexName as string,
    load: (path) => loadIndexWithEncoder(path, { requireEncoder: true }),
    log: err,
  });
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
  const signal = untilStopped(signals);
  const service = await serveShard({
    nats: o.nats as string,
    name: o.indexName as string,
    shard: o.shard as number,
    load: loadIndexWithEncoder,
    log: err,
  }).catch((e: unknown) => {
    signal.cancel();
    throw e;
  });
  const index = service.watched.index;
  const line = { shard: o.shard, name: o.indexName, version: index.version, entries: index.size, pid: process.pid };
  out(
    o.json
      ? JSON.stringify(line)
      : `jobbert serve: shard ${line.shard} of ${line.name} (version ${line.version}, ${line.entries} entries) on ${o.nats as string}`,
  );
  const s = await signal;
  err(`jobbert serve: ${stopReasonText(s)}: stopping shard ${o.shard}`);
  await service.close();
  return 0;
}
