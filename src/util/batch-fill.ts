/**
 * Where a pair that a trainer's batching left over goes: both trainers
 * (src/train/batches.ts, src/lite/train.ts) place their leftovers this way.
 */

/**
 * Puts pair `i` into the last of `batches` it may join — `together(i, j)` for
 * every pair `j` there — that has room, else into the last it may join, one
 * pair over `batchSize` (better than the pair left out). Returns false where
 * none may take it. No new batch is made: a batch of two, a leftover and a
 * pair taken from a full batch, is a step on two pairs at the full learning rate.
 */
export function joinBatch(batches: number[][], i: number, batchSize: number, together: (i: number, j: number) => boolean): boolean {
  const fits = (b: number[]) => b.every((j) => together(i, j));
  let over: number[] | undefined;
  for (let k = batches.length - 1; k >= 0; k--) {
    const b = batches[k];
    if (!fits(b)) continue;
    if (b.length < batchSize) {
      b.push(i);
      return true;
    }
    over ??= b;
  }
  over?.push(i);
  return over !== undefined;
}

/**
 * The fewest pairs a batch of a plan may hold: a quarter of `batchSize`, or
 * two where no batch of `sizes` holds that many (small data keeps its batches
 * of two). A smaller batch is not made and its pairs are placed as leftovers
 * (joinBatch): such batches come at the end of a shuffle, from the pairs a few
 * large groups or positives leave over — for the default model's recipe ~90 an
 * epoch of two pairs each, steps on two pairs at the full learning rate.
 */
export function leastBatch(sizes: readonly number[], batchSize: number): number {
  const quarter = Math.max(2, Math.ceil(batchSize / 4));
  return sizes.some((n) => n >= quarter) ? quarter : 2;
}
