/**
 * HTTP plumbing for the service: the error type every endpoint throws, a
 * bounded JSON body reader (size, UTF-8 and syntax checked before anything
 * looks at the content) and JSON responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transform } from 'node:stream';
import { constants as zlibConstants, crc32, createBrotliDecompress, createGunzip, createInflate, deflateRawSync } from 'node:zlib';
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

/** The request Content-Encodings a body may arrive in, and their decompressors. */
const DECOMPRESSORS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * Reads and parses a JSON request body of at most `maxBytes` bytes, decompressed
 * first when its Content-Encoding is gzip, deflate or br (the limit holds for
 * the decompressed JSON too). Async. Rejects with ServeError: 413
 * ERR_BODY_TOO_LARGE (announced or actual size), 415 ERR_UNSUPPORTED_MEDIA_TYPE
 * (a Content-Type other than JSON or a charset other than UTF-8, another Content-Encoding), 400
 * ERR_INVALID_ENCODING (a body that does not decompress), ERR_INVALID_UTF8 /
 * ERR_INVALID_JSON / ERR_EMPTY_BODY; and with a plain Error when the client
 * goes away (nothing can be answered then).
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
  // JSON is UTF-8 (RFC 8259); a body in another charset would otherwise fail as "invalid JSON" or "invalid UTF-8".
  const charset = type === undefined ? undefined : /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    return Promise.reject(
      new ServeError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', `the body must be UTF-8 JSON; received charset '${charset.slice(0, 40)}'`),
    );
  }
  const coding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (coding !== 'identity' && !Object.hasOwn(DECOMPRESSORS, coding)) {
    return Promise.reject(
      new ServeError(
        415,
        'ERR_UNSUPPORTED_MEDIA_TYPE',
        `Content-Encoding '${coding.slice(0, 100)}' is not supported; send the body as it is, or gzip, deflate or br`,
      ),
    );
  }
  const announced = req.headers['content-length'];
  if (announced !== undefined && Number(announced) > maxBytes) {
    return Promise.reject(tooLarge(maxBytes, `Content-Length ${Number(announced)}`));
  }
  const inflate = coding === 'identity' ? null : DECOMPRESSORS[coding]();
  const source = inflate ? req.pipe(inflate) : req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const finish = (error: Error | null, value?: unknown) => {
      if (done) return;
      done = true;
      source.off('data', onData);
      source.off('end', onEnd);
      inflate?.off('error', onInflateError);
      req.off('error', onError);
      req.off('close', onClose);
      if (error) {
        if (inflate) {
          req.unpipe(inflate);
          inflate.destroy();
        }
        reject(error);
      } else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        // Stop buffering (and decompressing); the caller answers 413, and sendError drops the rest.
        chunks.length = 0;
        req.pause();
        finish(tooLarge(maxBytes, inflate ? 'the decompressed body' : 'the body'));
        return;
      }
      chunks.push(chunk);
    };
    const onInflateError = (e: Error) =>
      finish(new ServeError(400, 'ERR_INVALID_ENCODING', `the request body is not valid ${coding} (${e.message})`));
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
    // A complete request may close before its decompressed body has all been read.
    const onClose = () => {
      if (!req.complete) finish(new Error('the client closed the connection before sending the whole body'));
    };
    source.on('data', onData);
    source.on('end', onEnd);
    inflate?.on('error', onInflateError);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(maxBytes: number, what: string): ServeError {
  return new ServeError(413, 'ERR_BODY_TOO_LARGE', `${what} exceeds the limit of ${maxBytes} bytes (--max-body-bytes)`);
}

/** Bytes of a response serialised ahead of what the client has taken: the per-connection output bound. */
export const RESPONSE_PIECE_BYTES = 64 * 1024;
/** Default of {@link ResponseSettings.writeTimeoutMs}. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;

/** How responses are written on a connection (createServer sets them per socket; a host app gets the defaults). */
export interface ResponseSettings {
  /** Longest wait for a client to take the next piece of a response, in ms; then the connection is cut. */
  writeTimeoutMs: number;
  /** Gzip a body of at least {@link GZIP_MIN_BYTES} for a client whose Accept-Encoding takes gzip (default false). */
  gzip?: boolean;
}

/** Bodies shorter than this go out as they are even to a client that takes gzip: compressing them saves nothing worth the CPU. */
export const GZIP_MIN_BYTES = 1024;

const SETTINGS = Symbol('jobbert.responseSettings');

/** Sets how every response written on `socket` is sent. */
export function setResponseSettings(socket: object, settings: ResponseSettings): void {
  (socket as { [SETTINGS]?: ResponseSettings })[SETTINGS] = settings;
}

function settingsOf(res: ServerResponse): ResponseSettings {
  return (res.socket as { [SETTINGS]?: ResponseSettings } | null)?.[SETTINGS] ?? { writeTimeoutMs: DEFAULT_WRITE_TIMEOUT_MS };
}

/**
 * Whether an Accept-Encoding header takes gzip (RFC 9110 12.5.3): `gzip` (or
 * `x-gzip`) with a q above 0, or `*` with a q above 0 when gzip is not listed.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let star = false;
  for (const item of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [name, ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => /^q\s*=/.test(p));
    const taken = q === undefined || Number(q.slice(q.indexOf('=') + 1)) > 0;
    if (name === 'gzip' || name === 'x-gzip') return taken;
    if (name === '*') star = taken;
  }
  return star;
}

/**
 * A gzip stream (RFC 1952) made piece by piece, synchronously: each piece is
 * compressed on its own (level 1) and ends in a sync flush, so the pieces'
 * deflate data chain into one stream that the last piece closes; the CRC-32
 * and length follow it. One piece of at most RESPONSE_PIECE_BYTES costs well
 * under a millisecond, and no compressed data waits beyond the piece in hand.
 */
class GzipPieces {
  #crc = 0;
  #length = 0;
  #started = false;

  /** The bytes that carry `piece`, ending the stream when `last`. */
  next(piece: Piece, last: boolean): Buffer {
    const raw = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    this.#crc = crc32(raw, this.#crc);
    this.#length = (this.#length + raw.length) >>> 0;
    const body = deflateRawSync(raw, {
      level: 1,
      finishFlush: last ? zlibConstants.Z_FINISH : zlibConstants.Z_SYNC_FLUSH,
    });
    const parts = [body];
    if (!this.#started) parts.unshift(GZIP_HEADER);
    this.#started = true;
    if (last) {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.#crc >>> 0, 0);
      trailer.writeUInt32LE(this.#length, 4);
      parts.push(trailer);
    }
    // A middle piece is its deflate data alone: no copy.
    return parts.length === 1 ? body : Buffer.concat(parts);
  }
}

/** gzip's member header: magic, deflate, no flags, no time, no extra flags, OS unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);

/**
 * The JSON text of `value` in pieces, as JSON.stringify writes it: objects and
 * arrays are opened `depth` levels deep, below that each value is stringified
 * whole (a result list of at most max-k hits, a vector).
 */
function* jsonPieces(value: unknown, depth: number): Generator<string> {
  const plain = typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
  if (depth === 0 || !plain || (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype)) {
    yield JSON.stringify(value) ?? 'null';
    return;
  }
  if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      const v = value[i];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') yield 'null';
      else yield* jsonPieces(v, depth - 1);
    }
    yield ']';
    return;
  }
  yield '{';
  let first = true;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    yield `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    yield* jsonPieces(v, depth - 1);
  }
  yield '}';
}

/** A piece of a response body: text, or bytes already UTF-8. */
type Piece = string | Buffer;

/** A response body serialised beforehand: JSON text as UTF-8 bytes, sent as they are by {@link sendJson}. */
export class JsonBytes {
  constructor(readonly bytes: Buffer) {}
}

/** The next piece of about RESPONSE_PIECE_BYTES characters, or null when the text is done. */
function nextPiece(pieces: Iterator<string>): string | null {
  let piece = '';
  let more = false;
  for (let r = pieces.next(); !r.done; r = pieces.next()) {
    piece += r.value;
    more = true;
    if (piece.length >= RESPONSE_PIECE_BYTES) break;
  }
  return more ? piece : null;
}

/**
 * Waits until the socket has taken what was written ('drain', or the write's
 * callback), for at most writeTimeoutMs; a client that takes nothing for that
 * long has its connection cut. Resolves false when the response is gone.
 */
function whenTaken(res: ServerResponse, settings: ResponseSettings, write?: string | Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok && !res.destroyed);
    };
    const onDrain = () => settle(true);
    const onClose = () => settle(false);
    const timer = setTimeout(() => {
      res.destroy();
      settle(false);
    }, settings.writeTimeoutMs);
    timer.unref?.();
    res.on('close', onClose);
    if (write === undefined) res.on('drain', onDrain);
    else res.write(write, (e) => settle(!e));
  });
}

/**
 * Sends `body` as JSON with `status`; does nothing if the response is already
 * sent or the socket is gone. The text is serialised in pieces of about
 * RESPONSE_PIECE_BYTES as the client takes them (a body larger than one piece
 * goes out chunked), so a client that does not read holds at most one piece
 * of text in this process (and `body` itself), and is cut after writeTimeoutMs
 * without progress. The response ends only once its last byte has left the
 * process, so a graceful close never mistakes it for an idle connection. A
 * {@link JsonBytes} body is already serialised: its bytes go out as they are,
 * in pieces of the same size, and are held whole until then.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  let next: () => Piece | null;
  if (body instanceof JsonBytes) {
    // Pieces of the bytes themselves, no copy.
    const { bytes } = body;
    let at = 0;
    next = () => (at < bytes.length ? bytes.subarray(at, (at += RESPONSE_PIECE_BYTES)) : null);
  } else {
    const pieces = jsonPieces(body, 3);
    next = () => nextPiece(pieces);
  }
  const first = next() ?? 'null';
  const second = first.length >= RESPONSE_PIECE_BYTES ? next() : null;
  send(res, status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, first, second, next);
}

/** Sends plain text (the Prometheus exposition format), ending the response once it has left the process. */
export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  if (res.headersSent || res.destroyed) return;
  send(res, status, { 'content-type': contentType, 'cache-control': 'no-store' }, text, null, () => null);
}

/**
 * Writes the head and the pieces: gzip-compressed where the server gzips and
 * the client takes it (and the body is not too short to gain), else as they
 * are with a content-length when there is one piece.
 */
function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  first: Piece,
  second: Piece | null,
  next: () => Piece | null,
): void {
  const settings = settingsOf(res);
  // The whole body's length, when it is one piece.
  const length = second === null ? Buffer.byteLength(first) : null;
  const gzip = settings.gzip === true && (length === null || length >= GZIP_MIN_BYTES) && acceptsGzip(res.req?.headers['accept-encoding']);
  res.writeHead(status, {
    ...headers,
    ...(settings.gzip ? { vary: 'accept-encoding' } : {}),
    ...(gzip ? { 'content-encoding': 'gzip' } : length !== null ? { 'content-length': String(length) } : {}),
  });
  void writePieces(res, settings, first, second, next, gzip ? new GzipPieces() : null);
}

async function writePieces(
  res: ServerResponse,
  settings: ResponseSettings,
  first: Piece,
  second: Piece | null,
  next: () => Piece | null,
  gzip: GzipPieces | null,
): Promise<void> {
  let piece = first;
  let after = second;
  while (after !== null) {
    if (!res.write(gzip ? gzip.next(piece, false) : piece) && !(await whenTaken(res, settings))) return;
    piece = after;
    after = next();
  }
  if (await whenTaken(res, settings, gzip ? gzip.next(piece, true) : piece)) res.end();
}

/**
 * Sends a ServeError as its status and JSON body. After a 413 the rest of the
 * refused body is read and dropped (see {@link discardBody}), or, when more
 * than DISCARD_MAX_BYTES of it is announced, the connection is closed.
 */
export function sendError(res: ServerResponse, error: ServeError): void {
  const headers = { ...error.headers };
  if (error.status === 413 && !discardBody(res.req)) headers.connection = 'close';
  sendJson(res, error.status, error.toJSON(), headers);
}

/** Most bytes of a refused body that {@link discardBody} reads, and for how long, before it cuts the connection. */
export const DISCARD_MAX_BYTES = 16 * 1024 * 1024;
export const DISCARD_MS = 10_000;

/**
 * Reads and drops what is left of a request body the server will not use, so
 * that its client gets the answer: many clients (Python's http.client, fetch
 * on a large body) read nothing before they have sent the whole body, and a
 * socket closed with unread data is reset, which throws the answer away on
 * the client's side. Past DISCARD_MAX_BYTES or DISCARD_MS the connection is
 * cut; once the body has ended it stays open for the client's next request.
 * Returns false, reading nothing, when the body announces more than
 * DISCARD_MAX_BYTES: the caller closes the connection instead.
 */
export function discardBody(req: IncomingMessage | undefined): boolean {
  if (!req || req.complete || req.destroyed) return true;
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > DISCARD_MAX_BYTES) return false;
  let bytes = 0;
  const cut = () => {
    clearTimeout(timer);
    req.socket?.destroy();
  };
  const timer = setTimeout(cut, DISCARD_MS);
  timer.unref?.();
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > DISCARD_MAX_BYTES) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
  return true;
}
