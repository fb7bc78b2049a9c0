/** Facts about other processes on this machine. */

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
