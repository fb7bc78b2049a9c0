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
import { takePidLock } from './pid-lock.js';
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
  const existing = (await readdir(out)).filter((name) => name !== OUT_LOCK);
  if (!resume && existing.length > 0) {
    throw new JobBERTError(
      'ERR_EXISTS',
      `${fn}: out directory ${out} is not empty; pass resume: true (--resume) to continue the training there, or choose a new directory`,
    );
  }
  // Resuming a folder of other files (a mistyped --out): it trained from scratch there and replaced them.
  // One a training wrote (its model, or its loss curve) may be trained into again.
  const trained = ['loss.svg', 'lite.json', 'modules.json'].some((name) => existing.includes(name));
  if (resume && existing.length > 0 && !trained && (await listCheckpoints(out)).length === 0) {
    throw new JobBERTError(
      'ERR_EXISTS',
      `${fn}: out directory ${out} holds no checkpoint to resume from, but other files (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); choose a new or empty directory`,
    );
  }
}

/** The settings that differ between a checkpoint and this run, as "name old → new" lines. */
export function settingsDiff(saved: Record<string, unknown>, now: Record<string, unknown>): string[] {
  return Object.entries(now)
    .filter(([k, v]) => JSON.stringify(saved[k]) !== JSON.stringify(v))
    .map(([k, v]) => `${k} ${JSON.stringify(saved[k])} → ${JSON.stringify(v)}`);
}

/**
 * Refuses (ERR_RESUME_MISMATCH) to resume a checkpoint whose trainer_state.json
 * records another batch plan than the trainer's `current` (its `options.batchPlan`),
 * or none (a trainer from before plans were versioned): its remaining steps
 * would train other batches than the run it began, and the result would match
 * no uninterrupted run. Sync.
 */
export function assertSameBatchPlan(fn: string, dir: string, recorded: unknown, current: number): void {
  if (recorded === current) return;
  const why =
    recorded === undefined
      ? `was made by an older trainer that did not record its batch plan (batchPlan none → ${current})`
      : `was made under batch plan ${JSON.stringify(recorded)}, and this trainer plans batch plan ${current}`;
  throw new JobBERTError(
    'ERR_RESUME_MISMATCH',
    `${fn}: ${dir} ${why}: resumed, its remaining steps would train other batches than the run it began. Finish it with the jobbert version that made it, or train again into a new out directory`,
  );
}

/** The lock file of a training writing its out directory. */
const OUT_LOCK = '.jobbert-training.lock';

/**
 * Runs `body` holding `out`'s training lock (after {@link assertOutUsable}):
 * JobBERTError ERR_BUSY while another run, in this process or a live one,
 * trains into it. Two runs into one directory both finished, the one's model
 * and checkpoints silently replaced by the other's. A lock left by a process
 * that died is taken over. Async.
 */
export async function withOutLock<T>(fn: string, out: string, body: () => Promise<T>): Promise<T> {
  const release = await takePidLock(join(out, OUT_LOCK), {
    busy: (holder) =>
      new JobBERTError(
        'ERR_BUSY',
        `${fn}: ${holder === 'this process' ? 'another training run of this process' : typeof holder === 'number' ? `process ${holder}` : holder} is training into ${out}; wait for it, or choose another out directory`,
      ),
    io: (e) => new JobBERTError('ERR_IO', `${fn}: cannot lock ${out}: ${e.message}`, { cause: e }),
  });
  try {
    return await body();
  } finally {
    await release();
  }
}
