// JSON Lines reading with errors that name the file and line.

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Parse JSONL text into objects, remembering each row's 1-based line number. Blank lines are skipped. */
export function parseJsonl(text: string, fileName: string): { line: number; value: unknown }[] {
  const rows: { line: number; value: unknown }[] = [];
  const bad: string[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      rows.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (e) {
      bad.push(`line ${i + 1}: ${(e as Error).message}`);
    }
  });
  if (bad.length > 0) throw new DatasetError(`${fileName}: ${bad.length} malformed JSON line(s):\n  ${bad.slice(0, 10).join('\n  ')}`);
  return rows;
}
