/**
 * LiteEncoder training pairs: read by the reader JobBERT training uses
 * (src/util/pair-file.ts) and preprocessed by the same rules where the two
 * trainers overlap — texts stripped as Python's str.strip() does, exact
 * duplicates dropped and counted, fewer than two distinct positives refused —
 * plus the LiteEncoder's own: a text cut to what the encoder reads, a pair
 * with a side that has no letter or digit skipped.
 */
import { createHash } from 'node:crypto';
import { pythonStrip } from '../encoders/preprocess.js';
import { words } from '../encoders/tfidf.js';
import { assertTrainablePairs, emptyPairStats, pairLines, type PairStats } from '../util/pair-file.js';
import { clipForTokens } from '../util/text.js';
import { MAX_TEXT_UNITS } from './features.js';

export interface Pair {
  anchor: string;
  positive: string;
  lang?: string;
  group?: string;
  /** A hard negative: scored by every anchor of the pair's batch, as JobBERT training scores them. */
  negative?: string;
}

const clip = (t: string) => clipForTokens(pythonStrip(t), MAX_TEXT_UNITS / 64);

/**
 * Reads lite training pairs from JSON Lines, streaming, as JobBERT training
 * reads them (src/util/pair-file.ts: gzip, a BOM, CRLF, "lang": null are
 * fine). Each text is stripped and cut to what the encoder reads
 * (MAX_TEXT_UNITS) as it arrives. Dropped and counted in `stats`: a pair
 * whose texts equal an earlier one's ("lang" and "group" aside; the first is
 * kept; all are kept with `keepDuplicates`), as JobBERT training drops them, and a pair with a side holding no
 * letter or digit ("---", emoji), also named in one JOBBERT_SKIPPED_PAIRS
 * process warning. Async. Rejects with JobBERTError ERR_NOT_FOUND (missing),
 * ERR_IO (a directory, a FIFO, unreadable, corrupt gzip), ERR_BAD_FILE naming
 * `path:line` for a bad line, and ERR_BAD_FILE when fewer than two distinct
 * positives remain (in-batch negatives need two).
 */
export async function readPairs(path: string, { keepDuplicates = false } = {}): Promise<{ pairs: Pair[]; stats: PairStats }> {
  const fn = 'trainLiteEncoder';
  const pairs: Pair[] = [];
  const seen = new Set<string>();
  const positives = new Set<string>();
  const stats = emptyPairStats({ noWords: true });
  let firstSkipped = 0;
  for await (const { pair: p, lineNo } of pairLines(fn, path)) {
    stats.lines++;
    const pair: Pair = { anchor: clip(p.anchor), positive: clip(p.positive) };
    let negative = p.negative === undefined ? undefined : clip(p.negative);
    // A side with no letter or digit has no features: a new model encodes it as a zero vector, which
    // InfoNCE cannot normalise (the whole run failed on it), and it teaches nothing.
    if (words(pair.anchor).length === 0 || words(pair.positive).length === 0 || (negative !== undefined && words(negative).length === 0)) {
      stats.noWords = (stats.noWords ?? 0) + 1;
      firstSkipped ||= lineNo;
      continue;
    }
    // A negative equal to the positive would score the pair against itself; dropped, as JobBERT training drops it.
    if (negative === pair.positive) {
      stats.selfNegatives++;
      negative = undefined;
    }
    const key = `${pair.anchor}\u0000${pair.positive}\u0000${negative ?? ''}`;
    if (!keepDuplicates) {
      if (seen.has(key)) {
        stats.duplicates++;
        continue;
      }
      seen.add(key);
    }
    if (p.lang !== undefined) pair.lang = p.lang;
    if (p.group !== undefined) pair.group = p.group;
    if (negative !== undefined) pair.negative = negative;
    pairs.push(pair);
    positives.add(pair.positive);
    stats.pairs++;
    stats.languages[p.lang ?? ''] = (stats.languages[p.lang ?? ''] ?? 0) + 1;
  }
  if (stats.noWords)
    process.emitWarning(
      `${fn}: ${path}: ${stats.noWords} pair(s) skipped, a side with no letter or digit (first at line ${firstSkipped})`,
      { code: 'JOBBERT_SKIPPED_PAIRS' },
    );
  // One positive for every pair: no batch has an in-batch negative, so the loss stays at ln(batch) and the
  // model learns nothing (exit 0); one pair, or copies of one, would "train" at loss 0.
  assertTrainablePairs(fn, path, stats, positives.size);
  return { pairs, stats };
}

/** sha256 of the pairs in file order: a resume refuses data that changed. */
export function pairsDigest(pairs: Pair[]): string {
  const h = createHash('sha256');
  // A negative is added only where there is one, so data without negatives keeps the digest it had before them.
  for (const p of pairs)
    h.update(
      `${p.anchor}\u0000${p.positive}\u0000${p.lang ?? ''}\u0000${p.group ?? ''}${p.negative === undefined ? '' : `\u0000${p.negative}`}\n`,
    );
  return h.digest('hex');
}
