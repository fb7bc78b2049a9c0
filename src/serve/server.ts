/**
 * `createServer`: the Matcher on a Node `http` server with timeouts that keep
 * slow or silent clients from holding it, and a graceful close(): stop
 * accepting, answer the requests in flight (up to a deadline), then end every
 * connection.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertInteger, assertOptions } from '../util/validate.js';
import { createMatcher, type Matcher, type MatcherOptions } from './matcher.js';

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
    ...matcherOptions
  } = opts;
  if (typeof host !== 'string' || host === '') throw new TypeError(`${fn}: host must be a non-empty string; received ${String(host)}`);
  assertInteger(fn, 'port', port, 0, 65535);
  assertInteger(fn, 'requestTimeoutMs', requestTimeoutMs, 1);
  assertInteger(fn, 'headersTimeoutMs', headersTimeoutMs, 1);
  assertInteger(fn, 'keepAliveTimeoutMs', keepAliveTimeoutMs, 1);
  assertInteger(fn, 'shutdownTimeoutMs', shutdownTimeoutMs, 0);
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
  // A socket that errors (reset mid-request, malformed HTTP) answers 400 if it still can and is closed; it never takes the process down.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      const body = JSON.stringify({ error: { code: 'ERR_BAD_HTTP', message: `malformed HTTP request (${err.code ?? 'parse error'})` } });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    } else {
      socket.destroy();
    }
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
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, shutdownTimeoutMs)));
        await Promise.race([matcher.close(), deadline]);
        clearTimeout(timer);
        // Answered requests asked their connections to close; cut whatever is left (idle or past the deadline).
        server.closeIdleConnections();
        setImmediate(() => server.closeAllConnections());
        await stopped;
      })();
      return closed;
    },
  };
}
