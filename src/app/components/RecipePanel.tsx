// Presets and every GRPO/LoRA knob, rendered from the KNOBS table.

import { useEffect, useState } from 'react';
import type { RunConfig } from '../protocol.ts';
import { PRESETS } from '../recipe.ts';
import { appStore, useApp } from '../store.ts';
import {
  acceptsNumber,
  boundsHint,
  FRACTION,
  KNOBS,
  TRAIN_STEP_GROUP,
  type Bounds,
  type Field,
  type IntervalKnob,
  type Knob,
  type KnobGroup,
} from './knobs.ts';

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
  /** The id of the knob's help line. */
  describedBy?: string;
}

function NumberInput({ id, bounds, value, onValid, ariaLabel, describedBy }: NumberInputProps) {
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
        aria-describedby={describedBy}
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
        aria-describedby={helpId(key)}
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

/** The id of a knob's help line, which describes its input. */
const helpId = (key: string) => `knob-${key}-help`;

function KnobInput({ knob, settings }: { knob: Knob; settings: RunConfig }) {
  const key = knob.field.key;
  const id = `knob-${key}`;
  const help = helpId(key);
  switch (knob.kind) {
    case 'number':
      return <NumberInput id={id} describedBy={help} bounds={knob} value={knob.field.get(settings)} onValid={(v) => update(knob.field, v)} />;
    case 'select':
      return (
        <select id={id} data-testid={id} aria-describedby={help} value={knob.field.get(settings)} onChange={(e) => update(knob.field, e.target.value)}>
          {knob.options.map((option) => (
            <option key={option}>{option}</option>
          ))}
        </select>
      );
    case 'boolean':
      return (
        <input
          id={id}
          data-testid={id}
          aria-describedby={help}
          type="checkbox"
          checked={knob.field.get(settings)}
          onChange={(e) => update(knob.field, e.target.checked)}
        />
      );
    case 'text':
      return (
        <textarea
          id={id}
          data-testid={id}
          aria-describedby={help}
          rows={2}
          value={knob.field.get(settings)}
          onChange={(e) => update(knob.field, e.target.value)}
        />
      );
    case 'choices': {
      const chosen = knob.field.get(settings);
      return (
        <fieldset id={id} data-testid={id} className="checkboxes" aria-label={knob.label} aria-describedby={help}>
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

/**
 * A knob: its label, its input, and its one-line help (cut to the cell's width, whole in its tooltip
 * and while the knob has the focus; screen readers get it whole as the input's description).
 */
export function KnobRow({ knob, settings }: { knob: Knob; settings: RunConfig }) {
  // Groups of checkboxes label themselves; every other input is named by the row's <label>.
  const labelled = knob.kind !== 'choices';
  const wide = knob.kind === 'choices' || knob.kind === 'text' || knob.kind === 'interval';
  return (
    <div className={wide ? 'knob wide' : 'knob'}>
      {labelled ? <label htmlFor={`knob-${knob.field.key}`}>{knob.label}</label> : <span className="label">{knob.label}</span>}
      <div className="knob-input">
        <KnobInput knob={knob} settings={settings} />
      </div>
      <p className="help" id={helpId(knob.field.key)} title={knob.help}>
        {knob.help}
      </p>
    </div>
  );
}

// The Train step's group is shown there (TrainPanel.tsx).
const GROUP_ORDER: KnobGroup[] = ['Rollouts', 'Optimizer', 'Loss', 'LoRA', 'Rewards and filtering', 'Prompt'];

export function RecipePanel() {
  const settings = useApp((s) => s.settings);
  const preset = useApp((s) => s.preset);
  const advanced = KNOBS.filter((k) => k.advanced);
  const chosen = PRESETS.find((p) => p.id === preset);
  return (
    <section className="panel" aria-labelledby="recipe-heading">
      <h2 id="recipe-heading">Recipe</h2>
      {/* Buttons that wrap (long labels such as the story presets' never run into text); the chosen
          preset's line below, every preset's in its tooltip. */}
      <fieldset className="presets">
        <legend className="sr-only">Presets</legend>
        {PRESETS.map((p) => (
          <button
            key={p.id}
            type="button"
            data-testid={`preset-${p.id}`}
            aria-pressed={preset === p.id}
            title={p.about}
            onClick={() => appStore.getState().setPreset(p.id, p.apply(appStore.getState().settings))}
          >
            {p.label}
          </button>
        ))}
      </fieldset>
      {chosen && (
        <p className="help preset-about" data-testid="preset-about">
          <strong>{chosen.label}:</strong> {chosen.about}
        </p>
      )}
      <div className="knobs">
        {KNOBS.filter((k) => !k.advanced && k.group !== TRAIN_STEP_GROUP).map((knob) => (
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
