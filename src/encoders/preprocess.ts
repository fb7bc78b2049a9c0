/**
 * Text preprocessing as sentence-transformers' `Transformer.tokenize` does it,
 * in one place for every path that encodes (JobBERT.encode, training's base
 * vectors and their cache keys, the service's emptiness check): each text is
 * stripped as Python's `str.strip()` strips, then lower-cased as
 * `str.lower()` when the model's sentence_bert_config.json sets
 * `do_lower_case`. A title indexed in Python and queried from Node (or the
 * reverse) then gets the same vector, padding and all.
 */

/**
 * Whether code unit `c` is whitespace to Python's `str.isspace()` /
 * `str.strip()`: CPython's `_PyUnicode_IsWhitespace` (Objects/unicodetype_db.h,
 * generated from the UCD: bidirectional type WS, B or S, or category Zs).
 * The set differs from JavaScript's `trim()`: Python strips U+001C–U+001F
 * and U+0085 (NEL), which `trim()` keeps, and keeps U+FEFF (BOM / zero-width
 * no-break space), which `trim()` strips. U+200B and U+180E are whitespace to
 * neither. Every member lies in the BMP, so UTF-16 code units suffice.
 */
export function isPythonWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/**
 * `text` without the leading and trailing characters Python's `str.strip()`
 * removes (see isPythonWhitespace); inner whitespace is kept. Sync; linear in
 * the length (a scan from each end, no regular expression that could
 * backtrack on long whitespace runs).
 */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPythonWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isPythonWhitespace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * `text.toLowerCase()`, which is Python's `str.lower()`: both apply Unicode's
 * full, locale-independent lower-case mapping with the Final_Sigma rule
 * ('İ' → 'i̇', 'ΟΔΟΣ' → 'οδος'). Checked over every code point against
 * CPython 3.11: they differ only for characters newer than the Python's
 * Unicode version, which that Python does not case-map at all.
 */
export function pythonLower(text: string): string {
  return text.toLowerCase();
}

/** Options of preprocessText: what the model's sentence_bert_config.json asks for. */
export interface PreprocessOptions {
  /** `do_lower_case` of sentence_bert_config.json. */
  lowerCase: boolean;
}

/**
 * The text a sentence-transformers model's tokenizer sees: pythonStrip, then
 * pythonLower when `lowerCase`. Sync; idempotent.
 */
export function preprocessText(text: string, opts: PreprocessOptions): string {
  const stripped = pythonStrip(text);
  return opts.lowerCase ? pythonLower(stripped) : stripped;
}
