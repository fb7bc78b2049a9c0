/**
 * HTTP plumbing for the service: the error type every endpoint throws, a
 * bounded JSON body reader (size, UTF-8 and syntax checked before anything
 * looks at the content) and JSON responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JobBERTError, type JobBERTErrorCode } from '../errors.js';

/**
 * A failure that maps to an HTTP status: `status`, a stable `code` and, for
 * bad fields, the `field` at fault (e.g. `queries[3]`). The JSON-level
 * functions of a Matcher throw these; `toJSON()` is the error body.
 */
export class ServeError extends JobBERTError {
  readonly status: number;
  readonly field: string | undefined;
  /** Extra response headers (Allow, WWW-Authenticate, Retry-After). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: JobBERTErrorCode,
    message: string,
    opts: { field?: string; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, message, { cause: opts.cause });
    this.name = 'ServeError';
    this.status = status;
    this.field = opts.field;
    this.headers = opts.headers ?? {};
  }

  /** The response body: `{ error: { code, message, field? } }`. */
  toJSON(): { error: { code: string; message: string; field?: string } } {
    return {
      error:
        this.field === undefined
          ? { code: this.code, message: this.message }
          : { code: this.code, message: this.message, field: this.field },
    };
  }
}

/** A 422 for a request field: the message starts with the field's name. */
export function badField(field: string, message: string): ServeError {
  return new ServeError(422, 'ERR_VALIDATION', `${field} ${message}`, { field });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads and parses a JSON request body of at most `maxBytes` bytes. Async.
 * Rejects with ServeError: 413 ERR_BODY_TOO_LARGE (announced or actual size),
 * 415 ERR_UNSUPPORTED_MEDIA_TYPE (a Content-Type other than JSON), 400
 * ERR_INVALID_UTF8 / ERR_INVALID_JSON / ERR_EMPTY_BODY; and with a plain Error
 * when the client goes away (nothing can be answered then).
 *
 * A body that a framework has already parsed (Express's `express.json()` sets
 * `req.body`) is taken as it is.
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== undefined && (req.readableEnded || req.complete)) return Promise.resolve(parsed);
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type)) {
    return Promise.reject(
      new ServeError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json; received '${type.slice(0, 100)}'`),
    );
  }
  const announced = req.headers['content-length'];
  if (announced !== undefined && Number(announced) > maxBytes) {
    return Promise.reject(tooLarge(maxBytes, `Content-Length ${Number(announced)}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const finish = (error: Error | null, value?: unknown) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        // Stop buffering; the caller answers 413 and closes the connection.
        chunks.length = 0;
        req.pause();
        finish(tooLarge(maxBytes, 'the body'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      let text: string;
      try {
        text = utf8.decode(Buffer.concat(chunks, bytes));
      } catch {
        finish(new ServeError(400, 'ERR_INVALID_UTF8', 'the request body is not valid UTF-8'));
        return;
      }
      if (text.trim() === '') {
        finish(new ServeError(400, 'ERR_EMPTY_BODY', 'the request body is empty; send a JSON object'));
        return;
      }
      try {
        finish(null, JSON.parse(text));
      } catch (e) {
        finish(new ServeError(400, 'ERR_INVALID_JSON', `the request body is not valid JSON: ${(e as Error).message}`));
      }
    };
    const onError = (e: Error) => finish(e);
    const onClose = () => finish(new Error('the client closed the connection before sending the whole body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(maxBytes: number, what: string): ServeError {
  return new ServeError(413, 'ERR_BODY_TOO_LARGE', `${what} exceeds the limit of ${maxBytes} bytes (--max-body-bytes)`);
}

/** Sends `body` as JSON with `status`; does nothing if the response is already sent or the socket is gone. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Sends plain text (the Prometheus exposition format). */
export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Sends a ServeError as its status and JSON body. A 413 also closes the
 * connection: the unread rest of the body is not worth draining.
 */
export function sendError(res: ServerResponse, error: ServeError): void {
  const headers = { ...error.headers };
  if (error.status === 413) headers.connection = 'close';
  sendJson(res, error.status, error.toJSON(), headers);
}
