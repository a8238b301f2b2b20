// Filling in the Python templates of export-trl (the .py files next to this one). Each template is
// valid Python on its own; three kinds of marker comment say what the generated script changes:
//
//   <anything>  # @webgrpo: NAME      the whole line is replaced by the lines of slot NAME, each
//                                     indented as the marker line (no lines: the line is dropped)
//   <code>  # @webgrpo-if: FLAG       the line is kept (marker removed) when FLAG is set, else
//                                     dropped; `!FLAG` inverts
//   # @webgrpo-start                  everything up to and including this line is dropped (the
//                                     file's own header and the imports it needs to be read alone)
//
// A dropped line between two blank lines takes one of them with it, so optional pieces leave no
// gap. Slots and flags the template names but the caller does not give are errors.

const SLOT = /^(\s*).*?#\s*@webgrpo:\s*(\S+)\s*$/;
const IF = /^(.*?)\s*#\s*@webgrpo-if:\s*(!?)(\w+)\s*$/;
const START = /^\s*#\s*@webgrpo-start\s*$/;

/** The template's text after its `# @webgrpo-start` line (all of it when it has none), trimmed. */
export function templateBody(source: string): string {
  const lines = source.split('\n');
  const start = lines.findIndex((l) => START.test(l));
  return lines
    .slice(start + 1)
    .join('\n')
    .trim();
}

export interface Fill {
  /** Slot name → replacement lines (a string may hold several lines). */
  slots?: Record<string, string | string[]>;
  flags?: Record<string, boolean>;
}

/** The template body with its slots and conditional lines filled in (see the top of this file). */
export function fillTemplate(source: string, { slots = {}, flags = {} }: Fill, name = 'template'): string {
  const lines = templateBody(source).split('\n');
  const out: string[] = [];
  const drop = (i: number) => {
    // Skip the blank line after a dropped one when a blank line precedes it.
    if (out.length > 0 && out[out.length - 1].trim() === '' && i + 1 < lines.length && lines[i + 1].trim() === '') return i + 1;
    return i;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const slot = SLOT.exec(line);
    if (slot) {
      const [, indent, key] = slot;
      if (!Object.hasOwn(slots, key)) throw new Error(`export-trl: ${name} slot "${key}" was not filled`);
      const value = slots[key];
      const filled = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split('\n'));
      if (filled.length === 0) {
        i = drop(i);
        continue;
      }
      out.push(...filled.map((l) => (l.trim() === '' ? '' : indent + l)));
      continue;
    }
    const cond = IF.exec(line);
    if (cond) {
      const [, code, not, flag] = cond;
      if (!Object.hasOwn(flags, flag)) throw new Error(`export-trl: ${name} flag "${flag}" was not given`);
      if (flags[flag] !== (not === '!')) out.push(code);
      else i = drop(i);
      continue;
    }
    if (line.includes('@webgrpo')) throw new Error(`export-trl: ${name} has a malformed marker: ${line.trim()}`);
    out.push(line);
  }
  return out.join('\n');
}
