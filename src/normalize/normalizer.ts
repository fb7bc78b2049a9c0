/**
 * Normalizer: vacancy titles in any language → ESCO occupations, with ISCO
 * code, a calibrated confidence ("unknown" = null below a threshold) and the
 * k best distinct occupations. The index holds every label of the taxonomy
 * (preferred and alternative, every language) plus the user's examples, one
 * row each, in native memory (identical vectors once, search.ts); a title is
 * encoded once and searched with one batched scan over that matrix; an
 * occupation scores by its best row, plus, with examples, what the examples
 * of its occupation say (evidence.ts). The CLI's JSON Lines come from
 * {@link Normalizer.normalizeLines}, formatted straight from the hits.
 */
import { type Encoder, encodeChecked } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import { type Matrix, unusableRow } from '../kernels/matrix.js';
import { LiteEncoder } from '../lite/encoder.js';
import { assertChoice, assertInteger, assertOptions, describe } from '../util/validate.js';
import { BoundedCache } from '../util/bounded-cache.js';
import {
  builtinCalibration,
  type Calibration,
  checkCalibration,
  readCalibration,
  calibrate,
  type CalibrationModel,
  type ConfidenceFeatures,
  type MatchKind,
  UNCALIBRATED_THRESHOLD,
  uncalibrated,
} from './calibration.js';
import { cleanTitle } from './clean.js';
import { checkExamples, readExamples, type Example, type SkippedExample } from './examples.js';
import { decimal, LineProgram, LineTable } from './lines.js';
import { EVIDENCE_POOL, type ExampleEvidence, exampleEvidence, weigh } from './evidence.js';
import { buildCorpus, type Corpus, disposeCorpus, FAST_PROBE, searchOccupations } from './search.js';
import { ID_RULE, rowId } from './rows.js';
import { labelRows, loadBuiltinTaxonomy, readTaxonomy, type Taxonomy } from './taxonomy.js';

/** Options of {@link Normalizer.load}. */
export interface NormalizerOptions {
  /** Default: the built-in LiteEncoder (owned, disposed with the Normalizer). */
  encoder?: Encoder;
  /** A folder of ESCO CSVs; default: the ESCO v1.2.0 occupations shipped in the package. */
  taxonomy?: string;
  /** The user's labelled titles: a file (JSON Lines, CSV, TSV) or an array of { title, uri }. */
  examples?: string | Example[];
  /** Confidence under which `occupation` is null; default: the calibration's (≥ 80% precision on held-out titles). */
  threshold?: number;
  /**
   * 'exact' (default): every title's k best occupations over all labels and
   * examples, certified. 'fast': only the labels and examples in the lists
   * whose prototypes score best for the title are searched (FAST_PROBE lists
   * of about 16 vectors, ~1% of the built-in ESCO) — ~45% less CPU a title; the
   * same accuracy on titles.csv, but ~15% of titles get some other
   * alternative and ~1.5% another first one. Needs an int8 kernel (AVX2 or
   * better); the portable build searches exactly either way.
   */
  search?: NormalizerSearch;
  /**
   * The confidence calibration: a file `jobbert calibrate` wrote, or
   * fitCalibration()'s `calibration`. It must have been fitted for this
   * encoder (else ERR_ENCODER_MISMATCH). Default: the one shipped for the
   * built-in model; with another encoder, confidence is uncalibrated.
   */
  calibration?: string | Calibration;
}

/** How a Normalizer searches its labels: {@link NormalizerOptions.search}. */
export type NormalizerSearch = 'exact' | 'fast';
/** The values of NormalizerOptions.search. */
export const SEARCHES: readonly NormalizerSearch[] = ['exact', 'fast'];

/** The keys of NormalizerOptions, complete by its type: a misspelt option is refused. */
const LOAD_OPTIONS = Object.keys({
  encoder: true,
  taxonomy: true,
  examples: true,
  threshold: true,
  search: true,
  calibration: true,
} satisfies Record<keyof NormalizerOptions, true>);

/** ERR_ENCODER_MISMATCH: a calibration fitted for another encoder than `enc`. */
function calibrationMismatch(fn: string, where: string, cal: Calibration, enc: Encoder): JobBERTError {
  return new JobBERTError(
    'ERR_ENCODER_MISMATCH',
    `${fn}: the calibration ${where}was fitted for encoder ${cal.encoder}, not this one (${enc.fingerprint}); fit one for it with jobbert calibrate`,
  );
}

/** Options of {@link Normalizer.normalize}. */
export interface NormalizeOptions {
  /** How many distinct occupations in `alternatives` (default 5). */
  k?: number;
  /** The input language: match only labels in it (and the examples). Default: every language. */
  lang?: string;
  /** Language of the output `label`s (default 'en'). */
  outputLang?: string;
  /** Confidence under which `occupation` is null, for this call; default: the Normalizer's `threshold`. */
  threshold?: number;
}

/** What an alternative was reached by. */
export interface NormalizeMatched {
  text: string;
  /** The label's language (absent for examples). */
  lang?: string;
  source: 'label' | 'example';
}

/** One candidate occupation. */
export interface NormalizeAlternative {
  uri: string;
  label: string;
  isco: string;
  /**
   * The cosine of `matched` and the title; with examples in the index, plus
   * the occupation's evidence from them (evidence.ts), so it may exceed 1.
   */
  score: number;
  matched: NormalizeMatched;
}

/** The result for one title. */
export interface NormalizeResult {
  id: string;
  input: string;
  occupation: { uri: string; label: string; isco: string } | null;
  confidence: number;
  alternatives: NormalizeAlternative[];
}

/** The keys of NormalizeOptions, complete by its type. */
const NORMALIZE_OPTIONS = Object.keys({ k: true, lang: true, outputLang: true, threshold: true } satisfies Record<
  keyof NormalizeOptions,
  true
>);

/** A row of {@link Normalizer.normalizeStream}'s input: the title and, optionally, the id its result carries. */
export interface StreamTitle {
  /** The result's `id` (as a string); absent or null: the item's position. */
  id?: string | number | null;
  title: string;
}

/** One row of the index: an occupation's label or an example. */
interface IndexRow {
  occupation: number;
  text: string;
  lang?: string;
  source: 'label' | 'example';
  /** A label's: whether it is its occupation's whole preferred label (taxonomy.ts LabelRow). */
  preferred?: boolean;
}

/** Input with nothing to match: no letter or digit in any script. */
const MEANINGFUL = /[\p{L}\p{N}]/u;

const CHUNK = 8192;
/**
 * Labels encoded at a time at load: small batches leave less for malloc to
 * keep once they are freed (RSS once loaded 366 → 345 MiB with the built-in
 * model), at no cost in speed.
 */
const ENCODE_CHUNK = 2048;
/**
 * Bytes of search results kept for repeated titles (least recently used, in
 * two generations), as estimated by {@link cacheBytes}: ~60,000 titles of 40 characters at k = 5
 * (the old cache held 50,000 titles; more buys little and costs heap).
 */
const CACHE_BYTES = 16 << 20;

/** A cache entry's approximate size in V8's heap: the key (UTF-16), the hit list (doubles) and the objects' headers. */
const cacheBytes = (key: string, hits: number[]) => 2 * key.length + 8 * hits.length + 120;

/** What normalize and normalizeLines share once their arguments are checked. */
interface Plan {
  k: number;
  lang: string;
  outputLang: string;
  threshold: number;
  corpus: Corpus;
}

/**
 * The hits of a batch of titles: per distinct meaningful title, its best
 * occupations as [row, score, …] (see searchOccupations); `slot[i]` is title
 * i's distinct title, -1 for a meaningless one.
 */
interface BatchHits {
  slot: Int32Array;
  hits: number[][];
}

/** The most alternatives a result can hold (`k`). */
export const MAX_ALTERNATIVES = 10_000;

/** A title → occupation normaliser over a taxonomy (ESCO) and optional examples. */
export class Normalizer {
  readonly taxonomy: Taxonomy;
  readonly encoder: Encoder;
  /** Confidence under which `occupation` is null. */
  readonly threshold: number;
  /** Whether `confidence` is calibrated for this encoder (false: the raw top score, see README). */
  readonly calibrated: boolean;
  /** Examples left out (their URI is not in the taxonomy). */
  readonly skippedExamples: SkippedExample[];
  /** Number of rows in the index (labels + examples). */
  readonly size: number;
  /** How titles are searched ('exact' or 'fast', see NormalizerOptions.search). */
  readonly search: NormalizerSearch;
  readonly #rows: IndexRow[];
  /** The occupation of each index row. */
  readonly #occupationOf: Int32Array;
  /** How each index row reaches its occupation, for the confidence. */
  readonly #matchKind: MatchKind[];
  readonly #corpora = new Map<string, Corpus>();
  readonly #ownsEncoder: boolean;
  readonly #calibration: CalibrationModel | null;
  readonly #uriIndex: Map<string, number>;
  readonly #cache = new BoundedCache<number[]>(CACHE_BYTES, cacheBytes);
  /** What the examples say per occupation; null without examples. */
  readonly #evidence: ExampleEvidence | null;
  /** The fragments of result lines (lines.ts), every output language's, made on first use. */
  #lineTable: LineTable | null = null;
  #disposed = false;

  private constructor(init: {
    taxonomy: Taxonomy;
    encoder: Encoder;
    ownsEncoder: boolean;
    rows: IndexRow[];
    vectors: Matrix;
    evidence: ExampleEvidence | null;
    calibration: CalibrationModel | null;
    threshold: number;
    skipped: SkippedExample[];
    search: NormalizerSearch;
  }) {
    this.taxonomy = init.taxonomy;
    this.encoder = init.encoder;
    this.#ownsEncoder = init.ownsEncoder;
    this.#rows = init.rows;
    this.#calibration = init.calibration;
    this.#evidence = init.evidence;
    this.calibrated = init.calibration !== null;
    this.threshold = init.threshold;
    this.search = init.search;
    this.skippedExamples = init.skipped;
    this.size = init.rows.length;
    this.#uriIndex = new Map(init.taxonomy.occupations.map((o, i) => [o.uri, i]));
    this.#occupationOf = Int32Array.from(init.rows, (r) => r.occupation);
    this.#matchKind = init.rows.map((r) => (r.source === 'example' ? 'example' : r.preferred ? 'preferred' : 'alternative'));
    this.#corpora.set(
      '*',
      buildCorpus(
        init.vectors,
        init.rows.map((_, i) => i),
      ),
    );
  }

  /**
   * Builds a Normalizer: reads the taxonomy and examples, encodes every label
   * and example once. Async. TypeError/RangeError naming a bad option;
   * JobBERTError ERR_NOT_FOUND / ERR_BAD_DATA for a missing or malformed
   * taxonomy, ERR_BAD_FILE (with file:line) for a malformed examples file.
   */
  static async load(opts: NormalizerOptions = {}): Promise<Normalizer> {
    const fn = 'Normalizer.load';
    assertOptions(fn, opts, LOAD_OPTIONS);
    const { encoder, taxonomy, examples, threshold, search = 'exact', calibration } = opts;
    if (encoder !== undefined && (typeof encoder !== 'object' || encoder === null || typeof (encoder as Encoder).encode !== 'function'))
      throw new TypeError(`${fn}: encoder must be an Encoder (with encode(), dim and fingerprint); received ${describe(encoder)}`);
    if (taxonomy !== undefined && (typeof taxonomy !== 'string' || taxonomy.length === 0))
      throw new TypeError(`${fn}: taxonomy must be a folder path string; received ${describe(taxonomy)}`);
    if (examples !== undefined && typeof examples !== 'string' && !Array.isArray(examples))
      throw new TypeError(`${fn}: examples must be a file path or an array of { title, uri }; received ${describe(examples)}`);
    if (typeof examples === 'string' && examples.length === 0)
      throw new TypeError(`${fn}: examples must be a non-empty file path or an array; received ''`);
    if (threshold !== undefined) assertThreshold(fn, threshold);
    assertChoice(fn, 'search', search, SEARCHES);
    const pathOrObject =
      (typeof calibration === 'string' && calibration.length > 0) || (typeof calibration === 'object' && calibration !== null);
    if (calibration !== undefined && !pathOrObject)
      throw new TypeError(`${fn}: calibration must be a file path or a calibration object; received ${describe(calibration)}`);
    // Read (and checked) before the taxonomy is read and every label encoded.
    const given =
      calibration === undefined
        ? undefined
        : typeof calibration === 'string'
          ? readCalibration(calibration)
          : checkCalibration(calibration, 'the calibration given');
    const givenWhere = typeof calibration === 'string' ? `${calibration} ` : '';
    if (given && encoder && given.encoder !== encoder.fingerprint) throw calibrationMismatch(fn, givenWhere, given, encoder);
    let exampleList = Array.isArray(examples) ? checkExamples(fn, examples) : [];
    const tax = taxonomy === undefined ? await loadBuiltinTaxonomy() : await readTaxonomy(taxonomy);
    let exampleLines = exampleList.map((_, i) => i);
    // (Not push(...read.examples): a file of 300,000 examples overflows the call stack as arguments.)
    if (typeof examples === 'string') ({ examples: exampleList, lines: exampleLines } = await readExamples(examples));
    if (typeof examples === 'string' && exampleList.length === 0)
      process.emitWarning(`Normalizer: ${examples} holds no examples (a header alone, or nothing)`, { code: 'JOBBERT_NO_EXAMPLES' });

    const uriIndex = new Map(tax.occupations.map((o, i) => [o.uri, i]));
    // Row order decides ties (equal scores go to the lower row, search.ts):
    // the user's examples first, then the labels in labelRows' order.
    const rows: IndexRow[] = [];
    const skipped: SkippedExample[] = [];
    // Lower-cased example texts per occupation (→ their row), as labelRows dedupes the labels;
    // how many of the user's examples each row stands for.
    const seenExample: Map<string, number>[] = [];
    const exampleCount: number[] = [];
    exampleList.forEach((e, j) => {
      const occ = uriIndex.get(e.uri);
      if (occ === undefined) {
        skipped.push({ line: exampleLines[j], uri: e.uri, reason: 'URI not in the taxonomy' });
        return;
      }
      // Cleaned as titles are (HTML references and tags, format characters); a title with nothing left
      // ("&nbsp;", "***") would be indexed as written and pull its occupation towards every such input.
      const text = cleanTitle(e.title);
      if (!MEANINGFUL.test(text)) {
        skipped.push({ line: exampleLines[j], uri: e.uri, reason: 'the title holds no letter or digit' });
        return;
      }
      const key = text.toLowerCase();
      const seen = (seenExample[occ] ??= new Map());
      const row = seen.get(key);
      if (row !== undefined) {
        exampleCount[row]++;
        return;
      }
      seen.set(key, rows.length);
      exampleCount.push(1);
      rows.push({ occupation: occ, text, source: 'example' });
    });
    for (const r of labelRows(tax)) rows.push({ ...r, source: 'label' });
    if (skipped.length)
      process.emitWarning(
        `Normalizer: ${skipped.length} example(s) skipped (first at ${typeof examples === 'string' ? `${examples}:` : 'examples['}${skipped[0].line}${typeof examples === 'string' ? '' : ']'}: ${skipped[0].reason}: ${skipped[0].uri}); see skippedExamples`,
        { code: 'JOBBERT_EXAMPLES_SKIPPED' },
      );
    if (rows.length === 0) throw new JobBERTError('ERR_BAD_DATA', `${fn}: the taxonomy ${tax.source} holds no labels`);

    const ownsEncoder = encoder === undefined;
    const enc: Encoder = encoder ?? (await LiteEncoder.load());
    try {
      if (given && given.encoder !== enc.fingerprint) throw calibrationMismatch(fn, givenWhere, given, enc);
      const vectors = await encodeAll(
        enc,
        rows.map((r) => r.text),
      );
      // Before the Normalizer's corpus takes over (and compacts) the vectors.
      const evidence = exampleEvidence(rows, exampleCount, vectors, tax.occupations.length);
      const cal = given ?? builtinCalibration();
      const model = cal && cal.encoder === enc.fingerprint ? (evidence ? cal.examples : cal.zeroShot) : null;
      if (cal && !model)
        process.emitWarning(
          `Normalizer: the shipped calibration is for encoder ${cal.encoder}, not ${enc.fingerprint}; confidence is the raw top score (fit one for this encoder from titles labelled with ESCO URIs: jobbert calibrate --titles FILE --model DIR --out CALIBRATION, or fitCalibration() in code; then pass it as --calibration / calibration)`,
          { code: 'JOBBERT_UNCALIBRATED' },
        );
      return new Normalizer({
        taxonomy: tax,
        encoder: enc,
        ownsEncoder,
        rows,
        vectors,
        evidence,
        calibration: model,
        threshold: threshold ?? model?.threshold ?? UNCALIBRATED_THRESHOLD,
        skipped,
        search,
      });
    } catch (e) {
      if (ownsEncoder) await enc.dispose();
      throw e;
    }
  }

  /**
   * Normalises `titles`: one result per title, in input order, ids "0", "1", ….
   * Async. TypeError naming `titles[i]` for a non-string; RangeError for a bad
   * k, an unknown lang or outputLang; JobBERTError ERR_DISPOSED after dispose().
   * Empty or meaningless titles give `occupation: null`, never an error.
   */
  async normalize(titles: string[], opts: NormalizeOptions = {}): Promise<NormalizeResult[]> {
    const fn = 'Normalizer.normalize';
    const plan = await this.#plan(fn, titles, opts);
    const out: NormalizeResult[] = new Array(titles.length);
    for (let s = 0; s < titles.length; s += CHUNK) {
      const chunk = titles.slice(s, s + CHUNK);
      const batch = await this.#hits(chunk, plan);
      const results = this.#results(chunk, batch, plan);
      for (let i = 0; i < chunk.length; i++) {
        results[i].id = String(s + i);
        out[s + i] = results[i];
      }
    }
    return out;
  }

  /**
   * The results of {@link normalize} with the given ids as JSON Lines, UTF-8:
   * byte for byte `JSON.stringify` of each result, each line ending in "\n",
   * formatted straight from the search hits (no result objects) — what
   * `jobbert normalize --input` writes. Async. Errors as normalize, and
   * TypeError/RangeError naming `ids` unless it is an array of strings as long
   * as `titles`.
   */
  async normalizeLines(titles: string[], ids: string[], opts: NormalizeOptions = {}): Promise<Buffer> {
    const fn = 'Normalizer.normalizeLines';
    if (!Array.isArray(ids)) throw new TypeError(`${fn}: ids must be an array of strings; received ${describe(ids)}`);
    for (let i = 0; i < ids.length; i++)
      if (typeof ids[i] !== 'string') throw new TypeError(`${fn}: ids[${i}] must be a string; received ${describe(ids[i])}`);
    const plan = await this.#plan(fn, titles, opts);
    if (ids.length !== titles.length)
      throw new RangeError(`${fn}: ids must hold one id per title (${titles.length}); received ${ids.length}`);
    const parts: Buffer[] = [];
    for (let s = 0; s < titles.length; s += CHUNK) {
      const chunk = s === 0 && titles.length <= CHUNK ? titles : titles.slice(s, s + CHUNK);
      const batch = await this.#hits(chunk, plan);
      parts.push(this.#lines(chunk, ids, s, batch, plan) ?? this.#jsonLines(chunk, ids, s, batch, plan));
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /**
   * Normalises a stream of titles — strings, or rows `{ id?, title }` — such as
   * a database cursor, a message queue or a file's lines: reads them in chunks
   * (`chunk`, default 2,048), searches two chunks at once (one's search
   * overlapping the next one's encoding), and yields one result per title in
   * input order, as {@link normalize} gives it; `id` is the row's `id` (a
   * string or number), else its 0-based position in the stream. Reads ahead at
   * most two chunks, so memory stays flat whatever the stream's length. Async
   * generator. Errors as normalize, with TypeError naming the position of an
   * item that is neither a string nor `{ title: string }`; RangeError for a
   * bad `chunk`. Stopping early (`break`) lets the searches in flight finish,
   * stops reading `titles` and closes it (`return()`; once a read in progress
   * ends, for an async iterator, without waiting on it).
   */
  async *normalizeStream(
    titles: AsyncIterable<string | StreamTitle> | Iterable<string | StreamTitle>,
    opts: NormalizeOptions & { chunk?: number } = {},
  ): AsyncGenerator<NormalizeResult> {
    const fn = 'Normalizer.normalizeStream';
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`${fn}: opts must be an object; received ${describe(opts)}`);
    const { chunk = 2048, ...rest } = opts;
    assertInteger(fn, 'chunk', chunk, 1, 1_000_000);
    const source = titles as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
    const open = (source?.[Symbol.asyncIterator] ?? source?.[Symbol.iterator]) as
      | (() => AsyncIterator<unknown> | Iterator<unknown>)
      | undefined;
    // A string is iterable too: 'abc' was normalised as the titles 'a', 'b' and 'c'.
    if (typeof open !== 'function' || typeof titles === 'string')
      throw new TypeError(`${fn}: titles must be an iterable or async iterable of strings or { id?, title }; received ${describe(titles)}`);
    await this.#plan(fn, [], rest); // checks k, lang and outputLang, naming this call, before reading anything
    const it = open.call(source);
    let position = 0;
    let ended = false;
    /** Whether a read waits on the source (a queue may never answer it). */
    let waiting = false;
    /** Set by a break: a read in progress takes no further rows. */
    let stopped = false;
    const searching = new Set<Promise<unknown>>();
    const read = async (): Promise<{ ids: string[]; texts: string[] } | null> => {
      const ids: string[] = [];
      const texts: string[] = [];
      while (!ended && !stopped && texts.length < chunk) {
        waiting = true;
        const r = await it.next();
        waiting = false;
        if (r.done) ended = true;
        else {
          const item = r.value as string | StreamTitle;
          if (typeof item === 'string') {
            ids.push(String(position));
            texts.push(item);
          } else if (typeof item === 'object' && item !== null && typeof item.title === 'string') {
            const id = rowId(item.id, position);
            if (id === undefined)
              throw new (typeof item.id === 'number' ? RangeError : TypeError)(
                `${fn}: titles item ${position}'s id ${ID_RULE}; received ${describe(item.id)}`,
              );
            ids.push(id);
            texts.push(item.title);
          } else
            throw new TypeError(`${fn}: titles item ${position} must be a string or { id?, title: string }; received ${describe(item)}`);
          position++;
        }
      }
      return texts.length ? { ids, texts } : null;
    };
    // Chunks are read one after another (two reads at once would interleave their rows).
    let reading: Promise<unknown> = Promise.resolve();
    const start = async (): Promise<NormalizeResult[] | null> => {
      const next = reading.then(read);
      reading = next.catch(() => {});
      const c = await next;
      if (!c) return null;
      const search = this.normalize(c.texts, rest);
      searching.add(search);
      const results = await search.finally(() => searching.delete(search));
      for (let i = 0; i < results.length; i++) results[i].id = c.ids[i];
      return results;
    };
    const pending: Promise<NormalizeResult[] | null>[] = [];
    const launch = () => {
      const p = start();
      p.catch(() => {}); // surfaced when its turn comes
      pending.push(p);
    };
    try {
      launch();
      while (pending.length) {
        // The next chunk starts (reading, then encoding) while this one is searched.
        if (pending.length < 2 && !ended) launch();
        const results = await pending.shift()!;
        if (results) yield* results;
      }
    } finally {
      // After a break: no search keeps running behind the caller's back, and
      // the source is closed — without waiting on a read it may never answer
      // (then it closes once that read ends).
      stopped = true;
      await Promise.allSettled([...searching]);
      if (!ended) {
        const closing = Promise.resolve(it.return?.()).catch(() => {});
        if (!waiting) await closing;
      }
    }
  }

  /** Checks normalize's arguments (TypeError/RangeError naming the bad one) and finds the corpus. */
  async #plan(fn: string, titles: string[], opts: NormalizeOptions): Promise<Plan> {
    this.#live(fn);
    if (!Array.isArray(titles)) throw new TypeError(`${fn}: titles must be an array of strings; received ${describe(titles)}`);
    for (let i = 0; i < titles.length; i++)
      if (typeof titles[i] !== 'string') throw new TypeError(`${fn}: titles[${i}] must be a string; received ${describe(titles[i])}`);
    assertOptions(fn, opts, NORMALIZE_OPTIONS);
    // null is no option left out: { k: null } and { outputLang: null } meant the default, { lang: null } was an error.
    for (const name of NORMALIZE_OPTIONS)
      if (opts[name as keyof NormalizeOptions] === null) throw new TypeError(`${fn}: ${name} must be given or left out, not null`);
    const k = opts.k ?? 5;
    assertInteger(fn, 'k', k, 1, MAX_ALTERNATIVES);
    const langs = this.taxonomy.langs;
    const outputLang = opts.outputLang ?? (langs.includes('en') ? 'en' : langs[0]);
    if (typeof outputLang !== 'string' || !langs.includes(outputLang))
      throw new (typeof outputLang === 'string' ? RangeError : TypeError)(
        `${fn}: outputLang must be one of ${langs.map((l) => `'${l}'`).join(', ')}; received ${describe(outputLang)}`,
      );
    if (opts.lang !== undefined && (typeof opts.lang !== 'string' || !langs.includes(opts.lang)))
      throw new (typeof opts.lang === 'string' ? RangeError : TypeError)(
        `${fn}: lang must be one of ${langs.map((l) => `'${l}'`).join(', ')} or omitted; received ${describe(opts.lang)}`,
      );
    if (opts.threshold !== undefined) assertThreshold(fn, opts.threshold);
    const threshold = opts.threshold ?? this.threshold;
    const lang = opts.lang ?? '*';
    const corpus = await this.#corpus(lang);
    this.#live(fn);
    return { k, lang, outputLang, threshold, corpus };
  }

  /** Frees the index (and the encoder when the Normalizer loaded it). Async; idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const corpora = [...this.#corpora.values()];
    this.#corpora.clear();
    await Promise.all(corpora.map(disposeCorpus));
    this.#cache.clear();
    if (this.#ownsEncoder) await this.encoder.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #live(fn: string): void {
    if (this.#disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the Normalizer was disposed`);
  }

  /**
   * The index for one input language: its labels and every example, encoded
   * on first use (a fraction of a second; keeping a second copy of every
   * vector for this would cost more memory than it saves time).
   */
  async #corpus(lang: string): Promise<Corpus> {
    const have = this.#corpora.get(lang);
    if (have) return have;
    const rows: number[] = [];
    this.#rows.forEach((r, i) => {
      if (r.source === 'example' || r.lang === lang) rows.push(i);
    });
    // A language whose file holds no label (and no examples): nothing to search (it failed inside the kernels).
    if (rows.length === 0)
      throw new RangeError(
        `Normalizer: lang '${lang}': the taxonomy holds no label in that language, and there are no examples; choose another lang or omit it`,
      );
    const vectors = await encodeAll(
      this.encoder,
      rows.map((r) => this.#rows[r].text),
    );
    // Another call may have built it meanwhile, or the Normalizer been disposed.
    const again = this.#corpora.get(lang);
    if (again || this.#disposed) return again ?? this.#corpora.get('*')!;
    const c = buildCorpus(vectors, rows);
    this.#corpora.set(lang, c);
    return c;
  }

  /** Searches the distinct meaningful titles of a batch (encoded once; repeated ones from the cache). */
  async #hits(titles: string[], plan: Plan): Promise<BatchHits> {
    // Identical titles are encoded and searched once; meaningless ones not at all.
    const unique = new Map<string, number>();
    const texts: string[] = [];
    const slot = new Int32Array(titles.length);
    for (let i = 0; i < titles.length; i++) {
      const text = cleanTitle(titles[i]);
      if (!MEANINGFUL.test(text)) {
        slot[i] = -1;
        continue;
      }
      let u = unique.get(text);
      if (u === undefined) {
        u = texts.length;
        unique.set(text, u);
        texts.push(text);
      }
      slot[i] = u;
    }
    // Scraped titles repeat ("Sales Manager" thousands of times): a bounded
    // cache of search results per (language, k, text) skips their search.
    const kk = Math.max(plan.k, 2);
    const evidence = this.#evidence;
    const space = `${plan.lang}\u0000${kk}`;
    const hits: number[][] = new Array(texts.length);
    const missing: string[] = [];
    const missingAt: number[] = [];
    for (let i = 0; i < texts.length; i++) {
      const cached = this.#cache.get(texts[i], space);
      if (cached) hits[i] = cached;
      else {
        missing.push(texts[i]);
        missingAt.push(i);
      }
    }
    if (missing.length) {
      const q = await encodeChecked('Normalizer.normalize', this.encoder, missing);
      this.#live('normalize');
      const found = await searchOccupations(
        q,
        plan.corpus,
        this.#occupationOf,
        evidence ? Math.max(kk, EVIDENCE_POOL) : kk,
        undefined,
        this.search === 'fast' ? FAST_PROBE : undefined,
      );
      for (let j = 0; j < missing.length; j++) {
        const h = evidence ? weigh(found[j], q.data, j * q.cols, this.#occupationOf, evidence, kk) : found[j];
        hits[missingAt[j]] = h;
        this.#cache.set(missing[j], h, space);
      }
    }
    return { slot, hits };
  }

  /**
   * Confidence of a hit list [row, score, …]: calibrated from the top score, its
   * margin over the second and how it matched — the scores rounded as the
   * result shows them, so {@link confidenceFeatures} of the result gives
   * exactly what it was computed from.
   */
  #confidence(h: number[]): number {
    const s1 = h.length ? round(h[1]) : 0;
    if (!this.#calibration) return uncalibrated(s1);
    const matched = h.length ? this.#matchKind[h[0]] : 'alternative';
    return round(calibrate(this.#calibration, features(s1, h.length > 2 ? round(h[3]) : undefined, matched)));
  }

  /**
   * The features the confidence of `result` (a result of this Normalizer, k ≥ 2
   * for the margin) is computed from: its top score, the margin over the
   * second alternative, and whether the top occupation was matched by one of
   * its (whole) preferred labels, another label (an alternative label, or a
   * form of a gendered preferred label) or an example.
   * scripts/calibrate.ts fits the calibration on these. Sync.
   */
  confidenceFeatures(result: NormalizeResult): ConfidenceFeatures {
    if (typeof result !== 'object' || result === null || !Array.isArray(result.alternatives))
      throw new TypeError(`Normalizer.confidenceFeatures: result must be a result of normalize(); received ${describe(result)}`);
    const [top, second] = result.alternatives;
    // Each as a result holds it (a hand-made one read `matched` of undefined).
    for (let i = 0; i < Math.min(2, result.alternatives.length); i++) {
      const a = result.alternatives[i];
      if (typeof a !== 'object' || a === null || typeof a.score !== 'number' || typeof a.uri !== 'string')
        throw new TypeError(
          `Normalizer.confidenceFeatures: result.alternatives[${i}] must be { uri, score, matched, … }; received ${describe(a)}`,
        );
      if (i === 0 && (typeof a.matched !== 'object' || a.matched === null))
        throw new TypeError(
          `Normalizer.confidenceFeatures: result.alternatives[0].matched must be { text, source, lang? }; received ${describe(a.matched)}`,
        );
    }
    let matched: MatchKind = 'alternative';
    if (top?.matched.source === 'example') matched = 'example';
    else if (top?.matched.lang !== undefined) {
      const occ = this.#uriIndex.get(top.uri);
      if (occ !== undefined && this.taxonomy.occupations[occ].preferred[top.matched.lang] === top.matched.text) matched = 'preferred';
    }
    return features(top?.score ?? 0, second?.score, matched);
  }

  /** The preferred label of occupation `occ` in `lang` (else the taxonomy's first language, else any). */
  #label(occ: number, lang: string): string {
    const p = this.taxonomy.occupations[occ].preferred;
    return p[lang] ?? p[this.taxonomy.langs[0]] ?? Object.values(p)[0] ?? '';
  }

  /** Result objects for a batch (ids ''), each its own objects, so results of equal titles can be changed independently. */
  #results(titles: string[], batch: BatchHits, plan: Plan): NormalizeResult[] {
    const tax = this.taxonomy.occupations;
    const out: NormalizeResult[] = new Array(titles.length);
    for (let i = 0; i < titles.length; i++) {
      const u = batch.slot[i];
      if (u < 0) {
        out[i] = { id: '', input: titles[i], occupation: null, confidence: 0, alternatives: [] };
        continue;
      }
      const h = batch.hits[u];
      const alternatives: NormalizeAlternative[] = [];
      for (let j = 0; j < h.length && j < 2 * plan.k; j += 2) {
        const row = h[j];
        const occ = this.#occupationOf[row];
        const r = this.#rows[row];
        const matched: NormalizeMatched =
          r.lang === undefined ? { text: r.text, source: r.source } : { text: r.text, lang: r.lang, source: r.source };
        alternatives.push({
          uri: tax[occ].uri,
          label: this.#label(occ, plan.outputLang),
          isco: tax[occ].isco,
          score: round(h[j + 1]),
          matched,
        });
      }
      const confidence = this.#confidence(h);
      const top = alternatives[0];
      const occupation = top && confidence >= plan.threshold ? { uri: top.uri, label: top.label, isco: top.isco } : null;
      out[i] = { id: '', input: titles[i], occupation, confidence, alternatives };
    }
    return out;
  }

  /**
   * JSON Lines of a batch: the UTF-8 of JSON.stringify of #results' objects
   * with ids[offset + i], assembled from fragments (lines.ts); null when a
   * score or confidence lies outside [−1, 1] (then JSON.stringify writes it).
   */
  #lines(titles: string[], ids: string[], offset: number, batch: BatchHits, plan: Plan): Buffer | null {
    const tax = this.taxonomy.occupations;
    const table = (this.#lineTable ??= new LineTable(
      this.taxonomy.langs.flatMap((lang) =>
        tax.map(
          (o, occ) => `"uri":${JSON.stringify(o.uri)},"label":${JSON.stringify(this.#label(occ, lang))},"isco":${JSON.stringify(o.isco)}`,
        ),
      ),
      tax.length,
      this.#rows.map((r) =>
        JSON.stringify(r.lang === undefined ? { text: r.text, source: r.source } : { text: r.text, lang: r.lang, source: r.source }),
      ),
    ));
    const lang = this.taxonomy.langs.indexOf(plan.outputLang);
    const { slot, hits } = batch;
    const program = new LineProgram(hits.length * (6 + 6 * Math.min(plan.k, 50)));
    const alternatives = new Int32Array(3 * Math.min(plan.k, MAX_ALTERNATIVES));
    // Each distinct title's result is made once, on its first line.
    const tailOf = new Int32Array(hits.length).fill(-1);
    const tails = new Int32Array(titles.length);
    for (let i = 0; i < titles.length; i++) {
      const u = slot[i];
      if (u < 0) {
        tails[i] = -1;
        continue;
      }
      if (tailOf[u] < 0) {
        const h = hits[u];
        const c = this.#confidence(h);
        const confidence = decimal(c);
        let count = 0;
        for (let j = 0; j < h.length && j < 2 * plan.k; j += 2, count++) {
          const row = h[j];
          const score = decimal(h[j + 1]);
          if (score < 0) return null;
          alternatives[3 * count] = table.occupation(this.#occupationOf[row], lang);
          alternatives[3 * count + 1] = score;
          alternatives[3 * count + 2] = table.matched(row);
        }
        if (confidence < 0) return null;
        const occupation = h.length && c >= plan.threshold ? table.occupation(this.#occupationOf[h[0]], lang) : -1;
        tailOf[u] = program.tail(occupation, confidence, alternatives, count);
      }
      tails[i] = tailOf[u];
    }
    return table.assemble(
      offset === 0 && ids.length === titles.length ? ids : ids.slice(offset, offset + titles.length),
      titles,
      program,
      tails,
    );
  }

  /** JSON Lines of a batch as JSON.stringify writes #results' objects (for numbers #lines has no fragment for). */
  #jsonLines(titles: string[], ids: string[], offset: number, batch: BatchHits, plan: Plan): Buffer {
    const results = this.#results(titles, batch, plan);
    let text = '';
    for (let i = 0; i < results.length; i++) {
      results[i].id = ids[offset + i];
      text += `${JSON.stringify(results[i])}\n`;
    }
    return Buffer.from(text);
  }

  /** Position of an occupation URI in the taxonomy, or undefined. */
  occupationIndex(uri: string): number | undefined {
    return this.#uriIndex.get(uri);
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** Throws TypeError unless `threshold` is a number, RangeError unless it is in [0, 1]. */
function assertThreshold(fn: string, threshold: unknown): void {
  if (typeof threshold !== 'number') throw new TypeError(`${fn}: threshold must be a number in [0, 1]; received ${describe(threshold)}`);
  if (!(threshold >= 0 && threshold <= 1))
    throw new RangeError(`${fn}: threshold must be a number in [0, 1]; received ${describe(threshold)}`);
}

/** Confidence features from the top two scores (the margin is s1 when there is no second). */
const features = (s1: number, s2: number | undefined, matched: MatchKind): ConfidenceFeatures => ({
  s1,
  margin: s2 === undefined ? s1 : s1 - s2,
  matched,
});

async function encodeAll(encoder: Encoder, texts: string[]): Promise<Matrix> {
  const d = encoder.dim;
  const data = new Float32Array(texts.length * d);
  for (let s = 0; s < texts.length; s += ENCODE_CHUNK) {
    const m = await encodeChecked('Normalizer.load', encoder, texts.slice(s, s + ENCODE_CHUNK));
    // Named here, by its text: a zero or NaN vector failed later, in the kernels, naming no label.
    const bad = unusableRow(m);
    if (bad)
      throw new RangeError(
        `Normalizer.load: the encoder gives the label or example ${describe(texts[s + bad.row])} ${bad.column === undefined ? 'a zero vector' : 'a vector that is not finite'}; cosine similarity is undefined for it`,
      );
    data.set(m.data, s * d);
  }
  return { data, rows: texts.length, cols: d };
}
