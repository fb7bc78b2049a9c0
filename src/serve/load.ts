/**
 * What `jobbert serve` loads at start: an index file together with the
 * encoder saved in it (so /v1/encode and /v1/skills can use the same
 * encoder), and a skills file.
 */
import type { Encoder } from '../encoders/encoder.js';
import { readIndexEncoderSpec } from '../match/index-file.js';
import { encoderFromSpec } from '../match/encoder-spec.js';
import { JobBERTError } from '../errors.js';
import { MatchIndex } from '../match/match-index.js';
import { readLines } from '../util/read-lines.js';
import { assertBoolean, assertOptions } from '../util/validate.js';
import type { Skill } from '../match/skills.js';

/** What loadIndexWithEncoder gives: the index, and its encoder or why there is none. */
export interface IndexWithEncoder {
  index: MatchIndex;
  encoder: Encoder | undefined;
  encoderProblem?: string;
}

/**
 * Loads an index file with its saved encoder: a TF-IDF or LiteEncoder one is
 * rebuilt from the file, a JobBERT one loaded from the model folder it was
 * built from (`index build --model DIR` records it). `encoder` is undefined
 * when that cannot be done, and `encoderProblem` says why (no encoder
 * description, an unknown kind, a model folder that is gone); the index then
 * cannot encode text. With `requireEncoder: true` that case rejects instead,
 * with JobBERTError ERR_NO_ENCODER (the message is the problem), before the
 * index's vectors are read. Async; rejects like MatchIndex.load (JobBERTError
 * ERR_NOT_FOUND, ERR_CORRUPT, ERR_ENCODER_MISMATCH for a model folder that now
 * holds another model, ...).
 */
export async function loadIndexWithEncoder(path: string, opts: { requireEncoder: true }): Promise<{ index: MatchIndex; encoder: Encoder }>;
export async function loadIndexWithEncoder(path: string, opts?: { requireEncoder?: boolean }): Promise<IndexWithEncoder>;
export async function loadIndexWithEncoder(path: string, opts: { requireEncoder?: boolean } = {}): Promise<IndexWithEncoder> {
  const fn = 'loadIndexWithEncoder';
  assertOptions(fn, opts, ['requireEncoder']);
  if (opts.requireEncoder !== undefined) assertBoolean(fn, 'requireEncoder', opts.requireEncoder);
  // The header is read (and checked) first, so a damaged or non-regular file is refused before any encoder is built.
  const spec = await readIndexEncoderSpec('MatchIndex.load', path);
  let encoder: Encoder | undefined;
  let encoderProblem: string | undefined;
  if (!spec) encoderProblem = `${path} holds no encoder description`;
  else {
    try {
      encoder = await encoderFromSpec(spec);
    } catch (e) {
      const what =
        spec.kind === 'jobbert' && typeof spec.dir === 'string' ? `the JobBERT model it was built with (${spec.dir})` : 'its encoder';
      encoderProblem = `${path}: ${what} cannot be loaded (${(e as Error).message})`;
    }
  }
  // Here, not in the callers that refuse such an index: they read every vector first (a whole index in memory), only
  // to drop it, and a damaged vectors segment hid the encoder's problem behind ERR_CORRUPT.
  if (encoderProblem !== undefined && opts.requireEncoder) throw new JobBERTError('ERR_NO_ENCODER', encoderProblem);
  let index: MatchIndex;
  try {
    index = await MatchIndex.load(path, encoder);
  } catch (e) {
    await encoder?.dispose();
    throw e;
  }
  return encoderProblem === undefined ? { index, encoder } : { index, encoder, encoderProblem };
}

/**
 * Reads skills from a JSON Lines file: one `{"id", "name", "aliases"?}` per
 * line (blank lines skipped). Async. Rejects with JobBERTError ERR_NOT_FOUND /
 * ERR_IO, or ERR_BAD_FILE naming the line.
 */
export async function readSkillsFile(path: string): Promise<Skill[]> {
  const skills: Skill[] = [];
  (await readLines(path)).forEach((line, i) => {
    if (!line.trim()) return;
    const bad = (why: string) => new JobBERTError('ERR_BAD_FILE', `${path}:${i + 1}: ${why}`);
    let v: { id?: unknown; name?: unknown; aliases?: unknown };
    try {
      v = JSON.parse(line);
    } catch {
      throw bad('not valid JSON');
    }
    if (typeof v !== 'object' || v === null || (typeof v.id !== 'string' && typeof v.id !== 'number') || typeof v.name !== 'string')
      throw bad('expected {"id", "name", "aliases"?}');
    if (v.aliases !== undefined && (!Array.isArray(v.aliases) || v.aliases.some((a) => typeof a !== 'string')))
      throw bad('"aliases" must be an array of strings');
    skills.push(
      v.aliases === undefined ? { id: String(v.id), name: v.name } : { id: String(v.id), name: v.name, aliases: v.aliases as string[] },
    );
  });
  if (skills.length === 0) throw new JobBERTError('ERR_BAD_FILE', `${path}: no skills (expected JSON Lines of {"id", "name", "aliases"?})`);
  return skills;
}
