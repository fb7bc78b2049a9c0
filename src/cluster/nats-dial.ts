/**
 * Finding a NATS server that answers: the first connection asks every listed
 * server at once and dials the first to greet; a dropped connection asks them
 * again, and the client dials the one that answered. The client itself dials
 * its list one server at a time, each with the whole dial timeout.
 */
import { connect as netConnect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Resolves with the first of `servers` (`url`'s comma-separated list) to greet
 * as NATS does, with an INFO line, each asked at once on a socket of its own
 * that is then closed: a bad entry before a good one costs nothing (asked in
 * turn, each bad one cost up to 10 s before the next was tried). A port that
 * accepts connections but is not NATS — its HTTP monitoring port, 8222, is the
 * likely mistake — made the client time out and then keep the process alive
 * on a socket it never closed. Async; rejects, when none greets within
 * `timeoutMs`, with what went wrong with each server. WebSocket URLs are left
 * to the client; a TLS server greets in plain text first, as NATS does, and
 * any other scheme is read as nats://. Aborting `signal` closes every socket
 * and rejects.
 */
export async function greeting(servers: string[], timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const failures: string[] = [];
  const asked = new AbortController();
  const stop = () => asked.abort();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.any(
      servers.map((server, i) =>
        greet(server, timeoutMs, asked.signal).then(
          () => server,
          (e: Error) => {
            failures[i] = e.message;
            throw e;
          },
        ),
      ),
    );
  } catch {
    throw new Error(failures.join('; '));
  } finally {
    signal?.removeEventListener('abort', stop);
    asked.abort(); // the others' sockets
  }
}

/** A socket error in words: refused, unreachable, a name that does not resolve (it said "accepted the connection" for a host that never answered). */
function socketProblem(address: string, host: string, e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return `${address} refused the connection (nothing listens on that port)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host name ${host} (${e.code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${address} is unreachable (${e.code}: no route to it)`;
    case 'ETIMEDOUT':
      return `${address} did not answer (${e.code})`;
    default:
      return `${address}: ${e.message}`;
  }
}

async function greet(server: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  let u: URL;
  try {
    u = new URL(server.includes('://') ? server : `nats://${server}`);
  } catch {
    return; // the client names a malformed URL
  }
  if (['ws:', 'wss:'].includes(u.protocol)) return;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 4222);
  const address = `${host}:${port}`;
  await new Promise<void>((resolve, reject) => {
    const socket = netConnect({ host, port });
    let connected = false;
    let head = '';
    const done = (e?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (e) reject(e);
      else resolve();
    };
    const timer = setTimeout(
      () =>
        done(
          new Error(
            connected
              ? // What opened the connection may not be the host: some networks' proxies and firewalls accept any.
                `no NATS server answered at ${address} within ${timeoutMs} ms (a connection opened but no NATS greeting came: another service's port, such as NATS's monitoring port 8222, or a proxy or firewall that accepts connections for a host it cannot reach)`
              : `no NATS server answered at ${address} within ${timeoutMs} ms (the connection timed out: the host is down or unreachable, or a firewall drops the packets)`,
          ),
        ),
      timeoutMs,
    );
    socket.on('connect', () => (connected = true));
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\n') || head.length > 4096)
        done(
          head.startsWith('INFO ') ? undefined : new Error(`${address} is not a NATS server: it sent ${JSON.stringify(head.slice(0, 60))}`),
        );
    });
    socket.on('error', (e) => done(new Error(socketProblem(address, host, e))));
    socket.on('close', () => done(new Error(`${address} closed the connection before greeting`)));
    signal.addEventListener('abort', () => done(new Error(`${address}: not asked further`)), { once: true });
  });
}

/** The client's list of servers, the next to dial first: @nats-io/nats-core's ProtocolHandler.servers (internal, so checked when attached). */
interface DialList {
  servers: DialEntry[];
  getCurrentServer(): DialEntry;
}
/** One server of that list ("host:port"; also those a cluster told the client of), and when the client last dialled it. */
interface DialEntry {
  listen: string;
  lastConnect?: number;
}

function dialList(nc: NatsConnection): DialList | undefined {
  const list = (nc as { protocol?: { servers?: Partial<DialList> } }).protocol?.servers;
  return Array.isArray(list?.servers) && typeof list.getCurrentServer === 'function' ? (list as DialList) : undefined;
}

/** How long a reconnect waits between two dials of one server (the client's reconnectTimeWait), plus its jitter. */
const RECONNECT_WAIT_MS = 250;
/** The pause between two rounds of asking every server while the connection is down. */
const PROBE_PAUSE_MS = 250;

/**
 * Steers the client's reconnects to a server that answers. The client, once
 * its connection drops, dials its list in turn from the server after the lost
 * one, each for its whole dial timeout: a listed server that never answers (a
 * host that is gone, a monitoring port) cost 5 s on every round, so a
 * restarted broker behind two such entries was reconnected to 10 s after it
 * came back. While the connection is down, this asks every server the client
 * knows at once, in rounds (as the first connection did), and before each
 * dial puts first in the client's list the server that greeted in the last
 * round, or, while none does, the one it lost (a restart refuses at once, so
 * it is dialled again every quarter second). Any server the client could
 * reach greets within its dial timeout, so none is passed over for good.
 * `delay` is the client's reconnectDelayHandler; attach() once connected.
 * Without the client internals it expects, it steers nothing.
 */
export class ReconnectSteering {
  #list: DialList | undefined;
  /** The server the connection was on when it dropped. */
  #home: DialEntry | undefined;
  /** The server that greeted in the latest round of asking, while the connection is down. */
  #answered: DialEntry | undefined;
  /** The answering server delay() last put first, and its lastConnect then. */
  #steered: { entry: DialEntry; lastConnect: number | undefined } | undefined;
  /** Servers that greeted but did not take the connection when dialled (credentials, TLS), this outage. */
  readonly #refused = new Set<DialEntry>();
  #down: AbortController | undefined;

  constructor(
    private readonly greetingMs: number,
    private readonly jitterMs: number,
  ) {}

  /** The client's reconnectDelayHandler: called before each dial, puts the server to dial next first in its list. Returns the wait in ms. */
  readonly delay = (): number => {
    const list = this.#list;
    // Called again, with no reconnect between, after the client dialled the server that greeted: it greets but
    // will not take this client (its credentials or TLS). Passed over for the rest of this outage; put first on
    // every dial, it kept the client from the others for good.
    const steered = this.#steered;
    if (steered && steered.entry.lastConnect !== steered.lastConnect) {
      this.#refused.add(steered.entry);
      if (this.#answered === steered.entry) this.#answered = undefined;
    }
    this.#steered = this.#answered ? { entry: this.#answered, lastConnect: this.#answered.lastConnect } : undefined;
    const next = this.#answered ?? this.#home;
    const at = next && list ? list.servers.indexOf(next) : -1;
    if (list && next && at > 0) list.servers.unshift(...list.servers.splice(at, 1));
    return RECONNECT_WAIT_MS + Math.floor(Math.random() * (this.jitterMs + 1));
  };

  /** Follows `nc`'s status until it closes. Sync. */
  attach(nc: NatsConnection): void {
    const list = dialList(nc);
    if (!list) return;
    this.#list = list;
    this.#home = list.getCurrentServer();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' && !this.#down) {
          this.#down = new AbortController();
          void this.#ask(list, this.#down.signal);
        } else if (s.type === 'reconnect') {
          this.#home = list.getCurrentServer();
          this.#up();
        }
      }
    })().finally(() => this.#up()); // the connection closed
  }

  #up(): void {
    this.#down?.abort();
    this.#down = undefined;
    this.#answered = undefined;
    this.#steered = undefined;
    this.#refused.clear();
  }

  /** Rounds of asking every server the client knows, until `signal` says the connection is back (or closed). */
  async #ask(list: DialList, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const servers = list.servers.filter((s) => !this.#refused.has(s));
      try {
        const listen = await greeting(
          servers.map((s) => s.listen),
          this.greetingMs,
          signal,
        );
        if (!signal.aborted) this.#answered = servers.find((s) => s.listen === listen);
      } catch {
        if (!signal.aborted) this.#answered = undefined;
      }
      await delay(PROBE_PAUSE_MS, undefined, { signal }).catch(() => {});
    }
  }
}
