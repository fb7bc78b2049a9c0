/**
 * Calling a caller's callback (progress, events): one that returns a promise
 * is awaited, so that its rejection rejects the call that made it. Ignored,
 * it was an unhandled rejection, which ends the process.
 */
export async function callBack<T>(cb: ((value: T) => unknown) | undefined, value: T): Promise<void> {
  const r = cb?.(value);
  if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') await r;
}
