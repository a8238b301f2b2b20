// Token sequences padded into one [batch, tokens] layout, as the forward (scoring) and the training
// forward + backward take them.

/** Sequences padded to one length; row b*tokens + t predicts ids[b][t + 1]. */
export interface PaddedBatch {
  batch: number;
  tokens: number;
  ids: Uint32Array;
  targets: Uint32Array;
  /** 1 where row b*tokens + t has a real next token (t + 1 < length of sequence b). */
  valid: Uint8Array;
}

export function padBatch(sequences: number[][]): PaddedBatch {
  const batch = sequences.length;
  const tokens = Math.max(...sequences.map((s) => s.length));
  const ids = new Uint32Array(batch * tokens);
  const targets = new Uint32Array(batch * tokens);
  const valid = new Uint8Array(batch * tokens);
  sequences.forEach((seq, b) => {
    seq.forEach((id, t) => {
      ids[b * tokens + t] = id;
      if (t + 1 < seq.length) {
        targets[b * tokens + t] = seq[t + 1];
        valid[b * tokens + t] = 1;
      }
    });
  });
  return { batch, tokens, ids, targets, valid };
}
