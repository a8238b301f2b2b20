// The DUMP UCB curriculum over several datasets: which source the next prompt comes from.

import { Rng } from '../gpu/random.ts';

export interface UcbState {
  names: string[];
  /** Updates per source (n). */
  counts: number[];
  /** Sum of all meanAbsAdvantage updates per source (without a window). */
  sums: number[];
  /** The last `window` updates per source (with a window). */
  recent: number[][] | null;
  window: number | null;
  temperature: number;
  rng: number;
}

/**
 * DUMP UCB curriculum across several datasets: score_j = mean|A|_j + sqrt(2 ln(N+1)/(n_j+1)), where
 * n_j counts updates of source j and N all updates; a source is sampled from softmax(score/0.1)
 * with a seeded RNG. mean|A|_j is the mean of the reported meanAbsAdvantage values (of the last
 * `window` ones when given; 0 before any). update(sourceIndex, meanAbsAdvantage).
 */
export class UcbCurriculum {
  private readonly names: string[];
  private counts: number[];
  private sums: number[];
  private recent: number[][] | null;
  private readonly window: number | null;
  private readonly temperature: number;
  private readonly rng: Rng;

  constructor(names: string[], seed: number, opts: { temperature?: number; window?: number } = {}) {
    if (names.length === 0) throw new Error('UcbCurriculum: no sources');
    this.names = [...names];
    this.counts = names.map(() => 0);
    this.sums = names.map(() => 0);
    this.window = opts.window ?? null;
    if (this.window !== null && !(Number.isInteger(this.window) && this.window > 0)) throw new Error(`UcbCurriculum: bad window ${opts.window}`);
    this.recent = this.window === null ? null : names.map(() => []);
    this.temperature = opts.temperature ?? 0.1;
    if (!(this.temperature > 0)) throw new Error(`UcbCurriculum: temperature must be > 0, got ${opts.temperature}`);
    this.rng = new Rng(seed);
  }

  /** mean|A| of each source (0 before any update). */
  meanAbsAdvantages(): number[] {
    return this.names.map((_, j) => {
      if (this.recent) {
        const r = this.recent[j];
        return r.length === 0 ? 0 : r.reduce((s, x) => s + x, 0) / r.length;
      }
      return this.counts[j] === 0 ? 0 : this.sums[j] / this.counts[j];
    });
  }

  /** UCB score of each source. */
  scores(): number[] {
    const total = this.counts.reduce((s, n) => s + n, 0);
    const mean = this.meanAbsAdvantages();
    return mean.map((m, j) => m + Math.sqrt((2 * Math.log(total + 1)) / (this.counts[j] + 1)));
  }

  /** softmax(score / temperature). */
  probabilities(): number[] {
    const z = this.scores().map((s) => s / this.temperature);
    const max = Math.max(...z);
    const e = z.map((x) => Math.exp(x - max));
    const sum = e.reduce((s, x) => s + x, 0);
    return e.map((x) => x / sum);
  }

  /** Sample a source index. */
  pick(): number {
    const p = this.probabilities();
    const u = this.rng.next();
    let acc = 0;
    for (let j = 0; j < p.length; j++) {
      acc += p[j];
      if (u < acc) return j;
    }
    return p.length - 1;
  }

  update(source: number, meanAbsAdvantage: number): void {
    if (!Number.isInteger(source) || source < 0 || source >= this.names.length) throw new Error(`UcbCurriculum: no source ${source}`);
    if (!Number.isFinite(meanAbsAdvantage)) throw new Error(`UcbCurriculum: meanAbsAdvantage must be finite, got ${meanAbsAdvantage}`);
    this.counts[source]++;
    this.sums[source] += meanAbsAdvantage;
    if (this.recent && this.window !== null) {
      const r = this.recent[source];
      r.push(meanAbsAdvantage);
      if (r.length > this.window) r.shift();
    }
  }

  state(): UcbState {
    return {
      names: [...this.names],
      counts: [...this.counts],
      sums: [...this.sums],
      recent: this.recent ? this.recent.map((r) => [...r]) : null,
      window: this.window,
      temperature: this.temperature,
      rng: this.rng.state,
    };
  }

  /** Continue from a state() of a curriculum over the same sources. */
  restore(state: unknown): void {
    const s = state as Partial<UcbState> | null;
    if (!s || !Array.isArray(s.names) || s.names.join('\u0000') !== this.names.join('\u0000')) {
      throw new Error(`UcbCurriculum: the state is for sources ${JSON.stringify(s?.names)}, this curriculum has ${JSON.stringify(this.names)}`);
    }
    const n = this.names.length;
    if (!Array.isArray(s.counts) || s.counts.length !== n || !Array.isArray(s.sums) || s.sums.length !== n || typeof s.rng !== 'number') {
      throw new Error('UcbCurriculum: malformed state');
    }
    if ((s.window ?? null) !== this.window) throw new Error(`UcbCurriculum: the state has window ${s.window}, this curriculum ${this.window}`);
    this.counts = [...s.counts];
    this.sums = [...s.sums];
    this.recent = this.window === null ? null : (s.recent ?? this.names.map(() => [])).map((r) => [...r]);
    this.rng.state = s.rng >>> 0;
  }
}
