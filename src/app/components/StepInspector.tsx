// The step inspector (DESIGN.md §8.13): pick a stored step of the shown run and see, for each group,
// the prompt, its completions' rewards, the group mean and std and each advantage; for a chosen
// completion every token's log-prob, ratio, clipping, share of the loss (a colour scale with a legend,
// values in the token table) and entropy; and what the update did: each completion's log-prob before
// and after the step. Read from the run's inspect/step-N.json in OPFS, so past runs show too.

import { useEffect, useState, type KeyboardEvent } from 'react';
import type { InspectedCompletion, InspectedGroup, StepInspection } from '../../rl/inspect.ts';
import { inspectedSteps, readInspection } from '../storage.ts';
import type { RunView } from '../store.ts';
import { formatValue } from './format.ts';

/** Blue: the token's loss share is negative (on-policy, the update makes it likelier); red: positive (less likely). */
function lossColor(share: number, scale: number): string {
  // From 97% down to 68% lightness: the darkest shades keep the text at ≥ 5:1 contrast (WCAG AA).
  const lightness = Math.round(97 - 29 * (scale > 0 ? Math.min(1, Math.abs(share) / scale) : 0));
  return share < 0 ? `hsl(215 90% ${lightness}%)` : `hsl(0 85% ${lightness}%)`;
}

const clipText = (clip: number) => (clip < 0 ? 'low' : clip > 0 ? 'high' : 'no');

/** A signed number with its sign always shown. */
const signed = (v: number) => `${v > 0 ? '+' : ''}${formatValue(v)}`;

function LossLegend({ scale }: { scale: number }) {
  const stops = [-1, -0.5, 0, 0.5, 1].map((t) => lossColor(t * scale, scale));
  return (
    <div className="entropy-legend" role="note" aria-label="Token colour: share of the loss">
      <span>share of the loss −{formatValue(scale)}</span>
      <span className="gradient" style={{ background: `linear-gradient(to right, ${stops.join(', ')})` }} />
      <span>+{formatValue(scale)}</span>
      <span className="hint">(blue: the update makes the token likelier, red: less likely; values in the table below and on hover)</span>
    </div>
  );
}

function ColouredTokens({ completion, scale }: { completion: InspectedCompletion; scale: number }) {
  if (!completion.trained) return <span className="tokens">{completion.tokens.join('')}</span>;
  return (
    <span className="tokens">
      {completion.tokens.map((token, t) => (
        <span
          // biome-ignore lint/suspicious/noArrayIndexKey: a token's position is its identity; a completion's tokens never reorder
          key={t}
          title={`log-prob ${formatValue(completion.logprobs[t])}, ratio ${formatValue(completion.ratios[t])}, clipped ${clipText(completion.clip[t])}, loss ${formatValue(completion.losses[t])}, entropy ${formatValue(completion.entropies[t])}`}
          style={{ background: lossColor(completion.losses[t], scale) }}
        >
          {token}
        </span>
      ))}
    </span>
  );
}

/** Keys between the completions of the inspector: arrows one completion, PageDown/PageUp one group, Home/End the first/last. */
function moveFocus(e: KeyboardEvent<HTMLElement>): void {
  const rows = [...(e.currentTarget.closest('[data-inspector]')?.querySelectorAll<HTMLElement>('[data-testid="inspect-completion"]') ?? [])];
  const at = rows.indexOf(e.currentTarget);
  const group = (row: HTMLElement | undefined) => row?.closest('[data-testid="inspect-group"]');
  const firstOf = (g: Element | null | undefined) => rows.findIndex((r) => group(r) === g);
  const groups = [...new Set(rows.map(group))];
  const g = groups.indexOf(group(rows[at]));
  const next = {
    ArrowDown: at + 1,
    ArrowUp: at - 1,
    PageDown: firstOf(groups[g + 1]),
    PageUp: firstOf(groups[g - 1]),
    Home: 0,
    End: rows.length - 1,
  }[e.key];
  if (next === undefined || !rows[next]) return;
  e.preventDefault();
  rows[next].focus();
}

function GroupTable({
  group,
  index,
  scale,
  functions,
  picked,
  onPick,
}: {
  group: InspectedGroup;
  index: number;
  scale: number;
  functions: string[];
  picked: InspectedCompletion | null;
  onPick: (c: InspectedCompletion) => void;
}) {
  return (
    <section className="group" aria-label={`Group ${index + 1}`} data-testid="inspect-group">
      <div className="group-head">
        <pre className="prompt">{group.prompt}</pre>
        <span>
          answer <strong>{group.answer}</strong> · mean reward {formatValue(group.rewardMean)} · std {formatValue(group.rewardStd)}
        </span>
      </div>
      <table className="inspect-table">
        <thead>
          <tr>
            <th scope="col">completion (tokens coloured by their share of the loss)</th>
            {functions.map((f) => (
              <th scope="col" key={f}>
                {f}
              </th>
            ))}
            <th scope="col">reward</th>
            <th scope="col">advantage</th>
            <th scope="col">log-prob before</th>
            <th scope="col">after</th>
            <th scope="col">change</th>
          </tr>
        </thead>
        <tbody>
          {group.completions.map((c, j) => {
            const change = c.trained ? c.logprobAfter! - c.logprobBefore! : null;
            return (
              <tr
                // biome-ignore lint/suspicious/noArrayIndexKey: the j-th sample of a stored group never moves
                key={j}
                tabIndex={0}
                data-testid="inspect-completion"
                data-advantage={c.advantage}
                data-before={c.logprobBefore ?? ''}
                data-after={c.logprobAfter ?? ''}
                aria-current={picked === c ? true : undefined}
                aria-label={`Completion ${j + 1} of group ${index + 1}: reward ${formatValue(c.reward)}, advantage ${formatValue(c.advantage)}${change === null ? ', not trained' : `, log-prob ${formatValue(c.logprobBefore!)} before, ${formatValue(c.logprobAfter!)} after`}`}
                className={picked === c ? 'picked' : undefined}
                onFocus={() => onPick(c)}
                onClick={() => onPick(c)}
                onKeyDown={moveFocus}
              >
                <td>
                  <ColouredTokens completion={c} scale={scale} />
                </td>
                {functions.map((f) => (
                  <td key={f}>{c.rewards[f] === null || c.rewards[f] === undefined ? 'n/a' : formatValue(c.rewards[f]!)}</td>
                ))}
                <td>{formatValue(c.reward)}</td>
                <td>{signed(c.advantage)}</td>
                <td>{c.trained ? formatValue(c.logprobBefore!) : '—'}</td>
                <td>{c.trained ? formatValue(c.logprobAfter!) : '—'}</td>
                <td className={change === null ? 'muted' : change > 0 === c.advantage > 0 ? 'good' : 'bad'}>
                  {change === null ? 'not trained' : signed(change)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function TokenTable({ completion }: { completion: InspectedCompletion }) {
  if (!completion.trained) {
    return <p className="muted">This completion's advantage is 0 (or its group was left out), so the step did not train on it: no per-token values.</p>;
  }
  return (
    <table className="inspect-table" data-testid="inspect-tokens" aria-label="Per-token values of the picked completion">
      <thead>
        <tr>
          <th scope="col">token</th>
          <th scope="col" title="ln π(token), at the sampling temperature">
            log-prob
          </th>
          <th scope="col" title="π / π_old: 1 on-policy">
            ratio
          </th>
          <th scope="col" title="outside [1−ε, 1+ε] in the direction of the advantage: no gradient">
            clipped
          </th>
          <th scope="col" title="w·l: the token's term of the loss">
            share of the loss
          </th>
          <th scope="col" title="nats: how unsure the model was">
            entropy
          </th>
        </tr>
      </thead>
      <tbody>
        {completion.tokens.map((token, t) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a token's position is its identity
          <tr key={t}>
            <td>
              <code>{JSON.stringify(token)}</code>
            </td>
            <td>{formatValue(completion.logprobs[t])}</td>
            <td>{formatValue(completion.ratios[t])}</td>
            <td>{clipText(completion.clip[t])}</td>
            <td>{formatValue(completion.losses[t])}</td>
            <td>{formatValue(completion.entropies[t])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Inspection({ inspection }: { inspection: StepInspection }) {
  const completions = inspection.groups.flatMap((g) => g.completions);
  const scale = Math.max(0, ...completions.flatMap((c) => c.losses.map(Math.abs)));
  const functions = Object.keys(completions[0]?.rewards ?? {});
  const [picked, setPicked] = useState<InspectedCompletion | null>(null);
  const shown = picked && completions.includes(picked) ? picked : (completions.find((c) => c.trained) ?? null);
  const trained = completions.filter((c) => c.trained && c.advantage !== 0);
  const agree = trained.filter((c) => c.logprobAfter! - c.logprobBefore! > 0 === c.advantage > 0).length;
  return (
    <>
      <p data-testid="inspect-summary">
        Step {inspection.step}: loss {formatValue(inspection.loss)} ({inspection.lossType}, ε {inspection.epsilon}/{inspection.epsilonHigh}, learning rate{' '}
        {formatValue(inspection.learningRate)}).{' '}
        {inspection.learningRate === 0
          ? 'With learning rate 0 (a warm-up step) the update changes nothing.'
          : trained.length > 0 && `${agree} of ${trained.length} trained completions moved the way their advantage points.`}
      </p>
      <ul className="captions">
        <li>
          <strong>reward</strong>: what the reward functions gave each completion; <strong>advantage</strong>: how much better than its group's mean it was, in
          units of the group's spread. Positive advantages are reinforced, negative ones discouraged.
        </li>
        <li>
          <strong>share of the loss</strong>: each token's term of the step's loss (they add up to it). <strong>ratio</strong>: the token's probability now over
          when it was sampled (1 on the first update); <strong>clipped</strong>: the ratio left [1−ε, 1+ε] in the direction of the advantage, so the token stops
          pushing. <strong>entropy</strong>: how unsure the model was there.
        </li>
        <li>
          <strong>log-prob before/after</strong>: the whole completion's log-probability under the adapter before this step and after its update (a re-score).
          Rewarded completions should become likelier (change &gt; 0), penalised ones less likely.
        </li>
      </ul>
      <LossLegend scale={scale} />
      {/* Scrolling boxes, so the whole inspector fits one screen; the rows inside are focusable. */}
      <section className="inspect-scroll groups" aria-label={`Groups of step ${inspection.step}`}>
        {inspection.groups.map((g, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: groups of a stored step never move
          <GroupTable key={i} group={g} index={i} scale={scale} functions={functions} picked={shown} onPick={setPicked} />
        ))}
      </section>
      {shown && (
        <section aria-labelledby="inspect-tokens-heading">
          <h3 id="inspect-tokens-heading">Tokens of the picked completion (focus or click a row above)</h3>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: WCAG 2.1.1, a scrollable region must be reachable by keyboard */}
          <section className="inspect-scroll tokens-box" tabIndex={0} aria-label="Per-token values, scrollable">
            <TokenTable completion={shown} />
          </section>
        </section>
      )}
    </>
  );
}

export function StepInspector({ run }: { run: RunView }) {
  const newestStep = run.metrics.at(-1)?.step ?? 0;
  const [steps, setSteps] = useState<number[]>([]);
  const [picked, setPicked] = useState<number | null>(null);
  const [inspection, setInspection] = useState<StepInspection | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Re-read the stored steps when the run advances; a resumed run may hold steps it trains again.
  useEffect(() => {
    inspectedSteps(run.id)
      .then((all) => setSteps(all.filter((s) => s <= newestStep)))
      .catch((e: Error) => setError(e.message));
  }, [run.id, newestStep]);
  const step = picked !== null && steps.includes(picked) ? picked : (steps.at(-1) ?? null);
  useEffect(() => {
    if (step === null) return;
    readInspection(run.id, step)
      .then(setInspection)
      .catch((e: Error) => setError(`step ${step}: ${e.message}`));
  }, [run.id, step]);
  if (error) return <p className="error-text">Could not read the inspected step: {error}</p>;
  if (step === null) {
    return (
      <p className="muted">
        {run.settings.inspectEvery > 0
          ? `Every ${run.settings.inspectEvery === 1 ? '' : `${run.settings.inspectEvery}th `}step appears here once trained.`
          : 'This run stores no inspected steps (see Inspect every in the Recipe panel).'}
      </p>
    );
  }
  const index = steps.indexOf(step);
  return (
    <div data-inspector data-testid="inspector">
      <label className="smoothing">
        Step{' '}
        <input
          type="range"
          data-testid="inspect-step"
          min={0}
          max={steps.length - 1}
          value={index}
          onChange={(e) => setPicked(steps[Number(e.target.value)])}
          aria-label="Inspected step"
          aria-valuetext={`step ${step}`}
        />{' '}
        <output data-testid="inspect-step-value">{step}</output>
        <span className="muted">
          {' '}
          of {steps.length} stored (arrow keys, Home, End; newest {steps.at(-1)}). In the tables: arrows move between completions, Page Up/Down between groups.
        </span>
      </label>
      {inspection?.step === step ? <Inspection inspection={inspection} /> : <p className="muted">Reading step {step}…</p>}
    </div>
  );
}
