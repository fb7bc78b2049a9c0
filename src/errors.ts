/**
 * Errors raised by jobbert. Bad arguments throw the built-in `TypeError` or
 * `RangeError` (the message names the argument, what was expected and what was
 * received); domain failures throw {@link JobBERTError} with a stable `code`.
 */

/** Stable codes carried by {@link JobBERTError}. */
export type JobBERTErrorCode =
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_UNAVAILABLE'
  | 'ERR_CUDA_UNAVAILABLE'
  | 'ERR_DEVICE_MISMATCH'
  | 'ERR_DISPOSED'
  | 'ERR_INTERNAL'
  | (string & {});

/** A domain failure: a device that is not there, memory that ran out, a corrupt file. */
export class JobBERTError extends Error {
  /** Machine-readable reason, e.g. `'ERR_CUDA_UNAVAILABLE'`. */
  readonly code: JobBERTErrorCode;

  constructor(code: JobBERTErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobBERTError';
    this.code = code;
  }
}

/**
 * Captures the caller's stack now, so an error that surfaces later from a
 * native worker thread can be re-thrown with it (sharp's `is.nativeError`).
 */
export function callerStack(): { stack?: string } {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callerStack);
  return holder;
}

/**
 * Turns what the addon rejected with into the public error types and gives it
 * the stack captured by {@link callerStack}.
 */
export function fromNative(error: unknown, caller: { stack?: string }): Error {
  let out: Error;
  if (error instanceof TypeError || error instanceof RangeError || error instanceof JobBERTError) {
    out = error;
  } else if (error instanceof Error) {
    const code = (error as Error & { code?: string }).code ?? 'ERR_INTERNAL';
    out = new JobBERTError(code, error.message, { cause: error });
  } else {
    out = new JobBERTError('ERR_INTERNAL', String(error));
  }
  if (caller.stack) {
    const frames = caller.stack.split('\n').slice(1).join('\n');
    out.stack = `${out.name}: ${out.message}\n${frames}`;
  }
  return out;
}

/** Awaits a native call, re-throwing its error as a public error with the caller's stack. */
export async function callNative<T>(caller: { stack?: string }, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw fromNative(e, caller);
  }
}
