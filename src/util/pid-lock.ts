/**
 * A lock file holding the pid of the process that holds it: for a folder that
 * two runs must not write at once (a training's out directory, an embedding
 * cache). A lock left by a process that has ended is taken over.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { processAlive } from './process.js';

/** Who holds a lock: another run of this process (a pid cannot tell two apart), a live process, or one that kept taking it back. */
export type LockHolder = 'this process' | number | 'another process';

/** Lock files this process holds, by resolved path. */
const heldHere = new Set<string>();

/**
 * Takes the lock file `path`; resolves to the function that gives it back.
 * Rejects with `busy(holder)` while another run holds it, and with `io(error)`
 * when the file cannot be written. Async.
 */
export async function takePidLock(
  path: string,
  errors: { busy: (holder: LockHolder) => Error; io: (e: Error) => Error },
): Promise<() => Promise<void>> {
  const key = resolve(path);
  if (heldHere.has(key)) throw errors.busy('this process');
  heldHere.add(key); // before the first await: a second run of this process must see it
  try {
    let taken = false;
    for (let attempt = 0; attempt < 2 && !taken; attempt++) {
      try {
        await writeFile(path, String(process.pid), { flag: 'wx' });
        taken = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw errors.io(e as Error);
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) throw errors.busy(pid);
        await rm(path, { force: true }); // left by a process that died
      }
    }
    if (!taken) throw errors.busy('another process');
  } catch (e) {
    heldHere.delete(key);
    throw e;
  }
  let held = true;
  return async () => {
    if (!held) return;
    held = false;
    heldHere.delete(key);
    await rm(path, { force: true });
  };
}
