/**
 * Gives a server's memory back to the system once it goes idle after a burst.
 *
 * A burst of large answers (a /v1/normalize response of 256 titles at k 200 is
 * ~11 MB) leaves two kinds of memory that nothing reclaims while no request
 * comes in: the response buffers, garbage but in V8's old space until its next
 * full collection (which only allocation starts), and the pages glibc keeps in
 * its heaps after those buffers and the native search's results are freed.
 * After 100 such requests at once, `jobbert serve` sat idle at 2.2 GB RSS
 * (320 MB before); a full collection and malloc_trim brought it to 250 MB.
 */
import type { Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { addon } from '../kernels/binding.js';

/** Growth in RSS (or array buffers held) since the last release that is worth a release, in bytes. */
export const RELEASE_MIN_BYTES = 64 << 20;

/** What one release did: resident memory before and after, in bytes. */
export interface MemoryRelease {
  rssBefore: number;
  rssAfter: number;
}

let collect: (() => void) | undefined;
const tally = { releases: 0, releasedBytes: 0 };

/** Releases by releaseMemory() in this process, and the resident bytes they handed back (for /metrics). */
export function memoryReleases(): { releases: number; releasedBytes: number } {
  return { ...tally };
}

/**
 * V8's full collection: `globalThis.gc` where the process runs with
 * --expose-gc, else taken from a fresh context with the flag set only for as
 * long as it takes to make one (as Jest does), so no other code sees it.
 */
function fullCollection(): () => void {
  if (collect) return collect;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return (collect = exposed);
  setFlagsFromString('--expose-gc');
  try {
    collect = runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/** A full V8 collection, then the C library's free pages handed back. Sync; takes tens of ms after a large burst. */
export function releaseMemory(): MemoryRelease {
  const rssBefore = process.memoryUsage.rss();
  fullCollection()();
  addon.releaseFreeMemory();
  const rssAfter = process.memoryUsage.rss();
  tally.releases++;
  tally.releasedBytes += Math.max(0, rssBefore - rssAfter);
  return { rssBefore, rssAfter };
}

/**
 * Calls releaseMemory() once `server` has had no request in flight for
 * `idleMs`, when its RSS grew by `minBytes` (default RELEASE_MIN_BYTES) since
 * the last release (or since this was called), or it holds that much in array
 * buffers. `onRelease` hears each release. Returns a function that stops watching.
 */
export function releaseMemoryWhenIdle(
  server: Server,
  idleMs: number,
  { minBytes = RELEASE_MIN_BYTES, onRelease }: { minBytes?: number; onRelease?: (r: MemoryRelease) => void } = {},
): () => void {
  let inFlight = 0;
  let baseline = process.memoryUsage.rss();
  let timer: NodeJS.Timeout | undefined;
  const release = () => {
    timer = undefined;
    const { rss, arrayBuffers } = process.memoryUsage();
    if (inFlight > 0 || (rss - baseline < minBytes && arrayBuffers < minBytes)) return;
    const done = releaseMemory();
    baseline = done.rssAfter;
    onRelease?.(done);
  };
  const onRequest = (_req: unknown, res: NodeJS.EventEmitter) => {
    inFlight++;
    if (timer) clearTimeout(timer);
    timer = undefined;
    res.once('close', () => {
      if (--inFlight === 0) timer = setTimeout(release, idleMs).unref();
    });
  };
  server.on('request', onRequest);
  return () => {
    server.off('request', onRequest);
    if (timer) clearTimeout(timer);
  };
}
