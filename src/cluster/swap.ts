/**
 * SwappableIndex: the index a replica serves, replaced atomically when a new
 * version is published. A search holds the version it started on until it
 * ends; swap() makes the next searches use the new one at once and disposes
 * the old one when its last search has finished.
 */
import type { Encoder } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import type { MatchIndex, MatchResult, SearchOptions } from '../match/match-index.js';
import type { MatrixLike } from '../kernels/resident.js';

/** One loaded version: the index, the encoder it owns (if any), and its name. */
export interface IndexVersion {
  index: MatchIndex;
  /** Disposed with the index when the version retires (leave undefined for an encoder shared with others). */
  encoder?: Encoder;
  version: string;
}

interface Held extends IndexVersion {
  searches: number;
  retired: boolean;
}

export class SwappableIndex {
  #current: Held;
  #disposed = false;
  #retiring = new Set<Held>();

  constructor(first: IndexVersion) {
    this.#current = { ...first, searches: 0, retired: false };
  }

  /** The version served now. */
  get version(): string {
    return this.#current.version;
  }
  get size(): number {
    return this.#current.index.size;
  }
  get dim(): number {
    return this.#current.index.dim;
  }
  get fingerprint(): string {
    return this.#current.index.fingerprint;
  }
  get languages(): string[] {
    return this.#current.index.languages;
  }
  /** The index served now (for reading; searches should go through search()). */
  get current(): MatchIndex {
    return this.#current.index;
  }
  /** Versions replaced but still finishing searches. */
  get retiring(): number {
    return this.#retiring.size;
  }

  /** MatchIndex.search on the version current when the call starts. Async. */
  search(queries: string[], opts?: SearchOptions): Promise<MatchResult[][]> {
    return this.#hold((v) => v.index.search(queries, opts));
  }

  /** MatchIndex.searchVectors on the version current when the call starts. Async. */
  searchVectors(vectors: MatrixLike, opts?: SearchOptions): Promise<MatchResult[][]> {
    return this.#hold((v) => v.index.searchVectors(vectors, opts));
  }

  /** Runs fn on the current version, keeping it alive until fn settles. */
  async #hold<T>(fn: (v: IndexVersion) => Promise<T>): Promise<T> {
    if (this.#disposed) throw new JobBERTError('ERR_DISPOSED', 'SwappableIndex: the index was disposed');
    const held = this.#current;
    held.searches++;
    try {
      return await fn(held);
    } finally {
      held.searches--;
      if (held.retired && held.searches === 0) await this.#free(held);
    }
  }

  /** Runs fn on the version current now (with what was loaded beside it), keeping it alive until fn settles. Async. */
  use<T>(fn: (v: IndexVersion) => Promise<T>): Promise<T> {
    return this.#hold(fn);
  }

  /** Serves `next` from now on; the old version is disposed once idle. Async (resolves when the old one is freed or still busy). */
  async swap(next: IndexVersion): Promise<void> {
    if (this.#disposed) {
      await next.index.dispose();
      await next.encoder?.dispose();
      throw new JobBERTError('ERR_DISPOSED', 'SwappableIndex: the index was disposed');
    }
    const old = this.#current;
    this.#current = { ...next, searches: 0, retired: false };
    old.retired = true;
    if (old.searches === 0) await this.#free(old);
    else this.#retiring.add(old);
  }

  async #free(held: Held): Promise<void> {
    this.#retiring.delete(held);
    await held.index.dispose();
    await held.encoder?.dispose();
  }

  /** Disposes every version (searches in flight reject with ERR_DISPOSED). Async; idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const held of [this.#current, ...this.#retiring]) await this.#free(held);
  }
}
