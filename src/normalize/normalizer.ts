/**
 * Normalizer: vacancy titles in any language → ESCO occupations, with ISCO
 * code, a calibrated confidence ("unknown" = null below a threshold) and the
 * k best distinct occupations. The index holds every label of the taxonomy
 * (preferred and alternative, every language) plus the user's examples, one
 * row each, in native memory; a title is encoded once and searched with one
 * batched kernels.topK over that matrix; an occupation scores by its best row.
 */
import type { Encoder } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import * as kernels from '../kernels/index.js';
import type { Matrix } from '../kernels/matrix.js';
import type { ResidentMatrix } from '../kernels/resident.js';
import { LiteEncoder } from '../lite/encoder.js';
import { assertInteger, assertOptions, describe } from '../util/validate.js';
import { builtinCalibration, calibrate, UNCALIBRATED_THRESHOLD, uncalibrated, type CalibrationModel } from './calibration.js';
import { checkExamples, readExamples, type Example, type SkippedExample } from './examples.js';
import { loadBuiltinTaxonomy, readTaxonomy, type Taxonomy } from './taxonomy.js';

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
}

/** Options of {@link Normalizer.normalize}. */
export interface NormalizeOptions {
  /** How many distinct occupations in `alternatives` (default 5). */
  k?: number;
  /** The input language: match only labels in it (and the examples). Default: every language. */
  lang?: string;
  /** Language of the output `label`s (default 'en'). */
  outputLang?: string;
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

/** One row of the index: an occupation's label or an example. */
interface IndexRow {
  occupation: number;
  text: string;
  lang?: string;
  source: 'label' | 'example';
}

/** Input with nothing to match: no letter or digit in any script. */
const MEANINGFUL = /[\p{L}\p{N}]/u;

const CHUNK = 8192;
/** Search results kept for repeated titles (first in, first out). */
const CACHE_SIZE = 50_000;

/** An occupation found for a title: its index, best score and the index row that scored it. */
type Hit = { occupation: number; score: number; row: number };

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
  readonly #rows: IndexRow[];
  readonly #corpora = new Map<string, { matrix: ResidentMatrix; rows: number[] }>();
  readonly #ownsEncoder: boolean;
  readonly #calibration: CalibrationModel | null;
  readonly #uriIndex: Map<string, number>;
  readonly #cache = new Map<string, Hit[]>();
  #disposed = false;

  private constructor(init: {
    taxonomy: Taxonomy;
    encoder: Encoder;
    ownsEncoder: boolean;
    rows: IndexRow[];
    vectors: Matrix;
    calibration: CalibrationModel | null;
    threshold: number;
    skipped: SkippedExample[];
  }) {
    this.taxonomy = init.taxonomy;
    this.encoder = init.encoder;
    this.#ownsEncoder = init.ownsEncoder;
    this.#rows = init.rows;
    this.#calibration = init.calibration;
    this.calibrated = init.calibration !== null;
    this.threshold = init.threshold;
    this.skippedExamples = init.skipped;
    this.size = init.rows.length;
    this.#uriIndex = new Map(init.taxonomy.occupations.map((o, i) => [o.uri, i]));
    this.#corpora.set('*', { matrix: kernels.resident(init.vectors), rows: init.rows.map((_, i) => i) });
  }

  /**
   * Builds a Normalizer: reads the taxonomy and examples, encodes every label
   * and example once. Async. TypeError/RangeError naming a bad option;
   * JobBERTError ERR_NOT_FOUND / ERR_BAD_DATA for a missing or malformed
   * taxonomy, ERR_BAD_FILE (with file:line) for a malformed examples file.
   */
  static async load(opts: NormalizerOptions = {}): Promise<Normalizer> {
    const fn = 'Normalizer.load';
    assertOptions(fn, opts);
    const { encoder, taxonomy, examples, threshold } = opts;
    if (encoder !== undefined && (typeof encoder !== 'object' || encoder === null || typeof (encoder as Encoder).encode !== 'function'))
      throw new TypeError(`${fn}: encoder must be an Encoder (with encode(), dim and fingerprint); received ${describe(encoder)}`);
    if (taxonomy !== undefined && (typeof taxonomy !== 'string' || taxonomy.length === 0))
      throw new TypeError(`${fn}: taxonomy must be a folder path string; received ${describe(taxonomy)}`);
    if (examples !== undefined && typeof examples !== 'string' && !Array.isArray(examples))
      throw new TypeError(`${fn}: examples must be a file path or an array of { title, uri }; received ${describe(examples)}`);
    if (typeof examples === 'string' && examples.length === 0)
      throw new TypeError(`${fn}: examples must be a non-empty file path or an array; received ''`);
    if (threshold !== undefined) {
      if (typeof threshold !== 'number')
        throw new TypeError(`${fn}: threshold must be a number in [0, 1]; received ${describe(threshold)}`);
      if (!(threshold >= 0 && threshold <= 1))
        throw new RangeError(`${fn}: threshold must be a number in [0, 1]; received ${describe(threshold)}`);
    }
    const exampleList = Array.isArray(examples) ? checkExamples(fn, examples) : [];
    const tax = taxonomy === undefined ? await loadBuiltinTaxonomy() : await readTaxonomy(taxonomy);
    let exampleLines = exampleList.map((_, i) => i);
    if (typeof examples === 'string') {
      const read = await readExamples(examples);
      exampleList.push(...read.examples);
      exampleLines = read.lines;
    }

    const uriIndex = new Map(tax.occupations.map((o, i) => [o.uri, i]));
    const rows: IndexRow[] = [];
    tax.occupations.forEach((o, i) => {
      const seen = new Set<string>();
      for (const lang of tax.langs) {
        for (const text of [o.preferred[lang], ...(o.alt[lang] ?? [])]) {
          if (!text) continue;
          const key = text.toLowerCase();
          if (seen.has(key)) continue;
          seen.add(key);
          rows.push({ occupation: i, text, lang, source: 'label' });
        }
      }
    });
    const skipped: SkippedExample[] = [];
    const seenExample = new Set<string>();
    exampleList.forEach((e, j) => {
      const occ = uriIndex.get(e.uri);
      if (occ === undefined) {
        skipped.push({ line: exampleLines[j], uri: e.uri, reason: 'URI not in the taxonomy' });
        return;
      }
      const key = `${occ}\u0000${e.title.toLowerCase()}`;
      if (seenExample.has(key)) return;
      seenExample.add(key);
      rows.push({ occupation: occ, text: e.title, source: 'example' });
    });
    if (skipped.length)
      process.emitWarning(
        `Normalizer: ${skipped.length} example(s) skipped, their URI is not in the taxonomy (first at ${typeof examples === 'string' ? `${examples}:` : 'examples['}${skipped[0].line}${typeof examples === 'string' ? '' : ']'}: ${skipped[0].uri})`,
        { code: 'JOBBERT_EXAMPLES_SKIPPED' },
      );
    if (rows.length === 0) throw new JobBERTError('ERR_BAD_DATA', `${fn}: the taxonomy ${tax.source} holds no labels`);

    const ownsEncoder = encoder === undefined;
    const enc: Encoder = encoder ?? (await LiteEncoder.load());
    try {
      const vectors = await encodeAll(
        enc,
        rows.map((r) => r.text),
      );
      const cal = builtinCalibration();
      const usesExamples = rows.some((r) => r.source === 'example');
      const model = cal && cal.encoder === enc.fingerprint ? (usesExamples ? cal.examples : cal.zeroShot) : null;
      if (cal && !model)
        process.emitWarning(
          `Normalizer: the shipped calibration is for encoder ${cal.encoder}, not ${enc.fingerprint}; confidence is the raw top score (rerun scripts/calibrate.ts)`,
          { code: 'JOBBERT_UNCALIBRATED' },
        );
      return new Normalizer({
        taxonomy: tax,
        encoder: enc,
        ownsEncoder,
        rows,
        vectors,
        calibration: model,
        threshold: threshold ?? model?.threshold ?? UNCALIBRATED_THRESHOLD,
        skipped,
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
    this.#live(fn);
    if (!Array.isArray(titles)) throw new TypeError(`${fn}: titles must be an array of strings; received ${describe(titles)}`);
    for (let i = 0; i < titles.length; i++)
      if (typeof titles[i] !== 'string') throw new TypeError(`${fn}: titles[${i}] must be a string; received ${describe(titles[i])}`);
    assertOptions(fn, opts);
    const k = opts.k ?? 5;
    assertInteger(fn, 'k', k, 1, 10_000);
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
    const corpus = await this.#corpus(opts.lang ?? '*');
    this.#live(fn);
    const out: NormalizeResult[] = new Array(titles.length);
    for (let s = 0; s < titles.length; s += CHUNK) {
      const chunk = titles.slice(s, s + CHUNK);
      const results = await this.#normalizeChunk(chunk, opts.lang ?? '*', corpus, k, outputLang);
      for (let i = 0; i < chunk.length; i++) {
        results[i].id = String(s + i);
        out[s + i] = results[i];
      }
    }
    return out;
  }

  /** Frees the index (and the encoder when the Normalizer loaded it). Async; idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const c of this.#corpora.values()) c.matrix.dispose();
    this.#corpora.clear();
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
  async #corpus(lang: string): Promise<{ matrix: ResidentMatrix; rows: number[] }> {
    const have = this.#corpora.get(lang);
    if (have) return have;
    const rows: number[] = [];
    this.#rows.forEach((r, i) => {
      if (r.source === 'example' || r.lang === lang) rows.push(i);
    });
    const vectors = await encodeAll(
      this.encoder,
      rows.map((r) => this.#rows[r].text),
    );
    // Another call may have built it meanwhile, or the Normalizer been disposed.
    const again = this.#corpora.get(lang);
    if (again || this.#disposed) return again ?? this.#corpora.get('*')!;
    const c = { matrix: kernels.resident(vectors), rows };
    this.#corpora.set(lang, c);
    return c;
  }

  async #normalizeChunk(
    titles: string[],
    lang: string,
    corpus: { matrix: ResidentMatrix; rows: number[] },
    k: number,
    outputLang: string,
  ): Promise<NormalizeResult[]> {
    // Identical titles are encoded and searched once; meaningless ones not at all.
    const unique = new Map<string, number>();
    const texts: string[] = [];
    const slot = titles.map((t) => {
      const text = t.trim();
      if (!MEANINGFUL.test(text)) return -1;
      let u = unique.get(text);
      if (u === undefined) {
        u = texts.length;
        unique.set(text, u);
        texts.push(text);
      }
      return u;
    });
    // Scraped titles repeat ("Sales Manager" thousands of times): a bounded
    // cache of search results per (language, k, text) skips their search.
    const kk = Math.max(k, 2);
    const hits: Hit[][] = new Array(texts.length);
    const missing: number[] = [];
    texts.forEach((t, i) => {
      const cached = this.#cache.get(`${lang}\u0000${kk}\u0000${t}`);
      if (cached) hits[i] = cached;
      else missing.push(i);
    });
    if (missing.length) {
      const found = await this.#search(
        missing.map((i) => texts[i]),
        corpus,
        kk,
      );
      missing.forEach((i, j) => {
        hits[i] = found[j];
        const key = `${lang}\u0000${kk}\u0000${texts[i]}`;
        if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
        this.#cache.set(key, found[j]);
      });
    }
    const tax = this.taxonomy.occupations;
    const label = (occ: number) => {
      const o = tax[occ];
      return o.preferred[outputLang] ?? o.preferred[this.taxonomy.langs[0]] ?? Object.values(o.preferred)[0] ?? '';
    };
    const built = hits.map((h) => {
      const alternatives: NormalizeAlternative[] = h.slice(0, k).map(({ occupation, score, row }) => {
        const r = this.#rows[row];
        const matched: NormalizeMatched =
          r.lang === undefined ? { text: r.text, source: r.source } : { text: r.text, lang: r.lang, source: r.source };
        return { uri: tax[occupation].uri, label: label(occupation), isco: tax[occupation].isco, score: round(score), matched };
      });
      const s1 = h[0]?.score ?? 0;
      const margin = h.length > 1 ? s1 - h[1].score : s1;
      const confidence = round(this.#calibration ? calibrate(this.#calibration, s1, margin) : uncalibrated(s1));
      const top = alternatives[0];
      const occupation = top && confidence >= this.threshold ? { uri: top.uri, label: top.label, isco: top.isco } : null;
      return { occupation, confidence, alternatives };
    });
    return titles.map((input, i) => {
      const b = slot[i] < 0 ? { occupation: null, confidence: 0, alternatives: [] } : built[slot[i]];
      // Copies, so that results of equal titles can be changed independently.
      return {
        id: '',
        input,
        occupation: b.occupation && { ...b.occupation },
        confidence: b.confidence,
        alternatives: b.alternatives.map((a) => ({ ...a, matched: { ...a.matched } })),
      };
    });
  }

  /** The best `k` distinct occupations per text, best first (row = the index row that scored). */
  async #search(texts: string[], corpus: { matrix: ResidentMatrix; rows: number[] }, k: number): Promise<Hit[][]> {
    const q = await this.encoder.encode(texts);
    const n = corpus.rows.length;
    const out: Hit[][] = new Array(texts.length);
    let pending = texts.map((_, i) => i);
    let pool = Math.min(n, Math.max(32, 8 * k));
    let queries: Matrix = q;
    for (;;) {
      // On the CPU, where the labels live: under device 'auto' a GPU machine would copy them to the GPU on every call.
      const r = await kernels.topK(queries, corpus.matrix, pool, { metric: 'dot', device: 'cpu' });
      const short: number[] = [];
      for (let p = 0; p < pending.length; p++) {
        const seen = new Set<number>();
        const list: Hit[] = [];
        for (let j = 0; j < r.k && list.length < k; j++) {
          const row = corpus.rows[r.indices[p * r.k + j]];
          const occupation = this.#rows[row].occupation;
          if (seen.has(occupation)) continue;
          seen.add(occupation);
          list.push({ occupation, score: r.scores[p * r.k + j], row });
        }
        out[pending[p]] = list;
        if (list.length < k && r.k < n) short.push(pending[p]);
      }
      if (short.length === 0) break;
      // Rare: the pool held fewer than k distinct occupations; search those titles again, wider.
      pending = short;
      pool = Math.min(n, pool * 8);
      const d = q.cols;
      const data = new Float32Array(short.length * d);
      short.forEach((i, j) => data.set(q.data.subarray(i * d, (i + 1) * d), j * d));
      queries = { data, rows: short.length, cols: d };
    }
    return out;
  }

  /** Position of an occupation URI in the taxonomy, or undefined. */
  occupationIndex(uri: string): number | undefined {
    return this.#uriIndex.get(uri);
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

async function encodeAll(encoder: Encoder, texts: string[]): Promise<Matrix> {
  const d = encoder.dim;
  const data = new Float32Array(texts.length * d);
  for (let s = 0; s < texts.length; s += CHUNK) {
    const m = await encoder.encode(texts.slice(s, s + CHUNK));
    if (m.cols !== d) throw new JobBERTError('ERR_BAD_MODEL', `Normalizer: the encoder returned ${m.cols}-d vectors, not its dim ${d}`);
    data.set(m.data, s * d);
  }
  return { data, rows: texts.length, cols: d };
}
