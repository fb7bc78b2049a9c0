/**
 * The LiteEncoder's features: for each lower-cased NFKC word, its character
 * n-grams (minN..maxN) inside boundary markers `<word>` plus the whole word;
 * a CJK run is split into units of one character, with character 1–3-grams and
 * the whole run. Every feature is hashed (FNV-1a over UTF-16 code units, the
 * n-gram length and kind mixed in, then avalanched) into `buckets` (a power of
 * two). Allocation-free apart from the output buffers, for ≥ 100k titles/s.
 */
import { words } from '../encoders/tfidf.js';
import { clipForTokens } from '../util/text.js';

export interface FeatureConfig {
  buckets: number;
  minN: number;
  maxN: number;
}

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]/u;

function mix(h: number, salt: number): number {
  h = (h ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Growable CSR output: ids of every text, offsets[i]..offsets[i+1]. */
export class FeatureBatch {
  ids: Int32Array;
  offsets: Int32Array;
  length = 0;
  constructor(texts: number, guess = 96) {
    this.ids = new Int32Array(Math.max(16, texts * guess));
    this.offsets = new Int32Array(texts + 1);
  }
  push(id: number): void {
    if (this.length === this.ids.length) {
      const next = new Int32Array(this.ids.length * 2);
      next.set(this.ids);
      this.ids = next;
    }
    this.ids[this.length++] = id;
  }
}

/** Appends the features of `text` to `out` (ids only; the caller sets offsets). */
export function appendFeatures(text: string, cfg: FeatureConfig, out: FeatureBatch): void {
  const clipped = clipForTokens(text, MAX_TEXT_UNITS / 64);
  if (isAscii(clipped)) appendAsciiFeatures(clipped, cfg, out);
  else appendUnicodeFeatures(clipped, cfg, out);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** An ASCII code unit that `words` keeps in a word: a letter, a digit, '+' or '#'. */
const isWordUnit = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 43 || c === 35;
const asciiLower = (c: number) => (c >= 65 && c <= 90 ? c + 32 : c);

/**
 * appendUnicodeFeatures for ASCII text, bit for bit, without building strings:
 * NFKC leaves ASCII as it is, lower-casing is A–Z → a–z, and the word
 * characters are letters, digits, '+' and '#' (no ASCII word is CJK). The
 * titles users send are mostly ASCII, and the strings `words` builds were
 * the LiteEncoder's largest cost.
 */
function appendAsciiFeatures(text: string, cfg: FeatureConfig, out: FeatureBatch): void {
  const end = text.length;
  let i = 0;
  for (;;) {
    while (i < end && !isWordUnit(text.charCodeAt(i))) i++;
    if (i === end) return;
    const s = i;
    while (i < end && isWordUnit(text.charCodeAt(i))) i++;
    appendWordFeatures(text, s, i, cfg, out);
  }
}

/** appendFeatures for any text (exported for the test that holds the ASCII path to it). */
export function appendUnicodeFeatures(text: string, cfg: FeatureConfig, out: FeatureBatch): void {
  const mask = cfg.buckets - 1;
  for (const w of words(text)) {
    if (!CJK.test(w)) {
      appendWordFeatures(w, 0, w.length, cfg, out);
      continue;
    }
    out.push(wholeWord(w, 0, w.length) & mask);
    // each CJK character a unit: character 1..3-grams
    const n = w.length;
    for (let i = 0; i < n; i++) {
      let h = 0x811c9dc5;
      for (let k = 0; k < 3 && i + k < n; k++) {
        h = Math.imul(h ^ w.charCodeAt(i + k), 0x01000193);
        out.push(mix(h, 0x100 + k) & mask);
      }
    }
  }
}

/** The whole word src[s, e)'s hash, read lower-cased (A–Z → a–z). */
function wholeWord(src: string, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let p = s; p < e; p++) h = Math.imul(h ^ asciiLower(src.charCodeAt(p)), 0x01000193);
  return mix(h, 0x57);
}

/**
 * The features of the (non-CJK) word src[s, e), read lower-cased (A–Z → a–z;
 * a word from `words` is lower-cased already): the whole word, then the
 * minN..maxN-grams of <word>.
 */
function appendWordFeatures(src: string, s: number, e: number, cfg: FeatureConfig, out: FeatureBatch): void {
  const mask = cfg.buckets - 1;
  const { minN, maxN } = cfg;
  out.push(wholeWord(src, s, e) & mask);
  // padded <w>: code units 60 ('<') and 62 ('>') at the ends
  const n = e - s + 2;
  for (let a = 0; a + minN <= n; a++) {
    let h = 0x811c9dc5;
    const last = Math.min(n, a + maxN);
    for (let j = a; j < last; j++) {
      const c = j === 0 ? 60 : j === n - 1 ? 62 : asciiLower(src.charCodeAt(s + j - 1));
      h = Math.imul(h ^ c, 0x01000193);
      const len = j - a + 1;
      if (len >= minN) out.push(mix(h, len) & mask);
    }
  }
}

/**
 * The LiteEncoder reads at most this many UTF-16 units of a text (job titles
 * are far shorter): the rest of a longer text is ignored, so one huge string
 * cannot cost gigabytes of features, in training or in encoding.
 */
export const MAX_TEXT_UNITS = 4096;

/** Features of a batch of texts as CSR (ids, offsets). */
export function featurize(texts: readonly string[], cfg: FeatureConfig): { ids: Int32Array; offsets: Int32Array } {
  const out = new FeatureBatch(texts.length);
  for (let t = 0; t < texts.length; t++) {
    appendFeatures(texts[t], cfg, out);
    out.offsets[t + 1] = out.length;
  }
  return { ids: out.ids.subarray(0, out.length), offsets: out.offsets };
}

/**
 * The units of `text` the LiteEncoder reads, as its token count: each word,
 * except that a CJK run (which has no spaces) counts one per character. Sync.
 */
export function countUnits(text: string): number {
  let n = 0;
  for (const w of words(text)) n += CJK.test(w) ? [...w].length : 1;
  return n;
}
