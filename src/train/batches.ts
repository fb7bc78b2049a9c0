/**
 * Batching: every epoch is a global shuffle of all pairs (so every batch mixes
 * the languages in their overall proportions, as the paper's shuffled
 * multilingual batches do), then a fix-up pass that keeps a positive text
 * from appearing twice in a batch, where one pair's positive would be scored
 * as a negative for the other (a false negative). A pair that would clash is
 * deferred to the next batch with room for it, so the order stays close to the
 * shuffle. Pairs that share a `"group"` are kept apart the same way (the
 * user's word that their in-batch negatives would be false negatives, as the
 * LiteEncoder trainer reads it); a pair with a group is also kept apart from
 * its positive, which is the same vector whatever the group. A pair left alone
 * at the end (InfoNCE over one pair is 0 with no gradient, yet the step still
 * moved the weights by momentum and decay) is merged into another batch; see
 * {@link mergeLonePairs}. Everything is a pure function of (seed, epoch): a
 * resumed run rebuilds exactly the batches it would have seen.
 */
import { leastBatch, placeLeftovers } from '../util/batch-fill.js';
import { mulberry32 } from '../util/random.js';

/** A seeded 32-bit PRNG (mulberry32) whose whole state is one integer. */
export class Rng {
  state: number;
  constructor(state: number) {
    this.state = state >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    const step = mulberry32(this.state);
    this.state = step.state;
    return step.value;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** The generator state an epoch's shuffle starts from (splitmix32 of seed and epoch). */
export function epochState(seed: number, epoch: number): number {
  let z = (seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * The version of the batch plan {@link planEpoch} makes, recorded in every
 * checkpoint (trainer_state.json's `options.batchPlan`): a resume refuses a
 * checkpoint made under another plan, whose steps would continue into other
 * batches. Bump it with any change that moves a pair to another batch for some
 * data (the plan hashed in test/train.test.ts changes, or a test's batches
 * do). 1: lone leftovers placed by joinBatch, `"group"` honoured (2026-12-05).
 * 2: no batch under a quarter of the batch size (leastBatch), its pairs placed
 * as the lone ones (2026-12-05). Checkpoints without it are from older
 * trainers, whose plans differ: no lone-pair merging before 1ae01d3, batches
 * of two stolen from full ones before b62a8eb, `"group"` ignored before 1.
 */
export const BATCH_PLAN_VERSION = 2;

/** An epoch's batches: pair indices in `order`, batch b holding order[starts[b] .. starts[b+1]). */
export interface EpochPlan {
  order: Int32Array;
  /** Batch start offsets, with order.length appended. */
  starts: Int32Array;
  /** Pairs in no batch this epoch: alone, with no hard negative, and no batch could take them. */
  skipped: number;
}

export function batchCount(plan: EpochPlan): number {
  return plan.starts.length - 1;
}

/**
 * Shuffles pairs 0..positives.length−1 with the epoch's generator and cuts
 * them into batches of at most `batchSize` in which no positive text repeats,
 * no group repeats (`groups`: a group id ≥ 0 per pair, −1 for none; absent:
 * no pair has one) and no pair's hard negative is another pair's positive. Sync.
 */
export function planEpoch(
  positives: Int32Array,
  negatives: Int32Array,
  textCount: number,
  batchSize: number,
  seed: number,
  epoch: number,
  groups?: Int32Array,
): EpochPlan {
  const n = positives.length;
  let groupCount = 0;
  if (groups) for (let i = 0; i < n; i++) groupCount = Math.max(groupCount, groups[i] + 1);
  const rng = new Rng(epochState(seed, epoch));
  const shuffled = new Int32Array(n);
  for (let i = 0; i < n; i++) shuffled[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = shuffled[i];
    shuffled[i] = shuffled[j];
    shuffled[j] = t;
  }
  // stamps instead of sets: text t is a positive (negative) of the current batch when its stamp equals the batch's
  const asPositive = new Int32Array(textCount);
  const asNegative = new Int32Array(textCount);
  const asGroup = new Int32Array(groupCount);
  const order = new Int32Array(n);
  const starts: number[] = [];
  // The deferred pairs, each batch offered them in shuffle order before new ones. Not one list scanned whole for every
  // batch (quadratic: 200,000 pairs in 100 groups took 10 s a plan), but a queue per key — a pair's group, else its
  // positive — in shuffle order, and a heap of the queues' first pairs: a queue whose key the batch holds is passed
  // over whole (every pair in it would be), so a batch costs what it places. The pairs offered, and their order, are
  // those of the one list (a test checks the plans against it).
  const position = new Int32Array(n);
  for (let k = 0; k < n; k++) position[shuffled[k]] = k;
  const keyOf = (i: number) => (groups && groups[i] >= 0 ? groups[i] : groupCount + positives[i]);
  const queues = new Map<number, DeferredQueue>();
  const heap = new QueueHeap();
  const done = new Uint8Array(n);
  const firstLeft = (q: DeferredQueue, at: number) => {
    while (at < q.items.length && done[q.items[at]]) at++;
    return at;
  };
  const offer = (q: DeferredQueue, key: number) => {
    q.version++;
    let at = firstLeft(q, q.head);
    if (at > 1024 && at * 2 > q.items.length) {
      q.items = q.items.slice(at);
      at = 0;
    }
    q.head = at;
    if (at < q.items.length) heap.push(position[q.items[at]], key, at, q.version);
  };
  let next = 0;
  let placed = 0;
  for (let batch = 1; placed < n; batch++) {
    starts.push(placed);
    let size = 0;
    const fits = (i: number) => {
      const p = positives[i];
      const q = negatives[i];
      const g = groups ? groups[i] : -1;
      return asPositive[p] !== batch && asNegative[p] !== batch && (q < 0 || asPositive[q] !== batch) && (g < 0 || asGroup[g] !== batch);
    };
    const place = (i: number) => {
      asPositive[positives[i]] = batch;
      if (negatives[i] >= 0) asNegative[negatives[i]] = batch;
      if (groups && groups[i] >= 0) asGroup[groups[i]] = batch;
      order[placed++] = i;
      size++;
    };
    const held = (i: number) => (groups && groups[i] >= 0 ? asGroup[groups[i]] === batch : asPositive[positives[i]] === batch);
    const touched: number[] = [];
    while (size < batchSize && heap.size > 0) {
      const { key, at, version } = heap.pop();
      const q = queues.get(key) as DeferredQueue;
      if (version !== q.version) continue;
      if (q.touched !== batch) {
        q.touched = batch;
        touched.push(key);
      }
      const i = q.items[at];
      if (held(i)) continue; // the whole queue shares that key
      if (fits(i)) {
        place(i);
        done[i] = 1;
        continue; // the batch now holds the queue's key
      }
      const after = firstLeft(q, at + 1); // i clashes otherwise (a negative, or a grouped pair's positive): the next may fit
      if (after < q.items.length) heap.push(position[q.items[after]], key, after, version);
    }
    while (size < batchSize && next < n) {
      const i = shuffled[next++];
      if (fits(i)) {
        place(i);
        continue;
      }
      const key = keyOf(i);
      let q = queues.get(key);
      if (!q) {
        q = { items: [], head: 0, version: 0, touched: 0 };
        queues.set(key, q);
      }
      const empty = firstLeft(q, q.head) === q.items.length;
      q.items.push(i);
      if (empty && q.touched !== batch) offer(q, key);
    }
    for (const key of touched) offer(queues.get(key) as DeferredQueue, key);
  }
  starts.push(n);
  const plan = { order, starts: Int32Array.from(starts), skipped: 0 };
  return mergeLonePairs(plan, positives, negatives, groups, batchSize);
}

/** Deferred pairs of one key in shuffle order; `done` ones are skipped. */
interface DeferredQueue {
  items: number[];
  /** Where the first pair not yet placed may be. */
  head: number;
  /** Of the queue's one live heap entry: older entries are stale. */
  version: number;
  /** The batch that last popped it. */
  touched: number;
}

/** A binary min-heap of (position, key, at, version), by position. */
class QueueHeap {
  private pos: number[] = [];
  private rest: { key: number; at: number; version: number }[] = [];
  get size(): number {
    return this.pos.length;
  }
  push(position: number, key: number, at: number, version: number): void {
    const { pos, rest } = this;
    let k = pos.length;
    pos.push(position);
    rest.push({ key, at, version });
    const item = rest[k];
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (pos[parent] <= position) break;
      pos[k] = pos[parent];
      rest[k] = rest[parent];
      k = parent;
    }
    pos[k] = position;
    rest[k] = item;
  }
  pop(): { key: number; at: number; version: number } {
    const { pos, rest } = this;
    const top = rest[0];
    const lastPos = pos.pop() as number;
    const last = rest.pop() as { key: number; at: number; version: number };
    const m = pos.length;
    if (m > 0) {
      let k = 0;
      for (;;) {
        let c = 2 * k + 1;
        if (c >= m) break;
        if (c + 1 < m && pos[c + 1] < pos[c]) c++;
        if (pos[c] >= lastPos) break;
        pos[k] = pos[c];
        rest[k] = rest[c];
        k = c;
      }
      pos[k] = lastPos;
      rest[k] = last;
    }
    return top;
  }
}

/**
 * The plan with no pair alone in a batch where that can be helped, nor in a
 * batch under a quarter of batchSize (leastBatch: the tail of a shuffle, made
 * of what a few large groups or positives leave over), as the LiteEncoder
 * trainer's makeBatches does. Each pair of such a batch is a lone pair: it joins
 * a batch it fits (no positive twice, no negative that is a positive) by
 * placeLeftovers: the last with room, else the last (one pair over batchSize). Where none
 * can take it, a pair with a hard negative keeps its batch of one (that
 * negative gives it a loss and a gradient) and one without is left out of the
 * epoch and counted in `skipped`: every batch holds its positive or its group,
 * so it could only ever be trained alone at loss 0. That needs most pairs to
 * share its positive or group; data whose pairs all share one positive is
 * refused before planning (assertTrainable), and a plan of no batch at all
 * (every pair in one group) by train(). A plan with no lone pair is returned
 * as it is.
 */
function mergeLonePairs(
  plan: EpochPlan,
  positives: Int32Array,
  negatives: Int32Array,
  groups: Int32Array | undefined,
  batchSize: number,
): EpochPlan {
  const { order, starts } = plan;
  const batches: number[][] = [];
  const lone: number[] = [];
  const sizes = Array.from({ length: starts.length - 1 }, (_, b) => starts[b + 1] - starts[b]);
  const least = leastBatch(sizes, batchSize);
  for (let b = 0; b + 1 < starts.length; b++) {
    const pairs = order.subarray(starts[b], starts[b + 1]);
    if (pairs.length < least) lone.push(...pairs);
    else batches.push(Array.from(pairs));
  }
  if (lone.length === 0) return plan;
  // Whether pairs i and j may share a batch: neither's positive is the other's positive or negative, nor their group one.
  const together = (i: number, j: number) =>
    positives[i] !== positives[j] &&
    negatives[i] !== positives[j] &&
    negatives[j] !== positives[i] &&
    (!groups || groups[i] < 0 || groups[i] !== groups[j]);
  const keys = groups ? [positives, groups] : [positives];
  const skipped = placeLeftovers(batches, lone, batchSize, together, keys, (i) => negatives[i] >= 0);
  const merged = new Int32Array(order.length - skipped);
  const mergedStarts = new Int32Array(batches.length + 1);
  let at = 0;
  batches.forEach((b, k) => {
    mergedStarts[k] = at;
    merged.set(b, at);
    at += b.length;
  });
  mergedStarts[batches.length] = at;
  return { order: merged, starts: mergedStarts, skipped };
}
