/**
 * When a long-running command (`serve`, `serve --shard`, `worker`) should
 * stop: at the first of its signals, or, where npm started it (`npx jobbert
 * serve`, an `npm start` script), once npm has gone. npm runs a bin through
 * `sh -c`, and a SIGTERM to npm ends that shell without reaching node: a
 * background `npx jobbert serve` stopped with `kill` kept serving, with init
 * as its parent, until killed by hand.
 */

/** A signal, or 'parent exited' where the process npm started it through has gone. */
export type StopReason = NodeJS.Signals | 'parent exited';

/** How often the parent is looked at (ms). */
const PARENT_POLL_MS = 500;

/**
 * The first stop reason to arrive. Its `cancel()` stops listening (for a start
 * that failed: the listeners would otherwise swallow the next Ctrl-C); after the
 * first signal a second one gets the default action (terminate at once).
 * `watchParent` defaults to whether npm started the process (`npm_command` in
 * the environment): a shell's `jobbert serve &` outlives its shell, as
 * daemons do, while npm's child follows npm.
 */
export function untilStopped(
  signals: NodeJS.Signals[],
  { watchParent = process.env.npm_command !== undefined }: { watchParent?: boolean } = {},
): Promise<StopReason> & { cancel(): void } {
  let on!: (s: StopReason) => void;
  let poll: NodeJS.Timeout | undefined;
  const cancel = () => {
    for (const x of signals) process.off(x, on);
    clearInterval(poll);
  };
  const arrived = new Promise<StopReason>((resolve) => {
    on = (s: StopReason) => {
      cancel();
      resolve(s);
    };
    for (const s of signals) process.on(s, on);
    if (watchParent) {
      const parent = process.ppid;
      poll = setInterval(() => {
        if (process.ppid !== parent) on('parent exited');
      }, PARENT_POLL_MS).unref();
    }
  });
  return Object.assign(arrived, { cancel });
}

/** The reason as a log line says it. */
export const stopReasonText = (r: StopReason): string => (r === 'parent exited' ? 'the npm process that started it has exited' : r);
