/**
 * `createServer`: the Matcher on a Node `http` server with timeouts that keep
 * slow or silent clients from holding it, and a graceful close(): stop
 * accepting, answer the requests in flight (up to a deadline), then end every
 * connection.
 */
import { createServer as createHttpServer, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { finishedWithin } from '../util/deadline.js';
import { assertInteger, assertOptions, assertTimerMs, describe } from '../util/validate.js';
import { DEFAULT_WRITE_TIMEOUT_MS, sendError, ServeError, setResponseSettings } from './http.js';
import { releaseMemoryWhenIdle } from './idle-memory.js';
import { createMatcher, type Matcher, type MatcherOptions } from './matcher.js';

/** The status, code and message a client error (from Node's HTTP parser or its timeouts) is answered with. */
function clientErrorResponse(err: NodeJS.ErrnoException): [number, string, string] {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'ERR_REQUEST_TIMEOUT', 'the request (headers or body) was not received in time'];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'ERR_HEADERS_TOO_LARGE', 'the request headers are too large'];
    default:
      return [400, 'ERR_BAD_HTTP', `malformed HTTP request (${err.code ?? 'parse error'})`];
  }
}

/** A whole HTTP response, written straight to a socket Node's server does not answer on: the JSON error, then the connection closes. */
function rawError(status: number, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export interface ServeOptions extends MatcherOptions {
  /** Interface to bind (default 127.0.0.1: reachable from this machine only). */
  host?: string;
  /** Port (default 8080; 0 picks a free one, which listen() reports). */
  port?: number;
  /** Longest time a client may take to send a whole request, in ms (default 30,000); then 408. */
  requestTimeoutMs?: number;
  /** Longest time a client may take to send the headers, in ms (default 10,000). */
  headersTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms (default 5,000). */
  keepAliveTimeoutMs?: number;
  /** How long close() lets requests in flight finish before cutting connections, in ms (default 10,000). */
  shutdownTimeoutMs?: number;
  /**
   * Longest wait for a client to take the next piece of a response, in ms
   * (default 30,000); a client that reads nothing for that long is cut.
   * At most 64 KiB of a response waits in the process per connection.
   */
  writeTimeoutMs?: number;
  /**
   * Gzip response bodies of 1 KiB or more for clients whose Accept-Encoding
   * takes gzip (default false: behind a proxy that compresses, or on a fast
   * network, it only costs CPU). Level 1, piece by piece as the body is written.
   */
  gzip?: boolean;
  /**
   * After this many ms with no request in flight, hand memory a burst left
   * behind back to the system — a full V8 collection, then the C library's
   * free pages — when RSS grew by 64 MiB or more since the last time (default
   * 2,000; 0: never). Counted in /metrics (jobbert_memory_releases_total).
   */
  idleReleaseMs?: number;
}

export interface JobbertServer {
  /** The underlying Node server (not yet listening). */
  readonly server: Server;
  /** The matcher serving requests (its JSON functions, settings and metrics). */
  readonly matcher: Matcher;
  /** Starts listening. Async; resolves with the bound address (the real port when port was 0). */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /**
   * Stops accepting connections, lets requests in flight finish (until
   * shutdownTimeoutMs, then cuts what is left) and resolves when every
   * connection is closed. Does not dispose the index. Async; idempotent.
   */
  close(): Promise<void>;
}

/**
 * Makes the HTTP service around a Matcher (see createMatcher for the options
 * it shares). Sync; throws TypeError/RangeError naming a bad option.
 */
export function createServer(opts: ServeOptions): JobbertServer {
  const fn = 'createServer';
  assertOptions(fn, opts);
  const {
    host = '127.0.0.1',
    port = 8080,
    requestTimeoutMs = 30_000,
    headersTimeoutMs = 10_000,
    keepAliveTimeoutMs = 5_000,
    shutdownTimeoutMs = 10_000,
    writeTimeoutMs = DEFAULT_WRITE_TIMEOUT_MS,
    gzip = false,
    idleReleaseMs = 2_000,
    ...matcherOptions
  } = opts;
  if (typeof host !== 'string' || host === '') throw new TypeError(`${fn}: host must be a non-empty string; received ${String(host)}`);
  assertInteger(fn, 'port', port, 0, 65535);
  assertTimerMs(fn, 'requestTimeoutMs', requestTimeoutMs, 1);
  assertTimerMs(fn, 'headersTimeoutMs', headersTimeoutMs, 1);
  assertTimerMs(fn, 'keepAliveTimeoutMs', keepAliveTimeoutMs, 1);
  assertTimerMs(fn, 'shutdownTimeoutMs', shutdownTimeoutMs, 0);
  assertTimerMs(fn, 'writeTimeoutMs', writeTimeoutMs, 1);
  assertTimerMs(fn, 'idleReleaseMs', idleReleaseMs, 0);
  if (typeof gzip !== 'boolean') throw new TypeError(`${fn}: gzip must be a boolean; received ${describe(gzip)}`);
  const matcher = createMatcher(matcherOptions);

  const server = createHttpServer(
    {
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(headersTimeoutMs, requestTimeoutMs),
      keepAliveTimeout: keepAliveTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would make them that coarse).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(requestTimeoutMs, headersTimeoutMs) / 2))),
    },
    matcher.handler,
  );
  const stopReleasing = idleReleaseMs > 0 ? releaseMemoryWhenIdle(server, idleReleaseMs) : () => {};
  const responseSettings = { writeTimeoutMs, gzip };
  server.on('connection', (socket) => setResponseSettings(socket, responseSettings));
  // What Node would answer with an empty body, or not at all, answered as every other error is.
  server.on('checkExpectation', (req, res) =>
    sendError(
      res,
      new ServeError(
        417,
        'ERR_EXPECTATION_FAILED',
        `Expect '${String(req.headers.expect).slice(0, 100)}' is not supported; only 100-continue is`,
      ),
    ),
  );
  server.on('connect', (_req, socket: Duplex) => {
    socket.on('error', () => {});
    socket.end(rawError(405, 'ERR_METHOD_NOT_ALLOWED', 'CONNECT is not supported: this is not a proxy'));
  });
  // A socket that errors (a timeout, malformed HTTP, a reset) answers with its status if nothing of a response
  // has been sent yet — also mid-body, where a request is already being handled — and is closed; it never takes
  // the process down.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(rawError(...clientErrorResponse(err)));
    // Whatever the client still sends is not read: give it a moment to take the answer, then free the socket.
    setTimeout(() => socket.destroy(), 1000).unref();
  });

  let closed: Promise<void> | null = null;
  return {
    server,
    matcher,
    listen() {
      return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const a = server.address() as AddressInfo;
          const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve({ host: a.address, port: a.port, url: `http://${shown}:${a.port}` });
        });
      });
    },
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
        });
        server.closeIdleConnections();
        await finishedWithin(matcher.close(), shutdownTimeoutMs);
        // Answered requests asked their connections to close; cut whatever is left (idle or past the deadline).
        server.closeIdleConnections();
        setImmediate(() => server.closeAllConnections());
        await stopped;
        stopReleasing();
      })();
      return closed;
    },
  };
}
