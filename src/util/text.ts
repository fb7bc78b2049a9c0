/** Bounding what a single text can cost before a tokenizer or feature extractor sees it. */

/**
 * The part of `text` that a model reading at most `maxTokens` tokens can see:
 * unchanged when it is at most `maxTokens × 64` UTF-16 units, else cut to
 * that many on the side truncation keeps (`'right'`, the default, keeps the
 * start; `'left'` the end) — at a whitespace within the half of that span
 * farthest from the kept end when there is one (tokenizers split words at
 * whitespace first, so the tokens of the kept words are exactly those of the
 * whole text), never inside a surrogate pair. Every token covers at least one
 * character and a subword vocabulary's pieces are far shorter than 64, so the
 * `maxTokens` tokens a model keeps come from the kept part. Sync;
 * allocation-free for short texts.
 */
export function clipForTokens(text: string, maxTokens: number, side: 'left' | 'right' = 'right'): string {
  const limit = maxTokens * 64;
  if (text.length <= limit) return text;
  if (side === 'right') {
    for (let i = limit; i > limit / 2; i--) if (/\s/.test(text[i])) return text.slice(0, i);
    const code = text.charCodeAt(limit - 1);
    return text.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit);
  }
  const from = text.length - limit;
  for (let i = from - 1; i < from + limit / 2; i++) if (/\s/.test(text[i])) return text.slice(i + 1);
  const code = text.charCodeAt(from);
  return text.slice(code >= 0xdc00 && code <= 0xdfff ? from + 1 : from);
}
