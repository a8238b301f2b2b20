// The one seeded random stream (mulberry32) behind datasets, LoRA init, random test models and the
// tests. Its 32-bit state is readable and restorable, so a dataset cursor can checkpoint it.

export class Rng {
  constructor(public state: number) {
    this.state >>>= 0;
  }

  /** The next uniform value in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** A fresh stream from `seed` as a function returning uniform values in [0, 1). */
export function seededRandom(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
