/**
 * Training pairs as both trainers read them (JobBERT's heads in src/train, the
 * LiteEncoder in src/lite): JSON Lines `{"anchor", "positive", ...}`, opened
 * as {@link jsonLines} opens a file (gzip told by its bytes, UTF-16 by its
 * mark, a directory or FIFO refused), every line checked by one set of rules,
 * so the same file gets the same answer from either trainer. What each
 * trainer then drops or keeps is its own (src/train/data.ts, src/lite/train.ts).
 */
import { JobBERTError } from '../errors.js';
import { jsonLines } from './read-lines.js';

/** One line's pair, its optional fields absent when the line lacks them or holds null. */
export interface PairLine {
  anchor: string;
  positive: string;
  lang?: string;
  negative?: string;
  group?: string;
}

/** The optional string fields both trainers read; any other field of a line is ignored (and named in a warning). */
const PAIR_FIELDS = ['lang', 'negative', 'group'] as const;

/** What preprocessing kept and dropped, as both trainers report it (their 'data' event). */
export interface PairStats {
  /** Non-empty lines read. */
  lines: number;
  /** Pairs kept. */
  pairs: number;
  shortAnchors: number;
  fewSkills: number;
  /** Exact duplicates: pairs whose texts (stripped as Python's str.strip() does; anchor, positive, negative) equal an earlier kept pair's, whatever their "lang" or "group". */
  duplicates: number;
  /** Pairs whose negative was dropped because it equals their positive. */
  selfNegatives: number;
  /** LiteEncoder training only: pairs skipped for a side with no letter or digit (it has no features). */
  noWords?: number;
  /** Kept pairs per language ('' for pairs without one). */
  languages: Record<string, number>;
}

/**
 * The stats a pair reader starts from: every count 0, no languages. `noWords`
 * is there only for the reader that counts it (the LiteEncoder's). Sync.
 */
export function emptyPairStats(opts: { noWords?: boolean } = {}): PairStats {
  const counts = { lines: 0, pairs: 0, shortAnchors: 0, fewSkills: 0, duplicates: 0, selfNegatives: 0 };
  // In the order the two readers wrote them: their 'data' events print the same JSON as before.
  return opts.noWords ? { ...counts, noWords: 0, languages: {} } : { ...counts, languages: {} };
}

/** `text` with its control characters escaped and cut to `max` characters: a binary file's bytes are not echoed into a terminal. */
export function printable(text: string, max = 120): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A JSON value as an error message shows it: short, and printable. */
const shown = (v: unknown) => (v === undefined ? 'nothing' : printable(JSON.stringify(v) ?? String(v), 60));

/**
 * The pairs of the JSON Lines file at `path`, streamed, with 1-based line
 * numbers; blank lines are skipped. The optional fields are "lang",
 * "negative" and "group", strings ("lang": null counts as no "lang"); any
 * other is named in one JOBBERT_IGNORED_FIELDS warning. Async iterable.
 * Rejects with JobBERTError ERR_NOT_FOUND (missing), ERR_IO (a directory, a
 * FIFO, unreadable, a corrupt gzip stream), and ERR_BAD_FILE naming
 * `path:line` for a line that is not such a pair (its bytes escaped), all
 * messages starting with `fn`.
 */
export async function* pairLines(fn: string, path: string): AsyncGenerator<{ pair: PairLine; lineNo: number }> {
  const shape = `{${['"anchor"', '"positive"', ...PAIR_FIELDS.map((f) => `"${f}"?`)].join(', ')}}`;
  const known = new Set<string>(['anchor', 'positive', ...PAIR_FIELDS]);
  // Fields no trainer reads, with the line each first appears on: named once at the end, not dropped in silence.
  const ignored = new Map<string, number>();
  for await (const { line, lineNo } of jsonLines(fn, path)) {
    const bad = (why: string) => new JobBERTError('ERR_BAD_FILE', `${fn}: ${path}:${lineNo}: ${why}`);
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw bad(`not valid JSON (${printable((e as Error).message)})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`expected a JSON object ${shape}; found ${shown(v)}`);
    const o = v as Record<string, unknown>;
    for (const key of ['anchor', 'positive'] as const)
      if (typeof o[key] !== 'string') throw bad(`"${key}" must be a string; found ${shown(o[key])}`);
    const pair: PairLine = { anchor: o.anchor as string, positive: o.positive as string };
    if (ignored.size < 20) for (const key in o) if (!known.has(key) && !ignored.has(key)) ignored.set(key, lineNo);
    for (const key of PAIR_FIELDS) {
      const f = o[key];
      if (f === undefined || f === null) continue;
      if (typeof f !== 'string') throw bad(`"${key}" must be a string when present; found ${shown(f)}`);
      pair[key] = f;
    }
    yield { pair, lineNo };
  }
  if (ignored.size > 0) warnIgnoredFields(fn, path, ignored, [...known]);
}

/**
 * One JOBBERT_IGNORED_FIELDS process warning naming the fields of a pair file
 * that no trainer reads, each with its first line, and the field a near miss
 * ("negatives", "negtive", "Positive") was likely meant to be.
 */
function warnIgnoredFields(fn: string, path: string, ignored: Map<string, number>, known: string[]): void {
  const named = [...ignored].map(([name, line]) => {
    const meant = known.find((k) => nearMiss(name, k));
    return `"${printable(name, 40)}" (first at line ${line}${meant ? `; did you mean "${meant}"?` : ''})`;
  });
  process.emitWarning(
    `${fn}: ${path}: ${named.join(', ')} ${ignored.size === 1 ? 'is' : 'are'} not read and ignored; a pair is {${known.map((k, i) => (i < 2 ? `"${k}"` : `"${k}"?`)).join(', ')}} (one hard negative a pair, a string)`,
    { code: 'JOBBERT_IGNORED_FIELDS' },
  );
}

/** Whether field name `name` looks like a slip for `field`: its case or plural, or within two edits of it. */
function nearMiss(name: string, field: string): boolean {
  const n = name.toLowerCase().replace(/[_\s-]/g, '');
  if (n === field || n === `${field}s`) return true;
  if (Math.abs(n.length - field.length) > 2 || field.length < 4) return false;
  let row = Array.from({ length: field.length + 1 }, (_, j) => j);
  for (let i = 1; i <= n.length; i++) {
    const next = [i];
    for (let j = 1; j <= field.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (n[i - 1] === field[j - 1] ? 0 : 1));
    row = next;
  }
  return row[field.length] <= 2;
}

/**
 * Refuses data that cannot train (JobBERTError ERR_BAD_FILE): in-batch
 * negatives need two pairs whose positives differ, and one pair (or copies
 * of one) would "train" a step at loss 0. Sync.
 */
export function assertTrainablePairs(fn: string, path: string, stats: PairStats, distinctPositives: number): void {
  if (distinctPositives < 2)
    throw new JobBERTError(
      'ERR_BAD_FILE',
      `${fn}: ${path}: ${stats.pairs} training pair(s) with ${distinctPositives} distinct positive(s) after preprocessing (${stats.duplicates} duplicates dropped); in-batch negatives need at least 2`,
    );
}
