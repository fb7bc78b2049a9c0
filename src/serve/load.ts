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
import type { Skill } from '../match/skills.js';

/**
 * Loads an index file with its saved encoder (TF-IDF indexes made by
 * `jobbert index build` carry one). `encoder` is undefined when the file
 * holds no encoder description this version can rebuild; the index then
 * cannot encode text and the service refuses to start. Async; rejects like
 * MatchIndex.load (JobBERTError ERR_NOT_FOUND, ERR_CORRUPT, ...).
 */
export async function loadIndexWithEncoder(path: string): Promise<{ index: MatchIndex; encoder: Encoder | undefined }> {
  // The header is read (and checked) first, so a damaged or non-regular file is refused before any encoder is built.
  const spec = await readIndexEncoderSpec('MatchIndex.load', path);
  let encoder: Encoder | undefined;
  if (spec) {
    try {
      encoder = await encoderFromSpec(spec);
    } catch {
      encoder = undefined; // an encoder kind this version cannot rebuild
    }
  }
  const index = await MatchIndex.load(path, encoder);
  return { index, encoder };
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
