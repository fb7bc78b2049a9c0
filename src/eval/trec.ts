/**
 * Readers and writers for evaluation files: TREC qrels and run files, and the
 * TalentCLEF 2025 Task A title lists.
 *
 * - qrels: `q_id iter doc_id rel` per line, separated by tabs (TalentCLEF's
 *   `qrels.tsv`: `q_id\t0\tc_id\t1`) or runs of spaces and tabs (TREC). No header. A
 *   line with rel > 0 marks doc_id relevant; rel ≤ 0 marks it not relevant
 *   (the query is still listed, with what else is relevant, possibly nothing).
 *   When the same (q_id, doc_id) pair appears twice, the later line wins.
 * - run: `q_id Q0 doc_id rank score tag` per line, separated by spaces or tabs, no
 *   header. The rank column is read but not used: {@link evaluate} ranks by
 *   score, as ranx and trec_eval do.
 * - titles: a header line, then `id\ttitle` per line (TalentCLEF `queries`,
 *   `corpus_elements`). CRLF line ends, a UTF-8 BOM, a trailing newline and
 *   blank lines are tolerated; anything else malformed is refused with
 *   JobBERTError `ERR_BAD_FILE` naming the file and the line.
 *
 * A missing file is refused with JobBERTError `ERR_NOT_FOUND` naming the path.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { replaceableTarget } from '../util/output-file.js';
import { rankRun, type RunEntry } from './evaluate.js';
import { describe } from '../util/validate.js';

/** One title of a TalentCLEF `queries` or `corpus_elements` file. */
export interface Title {
  id: string;
  text: string;
}

/** One TalentCLEF Task A language folder, loaded. */
export interface TalentCLEFTaskA {
  /** The query titles (`queries`), in file order. */
  queries: Title[];
  /** The corpus titles (`corpus_elements`), in file order. */
  corpus: Title[];
  /** query id → relevant corpus ids (`qrels.tsv`). */
  qrels: Map<string, Set<string>>;
}

function assertPath(fn: string, name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`${fn}: ${name} must be a path string; received ${describe(v)}`);
  if (v.length === 0) throw new RangeError(`${fn}: ${name} must be a non-empty path string; received ''`);
}

/** Reads a whole text file, mapping a missing file to ERR_NOT_FOUND. */
async function readText(fn: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new JobBERTError('ERR_NOT_FOUND', `${fn}: no such file: ${path}`, { cause: error });
    }
    if (code === 'EISDIR') {
      throw new JobBERTError('ERR_BAD_FILE', `${fn}: ${path} is a directory, not a file`, { cause: error });
    }
    throw error;
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Splits into lines (LF or CRLF), dropping one final empty line after a trailing newline. */
function lines(text: string): string[] {
  const out = text.split('\n');
  for (let i = 0; i < out.length; i++) if (out[i].endsWith('\r')) out[i] = out[i].slice(0, -1);
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Splits a line into its fields, separated by runs of spaces or tabs (leading/trailing ones ignored). */
function fields(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    const sep = c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
    if (sep) {
      if (start >= 0) {
        out.push(line.slice(start, i));
        start = -1;
      }
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) out.push(line.slice(start));
  return out;
}

function badLine(fn: string, path: string, lineNo: number, what: string, line: string): JobBERTError {
  const shown = line.length > 80 ? `${JSON.stringify(line.slice(0, 80))}…` : JSON.stringify(line);
  return new JobBERTError('ERR_BAD_FILE', `${fn}: ${path} line ${lineNo}: ${what}; received ${shown}`);
}

/** Parses qrels text; `path` names the source in error messages. */
export function parseQrels(text: string, path = '<qrels>', fn = 'readQrels'): Map<string, Set<string>> {
  const qrels = new Map<string, Set<string>>();
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const line = all[i];
    const f = fields(line);
    if (f.length === 0) continue;
    if (f.length !== 4) throw badLine(fn, path, i + 1, `expected 4 fields 'q_id iter doc_id relevance', found ${f.length}`, line);
    const rel = Number(f[3]);
    if (!Number.isFinite(rel)) throw badLine(fn, path, i + 1, `relevance must be a number, found '${f[3]}'`, line);
    let set = qrels.get(f[0]);
    if (set === undefined) qrels.set(f[0], (set = new Set()));
    if (rel > 0) set.add(f[2]);
    else set.delete(f[2]);
  }
  return qrels;
}

/**
 * Reads a qrels file (TalentCLEF `qrels.tsv` or TREC qrels) into
 * query id → relevant doc ids. Queries listed only with relevance ≤ 0 are kept
 * with an empty set (they count, as zeros, in {@link evaluate}'s means).
 */
export async function readQrels(path: string): Promise<Map<string, Set<string>>> {
  assertPath('readQrels', 'path', path);
  return parseQrels(await readText('readQrels', path), path);
}

/** Parses TREC run text; `path` names the source in error messages. */
export function parseRun(text: string, path = '<run>', fn = 'readRun'): Map<string, RunEntry[]> {
  const run = new Map<string, RunEntry[]>();
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const line = all[i];
    const f = fields(line);
    if (f.length === 0) continue;
    if (f.length !== 6) throw badLine(fn, path, i + 1, `expected 6 fields 'q_id Q0 doc_id rank score tag', found ${f.length}`, line);
    const score = Number(f[4]);
    if (!Number.isFinite(score)) throw badLine(fn, path, i + 1, `score must be a finite number, found '${f[4]}'`, line);
    let list = run.get(f[0]);
    if (list === undefined) run.set(f[0], (list = []));
    list.push({ id: f[2], score });
  }
  return run;
}

/**
 * Reads a TREC run file into query id → { id, score }[] in file order (pass it
 * to {@link evaluate}, which ranks by score).
 */
export async function readRun(path: string): Promise<Map<string, RunEntry[]>> {
  assertPath('readRun', 'path', path);
  return parseRun(await readText('readRun', path), path);
}

const WS = /\s/; // ids and tags must not hold whitespace, or the file would not read back

/** A UTF-16 surrogate without its pair: UTF-8 cannot write it (it becomes U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Writes `run` as a TREC run file, `q_id Q0 doc_id rank score tag`, queries in
 * the Map's order, each ranked as {@link evaluate} ranks it (score descending,
 * equal scores in the given order, a repeated doc id kept only at its first
 * ranked position) with ranks from 1. Scores are written in JavaScript's
 * shortest round-trip form, so {@link readRun} gives back the same numbers.
 * Atomic: the file is written to a temporary file in the same directory,
 * flushed to disk, then renamed over `path`.
 *
 * @throws TypeError / RangeError for a malformed run, an id or tag that is
 *   empty or holds whitespace, or a score that is not finite.
 */
export async function writeRun(
  path: string,
  run: ReadonlyMap<string, readonly { id: string; score: number }[]>,
  tag: string,
): Promise<void> {
  const fn = 'writeRun';
  assertPath(fn, 'path', path);
  if (typeof tag !== 'string') throw new TypeError(`${fn}: tag must be a string; received ${describe(tag)}`);
  if (tag.length === 0 || WS.test(tag))
    throw new RangeError(`${fn}: tag must be a non-empty string without whitespace; received ${describe(tag)}`);
  if (!(run instanceof Map)) {
    throw new TypeError(`${fn}: run must be a Map<string, { id: string; score: number }[]>; received ${describe(run)}`);
  }
  // `what` is a function so the per-entry message is built only on failure.
  const checkId = (what: () => string, v: unknown) => {
    if (typeof v !== 'string') throw new TypeError(`${fn}: ${what()} must be a string; received ${describe(v)}`);
    if (v.length === 0 || WS.test(v))
      throw new RangeError(`${fn}: ${what()} must be a non-empty string without whitespace; received ${describe(v)}`);
    // A lone surrogate is written as U+FFFD: two such ids read back as one (the metrics changed).
    if (LONE_SURROGATE.test(v))
      throw new RangeError(`${fn}: ${what()} must be well-formed Unicode (it holds a lone surrogate); received ${describe(v)}`);
  };
  for (const [q, list] of run as Map<unknown, unknown>) {
    checkId(() => 'run keys (query ids)', q);
    if (!Array.isArray(list)) throw new TypeError(`${fn}: run.get('${q}') must be an array of { id, score }; received ${describe(list)}`);
    for (let i = 0; i < list.length; i++) {
      const e: unknown = list[i];
      if (typeof e !== 'object' || e === null)
        throw new TypeError(`${fn}: run.get('${q}')[${i}] must be an object { id, score }; received ${describe(e)}`);
      const { id, score } = e as { id?: unknown; score?: unknown };
      checkId(() => `run.get('${q}')[${i}].id`, id);
      if (typeof score !== 'number')
        throw new TypeError(`${fn}: run.get('${q}')[${i}].score must be a number; received ${describe(score)}`);
      if (!Number.isFinite(score))
        throw new RangeError(`${fn}: run.get('${q}')[${i}].score must be a finite number; received ${describe(score)}`);
    }
  }

  const target = await replaceableTarget(fn, path, 'the run');
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new JobBERTError('ERR_NOT_FOUND', `${fn}: no such directory: ${dirname(target)}`, { cause: error });
    if (code === 'ENOTDIR') throw new JobBERTError('ERR_IO', `${fn}: ${dirname(target)} is not a directory`, { cause: error });
    throw new JobBERTError('ERR_IO', `${fn}: cannot write ${path} (${(error as Error).message})`, { cause: error });
  }
  let renamed = false;
  try {
    let chunk = '';
    for (const [q, list] of run) {
      const ranked = rankRun(list);
      for (let r = 0; r < ranked.length; r++) {
        chunk += `${q} Q0 ${ranked[r].id} ${r + 1} ${String(ranked[r].score)} ${tag}\n`;
        if (chunk.length >= 1 << 20) {
          await fh.write(chunk);
          chunk = '';
        }
      }
    }
    if (chunk.length > 0) await fh.write(chunk);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target).catch((e: Error) => {
      throw new JobBERTError('ERR_IO', `${fn}: cannot write ${path} (${e.message})`, { cause: e });
    });
    renamed = true;
  } finally {
    if (fh !== undefined) await fh.close().catch(() => {});
    if (!renamed) await unlink(tmp).catch(() => {});
  }
  // Make the rename itself durable where the platform allows syncing a directory.
  try {
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Not supported here (e.g. Windows); the data itself is already synced.
  }
}

/** Parses a title list (header line, then `id\ttitle`); `path` names the source in error messages. */
export function parseTitles(text: string, path = '<titles>', fn = 'readTitles'): Title[] {
  const all = lines(text);
  let i = 0;
  while (i < all.length && all[i].trim() === '') i++;
  if (i === all.length) throw new JobBERTError('ERR_BAD_FILE', `${fn}: ${path}: expected a header line 'id\\tjobtitle'; the file is empty`);
  const header = all[i].split('\t');
  if (header.length !== 2)
    throw badLine(
      fn,
      path,
      i + 1,
      `expected a header line of 2 tab-separated column names like 'q_id\\tjobtitle', found ${header.length} columns`,
      all[i],
    );
  const out: Title[] = [];
  const seen = new Map<string, number>();
  for (i++; i < all.length; i++) {
    const line = all[i];
    if (line.trim() === '') continue;
    const f = line.split('\t');
    if (f.length !== 2) throw badLine(fn, path, i + 1, `expected 2 tab-separated fields 'id\\tjobtitle', found ${f.length}`, line);
    const id = f[0].trim();
    const text = f[1];
    if (id === '') throw badLine(fn, path, i + 1, 'the id is empty', line);
    if (text.trim() === '') throw badLine(fn, path, i + 1, 'the title is empty', line);
    const first = seen.get(id);
    if (first !== undefined) throw badLine(fn, path, i + 1, `id '${id}' already appeared on line ${first}`, line);
    seen.set(id, i + 1);
    out.push({ id, text });
  }
  return out;
}

/**
 * Reads a TalentCLEF title list (`queries`: `q_id\tjobtitle`, or
 * `corpus_elements`: `c_id\tjobtitle`, with a header line) in file order.
 * Ids must be unique and non-empty; titles are kept as written.
 */
export async function readTitles(path: string): Promise<Title[]> {
  assertPath('readTitles', 'path', path);
  return parseTitles(await readText('readTitles', path), path);
}

/**
 * Loads one TalentCLEF 2025 Task A language folder (`queries`,
 * `corpus_elements`, `qrels.tsv`), e.g. `…/talentclef-a/validation/en`, and
 * checks that every qrels line names a known query and corpus id. Async;
 * JobBERTError ERR_BAD_FILE for an unknown id or qrels without a judgment.
 */
export async function loadTalentCLEFTaskA(dir: string): Promise<TalentCLEFTaskA> {
  assertPath('loadTalentCLEFTaskA', 'dir', dir);
  return loadTalentCLEFPair(dir, dir, join(dir, 'qrels.tsv'), 'loadTalentCLEFTaskA');
}

/**
 * A cross-lingual Task A set: the `queries` of one language folder, the
 * `corpus_elements` of another and the judgments `qrels` for that pair,
 * checked as {@link loadTalentCLEFTaskA} checks one folder. Async.
 */
export async function loadTalentCLEFPair(
  queriesDir: string,
  corpusDir: string,
  qrels: string,
  fn = 'loadTalentCLEFPair',
): Promise<TalentCLEFTaskA> {
  assertPath(fn, 'queriesDir', queriesDir);
  assertPath(fn, 'corpusDir', corpusDir);
  assertPath(fn, 'qrels', qrels);
  const qPath = join(queriesDir, 'queries');
  const cPath = join(corpusDir, 'corpus_elements');
  const [queries, corpus, judged] = await Promise.all([
    readText(fn, qPath).then((t) => parseTitles(t, qPath, fn)),
    readText(fn, cPath).then((t) => parseTitles(t, cPath, fn)),
    readText(fn, qrels).then((t) => parseQrels(t, qrels, fn)),
  ]);
  if (judged.size === 0) throw new JobBERTError('ERR_BAD_FILE', `${fn}: ${qrels} holds no judgments`);
  const qIds = new Set(queries.map((t) => t.id));
  const cIds = new Set(corpus.map((t) => t.id));
  for (const [q, rel] of judged) {
    if (!qIds.has(q)) throw new JobBERTError('ERR_BAD_FILE', `${fn}: ${qrels}: query id '${q}' is not in ${qPath}`);
    for (const c of rel) {
      if (!cIds.has(c)) throw new JobBERTError('ERR_BAD_FILE', `${fn}: ${qrels}: corpus id '${c}' (query '${q}') is not in ${cPath}`);
    }
  }
  return { queries, corpus, qrels: judged };
}
