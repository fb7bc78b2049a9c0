/**
 * Errors raised by jobbert. Bad arguments throw the built-in `TypeError` or
 * `RangeError` (the message names the argument, what was expected and what was
 * received); domain failures throw {@link JobBERTError} with a stable `code`.
 */

/**
 * Every code a {@link JobBERTError} carries, with its meaning. The README's
 * "Errors" section lists the same table; `switch (e.code)` is type-checked
 * against it.
 */
export const ERROR_CODES = {
  ERR_BAD_CACHE: "a training run's embedding cache belongs to another encoder, or is truncated",
  ERR_BAD_CHECKPOINT: 'a training checkpoint is incomplete or does not match its files',
  ERR_BAD_DATA: 'a data file (ESCO CSV, lite training pairs) cannot be read as expected',
  ERR_BAD_FILE: 'an input file (pairs, skills, entries) has a bad line; the message names the line',
  ERR_BAD_MODEL: 'a model directory is missing a file, or holds one that is invalid or unsupported',
  ERR_BAD_SPEC: 'an encoder spec (saved in an index) cannot be turned back into an encoder',
  ERR_BROKER_FULL:
    "the NATS broker's JetStream storage is full (its max_file_store or max_memory_store, or a stream's limits); free space or raise them, then run the command again (a batch resumes)",
  ERR_BUSY: 'another process or training run is writing the same directory',
  ERR_CHUNK_FAILED: 'a chunk of a batch job failed on every attempt (or kept killing its workers); the job reports it',
  ERR_CORRUPT: 'a file failed its checksum or structural checks (index, model, download)',
  ERR_CUDA_UNAVAILABLE: "device 'cuda' was asked for but this build or machine cannot run CUDA; the message says why",
  ERR_DEVICE_MISMATCH: 'GPU memory (a DeviceMatrix) was passed where host memory is needed, or the reverse',
  ERR_DISPOSED: 'the object (encoder, index, matrix) was disposed',
  ERR_DIVERGED: 'training produced a non-finite loss or gradient; lower the learning rate',
  ERR_ENCODER_MISMATCH: 'an index was built with another encoder (fingerprint or dimension)',
  ERR_EXISTS: 'an output directory is not empty and resuming was not asked for',
  ERR_INTERNAL: 'an unexpected failure inside jobbert or a library it runs (tokenizer, onnxruntime)',
  ERR_IO: 'a file could not be read or written (permissions, disk full, a directory where a file was expected)',
  ERR_JOB_MISMATCH: 'a batch job name is in use by a job with another input, task, model or options',
  ERR_LISTEN: 'the service cannot listen on its host and port (the message has the system error, e.g. EADDRINUSE)',
  ERR_MISSING_DEPENDENCY:
    'an optional package a feature needs is not installed or cannot load (JobBERT.load: onnxruntime-node, tokenizers); the message names the npm command',
  ERR_NATS: 'the NATS server cannot be reached, has no JetStream, or stayed away past the retry limit',
  ERR_NETWORK: 'a download failed (connection, HTTP status, redirects)',
  ERR_NO_ENCODER: 'an index holds no encoder to turn text queries into vectors',
  ERR_NO_NATIVE_BUILD:
    'the native addon has no prebuild for this platform and was not compiled at install (npm ≥ 12 skips unapproved install scripts); the message names the commands',
  ERR_NOT_FOUND: 'a file, directory, model or remote object does not exist',
  ERR_OUT_OF_MEMORY: 'host or GPU memory ran out',
  ERR_READ_ONLY: 'the index was loaded with a read-only storage (int8 codes only)',
  ERR_RESUME_MISMATCH: 'a training run resumed with settings, data or a batch plan other than those it started with',
  ERR_UNAVAILABLE: 'the operation is not available in this build of jobbert',
  ERR_UNSUPPORTED_VERSION: 'an index file has a format newer than this jobbert reads',
} as const;

/**
 * The codes only the HTTP service answers with, with their status; a service
 * error can also carry any code of {@link ERROR_CODES} (status 500, or 404 for
 * `ERR_NOT_FOUND`).
 */
export const SERVICE_ERROR_CODES = {
  ERR_EMPTY_BODY: [400, 'the request body is empty'],
  ERR_INVALID_JSON: [400, 'the request body is not valid JSON'],
  ERR_INVALID_UTF8: [400, 'the request body is not valid UTF-8'],
  ERR_INVALID_ENCODING: [400, 'the request body does not decompress as its Content-Encoding (gzip, deflate, br) says'],
  ERR_BAD_HTTP: [400, 'the request is not valid HTTP'],
  ERR_INVALID_REQUEST: [400, 'an OpenAI-style request (/v1/embeddings, /v1/models/{id}) has a missing or invalid field; `param` names it'],
  ERR_UNAUTHORIZED: [401, 'a bearer token is needed, or the one sent is not valid'],
  ERR_NOT_CONFIGURED: [404, 'the route needs something the server was not started with (an encoder, skills, a Normalizer)'],
  ERR_MODEL_NOT_FOUND: [
    404,
    '/v1/embeddings or /v1/models/{id} was asked for a model this server does not serve; the message lists those it does',
  ],
  ERR_METHOD_NOT_ALLOWED: [405, 'the route takes another HTTP method'],
  ERR_REQUEST_TIMEOUT: [408, 'the request headers or body did not arrive within --request-timeout-ms (headers: 10 s)'],
  ERR_BODY_TOO_LARGE: [413, 'the request body exceeds --max-body-bytes'],
  ERR_UNSUPPORTED_MEDIA_TYPE: [
    415,
    'the request body is not application/json, has a charset other than UTF-8, or a Content-Encoding other than gzip, deflate or br',
  ],
  ERR_EXPECTATION_FAILED: [417, "the request's Expect header asks for something other than 100-continue"],
  ERR_HEADERS_TOO_LARGE: [431, 'the request headers exceed Node’s limit (16 KiB)'],
  ERR_VALIDATION: [422, 'a field of the request is missing or invalid; `field` names it'],
  ERR_SHARD_UNAVAILABLE: [503, 'a shard of a sharded index did not answer in time; the message names it'],
  ERR_OVERLOADED: [503, 'too many items are queued; retry after the Retry-After header'],
  ERR_SHUTTING_DOWN: [503, 'the server is draining; retry on another instance'],
} as const satisfies Record<string, readonly [number, string]>;

/** A code of the library ({@link ERROR_CODES}). */
export type LibraryErrorCode = keyof typeof ERROR_CODES;
/** A code only the HTTP service answers with ({@link SERVICE_ERROR_CODES}). */
export type ServiceErrorCode = keyof typeof SERVICE_ERROR_CODES;
/** Every code a {@link JobBERTError} (or the service's `ServeError`) carries: a closed union. */
export type JobBERTErrorCode = LibraryErrorCode | ServiceErrorCode;

/** Whether `code` is one of jobbert's error codes. */
export function isErrorCode(code: unknown): code is JobBERTErrorCode {
  return typeof code === 'string' && (Object.hasOwn(ERROR_CODES, code) || Object.hasOwn(SERVICE_ERROR_CODES, code));
}

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
    const code = (error as Error & { code?: unknown }).code;
    out = new JobBERTError(isErrorCode(code) ? code : 'ERR_INTERNAL', error.message, { cause: error });
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
