/** Facts about other processes on this machine, and the files they leave behind. */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Whether a process with this pid runs on this machine: signal 0 checks
 * without sending anything; EPERM means it exists but belongs to someone else.
 * Used to tell a lock or temp file of a live process from one left behind.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the files (and folders) in `dir` whose process, as `pidOf` reads it from the file's
 * name, no longer runs: temp files a killed process left behind. `pidOf` gives
 * undefined for a file that is not such a temp file; one of a live process
 * (this one's included) is another write in progress and is left alone. Async;
 * best effort: it never throws.
 */
export async function removeLeftovers(dir: string, pidOf: (name: string) => number | undefined): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = pidOf(name);
    if (pid !== undefined && !processAlive(pid)) await rm(join(dir, name), { recursive: true, force: true }).catch(() => {});
  }
}
