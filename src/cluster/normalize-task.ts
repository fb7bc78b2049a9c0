/**
 * The normalize task of batch jobs: a worker's Normalizer over each chunk's
 * titles, each result carrying its input row's id, as `jobbert normalize`
 * writes it (one JSON object a line).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { type Normalizer, type NormalizerSearch, SEARCHES } from '../normalize/normalizer.js';
import { taxonomyFiles } from '../normalize/taxonomy.js';
import { ioError } from '../util/open-bytes.js';
import { assertChoice } from '../util/validate.js';
import type { TaskRunner } from './jobs.js';

/**
 * What a Normalizer is built from, beside its encoder: each changes the
 * results. (The threshold is not among them: a job names its own, in its
 * options, and every worker of the same setup serves it.)
 */
export interface NormalizeSettings {
  /** A folder of ESCO CSVs (default: the built-in taxonomy). */
  taxonomy?: string;
  /** An examples file. */
  examples?: string;
  /** 'fast': the inexact search (NormalizerOptions.search); default 'exact'. */
  search?: NormalizerSearch;
  /** A calibration file (NormalizerOptions.calibration); default: the one shipped for the built-in model. */
  calibration?: string;
}

/**
 * The fingerprint of a normalize setup: the encoder's, with digests of the
 * taxonomy's CSVs, the examples file and the calibration file, and the search
 * when it is 'fast'. A
 * submitter and its workers compute it from the same files and flags, so a
 * worker built from other examples, or searching otherwise, never takes the
 * job's chunks. Async; rejects with the file errors, with TypeError for a
 * `threshold` (a job's option now: `runBatch({ options: { threshold } })`), and
 * with TypeError/RangeError for a `search` other than 'exact' or 'fast'.
 */
export async function normalizeFingerprint(encoderFingerprint: string, s: NormalizeSettings = {}): Promise<string> {
  if ('threshold' in s)
    throw new TypeError(
      'normalizeFingerprint: threshold is not part of a setup: a job names it in its options (runBatch({ options: { threshold } })), and every worker serves it',
    );
  if (s.search !== undefined) assertChoice('normalizeFingerprint', 'search', s.search, SEARCHES);
  const h = createHash('sha256').update(`encoder ${encoderFingerprint}\n`);
  if (s.taxonomy) {
    // The files the Normalizer reads, in dir or dir/<lang>/ (only those at the top were hashed before:
    // two taxonomies kept in language folders had the same fingerprint).
    const dir = s.taxonomy;
    for (const f of taxonomyFiles(dir)) h.update(`taxonomy ${relative(dir, f)}\n`).update(await readFile(f));
  } else h.update('taxonomy built-in\n');
  if (s.examples)
    h.update('examples\n').update(
      await readFile(s.examples).catch((e) => {
        throw ioError(s.examples!, e);
      }),
    );
  else h.update('examples none\n');
  // (Only 'fast' and a calibration file are hashed, so the setups before them keep their fingerprints.)
  if (s.search === 'fast') h.update('search fast\n');
  if (s.calibration)
    h.update('calibration\n').update(
      await readFile(s.calibration).catch((e) => {
        throw ioError(s.calibration!, e);
      }),
    );
  return `normalize:${h.digest('hex').slice(0, 32)}`;
}

/**
 * The normalize task on a worker: results as JSON lines, each with its row's
 * id, with the job's options `k`, `lang`, `outputLang` and `threshold` (the
 * Normalizer's own where the job names none).
 */
export function normalizeRunner(normalizer: Normalizer, fingerprint: string): TaskRunner {
  return {
    task: 'normalize',
    fingerprint,
    async run(chunk) {
      const o = chunk.options as { k?: number; lang?: string; outputLang?: string; threshold?: number };
      const opts: { k?: number; lang?: string; outputLang?: string; threshold?: number } = {};
      if (o.k !== undefined) opts.k = o.k;
      if (o.lang !== undefined) opts.lang = o.lang;
      if (o.outputLang !== undefined) opts.outputLang = o.outputLang;
      if (o.threshold !== undefined) opts.threshold = o.threshold;
      // The CLI's formatter: bytes straight from the hits, without result objects
      // (5-10% less CPU a chunk than JSON.stringify of each), the last "\n" dropped.
      const lines = await normalizer.normalizeLines(chunk.titles, chunk.ids, opts);
      return lines.subarray(0, Math.max(0, lines.length - 1));
    },
  };
}
