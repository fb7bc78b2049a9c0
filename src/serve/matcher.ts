/**
 * The matcher behind `jobbert serve`, usable on its own: JSON-level functions
 * (`match`, `encode`, `embeddings`, `skills`, `health`, `metrics`, `openapi`) that take a
 * parsed request body and resolve with the response body or reject with a
 * ServeError, and a plain `(req, res)` handler that routes, authenticates,
 * reads bounded bodies and answers JSON — mountable in Express
 * (`app.use('/jobbert', matcher.handler)`), Fastify or a bare `http` server.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Encoder } from '../encoders/encoder.js';
import { JobBERTError, SERVICE_ERROR_CODES } from '../errors.js';
import type { MatchIndex, MatchResult } from '../match/match-index.js';
import type { SkillIndex } from '../match/skills.js';
import type { Normalizer, NormalizeResult } from '../normalize/normalizer.js';
import { assertBoolean, assertInteger, assertOptions, describe } from '../util/validate.js';
import { MicroBatcher } from './batcher.js';
import { JsonBytes, readJsonBody, sendError, sendJson, sendText, ServeError } from './http.js';
import { Metrics } from './metrics.js';
import {
  countTokens,
  type EmbeddingsResponse,
  embeddingsResponse,
  type ModelObject,
  OpenAIServeError,
  openAIError,
  servedModels,
} from './openai.js';
import { openApiDocument } from './openapi.js';
import {
  parseEmbeddings,
  parseEncode,
  parseMatch,
  parseNormalize,
  parseSkills,
  type EncodeRequest,
  type MatchRequest,
  type NormalizeRequest,
  type RequestLimits,
  type SkillsRequest,
} from './requests.js';

/**
 * What /v1/match searches: a MatchIndex (loaded with its encoder), or anything
 * shaped like one — a hot-swapped index from NATS, a shard router. `version`,
 * when present, is reported by /healthz and /metrics; `problem()`, when
 * present, says why searches would fail now (a shard that is down), which
 * makes /healthz a 503 'unavailable'; `parallel`, when present, is how many
 * searches may run at once (a router's wait on the network, not the CPU;
 * default 2).
 */
export type ServedIndex = Pick<MatchIndex, 'search' | 'size' | 'dim' | 'fingerprint' | 'languages'> & {
  readonly version?: string;
  problem?(): string | null;
  readonly parallel?: number;
};

export interface MatcherOptions {
  /** The index /v1/match searches (it must be able to encode text: loaded with its encoder). */
  index: ServedIndex;
  /** The encoder /v1/encode uses; without one, /v1/encode answers 404 ERR_NOT_CONFIGURED. */
  encoder?: Encoder;
  /** The skills /v1/skills ranks; without them, /v1/skills answers 404 ERR_NOT_CONFIGURED. */
  skills?: SkillIndex;
  /** The Normalizer /v1/normalize uses; without one, /v1/normalize answers 404 ERR_NOT_CONFIGURED. */
  normalizer?: Normalizer;
  /** Coalesce concurrent requests (default true). */
  batching?: boolean;
  /** Most queries per batch (default 64). */
  maxBatch?: number;
  /** Longest wait for a batch to fill, in ms (default 2). */
  maxWaitMs?: number;
  /** Most queries waiting per operation before requests get 503 ERR_OVERLOADED (default 8192). */
  maxQueue?: number;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Most queries/texts/titles per request (default 256). */
  maxQueries?: number;
  /** Most inputs per /v1/embeddings request (default 2048, OpenAI's limit: LangChain's OpenAIEmbeddings sends 512 at a time). */
  maxInputs?: number;
  /** Longest query/text/title in characters (default 512). */
  maxTextLength?: number;
  /** Largest k (default 1000). */
  maxK?: number;
  /** Most results in one response, texts × k (default 65,536), which bounds a response's size. */
  maxResults?: number;
  /** A bearer token required on /v1/* and /metrics (default: none). */
  token?: string;
  /** Where unexpected (500) errors are reported (default console.error). */
  log?: (line: string) => void;
}

/** The resolved limits and switches a Matcher runs with. */
export interface MatcherSettings extends RequestLimits {
  batching: boolean;
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  maxBodyBytes: number;
  auth: boolean;
}

export interface MatchResponse {
  results: MatchResult[][];
}
export interface NormalizeResponse {
  results: NormalizeResult[];
}
export interface EncodeResponse {
  dim: number;
  vectors: number[][];
}
export interface HealthResponse {
  /** 'unavailable': searches would fail now, for the reason in `problem` (/healthz answers 503). */
  status: 'ok' | 'unavailable' | 'shutting-down';
  /** Why the service is unavailable (a shard router's lost shard), else null. */
  problem: string | null;
  version: string;
  entries: number;
  dim: number;
  fingerprint: string;
  languages: string[];
  /** The published index version served (indexes from NATS), else null. */
  indexVersion: string | null;
  skills: number | null;
  encode: boolean;
  /** Occupations /v1/normalize maps to, or null when it is not served. */
  normalize: number | null;
  batching: boolean;
  uptime: number;
}

/**
 * Options of a Matcher's calls. `signal`: the caller no longer wants the
 * answer (its client went away); a call still queued for a batch leaves the
 * queue and rejects with the signal's reason, so abandoned requests take no
 * search time (a running batch finishes).
 */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface Matcher {
  /** `POST /v1/match` on a parsed body. Async; rejects with ServeError (422 naming the field, 503 when overloaded or closing). */
  match(body: unknown, opts?: CallOptions): Promise<MatchResponse>;
  /** `POST /v1/encode` on a parsed body. Async; rejects with ServeError (404 without an encoder, 422, 503). */
  encode(body: unknown, opts?: CallOptions): Promise<EncodeResponse>;
  /**
   * `POST /v1/embeddings` (OpenAI's embeddings API) on a parsed body. Async;
   * rejects with ServeError whose body has OpenAI's `type` and `param` too
   * (404 without an encoder or for an unknown model, 400 for a bad field, 503).
   */
  embeddings(body: unknown, opts?: CallOptions): Promise<EmbeddingsResponse>;
  /** `GET /v1/models`'s body: the model names /v1/embeddings takes (none without an encoder). Sync. */
  models(): { object: 'list'; data: ModelObject[] };
  /** `GET /v1/models/{id}`'s body. Sync; throws ServeError 404 ERR_MODEL_NOT_FOUND (with OpenAI's fields) for a name not served. */
  model(id: string): ModelObject;
  /** `POST /v1/skills` on a parsed body. Async; rejects with ServeError (404 without skills, 422, 503). */
  skills(body: unknown, opts?: CallOptions): Promise<MatchResponse>;
  /** `POST /v1/normalize` on a parsed body: the route's answer, parsed. Async; rejects with ServeError (404 without a Normalizer, 422, 503). */
  normalize(body: unknown, opts?: CallOptions): Promise<NormalizeResponse>;
  /** `GET /healthz`'s body. Sync. */
  health(): HealthResponse;
  /** `GET /metrics`'s Prometheus text. Sync. */
  metrics(): string;
  /** `GET /openapi.json`'s document. Sync. */
  openapi(): Record<string, unknown>;
  /** Serves every route on Node's request and response objects; never throws. Paths are relative to where it is mounted. */
  handler(req: IncomingMessage, res: ServerResponse): void;
  /** The limits and switches in force. */
  readonly settings: Readonly<MatcherSettings>;
  /** Requests being handled now. */
  readonly inFlight: number;
  /**
   * Stops taking work (new requests get 503 ERR_SHUTTING_DOWN, responses ask
   * for the connection to close) and resolves when the requests in flight
   * have been answered. Does not dispose the index, encoder or skills. Async; idempotent.
   */
  close(): Promise<void>;
}

const ROUTES: Record<string, string> = {
  '/v1/match': 'POST',
  '/v1/encode': 'POST',
  '/v1/embeddings': 'POST',
  '/v1/skills': 'POST',
  '/v1/normalize': 'POST',
  '/v1/models': 'GET',
  '/healthz': 'GET',
  '/metrics': 'GET',
  '/openapi.json': 'GET',
};
/** The route a path belongs to: itself, or `/v1/models/{id}` for one model. */
const routeOf = (path: string): string => (path.startsWith('/v1/models/') ? '/v1/models/{id}' : path);
ROUTES['/v1/models/{id}'] = 'GET';
/** Routes that answer errors in OpenAI's shape too (`type`, `param`), as OpenAI's clients read them. */
const OPENAI_ROUTES = new Set(['/v1/embeddings', '/v1/models', '/v1/models/{id}']);
/** Routes anyone may read: probes and the API description. */
const PUBLIC = new Set(['/healthz', '/openapi.json']);

let packageVersion: string | undefined;
function version(): string {
  if (packageVersion === undefined) {
    try {
      packageVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      packageVersion = 'unknown';
    }
  }
  return packageVersion;
}

function settingsFrom(fn: string, opts: MatcherOptions): MatcherSettings {
  assertOptions(fn, opts);
  const int = (name: keyof MatcherOptions, fallback: number, min: number, max?: number) => {
    const v = opts[name] ?? fallback;
    assertInteger(fn, name, v, min, max);
    return v;
  };
  if (opts.batching !== undefined) assertBoolean(fn, 'batching', opts.batching);
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token === ''))
    throw new TypeError(`${fn}: token must be a non-empty string; received ${describe(opts.token)}`);
  // What a client can send after "Bearer ": printable ASCII without spaces (a header holds no other).
  if (opts.token !== undefined && !/^[\x21-\x7e]+$/.test(opts.token))
    throw new RangeError(
      `${fn}: token must be printable ASCII without spaces, as an Authorization header carries it; received ${describe(opts.token)}`,
    );
  return {
    batching: opts.batching ?? true,
    maxBatch: int('maxBatch', 64, 1, 1 << 16),
    maxWaitMs: int('maxWaitMs', 2, 0, 60_000),
    maxQueue: int('maxQueue', 8192, 1),
    maxBodyBytes: int('maxBodyBytes', 1 << 20, 1),
    maxQueries: int('maxQueries', 256, 1, 1 << 20),
    maxInputs: int('maxInputs', 2048, 1, 1 << 20),
    maxTextLength: int('maxTextLength', 512, 1, 1 << 20),
    maxK: int('maxK', 1000, 1),
    maxResults: int('maxResults', 1 << 16, 1),
    auth: opts.token !== undefined,
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const RESULTS_OPEN = Buffer.from('{"results":[');
const RESULTS_CLOSE = Buffer.from(']}');

/**
 * Makes a Matcher over an index (and optionally an encoder and skills). Sync.
 * Throws TypeError/RangeError naming a bad option. The index, encoder and
 * skills stay the caller's: close() does not dispose them.
 */
export function createMatcher(opts: MatcherOptions): Matcher {
  const fn = 'createMatcher';
  const settings = settingsFrom(fn, opts);
  const index = opts.index;
  if (typeof index !== 'object' || index === null || typeof index.search !== 'function')
    throw new TypeError(`${fn}: index must be a MatchIndex; received ${describe(index)}`);
  const encoder = opts.encoder;
  if (encoder !== undefined && (typeof encoder !== 'object' || encoder === null || typeof encoder.encode !== 'function'))
    throw new TypeError(`${fn}: encoder must be an Encoder; received ${describe(encoder)}`);
  const skillIndex = opts.skills;
  if (skillIndex !== undefined && (typeof skillIndex !== 'object' || skillIndex === null || typeof skillIndex.rank !== 'function'))
    throw new TypeError(`${fn}: skills must be a SkillIndex; received ${describe(skillIndex)}`);
  const normalizer = opts.normalizer;
  if (normalizer !== undefined && (typeof normalizer !== 'object' || normalizer === null || typeof normalizer.normalize !== 'function'))
    throw new TypeError(`${fn}: normalizer must be a Normalizer; received ${describe(normalizer)}`);
  const log = opts.log ?? ((line: string) => console.error(line));
  const tokenDigest = opts.token === undefined ? null : digest(opts.token);
  const metrics = new Metrics();
  const started = performance.now();
  const createdSeconds = Math.floor(Date.now() / 1000);
  let closing = false;
  let closed: Promise<void> | null = null;
  const active = new Set<ServerResponse>();
  let idle: (() => void) | null = null;

  // The batch functions: each returns, per request, exactly what that request
  // would get alone. Match and skills search with the largest k asked and trim:
  // the order is total (score, then entry), so a top-k list is the prefix of
  // any longer top list, and topK's scores do not depend on the batch.
  const runMatch = async (lang: string | undefined, reqs: MatchRequest[]): Promise<MatchResult[][][]> => {
    const k = Math.max(...reqs.map((r) => r.k));
    const all = await index.search(
      reqs.flatMap((r) => r.queries),
      { k, lang },
    );
    let at = 0;
    return reqs.map((r) => all.slice(at, (at += r.queries.length)).map((list) => list.slice(0, r.k)));
  };
  const runSkills = async (reqs: SkillsRequest[]): Promise<MatchResult[][][]> => {
    const k = Math.max(...reqs.map((r) => r.k));
    const all = await skillIndex!.rank(
      reqs.flatMap((r) => r.titles),
      { k },
    );
    let at = 0;
    return reqs.map((r) =>
      all.slice(at, (at += r.titles.length)).map((list) => list.slice(0, r.k).map((s) => ({ id: s.id, text: s.name, score: s.score }))),
    );
  };
  const runEncode = async (branch: EncodeRequest['branch'], reqs: EncodeRequest[]): Promise<EncodeResponse[]> => {
    const m = await encoder!.encode(
      reqs.flatMap((r) => r.texts),
      { branch },
    );
    let row = 0;
    return reqs.map((r) => ({
      dim: m.cols,
      vectors: r.texts.map(() => Array.from(m.data.subarray(row * m.cols, ++row * m.cols))),
    }));
  };

  // A title's result does not depend on its batch, so one call serves a batch
  // (which shares k, lang, outputLang and threshold: its key). The Normalizer
  // formats the results as JSON Lines straight from its hits, each line
  // JSON.stringify of the result; a request's body is its lines, comma-joined,
  // inside {"results":[…]}: byte for byte what serialising result objects
  // gave, without making them (8–12% less server CPU a title at 256 titles a
  // request, measured against that).
  const runNormalize = async (reqs: NormalizeRequest[]): Promise<Buffer[]> => {
    const { k, lang, outputLang, threshold } = reqs[0];
    const lines = await normalizer!.normalizeLines(
      reqs.flatMap((r) => r.titles),
      reqs.flatMap((r) => r.titles.map((_, i) => String(i))),
      { k, lang, outputLang, threshold },
    );
    let at = 0;
    return reqs.map((r) => {
      const start = at;
      for (let i = 0; i < r.titles.length; i++) {
        const end = lines.indexOf(NEWLINE, at);
        lines[end] = COMMA;
        at = end + 1;
      }
      return Buffer.concat([RESULTS_OPEN, lines.subarray(start, at - 1), RESULTS_CLOSE]);
    });
  };

  const batcher = <P, R>(op: string, run: (key: string, params: P[]) => Promise<R[]>, concurrency = 1) =>
    new MicroBatcher<P, R>({
      maxBatch: settings.maxBatch,
      maxWaitMs: settings.maxWaitMs,
      maxQueue: settings.maxQueue,
      concurrency,
      run,
      onBatch: (items) => metrics.batch(op, items),
      // A shard that is down, a closing index: running each request alone would only wait again.
      shared: (e) => asServeError(e).status === 503,
    });
  // Two match batches at once, for the same reason as normalize's three below: 4 clients
  // sending 256 queries a request got 25,243–25,930 queries/s one at a time, 30,574–32,838
  // with two and 31,248–31,743 with three; 32 clients sending 8, 10,115–10,812 against
  // 10,262–10,371 (the clients then held 0.9 of the 2 cores; 2026-12-04, Zen 4 host, the
  // built-in model).
  const matchBatcher = batcher<MatchRequest, MatchResult[][]>('match', (_key, reqs) => runMatch(reqs[0].lang, reqs), index.parallel ?? 2);
  const skillsBatcher = batcher<SkillsRequest, MatchResult[][]>('skills', (_key, reqs) => runSkills(reqs));
  // One encode batch at a time: two were no faster (/v1/embeddings, 4 clients sending 256
  // texts: 35,191–36,865 texts/s against 34,246–35,990; the JavaScript thread is the bound).
  const encodeBatcher = batcher<EncodeRequest, EncodeResponse>('encode', (_key, reqs) => runEncode(reqs[0].branch, reqs));
  // Three normalize batches at once: one batch's search (native threads) overlaps the others'
  // encoding and formatting (this thread). One at a time left a third of two cores idle: 4
  // clients sending 256 titles a request got 14,350–14,913 titles/s, against 17,933–19,117
  // with two at once, 20,211–20,248 with three and 19,799–21,045 with four (2026-12-04, Zen 4
  // host); 32 clients sending 8 titles were served at 7,469–8,376 titles/s one at a time and
  // 8,893–9,211 with three (the clients then held 0.7 of the 2 cores).
  const normalizeBatcher = batcher<NormalizeRequest, Buffer>('normalize', (_key, reqs) => runNormalize(reqs), 3);
  metrics.queued = () => ({
    match: matchBatcher.queued,
    skills: skillsBatcher.queued,
    encode: encodeBatcher.queued,
    normalize: normalizeBatcher.queued,
  });

  /** Runs one request's work, batched or alone; maps library errors to HTTP ones. */
  async function dispatch<P, R>(
    b: MicroBatcher<P, R>,
    op: string,
    key: string,
    size: number,
    params: P,
    alone: (p: P) => Promise<R>,
    signal?: AbortSignal,
  ): Promise<R> {
    try {
      if (settings.batching) return await b.submit(key, size, params, signal);
      signal?.throwIfAborted();
      metrics.batch(op, size);
      return await alone(params);
    } catch (e) {
      // Nobody waits for the answer: not a server error.
      if (signal?.aborted && e === signal.reason) throw e;
      throw asServeError(e);
    }
  }

  // The endpoints' work; the public functions refuse new calls once closing,
  // while a request the handler admitted before close() runs to the end.
  const handlers: Pick<Matcher, 'match' | 'encode' | 'embeddings' | 'skills' | 'normalize'> = {
    async normalize(body, opts) {
      return JSON.parse((await normalizeBody(body, opts?.signal)).toString('utf8')) as NormalizeResponse;
    },

    async match(body, opts) {
      const req = parseMatch(body, settings, index.languages);
      if (req.queries.length === 0) return { results: [] };
      const results = await dispatch(
        matchBatcher,
        'match',
        JSON.stringify(req.lang ?? null),
        req.queries.length,
        req,
        async (r) => (await runMatch(r.lang, [r]))[0],
        opts?.signal,
      );
      return { results };
    },

    async encode(body, opts) {
      if (!encoder)
        throw new ServeError(
          404,
          'ERR_NOT_CONFIGURED',
          '/v1/encode needs an encoder: start the service with an index that holds one (jobbert index build), or pass `encoder` to createServer/createMatcher',
        );
      const req = parseEncode(body, settings);
      if (req.texts.length === 0) return { dim: encoder.dim, vectors: [] };
      return dispatch(
        encodeBatcher,
        'encode',
        req.branch,
        req.texts.length,
        req,
        async (r) => (await runEncode(r.branch, [r]))[0],
        opts?.signal,
      );
    },

    // Rides on /v1/encode's batcher: the same vectors, coalesced with its requests.
    async embeddings(body, opts) {
      try {
        if (!encoder)
          throw new ServeError(
            404,
            'ERR_NOT_CONFIGURED',
            '/v1/embeddings needs an encoder: start the service with an index that holds one (jobbert index build), or pass `encoder` to createServer/createMatcher',
          );
        // JobBERT's branches differ in dimension (base 768, heads 1024); other encoders have one.
        const sized = encoder as Encoder & { dimension?: (branch: EncodeRequest['branch']) => number };
        const dimension = (branch: EncodeRequest['branch']) => sized.dimension?.(branch) ?? encoder.dim;
        const req = parseEmbeddings(body, settings, { fingerprint: encoder.fingerprint, dimension });
        const work: EncodeRequest = { texts: req.texts, branch: req.branch };
        const [encoded, tokens] = await Promise.all([
          dispatch(
            encodeBatcher,
            'encode',
            req.branch,
            req.texts.length,
            work,
            async (r) => (await runEncode(r.branch, [r]))[0],
            opts?.signal,
          ),
          countTokens(encoder, req.texts),
        ]);
        return embeddingsResponse(req, encoded.vectors, tokens);
      } catch (e) {
        if (opts?.signal?.aborted && e === opts.signal.reason) throw e;
        throw openAIError(asServeError(e));
      }
    },

    async skills(body, opts) {
      if (!skillIndex)
        throw new ServeError(
          404,
          'ERR_NOT_CONFIGURED',
          '/v1/skills is not enabled: start the service with --skills FILE (JSON Lines of {"id", "name", "aliases"?}), or pass `skills` (a SkillIndex) to createServer/createMatcher',
        );
      const req = parseSkills(body, settings);
      if (req.titles.length === 0) return { results: [] };
      const results = await dispatch(
        skillsBatcher,
        'skills',
        '',
        req.titles.length,
        req,
        async (r) => (await runSkills([r]))[0],
        opts?.signal,
      );
      return { results };
    },
  };

  const matcher: Matcher = {
    settings,
    get inFlight() {
      return metrics.inFlight;
    },

    match: (body, opts) => (closing ? Promise.reject(shuttingDown()) : handlers.match(body, opts)),
    encode: (body, opts) => (closing ? Promise.reject(shuttingDown()) : handlers.encode(body, opts)),
    embeddings: (body, opts) => (closing ? Promise.reject(openAIError(shuttingDown())) : handlers.embeddings(body, opts)),

    models() {
      return { object: 'list', data: servedModels(encoder, createdSeconds) };
    },

    model(id) {
      const served = servedModels(encoder, createdSeconds);
      const found = served.find((m) => m.id === id);
      if (found) return found;
      const names = served.map((m) => `'${m.id}'`);
      throw openAIError(
        new ServeError(
          404,
          'ERR_MODEL_NOT_FOUND',
          `model '${id.length > 100 ? `${id.slice(0, 100)}…` : id}' is not served here; ${names.length ? `this server serves ${names.join(', ')}` : 'this server has no encoder, so it serves no model'}`,
          { field: 'model' },
        ),
      );
    },
    skills: (body, opts) => (closing ? Promise.reject(shuttingDown()) : handlers.skills(body, opts)),
    normalize: (body, opts) => (closing ? Promise.reject(shuttingDown()) : handlers.normalize(body, opts)),

    health() {
      const problem = index.problem?.() ?? null;
      return {
        status: closing ? 'shutting-down' : problem ? 'unavailable' : 'ok',
        problem,
        version: version(),
        entries: index.size,
        dim: index.dim,
        fingerprint: index.fingerprint,
        languages: index.languages.filter((l) => l !== ''),
        indexVersion: index.version ?? null,
        skills: skillIndex ? skillIndex.size : null,
        encode: encoder !== undefined,
        normalize: normalizer ? normalizer.taxonomy.occupations.length : null,
        batching: settings.batching,
        uptime: (performance.now() - started) / 1000,
      };
    },

    metrics() {
      return metrics.render({ entries: index.size, dim: index.dim, version: index.version });
    },

    openapi() {
      return openApiDocument({
        version: version(),
        limits: settings,
        auth: settings.auth,
        skills: skillIndex !== undefined,
        encode: encoder !== undefined,
        fingerprint: encoder?.fingerprint,
        normalize: normalizer !== undefined,
        languages: normalizer?.taxonomy.langs ?? [],
      });
    },

    handler(req, res) {
      const t0 = performance.now();
      const path = (req.url ?? '/').split('?')[0];
      const route = ROUTES[routeOf(path)] ? routeOf(path) : 'other';
      metrics.inFlight++;
      active.add(res);
      if (closing) res.setHeader('connection', 'close');
      let counted = false;
      const done = () => {
        if (counted) return;
        counted = true;
        metrics.inFlight--;
        active.delete(res);
        // 499 (nginx's "client closed request"): the connection ended before the response did.
        const status = res.writableFinished ? res.statusCode : 499;
        metrics.request(
          route,
          ROUTES[route] && (req.method === ROUTES[route] || req.method === 'HEAD') ? req.method! : 'other',
          status,
          (performance.now() - t0) / 1000,
        );
        if (idle && active.size === 0) idle();
      };
      res.once('finish', done);
      res.once('close', done);
      serve(req, res, path).catch((e: unknown) => {
        if (!(e instanceof ServeError)) {
          // The client went away mid-body: nothing to answer, just free the socket.
          if (!res.headersSent && (req.destroyed || req.socket?.destroyed)) return void res.destroy();
          log(`jobbert serve: ${req.method} ${path}: ${(e as Error)?.stack ?? String(e)}`);
        }
        const error = e instanceof ServeError ? e : asServeError(e);
        if (e instanceof ServeError && e.status >= 500 && e.status !== 503)
          log(`jobbert serve: ${req.method} ${path}: ${e.message}\n${(e.cause as Error)?.stack ?? ''}`);
        sendError(res, OPENAI_ROUTES.has(route) && !(error instanceof OpenAIServeError) ? openAIError(error) : error);
      });
    },

    close() {
      closed ??= (async () => {
        closing = true;
        for (const res of active) if (!res.headersSent) res.setHeader('connection', 'close');
        if (active.size > 0) await new Promise<void>((resolve) => (idle = resolve));
        await Promise.all([matchBatcher.drain(), skillsBatcher.drain(), encodeBatcher.drain(), normalizeBatcher.drain()]);
      })();
      return closed;
    },
  };

  /** `POST /v1/normalize`'s response body, serialised (see runNormalize). */
  async function normalizeBody(body: unknown, signal?: AbortSignal): Promise<Buffer> {
    if (!normalizer)
      throw new ServeError(
        404,
        'ERR_NOT_CONFIGURED',
        '/v1/normalize needs a Normalizer: jobbert serve loads one (--taxonomy, --examples), or pass `normalizer` to createServer/createMatcher',
      );
    const req = parseNormalize(body, settings, normalizer.taxonomy.langs);
    if (req.titles.length === 0) return Buffer.from('{"results":[]}');
    return dispatch(
      normalizeBatcher,
      'normalize',
      JSON.stringify([req.k, req.lang ?? null, req.outputLang ?? null, req.threshold ?? null]),
      req.titles.length,
      req,
      async (r) => (await runNormalize([r]))[0],
      signal,
    );
  }

  async function serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = routeOf(path);
    const method = ROUTES[route];
    if (!method) throw new ServeError(404, 'ERR_NOT_FOUND', `no route ${path.slice(0, 200)}; see /openapi.json`);
    if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
      throw new ServeError(405, 'ERR_METHOD_NOT_ALLOWED', `${path} takes ${method}; received ${req.method}`, {
        headers: { allow: method === 'GET' ? 'GET, HEAD' : method },
      });
    }
    if (tokenDigest && !PUBLIC.has(path)) checkToken(req.headers.authorization, tokenDigest);
    switch (route) {
      case '/healthz': {
        const h = matcher.health();
        return sendJson(res, h.status === 'ok' ? 200 : 503, h);
      }
      case '/metrics':
        return sendText(res, 200, matcher.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
      case '/openapi.json':
        return sendJson(res, 200, matcher.openapi(), { 'cache-control': 'public, max-age=60' });
      case '/v1/models':
        return sendJson(res, 200, matcher.models());
      case '/v1/models/{id}':
        return sendJson(res, 200, matcher.model(decodeModelId(path.slice('/v1/models/'.length))));
    }
    if (closing) throw shuttingDown();
    const body = await readJsonBody(req, settings.maxBodyBytes);
    // A client that goes away while its request waits for a batch takes it out of the queue.
    const gone = new AbortController();
    const onClose = () => gone.abort(new Error('the client closed the connection before its answer'));
    res.once('close', onClose);
    try {
      const opts = { signal: gone.signal };
      if (path === '/v1/embeddings') return sendJson(res, 200, await handlers.embeddings(body, opts));
      if (path === '/v1/normalize') return sendJson(res, 200, new JsonBytes(await normalizeBody(body, opts.signal)));
      const result =
        path === '/v1/match'
          ? await handlers.match(body, opts)
          : path === '/v1/encode'
            ? await handlers.encode(body, opts)
            : await handlers.skills(body, opts);
      sendJson(res, 200, result);
    } finally {
      res.off('close', onClose);
    }
  }

  return matcher;
}

function checkToken(header: string | undefined, expected: Buffer): void {
  const challenge = { 'www-authenticate': 'Bearer realm="jobbert"' };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m)
    throw new ServeError(401, 'ERR_UNAUTHORIZED', 'this server needs an Authorization: Bearer <token> header', { headers: challenge });
  // Compare digests: equal length, constant time.
  if (!timingSafeEqual(digest(m[1]), expected))
    throw new ServeError(401, 'ERR_UNAUTHORIZED', 'the bearer token is not valid', { headers: challenge });
}

function shuttingDown(): ServeError {
  return new ServeError(503, 'ERR_SHUTTING_DOWN', 'the server is shutting down; retry on another instance', {
    headers: { connection: 'close', 'retry-after': '1' },
  });
}

/** Library errors as HTTP ones: bad arguments that got past the request checks are the client's (422), a disposed index is 503, the rest 500. */
function asServeError(e: unknown): ServeError {
  if (e instanceof ServeError) return e;
  if (e instanceof TypeError || e instanceof RangeError) return new ServeError(422, 'ERR_VALIDATION', e.message, { cause: e });
  if (e instanceof JobBERTError) {
    if (e.code === 'ERR_DISPOSED') return new ServeError(503, 'ERR_SHUTTING_DOWN', e.message, { cause: e });
    // A service code raised below the HTTP layer (a shard router's ERR_SHARD_UNAVAILABLE) keeps its status.
    if (e.code in SERVICE_ERROR_CODES)
      return new ServeError(SERVICE_ERROR_CODES[e.code as keyof typeof SERVICE_ERROR_CODES][0], e.code, e.message, { cause: e });
    return new ServeError(500, e.code, e.message, { cause: e });
  }
  return new ServeError(500, 'ERR_INTERNAL', 'internal error; see the server log', { cause: e });
}

/** A model id from its URL path segment (percent-decoded); a malformed escape is a 400 naming `model`. */
function decodeModelId(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ServeError(400, 'ERR_INVALID_REQUEST', `the model id in the path is not valid percent-encoding: ${segment.slice(0, 100)}`, {
      field: 'model',
    });
  }
}
