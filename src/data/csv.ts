// RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field in double quotes may hold
// commas, line breaks and doubled quotes (""). A UTF-8 BOM is dropped. Blank lines are skipped.

import { DatasetError } from '../io/jsonl.ts';

export interface CsvRecord {
  /** The 1-based line on which the record starts. */
  line: number;
  fields: string[];
}

/** Split CSV text into records. An unterminated quoted field is an error naming its line. */
export function parseCsv(text: string, fileName = 'csv'): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let quoted = false; // inside a quoted field
  let wasQuoted = false; // the current field had quotes (so an empty record is not blank)
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !wasQuoted)) records.push({ line: start, fields });
    fields = [];
    field = '';
    wasQuoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = wasQuoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c; // a stray quote inside an unquoted field is kept, as most readers do
    }
  }
  if (quoted) throw new DatasetError(`${fileName}: unterminated quoted field starting on line ${start}`);
  if (field !== '' || fields.length > 0 || wasQuoted) endRecord();
  return records;
}
