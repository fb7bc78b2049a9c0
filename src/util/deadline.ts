/**
 * Waiting on something for at most a while: stopping, closing and releasing
 * wait on what is under way, but give up on a peer that hangs.
 */

/**
 * Waits for `work` or `ms` milliseconds, whichever comes first, and clears its
 * timer either way (a pending one keeps the process alive until it fires).
 * Resolves true when `work` fulfilled in time, false when the time ran out
 * (`work` goes on, unawaited); rejects with `work`'s error when it rejected
 * first. Async.
 */
export async function finishedWithin(work: PromiseLike<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([Promise.resolve(work).then(() => true as const), timeUp]);
  } finally {
    clearTimeout(timer);
  }
}
