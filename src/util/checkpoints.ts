/**
 * The checkpoint machinery every trainer shares: `out/checkpoint-<step>/`
 * directories assembled in a temp folder and renamed into place (complete or
 * absent), the newest kept, and the out-directory rule (a non-empty `out` is
 * refused unless resuming).
 */
import { constants, existsSync } from 'node:fs';
import { access, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { removeLeftovers } from './process.js';
import { makeDirs } from './make-dirs.js';

/** Checkpoints in `out`, oldest first. Async. */
export async function listCheckpoints(out: string): Promise<{ step: number; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(out);
  } catch {
    return [];
  }
  const found: { step: number; dir: string }[] = [];
  for (const n of names) {
    const m = /^checkpoint-(\d+)$/.exec(n);
    if (m) found.push({ step: Number(m[1]), dir: join(out, n) });
  }
  return found.sort((a, b) => a.step - b.step);
}

/** Deletes all but the newest `keep` checkpoints. Async. */
export async function pruneCheckpoints(out: string, keep: number): Promise<void> {
  const all = await listCheckpoints(out);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) await rm(c.dir, { recursive: true, force: true });
}

/**
 * Writes `out/checkpoint-<step>` atomically: `fill` writes the files into a
 * temp folder beside it, which is then renamed into place (replacing a
 * checkpoint of the same step left by an earlier run). Resolves to its path. Async.
 */
export async function writeCheckpointDir(out: string, step: number, fill: (dir: string) => Promise<void>): Promise<string> {
  const name = `checkpoint-${step}`;
  const tmp = join(out, `.tmp-${name}-${process.pid}`);
  const final = join(out, name);
  await rm(tmp, { recursive: true, force: true });
  await makeDirs(tmp);
  try {
    await fill(tmp);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return final;
}

/**
 * Makes `out` (JobBERTError ERR_IO when it is a file or cannot be written:
 * found before the training, not when its model is written at the end), and
 * refuses a non-empty one unless resuming (ERR_EXISTS). Resuming, removes the
 * temp folders of checkpoint writes whose process died. Async.
 */
export async function assertOutUsable(fn: string, out: string, resume: boolean): Promise<void> {
  try {
    await makeDirs(out);
    await access(out, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? `${existsSync(out) ? out : 'a folder above it'} is a file` : (e as Error).message;
    throw new JobBERTError('ERR_IO', `${fn}: cannot write the out directory ${out} (${why})`, { cause: e });
  }
  if (resume) await removeLeftovers(out, (name) => Number(/^\.tmp-checkpoint-\d+-(\d+)$/.exec(name)?.[1]) || undefined);
  const existing = await readdir(out);
  if (!resume && existing.length > 0) {
    throw new JobBERTError(
      'ERR_EXISTS',
      `${fn}: out directory ${out} is not empty; pass resume: true (--resume) to continue the training there, or choose a new directory`,
    );
  }
}

/** The settings that differ between a checkpoint and this run, as "name old → new" lines. */
export function settingsDiff(saved: Record<string, unknown>, now: Record<string, unknown>): string[] {
  return Object.entries(now)
    .filter(([k, v]) => JSON.stringify(saved[k]) !== JSON.stringify(v))
    .map(([k, v]) => `${k} ${JSON.stringify(saved[k])} → ${JSON.stringify(v)}`);
}
