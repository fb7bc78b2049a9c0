/**
 * What `jobbert serve` loads at start: an index file together with the
 * encoder saved in it (so /v1/encode and /v1/skills can use the same
 * encoder), and a skills file.
 */
import { open } from 'node:fs/promises';
import type { Encoder, EncoderSpec } from '../encoders/encoder.js';
import { encoderFromSpec } from '../match/encoder-spec.js';
import { JobBERTError } from '../errors.js';
import { MatchIndex } from '../match/match-index.js';
import { readLines } from '../util/read-lines.js';
import type { Skill } from '../match/skills.js';

/**
 * The encoder description in an index file's header, or null when the file
 * has none or its header cannot be read here (MatchIndex.load then reports
 * what is wrong with the file). Reads the preamble and header only: magic
 * (8 bytes), version (u32), header length (u32 LE), checksum (16), JSON.
 */
async function savedEncoderSpec(path: string): Promise<EncoderSpec | null> {
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const preamble = Buffer.alloc(32);
    const { bytesRead } = await file.read(preamble, 0, 32, 0);
    if (bytesRead < 32 || preamble.toString('latin1', 0, 7) !== 'JBINDEX') return null;
    const length = preamble.readUInt32LE(12);
    if (length > 1 << 30) return null;
    const header = Buffer.alloc(length);
    await file.read(header, 0, length, 32);
    const spec = (JSON.parse(header.toString('utf8')) as { encoder?: EncoderSpec | null }).encoder;
    return spec && typeof spec === 'object' ? spec : null;
  } catch {
    return null;
  } finally {
    await file.close();
  }
}

/**
 * Loads an index file with its saved encoder (TF-IDF indexes made by
 * `jobbert index build` carry one). `encoder` is undefined when the file
 * holds no encoder description this version can rebuild; the index then
 * cannot encode text and the service refuses to start. Async; rejects like
 * MatchIndex.load (JobBERTError ERR_NOT_FOUND, ERR_CORRUPT, ...).
 */
export async function loadIndexWithEncoder(path: string): Promise<{ index: MatchIndex; encoder: Encoder | undefined }> {
  const spec = await savedEncoderSpec(path);
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
