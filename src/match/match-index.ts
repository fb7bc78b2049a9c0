/**
 * MatchIndex: job titles (or any texts) encoded once and searched by exact
 * cosine similarity, with an optional language filter, persisted in a
 * versioned, checksummed binary file.
 *
 * Vectors live in native memory (ResidentMatrix), one partition per language,
 * so a language filter searches only that language's rows and a search over
 * everything merges the partitions' top-k lists. Partition rows keep the
 * entries' order, so merging by (score desc, entry index asc) gives exactly the
 * order a single scan would: ties go to the lower (earlier added) entry.
 *
 * `MatchIndex.load(path, encoder, { storage: 'int8' })` holds each partition
 * as a QuantizedMatrix (int8 codes, a quarter of the memory) and searches it
 * in two steps — an int8 scan for a candidate pool, then exact float32
 * re-scoring of the pool read from the file — so scores stay exact float32
 * cosines; such an index is read-only (its exact vectors are only on disk).
 */
import { type Branch, dimensionOf, type Encoder, type EncoderSpec, encodeChecked } from '../encoders/encoder.js';
import { encoderFromSpec } from './encoder-spec.js';
import { JobBERTError } from '../errors.js';
import { topK } from '../kernels/index.js';
import { type Matrix, unusableRow } from '../kernels/matrix.js';
import { ResidentMatrix, type MatrixLike } from '../kernels/resident.js';
import { QuantizedMatrix } from './quantized.js';
import { readIndexFile, writeIndexFile, type IndexFileContents, type Storage } from './index-file.js';
import { assertChoice, assertInteger, assertMatrix, assertOptions, describe } from '../util/validate.js';

export type { Storage } from './index-file.js';

/** Options of search() and searchVectors(). */
export interface SearchOptions {
  /** Results per query (default 10; clamped to the candidates). */
  k?: number;
  /** Only entries of this language. */
  lang?: string;
  /**
   * int8 storage only: candidates per query kept by the int8 scan and
   * re-scored exactly (an integer >= k; default max(4k, k + 64)). Larger
   * pools trade speed for recall; ignored by float32 indexes, which are exact.
   */
  pool?: number;
}

const STORAGES: readonly Storage[] = ['fp32', 'int8'];

/** An entry of the index: `lang` (e.g. 'en', 'de') lets searches filter by language. */
export interface MatchEntry {
  id: string;
  text: string;
  lang?: string;
}

/** One search hit: the entry's id and text, and its cosine similarity to the query. */
export interface MatchResult {
  id: string;
  text: string;
  score: number;
}

interface Partition {
  vectors: ResidentMatrix | QuantizedMatrix;
  /** Entry index (into #entries) of each row, increasing. */
  rows: Int32Array;
}

/** Texts are encoded in batches of this many, so progress is steady and memory bounded. */
const ENCODE_BATCH = 1024;

export class MatchIndex {
  /** Vector dimension. */
  readonly dim: number;
  /** The fingerprint of the encoder that made the vectors. */
  readonly fingerprint: string;
  #encoder: Encoder | undefined;
  /** The saved description of the encoder, when loaded from a file. */
  #spec: EncoderSpec | null = null;
  #entries: MatchEntry[];
  #byId: Map<string, number>;
  #partitions: Map<string, Partition>;
  #disposed = false;
  #storage: Storage = 'fp32';
  /** Settles when the add/addVectors/remove/save calls made so far have: each waits for those before it. */
  #writes: Promise<void> = Promise.resolve();

  private constructor(
    dim: number,
    fingerprint: string,
    encoder: Encoder | undefined,
    entries: MatchEntry[],
    partitions: Map<string, Partition>,
  ) {
    this.dim = dim;
    this.fingerprint = fingerprint;
    this.#encoder = encoder;
    this.#entries = entries;
    this.#byId = new Map(entries.map((e, i) => [e.id, i]));
    this.#partitions = partitions;
  }

  /**
   * Encodes `entries` (branch 'anchor': job titles) and indexes them. Async.
   * Throws TypeError/RangeError for malformed or duplicate entries.
   */
  static async build(encoder: Encoder, entries: MatchEntry[], opts: { branch?: Branch } = {}): Promise<MatchIndex> {
    const fn = 'MatchIndex.build';
    assertEncoder(fn, encoder);
    assertOptions(fn, opts);
    checkEntries(fn, entries, new Map());
    const vectors = await encodeAll(
      fn,
      encoder,
      entries.map((e) => e.text),
      opts.branch,
    );
    return MatchIndex.#create(fn, dimensionOf(encoder, opts.branch), encoder.fingerprint, encoder, entries, vectors);
  }

  /**
   * Indexes vectors made elsewhere (row i belongs to entries[i]). `fingerprint`
   * names what made them; `encoder`, if given, serves text searches. Async.
   */
  static async fromVectors(
    entries: MatchEntry[],
    vectors: Matrix,
    opts: { fingerprint?: string; encoder?: Encoder } = {},
  ): Promise<MatchIndex> {
    const fn = 'MatchIndex.fromVectors';
    assertOptions(fn, opts);
    checkEntries(fn, entries, new Map());
    if (opts.encoder) assertEncoder(fn, opts.encoder);
    checkVectors(fn, vectors, entries.length, opts.encoder?.dim);
    const fingerprint = opts.fingerprint ?? opts.encoder?.fingerprint ?? 'vectors';
    return MatchIndex.#create(fn, vectors.cols, fingerprint, opts.encoder, entries, [vectors]);
  }

  static async #create(
    fn: string,
    dim: number,
    fingerprint: string,
    encoder: Encoder | undefined,
    entries: MatchEntry[],
    chunks: Matrix[],
  ): Promise<MatchIndex> {
    const partitions = await buildPartitions(fn, entries, chunks, 0, new Map());
    return new MatchIndex(dim, fingerprint, encoder, entries.map(copyEntry), partitions);
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.length;
  }

  /** How the vectors are held: 'fp32', or 'int8' (loaded with that storage; read-only). */
  get storage(): Storage {
    return this.#storage;
  }

  /** The languages present (entries without one are under ''). */
  get languages(): string[] {
    return [...this.#partitions.keys()];
  }

  /** The entry with this id, or undefined. */
  get(id: string): MatchEntry | undefined {
    const i = this.#byId.get(id);
    return i === undefined ? undefined : { ...this.#entries[i] };
  }

  /** Encodes and appends entries (ids must be new). Async. */
  async add(entries: MatchEntry[]): Promise<void> {
    const fn = 'MatchIndex.add';
    this.#check(fn);
    this.#checkWritable(fn);
    const encoder = this.#requireEncoder(fn);
    checkEntries(fn, entries, this.#byId);
    // Encoded now, appended in call order: a save() called after this add() holds it.
    const encoded = encodeAll(
      fn,
      encoder,
      entries.map((e) => e.text),
    );
    encoded.catch(() => {}); // awaited in its turn; not unhandled meanwhile
    await this.#append(fn, entries, encoded);
  }

  /**
   * Runs `write` once every add, addVectors, remove and save called before it
   * has settled, so that they never interleave: two concurrent adds each
   * numbered their entries from the same count, and concurrent removes lost one.
   */
  #serial<T>(fn: string, write: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(() => {
      this.#check(fn);
      return write();
    });
    this.#writes = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** Appends entries with vectors made elsewhere (row i belongs to entries[i]). Async. */
  async addVectors(entries: MatchEntry[], vectors: Matrix): Promise<void> {
    const fn = 'MatchIndex.addVectors';
    this.#check(fn);
    this.#checkWritable(fn);
    checkEntries(fn, entries, this.#byId);
    checkVectors(fn, vectors, entries.length, this.dim);
    await this.#append(fn, entries, Promise.resolve([vectors]));
  }

  /** Appends entries once `chunks` are encoded and the writes called before have settled; their ids are checked again then (an add before may have taken one). */
  #append(fn: string, entries: MatchEntry[], chunks: Promise<Matrix[]>): Promise<void> {
    return this.#serial(fn, async () => {
      const encoded = await chunks;
      checkEntries(fn, entries, this.#byId);
      await this.#appendNow(fn, entries, encoded);
    });
  }

  async #appendNow(fn: string, entries: MatchEntry[], chunks: Matrix[]): Promise<void> {
    const first = this.#entries.length;
    const added = await buildPartitions(fn, entries, chunks, first, new Map());
    const partitions = new Map(this.#partitions);
    const retired: Partition[] = [];
    for (const [lang, part] of added) {
      const old = partitions.get(lang);
      if (!old) {
        partitions.set(lang, part);
        continue;
      }
      const vectors = await ResidentMatrix.concat([old.vectors as ResidentMatrix, part.vectors as ResidentMatrix]);
      const rows = new Int32Array(old.rows.length + part.rows.length);
      rows.set(old.rows);
      rows.set(part.rows, old.rows.length);
      partitions.set(lang, { vectors, rows });
      retired.push(old, part);
    }
    // All at once, with no await between: a search sees the whole add or none of it.
    for (const e of entries) {
      this.#byId.set(e.id, this.#entries.length);
      this.#entries.push(copyEntry(e));
    }
    this.#partitions = partitions;
    for (const part of retired) part.vectors.dispose();
  }

  /** Removes the entries with these ids; returns how many were present. Async. */
  async remove(ids: string[]): Promise<number> {
    const fn = 'MatchIndex.remove';
    this.#check(fn);
    this.#checkWritable(fn);
    if (!Array.isArray(ids)) throw new TypeError(`${fn}: ids must be an array of strings; received ${describe(ids)}`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'string') throw new TypeError(`${fn}: ids[${i}] must be a string; received ${describe(id)}`);
    }
    return this.#serial(fn, () => this.#removeNow(ids));
  }

  async #removeNow(ids: string[]): Promise<number> {
    const gone = new Set<number>();
    for (const id of ids) {
      const at = this.#byId.get(id);
      if (at !== undefined) gone.add(at);
    }
    if (gone.size === 0) return 0;
    // New entry numbers: the survivors keep their order.
    const renumber = new Int32Array(this.#entries.length).fill(-1);
    const kept: MatchEntry[] = [];
    this.#entries.forEach((e, i) => {
      if (!gone.has(i)) {
        renumber[i] = kept.length;
        kept.push(e);
      }
    });
    const partitions = new Map<string, Partition>();
    // Freed once the new partitions are in place: a search that starts meanwhile still reads these.
    const retired: Partition[] = [];
    for (const [lang, part] of this.#partitions) {
      const keep: number[] = [];
      part.rows.forEach((entry, r) => {
        if (renumber[entry] >= 0) keep.push(r);
      });
      if (keep.length === part.rows.length) {
        partitions.set(lang, { vectors: part.vectors, rows: part.rows.map((e) => renumber[e]) });
        continue;
      }
      if (keep.length > 0) {
        const vectors = await (part.vectors as ResidentMatrix).take(Int32Array.from(keep));
        partitions.set(lang, { vectors, rows: Int32Array.from(keep, (r) => renumber[part.rows[r]]) });
      }
      retired.push(part);
    }
    this.#entries = kept;
    this.#byId = new Map(kept.map((e, i) => [e.id, i]));
    this.#partitions = partitions;
    for (const part of retired) part.vectors.dispose();
    return gone.size;
  }

  /**
   * The k most similar entries for each query text (encoded with branch
   * 'anchor'), best first; `lang` keeps only entries of that language. k
   * defaults to 10 and is clamped to the number of candidates; `pool` tunes
   * int8 storage (see {@link SearchOptions}). Async.
   */
  async search(queries: string[], opts: SearchOptions = {}): Promise<MatchResult[][]> {
    const fn = 'MatchIndex.search';
    this.#check(fn);
    const encoder = this.#requireEncoder(fn);
    if (!Array.isArray(queries)) throw new TypeError(`${fn}: queries must be an array of strings; received ${describe(queries)}`);
    for (let i = 0; i < queries.length; i++) {
      const q = queries[i];
      if (typeof q !== 'string') throw new TypeError(`${fn}: queries[${i}] must be a string; received ${describe(q)}`);
    }
    checkSearchOptions(fn, opts);
    if (queries.length === 0) return [];
    const vectors = await encodeChecked(fn, encoder, queries, 'anchor');
    return this.#searchVectors(fn, vectors, opts);
  }

  /** Like search(), for query vectors made elsewhere ([queries × dim]). Async. */
  async searchVectors(vectors: MatrixLike, opts: SearchOptions = {}): Promise<MatchResult[][]> {
    const fn = 'MatchIndex.searchVectors';
    this.#check(fn);
    checkSearchOptions(fn, opts);
    return this.#searchVectors(fn, vectors, opts);
  }

  async #searchVectors(fn: string, vectors: MatrixLike, opts: SearchOptions): Promise<MatchResult[][]> {
    this.#check(fn); // again: disposed while the queries were encoded, it answered empty lists
    // Checked before anything is read from it (with no partition to search, a bad one answered lists, or ran out of heap).
    if (!(vectors instanceof ResidentMatrix)) assertMatrix(fn, 'vectors', vectors, { allowEmpty: true });
    else if (vectors.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the query vectors (a ResidentMatrix) were disposed`);
    if (vectors.cols !== this.dim)
      throw new RangeError(`${fn}: query vectors must have ${this.dim} columns; received ${describe(vectors.cols)}`);
    const k = opts.k ?? 10;
    // What the search reads, taken at once: a remove() while it runs renumbers a new list, not this one.
    const entries = this.#entries;
    const parts =
      opts.lang === undefined ? [...this.#partitions.values()] : [this.#partitions.get(opts.lang)].filter((p): p is Partition => !!p);
    const Q = vectors.rows;
    if (Q === 0) return []; // as search([]); a shard router's ping asks for no queries
    if (parts.length === 0) return Array.from({ length: Q }, () => []);
    // The partitions live in CPU memory: scoring them on a GPU would copy them there on every search.
    const lists = await Promise.all(
      parts.map((p) =>
        p.vectors instanceof QuantizedMatrix
          ? p.vectors.search(vectors, k, { pool: opts.pool })
          : topK(vectors, p.vectors, k, { device: 'cpu' }),
      ),
    );
    const out: MatchResult[][] = [];
    for (let q = 0; q < Q; q++) {
      const hits: { entry: number; score: number }[] = [];
      lists.forEach((r, pi) => {
        for (let j = 0; j < r.k; j++) hits.push({ entry: parts[pi].rows[r.indices[q * r.k + j]], score: r.scores[q * r.k + j] });
      });
      if (parts.length > 1) hits.sort((a, b) => b.score - a.score || a.entry - b.entry);
      out.push(hits.slice(0, k).map(({ entry, score }) => ({ id: entries[entry].id, text: entries[entry].text, score })));
    }
    return out;
  }

  /**
   * Writes the index to `path` atomically (temp file, fsync, rename): a failed
   * save never harms an earlier file at that path. Async.
   */
  async save(path: string): Promise<void> {
    const fn = 'MatchIndex.save';
    this.#check(fn);
    this.#checkWritable(fn);
    // Between writes: a remove() would dispose vectors the file is being written from.
    await this.#serial(fn, () => {
      const contents: IndexFileContents = {
        dim: this.dim,
        fingerprint: this.fingerprint,
        encoder: specOf(this.#encoder) ?? this.#spec,
        entries: this.#entries,
        partitions: [...this.#partitions].map(([lang, p]) => ({ lang, vectors: p.vectors as ResidentMatrix, rows: p.rows })),
      };
      return writeIndexFile(fn, path, contents);
    });
  }

  /**
   * Loads an index saved by save(). With an encoder, its fingerprint must match
   * the index's (JobBERTError ERR_ENCODER_MISMATCH); without one, the encoder
   * saved with the index is rebuilt when it can be (TF-IDF, LiteEncoder), else only
   * searchVectors() works. Corrupt or truncated files: JobBERTError ERR_CORRUPT;
   * newer formats: ERR_UNSUPPORTED_VERSION; missing: ERR_NOT_FOUND.
   *
   * `storage: 'int8'` (default 'fp32') streams each partition's vectors into
   * int8 codes with a per-row scale (symmetric: scale = max|x| / 127), about a
   * quarter of the memory, never holding a partition's float32 vectors; the
   * file stays open and searches re-score a candidate pool of each query from
   * its exact float32 rows, so scores are the fp32 index's, bit for bit. The
   * index is then read-only (add, addVectors, remove and save reject with
   * ERR_READ_ONLY). Replacing the file by an atomic save is harmless; changing
   * it in place makes searches reject with ERR_CORRUPT. Async.
   */
  static async load(path: string, encoder?: Encoder, opts: { storage?: Storage } = {}): Promise<MatchIndex> {
    const fn = 'MatchIndex.load';
    if (encoder !== undefined && encoder !== null) assertEncoder(fn, encoder);
    else encoder = undefined;
    assertOptions(fn, opts);
    const storage = opts.storage ?? 'fp32';
    assertChoice(fn, 'storage', storage, STORAGES);
    const file = await readIndexFile(fn, path, storage);
    if (!encoder && file.encoder && (file.encoder.kind === 'tfidf' || file.encoder.kind === 'lite')) {
      const rebuilt = await encoderFromSpec(file.encoder);
      if (rebuilt.fingerprint === file.fingerprint) encoder = rebuilt;
      else await rebuilt.dispose();
    }
    if (encoder && encoder.fingerprint !== file.fingerprint) {
      file.partitions.forEach((p) => p.vectors.dispose());
      throw new JobBERTError(
        'ERR_ENCODER_MISMATCH',
        `${fn}: ${path} was built with encoder ${file.fingerprint}, not ${encoder.fingerprint}`,
      );
    }
    if (encoder && encoder.dim !== file.dim) {
      file.partitions.forEach((p) => p.vectors.dispose());
      throw new JobBERTError(
        'ERR_ENCODER_MISMATCH',
        `${fn}: ${path} holds ${file.dim}-d vectors but the encoder makes ${encoder.dim}-d ones`,
      );
    }
    const partitions = new Map(file.partitions.map((p) => [p.lang, { vectors: p.vectors, rows: p.rows }]));
    const index = new MatchIndex(file.dim, file.fingerprint, encoder, file.entries, partitions);
    index.#spec = file.encoder;
    index.#storage = storage;
    return index;
  }

  /** Frees the native vectors; later calls reject with JobBERTError ERR_DISPOSED. Async; idempotent. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    for (const p of this.#partitions.values()) p.vectors.dispose();
    this.#partitions.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #check(fn: string): void {
    if (this.#disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the index was disposed`);
  }

  #checkWritable(fn: string): void {
    if (this.#storage !== 'fp32') {
      throw new JobBERTError(
        'ERR_READ_ONLY',
        `${fn}: this index was loaded with storage '${this.#storage}', which is read-only: it holds only quantised codes, and its exact vectors are on disk in the file it was loaded from (load it with storage 'fp32' to change or save it)`,
      );
    }
  }

  /** The encoder that turns text into query vectors (given, or rebuilt from the file), or null: then only searchVectors() works. */
  get encoder(): Encoder | null {
    return this.#encoder ?? null;
  }

  #requireEncoder(fn: string): Encoder {
    if (!this.#encoder)
      throw new JobBERTError(
        'ERR_NO_ENCODER',
        `${fn}: this index has no encoder for text; pass one to MatchIndex.load, or use searchVectors`,
      );
    return this.#encoder;
  }
}

/** The encoder's saved description, or null when it has none (e.g. built in memory). */
function specOf(encoder: Encoder | undefined): EncoderSpec | null {
  try {
    return encoder?.spec?.() ?? null;
  } catch {
    return null;
  }
}

function copyEntry(e: MatchEntry): MatchEntry {
  return e.lang === undefined ? { id: e.id, text: e.text } : { id: e.id, text: e.text, lang: e.lang };
}

function assertEncoder(fn: string, encoder: unknown): asserts encoder is Encoder {
  const e = encoder as Encoder;
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.encode !== 'function' ||
    !Number.isInteger(e.dim) ||
    e.dim < 1 ||
    typeof e.fingerprint !== 'string'
  ) {
    throw new TypeError(`${fn}: encoder must be an Encoder (dim, fingerprint, encode()); received ${describe(encoder)}`);
  }
}

/**
 * Checks vectors made elsewhere: a Matrix of one row per entry (`cols` wide when
 * given), finite, and with no row too close to zero for cosine similarity — refused
 * here, where they come in, rather than by every later search.
 */
function checkVectors(fn: string, vectors: unknown, rows: number, cols?: number): asserts vectors is Matrix {
  assertMatrix(fn, 'vectors', vectors, { rows, cols, allowEmpty: rows === 0 });
  const bad = unusableRow(vectors as Matrix);
  if (bad?.column !== undefined)
    throw new RangeError(
      `${fn}: vectors must hold only finite numbers; received ${describe((vectors as Matrix).data[bad.row * (vectors as Matrix).cols + bad.column])} at row ${bad.row}, column ${bad.column}`,
    );
  if (bad)
    throw new RangeError(
      `${fn}: vectors row ${bad.row} is a zero vector (or its norm is below 1e-15); cosine similarity is undefined for it`,
    );
}

/** Checks entries: objects with non-empty string ids unique among themselves and `existing`. */
function checkEntries(fn: string, entries: unknown, existing: ReadonlyMap<string, number>): asserts entries is MatchEntry[] {
  if (!Array.isArray(entries)) throw new TypeError(`${fn}: entries must be an array of { id, text, lang? }; received ${describe(entries)}`);
  const seen = new Set<string>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (typeof e !== 'object' || e === null)
      throw new TypeError(`${fn}: entries[${i}] must be an object { id, text, lang? }; received ${describe(e)}`);
    if (typeof e.id !== 'string' || e.id === '')
      throw new TypeError(`${fn}: entries[${i}].id must be a non-empty string; received ${describe(e.id)}`);
    if (typeof e.text !== 'string') throw new TypeError(`${fn}: entries[${i}].text must be a string; received ${describe(e.text)}`);
    if (e.lang !== undefined && typeof e.lang !== 'string')
      throw new TypeError(`${fn}: entries[${i}].lang must be a string; received ${describe(e.lang)}`);
    if (seen.has(e.id) || existing.has(e.id)) throw new RangeError(`${fn}: entries[${i}].id '${e.id}' is already in the index`);
    seen.add(e.id);
  }
}

function checkSearchOptions(fn: string, opts: unknown): void {
  assertOptions(fn, opts);
  const o = opts as { k?: unknown; lang?: unknown; pool?: unknown };
  if (o.k !== undefined) assertInteger(fn, 'k', o.k, 1);
  if (o.pool !== undefined) {
    assertInteger(fn, 'pool', o.pool, 1);
    const k = (o.k as number | undefined) ?? 10;
    if (o.pool < k) throw new RangeError(`${fn}: pool must be an integer >= k (${k}); received ${o.pool}`);
  }
  if (o.lang !== undefined && typeof o.lang !== 'string') throw new TypeError(`${fn}: lang must be a string; received ${describe(o.lang)}`);
}

/** Encodes texts in batches; returns the batches' matrices in order. */
async function encodeAll(fn: string, encoder: Encoder, texts: string[], branch: Branch = 'anchor'): Promise<Matrix[]> {
  const out: Matrix[] = [];
  for (let i = 0; i < texts.length; i += ENCODE_BATCH) {
    const m = await encodeChecked(fn, encoder, texts.slice(i, i + ENCODE_BATCH), branch);
    // A zero vector (an encoder's mean pooling of nothing, say) was indexed, and then every search failed
    // naming a "corpus row" the caller never passed: refused here, naming the entry.
    const bad = unusableRow(m);
    if (bad)
      throw new RangeError(
        `${fn}: the encoder gives entries[${i + bad.row}] (text ${describe(texts[i + bad.row])}) ${bad.column === undefined ? 'a zero vector' : 'a vector that is not finite'}; cosine similarity is undefined for it: leave the entry out or give it a text`,
      );
    out.push(m);
  }
  return out;
}

/**
 * Splits vectors (in entry order, given as consecutive chunks) by language into
 * resident partitions; entry numbers start at `first`.
 */
async function buildPartitions(
  fn: string,
  entries: MatchEntry[],
  chunks: Matrix[],
  first: number,
  into: Map<string, Partition>,
): Promise<Map<string, Partition>> {
  const dim = chunks[0]?.cols ?? 0;
  const byLang = new Map<string, number[]>();
  entries.forEach((e, i) => {
    const lang = e.lang ?? '';
    if (!byLang.has(lang)) byLang.set(lang, []);
    byLang.get(lang)!.push(i);
  });
  // Rows of entry i: chunk and offset.
  const starts: number[] = [];
  let total = 0;
  for (const c of chunks) {
    if (c.cols !== dim) throw new RangeError(`${fn}: every vector must have ${dim} columns; received ${c.cols}`);
    starts.push(total);
    total += c.rows;
  }
  if (total !== entries.length) throw new RangeError(`${fn}: the encoder returned ${total} vectors for ${entries.length} texts`);
  for (const [lang, members] of byLang) {
    let vectors: ResidentMatrix;
    if (byLang.size === 1 && chunks.length === 1) {
      vectors = new ResidentMatrix(chunks[0]);
    } else {
      const data = new Float32Array(members.length * dim);
      let c = 0;
      members.forEach((i, r) => {
        while (c + 1 < chunks.length && starts[c + 1] <= i) c++;
        const local = i - starts[c];
        data.set(chunks[c].data.subarray(local * dim, (local + 1) * dim), r * dim);
      });
      vectors = new ResidentMatrix({ data, rows: members.length, cols: dim });
    }
    into.set(lang, { vectors, rows: Int32Array.from(members, (i) => first + i) });
  }
  return into;
}
