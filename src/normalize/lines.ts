/**
 * JSON Lines of normalize results, assembled natively: a result line is a
 * program of fragments — punctuation, an occupation's fields in the output
 * language, a row's `matched` object, a score with 4 decimals — and two JSON
 * strings (the id and the input), which the addon copies into one buffer in a
 * single pass (bindings/text.cpp). Formatting each line in JavaScript, with a
 * write per piece, was a third of `jobbert normalize --input`'s main thread.
 */
import { constants } from 'node:buffer';
import { addon } from '../kernels/binding.js';

/** The fixed fragments, in table order (their ids are their positions). */
const FIXED = [
  '{"id":',
  ',"input":',
  ',',
  '"occupation":null,"confidence":0,"alternatives":[]}\n',
  '"occupation":{',
  '},"confidence":',
  '"occupation":null,"confidence":',
  ',"alternatives":[',
  '{',
  '},{',
  ',"score":',
  ',"matched":',
  '}]}\n',
  ']}\n',
] as const;
const [
  ID,
  INPUT,
  AFTER_INPUT,
  NO_MATCH,
  OCCUPATION,
  CONFIDENCE_AFTER_OCCUPATION,
  NULL_CONFIDENCE,
  ALTERNATIVES,
  FIRST,
  NEXT,
  SCORE,
  MATCHED,
  END_WITH_ALTERNATIVES,
  END,
] = FIXED.map((_, i) => i);

/** The numbers with 4 decimals in [−1, 1] (scores, confidences), as JSON.stringify writes them: fragment DECIMALS + 10,000 + k for k / 10,000. */
const DECIMALS = FIXED.length;
const STEPS = 10_000;

/** The fragments of result lines: the fixed ones, the decimals, each occupation's fields in each output language, each index row's `matched`. */
export class LineTable {
  readonly #bytes: Buffer;
  readonly #offsets: Uint32Array;
  readonly #occupations: number;
  readonly #perLanguage: number;
  readonly #rows: number;

  /**
   * @param occupations per output language, then per occupation, its `"uri":…,"label":…,"isco":…` (JSON, without braces).
   * @param perLanguage the number of occupations (the fields of language l start at l · perLanguage).
   * @param matched per index row, its `matched` object (JSON).
   */
  constructor(occupations: readonly string[], perLanguage: number, matched: readonly string[]) {
    this.#perLanguage = perLanguage;
    const parts: string[] = [...FIXED];
    for (let k = -STEPS; k <= STEPS; k++) parts.push(String(k / STEPS));
    this.#occupations = parts.length;
    // (Not push(...occupations): a taxonomy of 300,000 would overflow the call stack as arguments.)
    for (const o of occupations) parts.push(o);
    this.#rows = parts.length;
    for (const m of matched) parts.push(m);
    this.#offsets = new Uint32Array(parts.length + 1);
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      at += Buffer.byteLength(parts[i]);
      if (at > 0xffff_ffff) throw new RangeError(`LineTable: the fragments take more than 4 GiB (at ${parts.length} of them)`);
      this.#offsets[i + 1] = at;
    }
    this.#bytes = Buffer.from(parts.join(''));
  }

  /**
   * JSON Lines for a batch: title i's line holds id `ids[i]`, input
   * `titles[i]` and, unless `tails[i]` < 0 (a title with nothing to match), the
   * result program `tails[i]` (of {@link LineProgram.tail}). Sync.
   */
  assemble(ids: readonly string[], titles: readonly string[], program: LineProgram, tails: Int32Array): Buffer {
    const n = titles.length;
    let length = 0;
    for (let i = 0; i < n; i++) length += 5 + (tails[i] < 0 ? 1 : program.length(tails[i]));
    const out = new Int32Array(length);
    const strings: string[] = new Array(2 * n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      strings[2 * i] = ids[i];
      strings[2 * i + 1] = titles[i];
      out[at] = ID;
      out[at + 1] = -1 - 2 * i;
      out[at + 2] = INPUT;
      out[at + 3] = -2 - 2 * i;
      out[at + 4] = AFTER_INPUT;
      at += 5;
      const t = tails[i];
      if (t < 0) out[at++] = NO_MATCH;
      else at = program.copy(t, out, at);
    }
    return addon.assembleJson(this.#bytes, this.#offsets, out, strings, constants.MAX_LENGTH);
  }

  /** Fragment of occupation `occ`'s fields in output language `lang` (its position in the table's languages). */
  occupation(occ: number, lang: number): number {
    return this.#occupations + lang * this.#perLanguage + occ;
  }

  /** Fragment of index row `row`'s `matched`. */
  matched(row: number): number {
    return this.#rows + row;
  }
}

/**
 * The fragment of `x` rounded to 4 decimals, or -1 outside [−1, 1] (and for
 * NaN): such a number is written by JSON.stringify instead.
 */
export function decimal(x: number): number {
  const k = Math.round(x * STEPS);
  return k >= -STEPS && k <= STEPS ? DECIMALS + STEPS + k : -1;
}

/** The result parts of a batch's distinct hit lists, one after another (each title's line copies its list's). */
export class LineProgram {
  #data: Int32Array;
  #size = 0;
  readonly #starts: number[] = [];

  constructor(capacity: number) {
    this.#data = new Int32Array(Math.max(16, capacity));
  }

  /**
   * Adds a result: `occupation` (a fragment of LineTable.occupation) or -1
   * for none, the confidence's fragment, and per alternative its occupation,
   * score and matched fragments (triples in `alternatives`, `count` of them).
   * Returns its id for LineTable.assemble.
   */
  tail(occupation: number, confidence: number, alternatives: Int32Array, count: number): number {
    this.#room(6 + 6 * count);
    const d = this.#data;
    let at = this.#size;
    this.#starts.push(at);
    if (occupation >= 0) {
      d[at++] = OCCUPATION;
      d[at++] = occupation;
      d[at++] = CONFIDENCE_AFTER_OCCUPATION;
    } else d[at++] = NULL_CONFIDENCE;
    d[at++] = confidence;
    d[at++] = ALTERNATIVES;
    for (let j = 0; j < count; j++) {
      d[at++] = j ? NEXT : FIRST;
      d[at++] = alternatives[3 * j];
      d[at++] = SCORE;
      d[at++] = alternatives[3 * j + 1];
      d[at++] = MATCHED;
      d[at++] = alternatives[3 * j + 2];
    }
    d[at++] = count ? END_WITH_ALTERNATIVES : END;
    this.#size = at;
    return this.#starts.length - 1;
  }

  /** Entries of result `t`. */
  length(t: number): number {
    return (t + 1 < this.#starts.length ? this.#starts[t + 1] : this.#size) - this.#starts[t];
  }

  /** Copies result `t` into `out` at `at`; returns the position after it. */
  copy(t: number, out: Int32Array, at: number): number {
    const d = this.#data;
    const start = this.#starts[t];
    const end = start + this.length(t);
    for (let p = start; p < end; p++) out[at++] = d[p];
    return at;
  }

  #room(entries: number): void {
    if (this.#size + entries <= this.#data.length) return;
    const next = new Int32Array(Math.max(2 * this.#data.length, this.#size + entries));
    next.set(this.#data.subarray(0, this.#size));
    this.#data = next;
  }
}
