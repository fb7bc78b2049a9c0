/**
 * Request bodies of the service, checked field by field. Every failure is a
 * 422 ServeError naming the field (`queries[3]`, `k`), what was expected and
 * what was received; unknown fields are refused too, so a typo (`query`)
 * fails loudly instead of being ignored.
 */
import { BRANCHES, type Branch } from '../encoders/encoder.js';
import { pythonStrip } from '../encoders/preprocess.js';
import { MAX_ALTERNATIVES } from '../normalize/normalizer.js';
import { describe } from '../util/validate.js';
import { badField, ServeError } from './http.js';

/** Per-request limits (the CLI's --max-* options). */
export interface RequestLimits {
  /** Most texts in one request. */
  maxQueries: number;
  /** Most inputs in one /v1/embeddings request (OpenAI's limit, 2,048, by default: its clients batch up to it). */
  maxInputs: number;
  /** Longest text, in characters (UTF-16 code units). */
  maxTextLength: number;
  /** Largest k. */
  maxK: number;
  /** Most results in one response: texts × k (match, skills, normalize), which bounds a response's size. */
  maxResults: number;
}

export interface EncodeRequest {
  texts: string[];
  branch: Branch;
}

export interface MatchRequest {
  queries: string[];
  k: number;
  lang: string | undefined;
}

export interface EmbeddingsRequest {
  texts: string[];
  /** The model name the response reports: the one asked for, or 'anchor'. */
  model: string;
  branch: Branch;
  encodingFormat: 'float' | 'base64';
}

/** What /v1/embeddings serves: the encoder's fingerprint (a model name meaning `anchor`) and each branch's dimension. */
export interface EmbeddingsModel {
  fingerprint: string;
  dimension(branch: Branch): number;
}

export interface NormalizeRequest {
  titles: string[];
  k: number;
  lang: string | undefined;
  outputLang: string | undefined;
  /** Confidence under which this request's `occupation` is null; undefined: the Normalizer's. */
  threshold: number | undefined;
}

export interface SkillsRequest {
  titles: string[];
  k: number;
}

function asObject(body: unknown, fields: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badField('body', `must be a JSON object with ${fields.join(', ')}; received ${describe(body)}`);
  const extra = Object.keys(body).find((key) => !fields.includes(key));
  if (extra !== undefined) throw badField(extra, `is not a field of this request (expected ${fields.join(', ')})`);
  return body as Record<string, unknown>;
}

function texts(name: string, v: unknown, limits: RequestLimits): string[] {
  if (v === undefined) throw badField(name, 'is required: an array of strings');
  if (!Array.isArray(v)) throw badField(name, `must be an array of strings; received ${describe(v)}`);
  if (v.length > limits.maxQueries)
    throw badField(name, `must hold at most ${limits.maxQueries} strings (--max-queries); received ${v.length}`);
  v.forEach((t, i) => {
    if (typeof t !== 'string') throw badField(`${name}[${i}]`, `must be a string; received ${describe(t)}`);
    // whitespace as the encoders strip it (Python's str.strip()): what is left is what gets encoded
    if (pythonStrip(t) === '') throw badField(`${name}[${i}]`, `must be a non-empty string; received ${describe(t)}`);
    if (t.length > limits.maxTextLength)
      throw badField(`${name}[${i}]`, `must be at most ${limits.maxTextLength} characters long (--max-text-length); received ${t.length}`);
  });
  return v as string[];
}

/** The request's k (`fallback` when omitted): an integer in [1, max], and with `count` texts at most maxResults results. */
function topK(v: unknown, limits: RequestLimits, count: number, fallback = 10, max = limits.maxK): number {
  const k = v === undefined ? Math.min(fallback, max) : v;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > max)
    throw badField('k', `must be an integer in [1, ${max}]; received ${describe(k)}`);
  if (k * count > limits.maxResults)
    throw badField(
      'k',
      `times the ${count} texts must be at most ${limits.maxResults} results (--max-results); received ${k} × ${count}: ask for a smaller k or send fewer texts`,
    );
  return k;
}

/** `POST /v1/encode` `{ texts, branch? }`. Throws a 422 ServeError naming the bad field. */
export function parseEncode(body: unknown, limits: RequestLimits): EncodeRequest {
  const o = asObject(body, ['texts', 'branch']);
  const branch = o.branch === undefined ? 'anchor' : o.branch;
  if (typeof branch !== 'string' || !BRANCHES.includes(branch as Branch))
    throw badField('branch', `must be one of ${BRANCHES.map((b) => `'${b}'`).join(', ')}; received ${describe(o.branch)}`);
  return { texts: texts('texts', o.texts, limits), branch: branch as Branch };
}

/**
 * `POST /v1/match` `{ queries, k?, lang? }`; `lang` must be one of the index's
 * `languages` (an unknown one would silently match nothing). Throws a 422
 * ServeError naming the bad field.
 */
export function parseMatch(body: unknown, limits: RequestLimits, languages: readonly string[]): MatchRequest {
  const o = asObject(body, ['queries', 'k', 'lang']);
  const queries = texts('queries', o.queries, limits);
  const k = topK(o.k, limits, queries.length);
  if (o.lang !== undefined) {
    const known = languages.filter((l) => l !== '');
    if (typeof o.lang !== 'string') throw badField('lang', `must be a string; received ${describe(o.lang)}`);
    if (!known.includes(o.lang)) {
      const choices = known.length
        ? `one of the index's languages (${known.map((l) => `'${l}'`).join(', ')})`
        : 'omitted: the index has no language tags';
      throw badField('lang', `must be ${choices}; received ${describe(o.lang)}`);
    }
  }
  return { queries, k, lang: o.lang as string | undefined };
}

/** `POST /v1/skills` `{ titles, k? }`. Throws a 422 ServeError naming the bad field. */
export function parseSkills(body: unknown, limits: RequestLimits): SkillsRequest {
  const o = asObject(body, ['titles', 'k']);
  const titles = texts('titles', o.titles, limits);
  return { titles, k: topK(o.k, limits, titles.length) };
}

/** A 400 in the OpenAI style for /v1/embeddings: `param` (our `field`) names the field. */
function badParam(param: string, message: string): ServeError {
  return new ServeError(400, 'ERR_INVALID_REQUEST', `${param} ${message}`, { field: param });
}

const EMBEDDINGS_FIELDS = ['input', 'model', 'encoding_format', 'dimensions', 'user'];

/**
 * `POST /v1/embeddings` `{ input, model?, encoding_format?, dimensions?, user? }`
 * (OpenAI's request; `null` counts as omitted, `user` is accepted and unused).
 * `model` is a branch name or the encoder's fingerprint (meaning `anchor`).
 * Throws a ServeError: 400 ERR_INVALID_REQUEST naming the field (token-id
 * input, an empty list, a blank or too long string, a `dimensions` other than
 * the model's, an unknown field), 404 ERR_MODEL_NOT_FOUND for another model.
 */
export function parseEmbeddings(body: unknown, limits: RequestLimits, served: EmbeddingsModel): EmbeddingsRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badParam(
      'body',
      `must be a JSON object with input and optionally ${EMBEDDINGS_FIELDS.slice(1).join(', ')}; received ${describe(body)}`,
    );
  const o = body as Record<string, unknown>;
  const extra = Object.keys(o).find((key) => !EMBEDDINGS_FIELDS.includes(key));
  if (extra !== undefined) throw badParam(extra, `is not a field of this request (expected ${EMBEDDINGS_FIELDS.join(', ')})`);

  const text = (param: string, t: unknown): string => {
    if (typeof t !== 'string') throw badParam(param, `must be a string; received ${describe(t)}`);
    // blank as the encoders strip it (Python's str.strip()), as /v1/encode checks
    if (pythonStrip(t) === '') throw badParam(param, `must be a non-empty string; received ${describe(t)}`);
    if (t.length > limits.maxTextLength)
      throw badParam(param, `must be at most ${limits.maxTextLength} characters long (--max-text-length); received ${t.length}`);
    return t;
  };
  const input = o.input;
  let texts: string[];
  if (input === undefined || input === null) throw badParam('input', 'is required: a string or an array of strings');
  if (typeof input === 'string') texts = [text('input', input)];
  else if (!Array.isArray(input)) throw badParam('input', `must be a string or an array of strings; received ${describe(input)}`);
  else if (input.length === 0) throw badParam('input', 'must hold at least one string; received an empty array');
  else if (typeof input[0] === 'number' || Array.isArray(input[0]))
    throw badParam(
      'input',
      "as token ids (an array of integers, or of arrays of them) is not supported: this server tokenises text itself; send a string or an array of strings (LangChain's Python OpenAIEmbeddings sends token ids unless check_embedding_ctx_length=False)",
    );
  else if (input.length > limits.maxInputs)
    throw badParam('input', `must hold at most ${limits.maxInputs} strings (--max-inputs); received ${input.length}`);
  else texts = input.map((t, i) => text(`input[${i}]`, t));

  let model = 'anchor';
  let branch: Branch = 'anchor';
  if (o.model !== undefined && o.model !== null) {
    if (typeof o.model !== 'string') throw badParam('model', `must be a string; received ${describe(o.model)}`);
    model = o.model;
    if (BRANCHES.includes(model as Branch)) branch = model as Branch;
    else if (model !== served.fingerprint)
      throw new ServeError(
        404,
        'ERR_MODEL_NOT_FOUND',
        `model '${model.length > 100 ? `${model.slice(0, 100)}…` : model}' is not served here; use ${BRANCHES.map((b) => `'${b}'`).join(', ')} (the encoder's branches: job titles, skill lists, the pooled vector; default 'anchor') or '${served.fingerprint}' (this server's encoder, meaning 'anchor')`,
        { field: 'model' },
      );
  }

  const format = o.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64')
    throw badParam('encoding_format', `must be 'float' or 'base64'; received ${describe(o.encoding_format)}`);

  if (o.dimensions !== undefined && o.dimensions !== null) {
    const dim = served.dimension(branch);
    if (typeof o.dimensions !== 'number' || !Number.isInteger(o.dimensions) || o.dimensions < 1)
      throw badParam('dimensions', `must be a positive integer; received ${describe(o.dimensions)}`);
    if (o.dimensions !== dim)
      throw badParam(
        'dimensions',
        `must be ${dim}, the dimension of model '${model}' (this server does not shorten vectors; omit dimensions); received ${o.dimensions}`,
      );
  }

  if (o.user !== undefined && o.user !== null && typeof o.user !== 'string')
    throw badParam('user', `must be a string; received ${describe(o.user)}`);

  return { texts, model, branch, encodingFormat: format };
}

/**
 * `POST /v1/normalize` `{ titles, k?, lang?, outputLang?, threshold? }`: empty
 * titles are allowed (their occupation is null); `lang` and `outputLang` must
 * be among the taxonomy's `languages`, `threshold` a number in [0, 1]. Throws
 * a 422 ServeError naming the bad field.
 */
export function parseNormalize(body: unknown, limits: RequestLimits, languages: readonly string[]): NormalizeRequest {
  const o = asObject(body, ['titles', 'k', 'lang', 'outputLang', 'threshold']);
  const v = o.titles;
  if (v === undefined) throw badField('titles', 'is required: an array of strings');
  if (!Array.isArray(v)) throw badField('titles', `must be an array of strings; received ${describe(v)}`);
  if (v.length > limits.maxQueries)
    throw badField('titles', `must hold at most ${limits.maxQueries} strings (--max-queries); received ${v.length}`);
  v.forEach((t, i) => {
    if (typeof t !== 'string') throw badField(`titles[${i}]`, `must be a string; received ${describe(t)}`);
    if (t.length > limits.maxTextLength)
      throw badField(`titles[${i}]`, `must be at most ${limits.maxTextLength} characters long (--max-text-length); received ${t.length}`);
  });
  const k = topK(o.k, limits, v.length, 5, normalizeMaxK(limits));
  for (const name of ['lang', 'outputLang'] as const) {
    const l = o[name];
    if (l !== undefined && (typeof l !== 'string' || !languages.includes(l)))
      throw badField(
        name,
        `must be one of the taxonomy's languages (${languages.map((x) => `'${x}'`).join(', ')}); received ${describe(l)}`,
      );
  }
  const threshold = o.threshold;
  if (threshold !== undefined && (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)))
    throw badField('threshold', `must be a number in [0, 1]; received ${describe(threshold)}`);
  return {
    titles: v as string[],
    k,
    lang: o.lang as string | undefined,
    outputLang: o.outputLang as string | undefined,
    threshold: threshold as number | undefined,
  };
}

/** Largest k of /v1/normalize: --max-k, and never more alternatives than a Normalizer gives. */
export function normalizeMaxK(limits: RequestLimits): number {
  return Math.min(limits.maxK, MAX_ALTERNATIVES);
}
