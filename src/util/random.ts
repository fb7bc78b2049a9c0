/**
 * mulberry32: the small seeded PRNG used wherever jobbert needs reproducible
 * randomness (training shuffles, fixtures, benchmarks). Its whole state is one
 * 32-bit integer, so checkpoints can store it.
 */

/** One step: the next state and a uniform value in [0, 1). */
export function mulberry32(state: number): { state: number; value: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = Math.imul(next ^ (next >>> 15), next | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { state: next, value: ((t ^ (t >>> 14)) >>> 0) / 4294967296 };
}

/** A generator of uniform values in [0, 1) seeded with `seed`. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const step = mulberry32(state);
    state = step.state;
    return step.value;
  };
}

/** 0 … n−1 in a random order: a Fisher–Yates shuffle drawing n − 1 values from `random`. */
export function shuffledOrder(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
