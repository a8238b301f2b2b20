// The newest step's completions, grouped by problem: reward, advantage, and every token shaded by
// the policy's entropy there (dark = the model was unsure which token to pick).

import type { CompletionView } from '../protocol.ts';
import { formatValue } from './format.ts';

/** Entropies at or above this (nats) get the darkest shade; the scale is fixed so steps compare. */
const ENTROPY_SCALE_MAX = 2;

function entropyColor(entropy: number): string {
  const t = Math.min(1, Math.max(0, entropy / ENTROPY_SCALE_MAX));
  return `hsl(28 95% ${Math.round(97 - 47 * t)}%)`;
}

function groupsOf(completions: CompletionView[]): CompletionView[][] {
  const groups = new Map<number, CompletionView[]>();
  for (const c of completions) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  return [...groups.values()];
}

function Tokens({ completion }: { completion: CompletionView }) {
  // A completion with advantage 0 teaches nothing, so the step skips its forward pass: no entropies.
  if (completion.entropies.length === 0) {
    return (
      <p className="tokens" title="advantage 0: not trained on, so no entropies">
        {completion.tokens.join('')}
      </p>
    );
  }
  return (
    <p className="tokens">
      {completion.tokens.map((token, i) => {
        const entropy = completion.entropies[i] ?? 0;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: a token's position is its identity; a completion's tokens never reorder
          <span key={i} data-entropy={entropy} title={`entropy ${entropy.toFixed(3)} nats`} style={{ background: entropyColor(entropy) }}>
            {token}
          </span>
        );
      })}
    </p>
  );
}

/**
 * The shading in words, so colour is not the only carrier: the mean entropy and the most uncertain
 * token (each token's own value is in its tooltip and its data-entropy).
 */
function EntropyText({ completion }: { completion: CompletionView }) {
  const { entropies, tokens } = completion;
  if (entropies.length === 0) return null;
  let top = 0;
  for (let i = 1; i < entropies.length; i++) if (entropies[i] > entropies[top]) top = i;
  const mean = entropies.reduce((a, b) => a + b, 0) / entropies.length;
  return (
    <span className="muted" data-testid="completion-entropy">
      {' '}
      · entropy mean {mean.toFixed(2)}, highest {entropies[top].toFixed(2)} nats at “{tokens[top]?.trim() || tokens[top]}”
    </span>
  );
}

function EntropyLegend() {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => entropyColor(t * ENTROPY_SCALE_MAX));
  return (
    <div className="entropy-legend" role="note" aria-label="Token colour: entropy">
      <span>entropy 0</span>
      <span className="gradient" style={{ background: `linear-gradient(to right, ${stops.join(', ')})` }} />
      <span>≥ {ENTROPY_SCALE_MAX} nats</span>
      <span className="hint">(darker = less sure; hover a token for its value)</span>
    </div>
  );
}

export function Completions({ completions }: { completions: CompletionView[] }) {
  if (completions.length === 0) return <p className="muted">Completions of the newest step appear here while training.</p>;
  return (
    // A scrolling box: focusable, so keyboard users can scroll it (it holds no focusable element).
    // biome-ignore lint/a11y/noNoninteractiveTabindex: WCAG 2.1.1, a scrollable region must be reachable by keyboard
    <section className="completions" aria-label="Completions of the newest step" tabIndex={0}>
      <EntropyLegend />
      {groupsOf(completions).map((group) => (
        <section key={group[0].group} className="group">
          <div className="group-head">
            <pre className="prompt">{group[0].prompt}</pre>
            <span>
              answer <strong>{group[0].answer}</strong>
            </span>
          </div>
          <ol>
            {group.map((c, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: completions have no id; the i-th sample of a group is replaced, never moved
              <li key={i} data-testid="completion" data-reward={c.reward} data-advantage={c.advantage}>
                <span className={`score ${c.reward > 0 ? 'good' : ''}`} title={rewardBreakdown(c)}>
                  reward {formatValue(c.reward)} · advantage {formatValue(c.advantage)}
                </span>
                {c.extracted !== undefined && (
                  <span className="muted" data-testid="completion-answer" title="The final answer the math reward read from this completion">
                    {' '}
                    · answer {c.extracted ?? 'none found'}
                  </span>
                )}
                <EntropyText completion={c} />
                <Tokens completion={c} />
              </li>
            ))}
          </ol>
        </section>
      ))}
    </section>
  );
}

/** "math 1, format 0" for the reward's tooltip; functions that did not apply show as n/a. */
function rewardBreakdown(c: CompletionView): string {
  return Object.entries(c.rewards)
    .map(([name, v]) => `${name} ${v === null ? 'n/a' : formatValue(v)}`)
    .join(', ');
}
