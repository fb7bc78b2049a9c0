/**
 * Training pairs: JSON Lines `{"anchor", "positive", "lang"?, "negative"?, "group"?}`
 * read as a stream (a million pairs never sit in memory as objects), with the
 * paper's preprocessing: anchors under 3 characters dropped, positives with
 * fewer than `minSkills` comma-separated skills dropped, exact duplicates
 * dropped. Texts are interned: each pair is three text ids into one table of
 * unique texts, which is what the embedding cache is keyed on.
 */
import { createHash } from 'node:crypto';
import { pythonStrip } from '../encoders/preprocess.js';
import { JobBERTError } from '../errors.js';
import { assertTrainablePairs, emptyPairStats, pairLines, type PairStats } from '../util/pair-file.js';

export type { PairStats };

export interface PairData {
  /** Unique texts; pairs refer to them by index. */
  texts: string[];
  anchors: Int32Array;
  positives: Int32Array;
  /** Text id of each pair's hard negative, −1 for none. */
  negatives: Int32Array;
  /** Index into `groupNames` of each pair's `"group"`, −1 for none: pairs of a group never share a batch. */
  groups: Int32Array;
  groupNames: string[];
  /** Index into `languages` for each pair. */
  langs: Uint16Array;
  languages: string[];
  stats: PairStats;
  /** sha256 of the kept pairs in order: a resume refuses data that changed. */
  sha256: string;
}

export interface PairOptions {
  /** Minimum comma-separated, non-empty skills in a positive (default 1; 0 keeps every positive). */
  minSkills?: number;
  /** Anchors with fewer characters (after trimming) are dropped (default 3). */
  minAnchorLength?: number;
  /** Train on every copy of a pair (default false: exact duplicates are dropped and counted). */
  keepDuplicates?: boolean;
}

/** Number of comma-separated, non-blank items in `text`. */
export function countSkills(text: string): number {
  let n = 0;
  for (const part of text.split(',')) if (part.trim().length > 0) n++;
  return n;
}

/**
 * Reads and preprocesses the pairs in `path` (read as src/util/pair-file.ts
 * reads pairs for both trainers). Async. Rejects with JobBERTError
 * ERR_NOT_FOUND for a missing file, ERR_IO for a directory, a FIFO or a
 * corrupt gzip stream, and ERR_BAD_FILE (naming `path:line`) for a line that
 * is not a JSON object with string `anchor` and `positive` (and string, or
 * null, `lang` / `negative` / `group`), or when no pair survives. Exact
 * duplicates are found whatever their `group` (as whatever their `lang`); the
 * first copy's group is kept.
 */
export async function readPairs(path: string, opts: PairOptions = {}): Promise<PairData> {
  const minSkills = opts.minSkills ?? 1;
  const minAnchor = opts.minAnchorLength ?? 3;

  const ids = new Map<string, number>();
  const texts: string[] = [];
  const intern = (t: string): number => {
    let id = ids.get(t);
    if (id === undefined) {
      id = texts.length;
      texts.push(t);
      ids.set(t, id);
    }
    return id;
  };
  const langIds = new Map<string, number>();
  const languages: string[] = [];
  let anchors = new Int32Array(1024);
  let positives = new Int32Array(1024);
  let negatives = new Int32Array(1024);
  let langs = new Uint16Array(1024);
  let groups = new Int32Array(1024);
  const groupIds = new Map<string, number>();
  const groupNames: string[] = [];
  const seen = new Set<string>();
  const hash = createHash('sha256');
  const stats = emptyPairStats();

  for await (const { pair: o, lineNo } of pairLines('train', path)) {
    stats.lines++;
    // stripped as the encoder strips (Python's str.strip()), so equal texts share one cache key and one row
    const anchor = pythonStrip(o.anchor);
    const positive = pythonStrip(o.positive);
    const negative = o.negative === undefined ? undefined : pythonStrip(o.negative);
    const lang = o.lang ?? '';
    if ([...anchor].length < minAnchor) {
      stats.shortAnchors++;
      continue;
    }
    if (countSkills(positive) < minSkills) {
      stats.fewSkills++;
      continue;
    }
    const a = intern(anchor);
    const p = intern(positive);
    let n = negative === undefined ? -1 : intern(negative);
    if (n === p) {
      // a negative equal to the positive would score the pair against itself
      stats.selfNegatives++;
      n = -1;
    }
    const key = `${a},${p},${n}`;
    if (!opts.keepDuplicates) {
      if (seen.has(key)) {
        stats.duplicates++;
        continue;
      }
      seen.add(key);
    }
    let l = langIds.get(lang);
    if (l === undefined) {
      if (languages.length >= 65535)
        throw new JobBERTError('ERR_BAD_FILE', `train: ${path}:${lineNo}: more than 65,535 distinct "lang" values`);
      l = languages.length;
      languages.push(lang);
      langIds.set(lang, l);
    }
    const i = stats.pairs++;
    if (i === anchors.length) {
      const grow = <T extends Int32Array | Uint16Array>(arr: T): T => {
        const next = new (arr.constructor as new (n: number) => T)(arr.length * 2);
        next.set(arr);
        return next;
      };
      anchors = grow(anchors);
      positives = grow(positives);
      negatives = grow(negatives);
      langs = grow(langs);
      groups = grow(groups);
    }
    let g = -1;
    if (o.group !== undefined) {
      g = groupIds.get(o.group) ?? groupNames.length;
      if (g === groupNames.length) {
        groupNames.push(o.group);
        groupIds.set(o.group, g);
      }
    }
    anchors[i] = a;
    positives[i] = p;
    negatives[i] = n;
    langs[i] = l;
    groups[i] = g;
    stats.languages[lang] = (stats.languages[lang] ?? 0) + 1;
    // a group changes the batches, so it is part of the data a resume checks (data without groups hashes as it always has)
    if (o.group === undefined) hash.update(`${anchor}\u0000${positive}\u0000${n < 0 ? '' : texts[n]}\u0000${lang}\n`);
    else hash.update(`${JSON.stringify([anchor, positive, n < 0 ? null : texts[n], lang, o.group])}\n`);
  }
  if (stats.pairs === 0) {
    throw new JobBERTError(
      'ERR_BAD_FILE',
      `${path}: no training pairs left after preprocessing (${stats.lines} lines; dropped ${stats.shortAnchors} with anchors under ${minAnchor} characters, ${stats.fewSkills} with fewer than ${minSkills} skills, ${stats.duplicates} duplicates)`,
    );
  }
  const n = stats.pairs;
  return {
    texts,
    anchors: anchors.slice(0, n),
    positives: positives.slice(0, n),
    negatives: negatives.slice(0, n),
    langs: langs.slice(0, n),
    groups: groups.slice(0, n),
    groupNames,
    languages,
    stats,
    sha256: hash.digest('hex'),
  };
}

/** Refuses data that cannot train: fewer than two distinct positives (JobBERTError ERR_BAD_FILE). Sync. */
export function assertTrainable(path: string, data: PairData): void {
  assertTrainablePairs('train', path, data.stats, new Set(data.positives).size);
}
