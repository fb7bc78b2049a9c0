/**
 * Where a pair that a trainer's batching left over goes: both trainers
 * (src/train/batches.ts, src/lite/train.ts) place their leftovers this way.
 */

/**
 * Places each of `leftovers`, in order, into `batches` by joinBatch, and
 * returns how many were placed nowhere (skipped). `keys` are ids no batch holds
 * twice, one array per kind (a pair's positive text, its group; −1: none), and
 * `together(i, j)` must refuse two pairs that share one. A leftover whose id
 * every batch holds joins none: a count of the batches holding each id says so
 * without joinBatch's search of every batch (a million pairs, a tenth in one
 * group: 3.8 s). A pair no batch takes gets a batch of its own where `alone(i)`
 * says so (the JobBERT trainer's, for a pair with a hard negative, which gives
 * it a loss), and is skipped otherwise. Mutates `batches`; sync.
 */
export function placeLeftovers(
  batches: number[][],
  leftovers: Iterable<number>,
  batchSize: number,
  together: (i: number, j: number) => boolean,
  keys: readonly ArrayLike<number>[],
  alone: (i: number) => boolean = () => false,
): number {
  const holding = keys.map((ids) => {
    let count = 0;
    for (let i = 0; i < ids.length; i++) count = Math.max(count, ids[i] + 1);
    return new Int32Array(count);
  });
  const count = (j: number) => {
    for (let k = 0; k < keys.length; k++) {
      const id = keys[k][j];
      if (id >= 0) holding[k][id]++;
    }
  };
  for (const b of batches) for (const j of b) count(j);
  const full = (i: number) => keys.some((ids, k) => ids[i] >= 0 && holding[k][ids[i]] === batches.length);
  let skipped = 0;
  for (const i of leftovers) {
    if (!full(i) && joinBatch(batches, i, batchSize, together)) count(i);
    else if (alone(i)) {
      batches.push([i]);
      count(i);
    } else skipped++;
  }
  return skipped;
}

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
