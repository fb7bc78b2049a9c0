/** Reading index entries for the CLI: JSON Lines or TSV files. */
import { JobBERTError } from '../errors.js';
import type { MatchEntry } from '../match/match-index.js';
import { readLines } from '../util/read-lines.js';

/**
 * Reads entries from `path`:
 * - `.jsonl` / `.ndjson`: one `{"id", "text", "lang"?}` object per line;
 * - anything else: TSV with a header row, columns id, text and optionally lang
 *   (the TalentCLEF `corpus_elements` and `queries` files read as they are);
 * either may be gzip-compressed (told by its first bytes), and UTF-16 after a
 * byte-order mark is decoded.
 * Async. Throws JobBERTError ERR_NOT_FOUND / ERR_BAD_FILE naming the line.
 */
export async function readEntries(path: string, lang?: string): Promise<MatchEntry[]> {
  const lines = await readLines(path);
  const bad = (n: number, why: string) => new JobBERTError('ERR_BAD_FILE', `${path}:${n}: ${why}`);
  const out: MatchEntry[] = [];
  if (/\.(jsonl|ndjson)(\.gz)?$/i.test(path)) {
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let v: { id?: unknown; text?: unknown; lang?: unknown };
      try {
        v = JSON.parse(line);
      } catch {
        throw bad(i + 1, 'not valid JSON');
      }
      if (typeof v !== 'object' || v === null || v.id === undefined || typeof v.text !== 'string')
        throw bad(i + 1, 'expected {"id", "text", "lang"?}');
      const entryLang = typeof v.lang === 'string' ? v.lang : lang;
      out.push(entryLang === undefined ? { id: String(v.id), text: v.text } : { id: String(v.id), text: v.text, lang: entryLang });
    });
    return out;
  }
  const header = lines[0]?.split('\t') ?? [];
  if (header.length < 2) throw bad(1, 'expected a header row: id<TAB>text[<TAB>lang]');
  const withLang = header.length >= 3;
  lines.slice(1).forEach((line, i) => {
    if (!line.trim()) return;
    const cols = line.split('\t');
    if (cols.length < 2 || !cols[0] || !cols[1]) throw bad(i + 2, `expected ${withLang ? 3 : 2} tab-separated columns`);
    const entryLang = withLang && cols[2] ? cols[2] : lang;
    out.push(entryLang === undefined ? { id: cols[0], text: cols[1] } : { id: cols[0], text: cols[1], lang: entryLang });
  });
  return out;
}
