/**
 * TalentCLEF 2025 Task A evaluation: rank the whole corpus for every query with
 * an Encoder (through a MatchIndex) and score the ranking with evaluate().
 */
import type { Encoder } from '../encoders/encoder.js';
import { evaluate, type EvaluateResult, type RunEntry } from './evaluate.js';
import { MatchIndex } from '../match/match-index.js';
import type { TalentCLEFTaskA } from './trec.js';

/** Published JobBERT-V3 results on the validation sets (../shared/data/README.md). */
export const PUBLISHED: Record<string, { map: number; mrr: number; ndcg: number; p5: number }> = {
  en: { map: 0.6302, mrr: 0.8056, ndcg: 0.8417, p5: 0.7429 },
  de: { map: 0.4562, mrr: 0.5058, ndcg: 0.7349, p5: 0.5685 },
};

/**
 * Ranks data.corpus for each of data.queries by cosine similarity of their
 * encodings and evaluates the run against data.qrels. Resolves to the metrics
 * and the run (every corpus title per query, best first). Async.
 */
export async function evaluateTaskA(
  encoder: Encoder,
  data: TalentCLEFTaskA,
): Promise<{ metrics: EvaluateResult; run: Map<string, RunEntry[]> }> {
  const index = await MatchIndex.build(
    encoder,
    data.corpus.map((c) => ({ id: c.id, text: c.text })),
  );
  try {
    const results = await index.search(
      data.queries.map((q) => q.text),
      { k: Math.max(1, data.corpus.length) },
    );
    const run = new Map<string, RunEntry[]>();
    data.queries.forEach((q, i) =>
      run.set(
        q.id,
        results[i].map((r) => ({ id: r.id, score: r.score })),
      ),
    );
    return { metrics: evaluate(data.qrels, run), run };
  } finally {
    await index.dispose();
  }
}
