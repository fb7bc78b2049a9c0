/**
 * SkillIndex: ranks skills for job titles as the JobBERT-V3 paper's Task B
 * does — every alias of every skill is a vector, a skill's score for a title is
 * the cosine of its best alias, and skills are ranked by that score. Also
 * `explain(a, b)`: the skills that both titles are near, i.e. what brings them
 * together.
 *
 * Cost: building encodes each distinct alias text once; a rank call is one
 * exact top-k search over the aliases (O(titles · aliases · dim)), run a
 * second time, wider, only when some title's best aliases crowd into fewer
 * than k skills.
 */
import { BRANCHES, type Branch, type Encoder, encodeChecked } from '../encoders/encoder.js';
import { pythonStrip } from '../encoders/preprocess.js';
import { JobBERTError } from '../errors.js';
import { resident, topK } from '../kernels/index.js';
import { type Matrix, unusableRow } from '../kernels/matrix.js';
import type { ResidentMatrix } from '../kernels/resident.js';
import { assertChoice, assertInteger, assertOptions, describe } from '../util/validate.js';

/** A skill with its preferred name and optional alternative labels (e.g. other languages). */
export interface Skill {
  id: string;
  name: string;
  aliases?: string[];
}

/** One skill ranked for a title. */
export interface SkillMatch {
  id: string;
  name: string;
  /** Cosine of the best alias (float32 precision). */
  score: number;
  /** The alias (or the name) that scored best; on equal scores the first of name, then aliases in order. */
  alias: string;
}

/** One skill that brings two titles together (see {@link SkillIndex.explain}). */
export interface SkillExplanation {
  /** The skill; `score` is min(scoreA, scoreB) and `alias` the best alias for the title with the lower score (`a` on a tie). */
  skill: SkillMatch;
  /** The skill's score for title `a` (as `rank([a, b])` gives it). */
  scoreA: number;
  /** The skill's score for title `b`. */
  scoreB: number;
  /** The skill's best alias for title `a`. */
  aliasA: string;
  /** The skill's best alias for title `b`. */
  aliasB: string;
}

/** Throws unless `v` is a string with something other than whitespace in it. */
function assertText(fn: string, name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`${fn}: ${name} must be a string; received ${describe(v)}`);
  // An empty text has no meaning to rank by; encoders would give it an arbitrary vector.
  if (pythonStrip(v).length === 0) throw new RangeError(`${fn}: ${name} must be a non-empty string; received ${describe(v)}`);
}

/** Throws unless `v` is an array of non-empty strings. */
function assertTexts(fn: string, name: string, v: unknown): asserts v is string[] {
  if (!Array.isArray(v)) throw new TypeError(`${fn}: ${name} must be an array of strings; received ${describe(v)}`);
  // Indexed, not forEach(), which skips an array's holes (they reached the encoder).
  for (let i = 0; i < v.length; i++) assertText(fn, `${name}[${i}]`, v[i]);
}

/** Throws unless `encoder` looks like an {@link Encoder}. */
function assertEncoder(fn: string, encoder: unknown): asserts encoder is Encoder {
  if (typeof encoder !== 'object' || encoder === null || typeof (encoder as Encoder).encode !== 'function') {
    throw new TypeError(`${fn}: encoder must be an Encoder (an object with an encode method); received ${describe(encoder)}`);
  }
}

/** Per title, each skill's best alias: score and alias row, for the skills in `skills`' order. */
interface Ranked {
  skills: number[];
  scores: number[];
  aliasRows: number[];
}

export class SkillIndex {
  /** Number of skills. */
  readonly size: number;
  /** The encoder branch used for aliases and titles alike. */
  readonly branch: Branch;
  readonly #encoder: Encoder;
  readonly #skills: readonly { id: string; name: string }[];
  /** Alias vectors, grouped by skill in the skills' order (so a lower row means a lower-or-equal skill index). */
  readonly #aliases: ResidentMatrix;
  /** Alias row → skill index. */
  readonly #aliasSkill: Int32Array;
  /** Alias row → its text. */
  readonly #aliasText: readonly string[];
  /** The most aliases any one skill has: k·this many alias rows always span k skills. */
  readonly #maxAliases: number;
  /** Mean aliases per skill, rounded up: the first guess at how many rows k skills take. */
  readonly #meanAliases: number;
  readonly #pending = new Set<Promise<unknown>>();
  #disposed = false;

  private constructor(
    encoder: Encoder,
    branch: Branch,
    skills: { id: string; name: string }[],
    aliases: ResidentMatrix,
    aliasSkill: Int32Array,
    aliasText: string[],
    maxAliases: number,
  ) {
    this.#encoder = encoder;
    this.branch = branch;
    this.#skills = skills;
    this.size = skills.length;
    this.#aliases = aliases;
    this.#aliasSkill = aliasSkill;
    this.#aliasText = aliasText;
    this.#maxAliases = maxAliases;
    this.#meanAliases = Math.ceil(aliasText.length / skills.length);
  }

  /**
   * Encodes every skill's name and aliases (deduplicated per skill; a text
   * shared by several skills is encoded once) with `branch` (default `'base'`,
   * the 768-d pooled vector the paper's Task B uses) and keeps them in native
   * memory. Titles are later encoded with the same branch. The encoder is
   * borrowed, not owned. Async; rejects with TypeError/RangeError naming the
   * bad argument (skills must be non-empty, ids non-empty and unique, names and
   * aliases non-empty strings) and with whatever the encoder rejects with.
   */
  static async build(encoder: Encoder, skills: Skill[], opts: { branch?: Branch } = {}): Promise<SkillIndex> {
    const fn = 'SkillIndex.build';
    assertEncoder(fn, encoder);
    if (!Array.isArray(skills))
      throw new TypeError(`${fn}: skills must be an array of { id, name, aliases? }; received ${describe(skills)}`);
    if (skills.length === 0) throw new RangeError(`${fn}: skills must hold at least one skill; received an empty array`);
    assertOptions(fn, opts);
    const branch = opts.branch ?? 'base';
    assertChoice(fn, 'branch', branch, BRANCHES);

    const seen = new Map<string, number>();
    const kept: { id: string; name: string }[] = [];
    const aliasSkill: number[] = [];
    const aliasText: string[] = [];
    let maxAliases = 0;
    for (let i = 0; i < skills.length; i++) {
      const s = skills[i];
      const at = `skills[${i}]`;
      if (typeof s !== 'object' || s === null || Array.isArray(s))
        throw new TypeError(`${fn}: ${at} must be an object { id, name, aliases? }; received ${describe(s)}`);
      if (typeof s.id !== 'string') throw new TypeError(`${fn}: ${at}.id must be a string; received ${describe(s.id)}`);
      if (s.id.length === 0) throw new RangeError(`${fn}: ${at}.id must be a non-empty string; received ''`);
      const first = seen.get(s.id);
      if (first !== undefined)
        throw new RangeError(`${fn}: ${at}.id must be unique; received ${describe(s.id)}, already the id of skills[${first}]`);
      seen.set(s.id, i);
      assertText(fn, `${at}.name`, s.name);
      if (s.aliases !== undefined && !Array.isArray(s.aliases))
        throw new TypeError(`${fn}: ${at}.aliases must be an array of strings; received ${describe(s.aliases)}`);
      const texts = new Set<string>([s.name]);
      const aliases = s.aliases ?? [];
      for (let j = 0; j < aliases.length; j++) {
        assertText(fn, `${at}.aliases[${j}]`, aliases[j]);
        texts.add(aliases[j]);
      }
      for (const t of texts) {
        aliasSkill.push(i);
        aliasText.push(t);
      }
      maxAliases = Math.max(maxAliases, texts.size);
      kept.push({ id: s.id, name: s.name });
    }

    const unique = [...new Set(aliasText)];
    const encoded = await encodeChecked(fn, encoder, unique, branch);
    // A zero vector was indexed, and then every rank() failed naming a "corpus row" never passed: refused here, by name.
    const bad = unusableRow(encoded);
    if (bad) {
      const text = unique[bad.row];
      const skill = skills[aliasSkill[aliasText.indexOf(text)]];
      throw new RangeError(
        `${fn}: the encoder gives ${describe(text)} (of skill ${describe(skill.id)}) ${bad.column === undefined ? 'a zero vector' : 'a vector that is not finite'}; cosine similarity is undefined for it: leave that alias out`,
      );
    }
    let vectors = encoded;
    if (unique.length !== aliasText.length) {
      const rowOf = new Map(unique.map((t, r) => [t, r]));
      const dim = encoded.cols;
      const data = new Float32Array(aliasText.length * dim);
      aliasText.forEach((t, r) => {
        const from = rowOf.get(t)! * dim;
        data.set(encoded.data.subarray(from, from + dim), r * dim);
      });
      vectors = { data, rows: aliasText.length, cols: dim };
    }
    return new SkillIndex(encoder, branch, kept, resident(vectors), Int32Array.from(aliasSkill), aliasText, maxAliases);
  }

  /**
   * The `k` (default 10, clamped to `size`) best skills for each title, best
   * first: a skill's score is the highest cosine between the title and any of
   * its aliases; equal scores go to the skill earlier in the build array.
   * Exact: equal to one topK over every alias for the same titles, max per
   * skill. Async; rejects with TypeError/
   * RangeError naming a bad argument (titles must be non-empty strings, k a
   * positive integer) and JobBERTError ERR_DISPOSED after dispose().
   */
  rank(titles: string[], opts: { k?: number } = {}): Promise<SkillMatch[][]> {
    return this.#run('SkillIndex.rank', async (fn) => {
      assertTexts(fn, 'titles', titles);
      assertOptions(fn, opts);
      const k = opts.k ?? 10;
      assertInteger(fn, 'k', k, 1);
      if (titles.length === 0) return [];
      const ranked = await this.#rank(fn, await this.#encode(fn, titles), Math.min(k, this.size));
      return ranked.map((r) => r.skills.map((s, j) => this.#match(s, r.scores[j], r.aliasRows[j])));
    });
  }

  /**
   * The skills that bring titles `a` and `b` together: ranked by
   * min(scoreA, scoreB), best first, `k` (default 5, clamped to `size`) of
   * them; equal values go to the earlier skill. The minimum, not the mean or
   * the sum, because a shared skill must be near both titles: one title's
   * strong skill that the other lacks ("Python" for a developer against a
   * nurse) would otherwise outrank a moderate skill they genuinely share.
   * Async; rejects like {@link rank}.
   */
  explain(a: string, b: string, opts: { k?: number } = {}): Promise<SkillExplanation[]> {
    return this.#run('SkillIndex.explain', async (fn) => {
      assertText(fn, 'a', a);
      assertText(fn, 'b', b);
      assertOptions(fn, opts);
      const k = opts.k ?? 5;
      assertInteger(fn, 'k', k, 1);
      // Exact top-k by the minimum needs every skill's score on both sides; one
      // search over all aliases gives them, at the cost of a full sort per title.
      const [ra, rb] = await this.#rank(fn, await this.#encode(fn, [a, b]), this.size);
      const scoreA = new Float64Array(this.size);
      const scoreB = new Float64Array(this.size);
      const rowA = new Int32Array(this.size);
      const rowB = new Int32Array(this.size);
      ra.skills.forEach((s, j) => ((scoreA[s] = ra.scores[j]), (rowA[s] = ra.aliasRows[j])));
      rb.skills.forEach((s, j) => ((scoreB[s] = rb.scores[j]), (rowB[s] = rb.aliasRows[j])));
      const order = Array.from({ length: this.size }, (_, s) => s);
      const shared = (s: number) => Math.min(scoreA[s], scoreB[s]);
      order.sort((x, y) => shared(y) - shared(x) || x - y);
      return order.slice(0, Math.min(k, this.size)).map((s) => ({
        skill: this.#match(s, shared(s), scoreA[s] <= scoreB[s] ? rowA[s] : rowB[s]),
        scoreA: scoreA[s],
        scoreB: scoreB[s],
        aliasA: this.#aliasText[rowA[s]],
        aliasB: this.#aliasText[rowB[s]],
      }));
    });
  }

  /**
   * Frees the native alias matrix once calls already running have finished;
   * calls made after dispose() reject with JobBERTError ERR_DISPOSED. Does not
   * dispose the encoder. Async; idempotent.
   */
  async dispose(): Promise<void> {
    this.#disposed = true;
    await Promise.allSettled([...this.#pending]);
    this.#aliases.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** Runs one public call: refused after dispose(), tracked so dispose() waits for it. */
  #run<T>(fn: string, body: (fn: string) => Promise<T>): Promise<T> {
    if (this.#disposed) return Promise.reject(new JobBERTError('ERR_DISPOSED', `${fn}: the SkillIndex was disposed`));
    const p = body(fn);
    this.#pending.add(p);
    const untrack = () => this.#pending.delete(p);
    p.then(untrack, untrack);
    return p;
  }

  async #encode(fn: string, texts: string[]): Promise<Matrix> {
    return encodeChecked(fn, this.#encoder, texts, this.branch);
  }

  /**
   * Each query's best `k` skills. Searches the top `rows` aliases and keeps
   * the first appearance of each skill; since aliases are grouped by skill and
   * the search breaks ties to the lower row, first-appearance order is exactly
   * (best alias score desc, skill index asc), and any skill not seen ranks
   * below every skill that was. The first pass takes 2·k·(mean aliases) rows;
   * if any query saw fewer than k skills, a second pass takes k·(most aliases
   * of one skill) rows, which always span k skills.
   *
   * The second pass searches the whole batch again, not just the short
   * queries: topK's float32 sums depend on how many queries share a call (a
   * few take a direct path, more a tiled GEMM, ~1 ulp apart), so a subset
   * would give scores that differ from the other queries' and from one
   * exhaustive search of the same batch. Crowding is rare and costs one pass.
   */
  async #rank(fn: string, queries: Matrix, k: number): Promise<Ranked[]> {
    const enough = Math.min(this.#aliases.rows, k * this.#maxAliases);
    const first = Math.min(enough, 2 * k * this.#meanAliases);
    for (const rows of first < enough ? [first, enough] : [enough]) {
      const found = await this.#search(fn, queries, rows);
      const out: Ranked[] = [];
      for (let q = 0; q < queries.rows; q++) {
        const r = distinctSkills(this.#aliasSkill, found.indices, found.scores, q * found.k, found.k, k);
        if (r.skills.length < k) break;
        out.push(r);
      }
      if (out.length === queries.rows) return out;
    }
    // Cannot happen: `enough` rows always hold k distinct skills.
    throw new JobBERTError('ERR_INTERNAL', `${fn}: ${enough} alias rows held fewer than ${k} skills`);
  }

  /** One exact top-k search over the resident aliases, with ERR_DISPOSED named for this class. */
  async #search(fn: string, queries: Matrix, rows: number) {
    if (this.#aliases.disposed) throw new JobBERTError('ERR_DISPOSED', `${fn}: the SkillIndex was disposed`);
    return topK(queries, this.#aliases, rows, { metric: 'cosine', device: 'cpu' });
  }

  #match(skill: number, score: number, aliasRow: number): SkillMatch {
    const { id, name } = this.#skills[skill];
    return { id, name, score, alias: this.#aliasText[aliasRow] };
  }
}

/** Walks one query's ranked alias rows and keeps the first (best) row of up to `k` distinct skills. */
function distinctSkills(
  aliasSkill: Int32Array,
  indices: Int32Array,
  scores: Float32Array,
  start: number,
  count: number,
  k: number,
): Ranked {
  const seen = new Set<number>();
  const r: Ranked = { skills: [], scores: [], aliasRows: [] };
  for (let j = start; j < start + count && r.skills.length < k; j++) {
    const row = indices[j];
    const skill = aliasSkill[row];
    if (seen.has(skill)) continue;
    seen.add(skill);
    r.skills.push(skill);
    r.scores.push(scores[j]);
    r.aliasRows.push(row);
  }
  return r;
}
