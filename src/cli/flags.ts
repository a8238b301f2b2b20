// Flag handling shared by the commands: parsing with node:util's parseArgs, checked numbers and
// choices, the run settings of the schema (src/rl/settings.ts) as flags, and output.

import type { ParseArgsConfig } from 'node:util';
import { flagOf, parseSettingText, SETTINGS, type Section, type Setting } from '../rl/settings.ts';
import { getSetting, withSetting, type RunConfig } from '../rl/run-config.ts';

/** A mistake in how the command was called: exit code 2, with the message. */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;
export type Options = NonNullable<ParseArgsConfig['options']>;

/** A command: its flags, one line of usage per form, and what it does. */
export interface Command {
  options: Options;
  usage: string;
  allowPositionals?: boolean;
  /** More text for `webgrpo <command> --help`. */
  help?: () => string;
  run(values: Values, argv: string[]): Promise<void>;
}

/** Flags every command that loads a model takes. */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  json: { type: 'boolean', default: false },
  'hub-endpoint': { type: 'string' },
  'cache-dir': { type: 'string' },
  adapter: { type: 'string' },
  /** Keep the WebGPU driver's start-up messages on stderr (bin/webgrpo.mjs filters them otherwise). */
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * An old spelling of a flag: still accepted, with a deprecation note on stderr, and read as `--name`
 * from then on. Both spellings at once is a UsageError.
 */
export function renamedFlag(values: Values, old: string, name: string): void {
  if (values[old] === undefined) return;
  if (values[name] !== undefined) throw new UsageError(`Give --${name}, not both it and its old spelling --${old}.`);
  log(`webgrpo: --${old} is deprecated, use --${name} (the same name as in webgrpo train).`);
  values[name] = values[old];
  delete values[old];
}

/** With --json the last line of stdout is one JSON object; otherwise the text. */
export function output(values: Values, json: object, text: string): void {
  process.stdout.write(`${values.json ? JSON.stringify(json) : text}\n`);
}

/** A numeric flag, checked against its allowed range. */
export function numberFlag(values: Values, name: string, fallback: number, check: (x: number) => boolean, rule: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(x) || !check(x)) {
    throw new UsageError(`--${name} must be ${rule}, got "${raw}".`);
  }
  return x;
}

export const positiveInt = (x: number) => Number.isInteger(x) && x >= 1;

export function choice<T extends string>(values: Values, name: string, options: readonly T[], fallback: T): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!options.includes(raw as T)) throw new UsageError(`--${name} must be one of ${options.join(', ')}, got "${raw}".`);
  return raw as T;
}

export function progressBar(done: number, total: number): string {
  const width = 20;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function settingsOf(sections: readonly Section[], except: readonly string[] = []): Setting[] {
  return SETTINGS.filter((s) => sections.includes(s.section) && !except.includes(s.key));
}

/** parseArgs options for the settings of these sections (and their aliases). */
export function settingOptions(sections: readonly Section[], except: readonly string[] = []): Options {
  const options: Options = {};
  for (const s of settingsOf(sections, except)) {
    for (const flag of [flagOf(s), ...(s.aliases ?? [])]) options[flag] = s.type === 'boolean' ? { type: 'boolean' } : { type: 'string' };
  }
  return options;
}

/** The config with the settings given as flags; a flag that does not fit its setting is a UsageError naming it. */
export function readSettings(values: Values, cfg: RunConfig, sections: readonly Section[], except: readonly string[] = []): RunConfig {
  for (const s of settingsOf(sections, except)) {
    const spellings = [flagOf(s), ...(s.aliases ?? [])].filter((f) => values[f] !== undefined);
    if (spellings.length > 1) throw new UsageError(`Give --${spellings[0]} or its alias --${spellings[1]}, not both.`);
    if (spellings.length === 0) continue;
    const raw = values[spellings[0]]!;
    const parsed = parseSettingText(s, raw);
    if ('problem' in parsed) throw new UsageError(`--${spellings[0]} ${parsed.problem}, got "${raw}".`);
    cfg = withSetting(cfg, s, parsed.value);
  }
  return cfg;
}

/** `--help` lines of the settings: flag, what it takes, default, and the one-line explanation. */
export function settingsHelp(sections: readonly Section[], defaults: RunConfig, except: readonly string[] = []): string {
  return settingsOf(sections, except)
    .map((s) => {
      const takes = { number: s.type === 'number' && s.integer ? 'N' : 'X', choice: '', list: 'a,b,…', interval: 'lo,hi', text: 'TEXT', boolean: '' }[s.type];
      const shown = s.type === 'choice' ? s.choices.join('|') : s.type === 'text' ? (s.placeholder ?? takes) : takes;
      const value = getSetting(defaults, s);
      const byDefault =
        value === true
          ? ` (default on; --no-${flagOf(s)} turns it off)`
          : value === null || value === '' || typeof value === 'boolean'
            ? ''
            : ` (default ${Array.isArray(value) ? value.join(',') : String(value)})`;
      const flags = `${[flagOf(s), ...(s.aliases ?? [])].map((f) => `--${f}`).join('|')} ${shown}`.trimEnd();
      return `    ${flags.length < 40 ? flags.padEnd(40) : `${flags}\n${' '.repeat(44)}`}${s.help}${byDefault}`;
    })
    .join('\n');
}
