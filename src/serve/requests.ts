/**
 * Request bodies of the service, checked field by field. Every failure is a
 * 422 ServeError naming the field (`queries[3]`, `k`), what was expected and
 * what was received; unknown fields are refused too, so a typo (`query`)
 * fails loudly instead of being ignored.
 */
import { BRANCHES, type Branch } from '../encoders/encoder.js';
import { pythonStrip } from '../encoders/preprocess.js';
import { describe } from '../util/validate.js';
import { badField } from './http.js';

/** Per-request limits (the CLI's --max-* options). */
export interface RequestLimits {
  /** Most texts in one request. */
  maxQueries: number;
  /** Longest text, in characters (UTF-16 code units). */
  maxTextLength: number;
  /** Largest k. */
  maxK: number;
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

function topK(v: unknown, limits: RequestLimits): number {
  if (v === undefined) return Math.min(10, limits.maxK);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > limits.maxK)
    throw badField('k', `must be an integer in [1, ${limits.maxK}]; received ${describe(v)}`);
  return v;
}

/** `POST /v1/encode` `{ texts, branch? }`. Throws a 422 ServeError naming the bad field. */
export function parseEncode(body: unknown, limits: RequestLimits): EncodeRequest {
  const o = asObject(body, ['texts', 'branch']);
  const branch = o.branch ?? 'anchor';
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
  const k = topK(o.k, limits);
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
  return { titles: texts('titles', o.titles, limits), k: topK(o.k, limits) };
}
