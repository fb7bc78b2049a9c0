/** `jobbert serve`: load an index (and skills), serve them over HTTP until SIGTERM or SIGINT. */
import { UsageError, camel, parseArgs } from './args.js';
import { JobBERTError } from '../errors.js';
import type { Encoder } from '../encoders/encoder.js';
import { catalogueEntries } from '../catalogue/index.js';
import { LiteEncoder } from '../lite/encoder.js';
import { MatchIndex } from '../match/match-index.js';
import { SkillIndex } from '../match/skills.js';
import { loadIndexWithEncoder, readSkillsFile } from '../serve/load.js';
import { createServer, type ServeOptions } from '../serve/server.js';
import { Normalizer } from '../normalize/normalizer.js';
import { modelEncoder } from './model.js';
import { stopReasonText, untilStopped } from './stop.js';
import type { ServedIndex } from '../serve/matcher.js';

const SPEC = {
  options: {
    index: 'string',
    skills: 'string',
    model: 'string',
    taxonomy: 'string',
    calibration: 'string',
    examples: 'string',
    host: 'string',
    port: 'integer',
    token: 'string',
    json: 'boolean',
    'max-batch': 'integer',
    'max-wait-ms': 'integer',
    'max-queue': 'integer',
    'no-batching': 'boolean',
    'max-body-bytes': 'integer',
    'max-queries': 'integer',
    'max-inputs': 'integer',
    'max-text-length': 'integer',
    'max-k': 'integer',
    'max-results': 'integer',
    'request-timeout-ms': 'integer',
    'write-timeout-ms': 'integer',
    'shutdown-timeout-ms': 'integer',
    'idle-release-ms': 'integer',
    gzip: 'boolean',
    fast: 'boolean',
    nats: 'string',
    'index-name': 'string',
    shard: 'integer',
    router: 'boolean',
  },
} as const;

/**
 * A TypeError/RangeError of createServer's (or createMatcher's) checks as a
 * UsageError naming the flag ('--max-queue must be …', not 'createMatcher:
 * maxQueue must be …'); anything else as it is.
 */
function flagError(e: unknown): unknown {
  if (!(e instanceof TypeError || e instanceof RangeError)) return e;
  const m = /^create(?:Server|Matcher): ([a-zA-Z]+) (.*)$/s.exec(e.message);
  const flag = m?.[1].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return flag && flag in SPEC.options ? new UsageError(`--${flag} ${m?.[2]}`) : e;
}

/** The options a `serve --shard` process uses; the rest are the HTTP service's. */
const SHARD_OPTIONS = new Set(['nats', 'index-name', 'shard', 'json']);

/** The built-in catalogue, encoded with `encoder` (default: the built-in model). */
async function catalogueIndex(encoder?: Encoder): Promise<{ index: MatchIndex; encoder: Encoder }> {
  const e = encoder ?? (await LiteEncoder.load());
  return { index: await MatchIndex.build(e, catalogueEntries()), encoder: e };
}

/**
 * Runs the service; resolves with exit status 0 once a signal has stopped it
 * and its requests in flight were answered. `signals` is for tests.
 */
export async function serveCommand(
  argv: string[],
  out: (s: string) => void,
  err: (s: string) => void = console.error,
  signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, SPEC);
  if (positionals.length) throw new UsageError(`serve takes no positional arguments; received '${positionals[0]}'`);
  // Set but empty is refused, not read as "no token": a secret that failed to arrive must not open the service.
  if (o.token === undefined && process.env.JOBBERT_TOKEN === '')
    throw new UsageError('JOBBERT_TOKEN is set but empty; set it to the bearer token, or unset it to serve without one');
  const token = (o.token as string | undefined) ?? process.env.JOBBERT_TOKEN;

  if (!o.nats)
    for (const name of ['index-name', 'router'] as const)
      if (o[camel(name)] !== undefined) throw new UsageError(`serve --${name} needs --nats URL`);
  if (o.shard !== undefined) {
    // A shard answers over NATS only: the HTTP and normalize options would be silently ignored.
    const stray = Object.keys(SPEC.options).find((name) => !SHARD_OPTIONS.has(name) && o[camel(name)] !== undefined);
    if (stray) throw new UsageError(`serve --shard answers over NATS, with no HTTP service: --${stray} has no effect there`);
    return (await import('./cluster.js')).serveShardCommand(o, out, err, signals);
  }
  // Without an index, --model encodes the built-in catalogue too, so that every route speaks one model (it set up
  // /v1/normalize alone, and /v1/embeddings answered with the built-in model's vectors).
  const model = o.model as string | undefined;
  const ownEncoder = !o.nats && !o.index && model !== undefined ? await modelEncoder(model) : undefined;
  // From NATS (--nats; the NATS client loads only then); else --index; else the built-in catalogue. An index whose
  // encoder cannot be loaded is refused before its vectors are read (it was loaded whole, then refused).
  const { index, encoder } = (await (o.nats
    ? (await import('./cluster.js')).natsIndex(o, err)
    : o.index
      ? loadIndexWithEncoder(o.index as string, { requireEncoder: true })
      : catalogueIndex(ownEncoder)
  ).catch((e: unknown) => {
    if ((e as JobBERTError).code !== 'ERR_NO_ENCODER' || o.router) throw e;
    throw new JobBERTError('ERR_NO_ENCODER', `${(e as Error).message}, so queries cannot be encoded; rebuild it with jobbert index build`, {
      cause: e,
    });
  })) as {
    index: ServedIndex & { dispose(): Promise<void> };
    encoder: Encoder | undefined;
  };
  let skills: SkillIndex | undefined;
  let normalizer: Normalizer | undefined;
  let normalizerEncoder: Encoder | undefined;
  try {
    // Each source above refuses an index without an encoder; kept so that a new source cannot serve one.
    if (!encoder)
      throw new JobBERTError('ERR_NO_ENCODER', 'the index holds no encoder this version can rebuild, so queries cannot be encoded');
    if (o.skills) skills = await SkillIndex.build(encoder, await readSkillsFile(o.skills as string));
    normalizerEncoder = ownEncoder ?? (await modelEncoder(model));
    normalizer = await Normalizer.load({
      encoder: normalizerEncoder,
      taxonomy: o.taxonomy as string | undefined,
      examples: o.examples as string | undefined,
      search: o.fast ? 'fast' : 'exact',
      calibration: o.calibration as string | undefined,
    });
    const opts: ServeOptions = {
      index,
      encoder,
      skills,
      normalizer,
      host: o.host as string | undefined,
      port: o.port as number | undefined,
      token,
      batching: !o.noBatching,
      maxQueue: o.maxQueue as number | undefined,
      maxBatch: o.maxBatch as number | undefined,
      maxWaitMs: o.maxWaitMs as number | undefined,
      maxBodyBytes: o.maxBodyBytes as number | undefined,
      maxQueries: o.maxQueries as number | undefined,
      maxInputs: o.maxInputs as number | undefined,
      maxTextLength: o.maxTextLength as number | undefined,
      maxK: o.maxK as number | undefined,
      maxResults: o.maxResults as number | undefined,
      requestTimeoutMs: o.requestTimeoutMs as number | undefined,
      writeTimeoutMs: o.writeTimeoutMs as number | undefined,
      shutdownTimeoutMs: o.shutdownTimeoutMs as number | undefined,
      idleReleaseMs: o.idleReleaseMs as number | undefined,
      gzip: o.gzip as boolean | undefined,
      log: err,
    };
    for (const key of Object.keys(opts) as (keyof ServeOptions)[]) if (opts[key] === undefined) delete opts[key];
    let service: ReturnType<typeof createServer>;
    try {
      service = createServer(opts);
    } catch (e) {
      throw flagError(e);
    }
    const { host, port, url } = await service.listen().catch((e: NodeJS.ErrnoException) => {
      throw new JobBERTError('ERR_LISTEN', `cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 8080}: ${e.message}`, { cause: e });
    });
    const stopped = untilStopped(signals);
    if (o.json)
      out(
        JSON.stringify({
          url,
          host,
          port,
          entries: index.size,
          dim: index.dim,
          skills: skills?.size ?? null,
          occupations: normalizer.taxonomy.occupations.length,
          indexVersion: index.version ?? null,
          batching: service.matcher.settings.batching,
          auth: token !== undefined,
        }),
      );
    else
      out(
        `jobbert serve: listening on ${url} (${index.size} entries, ${index.dim}-d${skills ? `, ${skills.size} skills` : ''}, ${normalizer.taxonomy.occupations.length} occupations${normalizer.calibrated ? '' : ' (uncalibrated)'}, batching ${service.matcher.settings.batching ? 'on' : 'off'}${token ? ', bearer token required' : ''})`,
      );
    const reason = await stopped;
    err(`jobbert serve: ${stopReasonText(reason)}: finishing requests in flight, then stopping`);
    await service.close();
    return 0;
  } finally {
    await normalizer?.dispose();
    await normalizerEncoder?.dispose();
    await skills?.dispose();
    await index.dispose();
  }
}
