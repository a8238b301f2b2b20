// Presets and every GRPO/LoRA knob, rendered from the KNOBS table.

import { useEffect, useState } from 'react';
import type { RunConfig } from '../protocol.ts';
import { PRESETS } from '../recipe.ts';
import { appStore, useApp } from '../store.ts';
import { acceptsNumber, boundsHint, FRACTION, KNOBS, type Bounds, type Field, type IntervalKnob, type Knob, type KnobGroup } from './knobs.ts';

function update<T>(field: Field<T>, value: T): void {
  appStore.getState().setSettings((s) => field.set(s, value));
}

const parseNumber = (text: string) => (text.trim() === '' ? NaN : Number(text));

/** A number input that keeps what the user types and updates the settings only with valid values. */
interface NumberInputProps {
  /** Element id and test id. */
  id: string;
  bounds: Bounds;
  value: number;
  onValid: (v: number) => void;
  /** For inputs without a <label> of their own. */
  ariaLabel?: string;
}

function NumberInput({ id, bounds, value, onValid, ariaLabel }: NumberInputProps) {
  const [text, setText] = useState(String(value));
  // Follow changes made elsewhere (a preset), unless the text already says that value.
  useEffect(() => {
    setText((current) => (parseNumber(current) === value ? current : String(value)));
  }, [value]);
  const valid = acceptsNumber(bounds, parseNumber(text));
  return (
    <>
      <input
        id={id}
        data-testid={id}
        aria-label={ariaLabel}
        type="number"
        inputMode={bounds.integer ? 'numeric' : 'decimal'}
        min={bounds.min}
        max={bounds.max}
        step={bounds.integer ? 1 : 'any'}
        title={boundsHint(bounds)}
        aria-invalid={!valid}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          const v = parseNumber(e.target.value);
          if (acceptsNumber(bounds, v)) onValid(v);
        }}
      />
      {!valid && <span className="error-text hint">Needs a {boundsHint(bounds)}.</span>}
    </>
  );
}

/** Off, or [lo, hi]: a checkbox and two fraction inputs. */
function IntervalInput({ knob, settings }: { knob: IntervalKnob; settings: RunConfig }) {
  const key = knob.field.key;
  const interval = knob.field.get(settings);
  const [lo, hi] = interval ?? [0.2, 0.8];
  return (
    <span className="interval">
      <input
        id={`knob-${key}`}
        data-testid={`knob-${key}`}
        type="checkbox"
        checked={interval !== null}
        onChange={(e) => update(knob.field, e.target.checked ? [lo, hi] : null)}
      />
      {interval && (
        <>
          <NumberInput id={`knob-${key}-lo`} ariaLabel="lowest accuracy kept" bounds={FRACTION} value={lo} onValid={(v) => update(knob.field, [v, hi])} />
          <span>to</span>
          <NumberInput id={`knob-${key}-hi`} ariaLabel="highest accuracy kept" bounds={FRACTION} value={hi} onValid={(v) => update(knob.field, [lo, v])} />
        </>
      )}
    </span>
  );
}

function KnobInput({ knob, settings }: { knob: Knob; settings: RunConfig }) {
  const key = knob.field.key;
  const id = `knob-${key}`;
  switch (knob.kind) {
    case 'number':
      return <NumberInput id={id} bounds={knob} value={knob.field.get(settings)} onValid={(v) => update(knob.field, v)} />;
    case 'select':
      return (
        <select id={id} data-testid={id} value={knob.field.get(settings)} onChange={(e) => update(knob.field, e.target.value)}>
          {knob.options.map((option) => (
            <option key={option}>{option}</option>
          ))}
        </select>
      );
    case 'boolean':
      return <input id={id} data-testid={id} type="checkbox" checked={knob.field.get(settings)} onChange={(e) => update(knob.field, e.target.checked)} />;
    case 'text':
      return <textarea id={id} data-testid={id} rows={2} value={knob.field.get(settings)} onChange={(e) => update(knob.field, e.target.value)} />;
    case 'choices': {
      const chosen = knob.field.get(settings);
      return (
        <fieldset id={id} data-testid={id} className="checkboxes" aria-label={knob.label}>
          {knob.options.map((option) => (
            <label key={option}>
              <input
                type="checkbox"
                data-testid={`${id}-${option}`}
                checked={chosen.includes(option)}
                // Keep the table's order, whatever order boxes are ticked in.
                onChange={(e) =>
                  update(
                    knob.field,
                    knob.options.filter((o) => (o === option ? e.target.checked : chosen.includes(o))),
                  )
                }
              />
              {option}
            </label>
          ))}
        </fieldset>
      );
    }
    case 'interval':
      return <IntervalInput knob={knob} settings={settings} />;
  }
}

function KnobRow({ knob, settings }: { knob: Knob; settings: RunConfig }) {
  // Groups of checkboxes label themselves; every other input is named by the row's <label>.
  const labelled = knob.kind !== 'choices';
  return (
    <div className="knob">
      {labelled ? <label htmlFor={`knob-${knob.field.key}`}>{knob.label}</label> : <span className="label">{knob.label}</span>}
      <div className="knob-input">
        <KnobInput knob={knob} settings={settings} />
      </div>
      <p className="help">{knob.help}</p>
    </div>
  );
}

const GROUP_ORDER: KnobGroup[] = ['Rollouts', 'Optimizer', 'Loss', 'LoRA', 'Rewards and filtering', 'Prompt', 'Evaluation and checkpoints'];

export function RecipePanel() {
  const settings = useApp((s) => s.settings);
  const preset = useApp((s) => s.preset);
  const advanced = KNOBS.filter((k) => k.advanced);
  return (
    <section className="panel" aria-labelledby="recipe-heading">
      <h2 id="recipe-heading">Recipe</h2>
      <div className="presets">
        {PRESETS.map((p) => (
          <div key={p.id} className="preset">
            <button
              type="button"
              data-testid={`preset-${p.id}`}
              aria-pressed={preset === p.id}
              onClick={() => appStore.getState().setPreset(p.id, p.apply(appStore.getState().settings))}
            >
              {p.label}
            </button>
            <span className="help">{p.about}</span>
          </div>
        ))}
      </div>
      <div className="knobs">
        {KNOBS.filter((k) => !k.advanced).map((knob) => (
          <KnobRow key={knob.field.key} knob={knob} settings={settings} />
        ))}
      </div>
      <details>
        <summary>More knobs: sampling, optimizer, clipping, LoRA targets, filtering, prompt</summary>
        {GROUP_ORDER.map((group) => {
          const knobs = advanced.filter((k) => k.group === group);
          return (
            knobs.length > 0 && (
              <fieldset key={group} className="knobs">
                <legend>{group}</legend>
                {knobs.map((knob) => (
                  <KnobRow key={knob.field.key} knob={knob} settings={settings} />
                ))}
              </fieldset>
            )
          );
        })}
      </details>
    </section>
  );
}
