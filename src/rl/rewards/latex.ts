// Normalisation, parsing and equivalence of final math answers written in (a subset of) LaTeX or
// plain text (DESIGN.md §10.1). Pure string code, no eval, runs in the browser and in Node.
//
// Pipeline: normalizeAnswer() rewrites surface forms (\dfrac → \frac, \frac12 → \frac{1}{2},
// \left/\right, \text{…}, units, %, degrees, $, thousands separators, "x = …") into a canonical
// string; parseAnswer() turns that into a small AST with a recursive-descent parser; answersEqual()
// compares two ASTs structurally (tuples, intervals, sets, lists, equations) and numerically at the
// leaves (expressions with free variables are compared at several fixed sample points). Answers that
// do not parse as math (words such as "Evelyn") are compared as case-folded text.

export type MathNode =
  /** A number; `f` when written with a decimal point (then compared after rounding, see numbersEqual). */
  | { t: 'num'; v: number; f?: boolean }
  | { t: 'var'; name: string }
  | { t: 'neg'; a: MathNode }
  | { t: 'bin'; op: '+' | '-' | '*' | '/' | '^'; a: MathNode; b: MathNode }
  | { t: 'fn'; name: string; args: MathNode[] }
  /** Bracketed comma list: a point/tuple `(a,b)`, an interval `[a,b)`, or a set `\{a,b\}`. */
  | { t: 'tuple'; open: string; close: string; items: MathNode[] }
  /** Unbracketed top-level comma list, e.g. the solutions "2, -3" (compared ignoring order). */
  | { t: 'list'; items: MathNode[] }
  /** A relation chain a op b op c …, ops among = < <= > >= != ~ (≈). */
  | { t: 'rel'; ops: string[]; items: MathNode[] }
  | { t: 'union'; items: MathNode[] }
  | { t: 'matrix'; rows: MathNode[][] };

// ---------------------------------------------------------------------------------------------
// Normalisation

const TEXT_COMMANDS = [
  'text',
  'textbf',
  'textit',
  'textrm',
  'textnormal',
  'texttt',
  'textsf',
  'mathrm',
  'mathbf',
  'mathit',
  'mathsf',
  'mathtt',
  'mathnormal',
  'mbox',
  'hbox',
  'operatorname',
  'boldsymbol',
  'bm',
  'boxed',
  'fbox',
  'mathbb',
];

const MATH_WORDS = new Set([
  'sin',
  'cos',
  'tan',
  'sec',
  'csc',
  'cot',
  'arcsin',
  'arccos',
  'arctan',
  'sinh',
  'cosh',
  'tanh',
  'ln',
  'log',
  'exp',
  'sqrt',
  'pi',
  'inf',
  'infty',
]);

/** Index just past the brace group that opens at `open` (text[open] === '{'), or -1. */
function groupEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++;
      continue;
    } // skip escaped chars such as \{ \}
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

/** Replace `\cmd{X}` by ` X ` for each text-like command (innermost content kept, recursively). */
function unwrapTextCommands(s: string): string {
  const re = new RegExp(`\\\\(${TEXT_COMMANDS.join('|')})(?![a-zA-Z])\\s*\\{`, 'g');
  for (let guard = 0; guard < 100; guard++) {
    re.lastIndex = 0;
    const m = re.exec(s);
    if (!m) return s;
    const open = m.index + m[0].length - 1;
    const end = groupEnd(s, open);
    if (end < 0) return `${s.slice(0, m.index)} ${s.slice(open + 1)}`; // unbalanced: drop the command
    const inner = s.slice(open + 1, end - 1);
    // Spaces, not braces, so a unit such as \text{ cm} or \mathrm{cm} stays a separate word.
    s = `${s.slice(0, m.index)} ${inner} ${s.slice(end)}`;
  }
  return s;
}

/** One argument of \frac, \sqrt or \binom starting at i: `{…}`, `\cmd` or one character. */
function readArg(s: string, i: number): { arg: string; next: number } | null {
  while (i < s.length && s[i] === ' ') i++;
  if (i >= s.length) return null;
  if (s[i] === '{') {
    const end = groupEnd(s, i);
    if (end < 0) return null;
    return { arg: s.slice(i + 1, end - 1), next: end };
  }
  if (s[i] === '\\') {
    const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i));
    if (!m) return null;
    return { arg: m[0], next: i + m[0].length };
  }
  return { arg: s[i]!, next: i + 1 };
}

/** Give every \frac/\binom (two) and \sqrt (one, plus optional [n]) argument explicit braces. */
function braceArguments(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const m = /^\\(frac|binom|sqrt)(?![a-zA-Z])/.exec(s.slice(i));
    if (!m) {
      out += s[i];
      i++;
      continue;
    }
    let j = i + m[0].length;
    let rendered = `\\${m[1]}`;
    if (m[1] === 'sqrt') {
      while (s[j] === ' ') j++;
      if (s[j] === '[') {
        const close = s.indexOf(']', j);
        if (close < 0) return s;
        rendered += `[${braceArguments(s.slice(j + 1, close))}]`;
        j = close + 1;
      }
    }
    const n = m[1] === 'sqrt' ? 1 : 2;
    let ok = true;
    for (let k = 0; k < n; k++) {
      const a = readArg(s, j);
      if (!a) {
        ok = false;
        break;
      }
      rendered += `{${braceArguments(a.arg)}}`;
      j = a.next;
    }
    if (!ok) return s;
    out += rendered;
    i = j;
  }
  return out;
}

/** `\text{…}`-like commands whose content is a unit or a word, after a number (dropped). */
const UNIT_TEXT = /\\(?:text|textnormal|textrm|textit|textbf|mbox|hbox|mathrm|operatorname)\s*\{\s*([A-Za-z][A-Za-z .]*?)\s*\}(\s*\^\s*\{?\s*[23]\s*\}?)?/g;

/**
 * Canonical surface form of an answer: strips presentation (math delimiters, \left/\right, spacing,
 * \text wrappers, $, %, degrees, units, thousands separators, a trailing period or comma) while
 * keeping the mathematical content; matrices become `\matbegin … \matend` with `&` and `\\`.
 */
export function normalizeAnswer(raw: string): string {
  let s = raw.trim();
  s = s
    .replace(/\u2212|\u2013|\u2014/g, '-')
    .replace(/\u00d7/g, '\\times ')
    .replace(/\u00f7/g, '\\div ')
    .replace(/\u00b7|\u22c5/g, '\\cdot ')
    .replace(/\u03c0/g, '\\pi ')
    .replace(/\u221e/g, '\\infty ')
    .replace(/\u221a/g, '\\sqrt')
    .replace(/\u00b0/g, '^\\circ')
    .replace(/\u2264/g, '\\le ')
    .replace(/\u2265/g, '\\ge ')
    .replace(/\u2260/g, '\\ne ')
    .replace(/\u2248/g, '\\approx ')
    .replace(/\u00b2/g, '^2')
    .replace(/\u00b3/g, '^3')
    .replace(/[\u20ac\u00a3\u00a5]|\\euro(?![a-zA-Z])|\\pounds(?![a-zA-Z])/g, ' ')
    .replace(/\u00a0/g, ' ');
  s = s.replace(/(?<!\\)\\\\(?=[a-zA-Z])/g, '\\'); // "\\frac" typed with a doubled backslash
  s = s.replace(/\\\\/g, ' \\rowsep '); // a matrix row break, kept apart from \, \! \  spacing
  s = s.replace(/\\\(|\\\)|\\\[|\\\]/g, ' ');
  s = s.replace(/\\\$/g, ' ').replace(/\$/g, ' ');
  s = s.replace(/^(the\s+)?(final\s+)?answer(\s+is)?\s*[:=]?\s*/i, '');
  s = s.replace(/^[a-zA-Z](_\{?\w+\}?)?\s*\\in(?![a-zA-Z])\s*/, ''); // x \in [2, 5) → [2, 5)
  s = s.replace(/\\(left|right|bigl|bigr|Bigl|Bigr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*\.?/g, '');
  s = s.replace(/\\(displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])/g, '');
  s = s.replace(/\\[lr]?vert(?![a-zA-Z])/g, '|');
  // Thousands separators written with LaTeX spacing: 10,\!000 and 14{,}916 / 14 {, }916.
  s = s.replace(/(\d),\s*\\!\s*(?=\d)/g, '$1,').replace(/(\d)\s*\{\s*,\s*\}\s*(?=\d)/g, '$1,');
  s = s
    .replace(/\\(quad|qquad)(?![a-zA-Z])/g, ' ')
    .replace(/\\[,;:! ]/g, '')
    .replace(/~/g, ' ');
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac').replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  s = s.replace(/\\lbrace(?![a-zA-Z])/g, '\\{').replace(/\\rbrace(?![a-zA-Z])/g, '\\}');
  // Matrices and arrays: entries separated by & and \\.
  s = s.replace(/\\begin\s*\{array\}\s*\{[^{}]*\}|\\begin\s*\{[pbvBV]?(?:small)?matrix\}/g, ' \\matbegin ');
  s = s.replace(/\\end\s*\{array\}|\\end\s*\{[pbvBV]?(?:small)?matrix\}/g, ' \\matend ');
  // Degrees and percentages: the number itself is the answer (90^\circ = 90, 10\% = 10).
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])/g, '');
  s = s.replace(/\\%|%/g, '');
  // "12 \text{ and } 13": several answers.
  s = s.replace(/\\(?:text|textnormal|textrm|mbox)\s*\{\s*(?:and|or)\s*\}/g, ',');
  // A unit or word after a number or closing bracket: 5 \text{ cm}, \frac{1}{3} \text{meters}, 15\mbox{ cm}^2.
  s = s.replace(UNIT_TEXT, (m: string, _w: string, _p: string, at: number, all: string) => (/[\d})\]]\s*$/.test(all.slice(0, at)) ? ' ' : m));
  s = unwrapTextCommands(s);
  s = braceArguments(s);
  s = s.replace(/(^|[\s\d])(and|or)(?=[\s\d-])/g, '$1,'); // "12 and 13", "-2 or 1"
  s = s.replace(/,(\s*,)+/g, ','); // "19, 46, and 82"
  // Thousands separators 1,000 / 1{,}000 in a lone number (not inside a tuple or interval).
  s = s.replace(/\{,\}/g, ',');
  if (!/[([\]{}]|\\\{/.test(s.replace(/\\frac\{[^{}]*\}\{[^{}]*\}/g, ''))) {
    s = s.replace(/(^|[^\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])/g, (_, pre: string, num: string) => pre + num.replace(/,/g, ''));
  }
  s = s.replace(/\s+/g, ' ').trim();
  s = s.replace(/\s*[.,;]$/, '').trim();
  // Trailing unit words ("5 cm", "18 dollars", "3 square feet", "10 cm^2", "28 percent") after a number.
  for (let guard = 0; guard < 5; guard++) {
    const m = /(^|[^A-Za-z\\])([A-Za-z]{2,})\.?\s*(?:\^\s*\{?\d\}?)?$/.exec(s);
    if (!m || MATH_WORDS.has(m[2]!)) break;
    const rest = s.slice(0, m.index + m[1]!.length).trim();
    if (!/\d/.test(rest) || /[=,]$/.test(rest)) break;
    s = rest;
  }
  s = s.replace(/\s*[.,;]$/, '').trim();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer and parser

type Tok = { k: 'num'; v: number; int: boolean; f: boolean } | { k: 'var'; name: string } | { k: 'cmd'; name: string } | { k: 'op'; v: string };

const GREEK = new Set([
  'alpha',
  'beta',
  'gamma',
  'delta',
  'epsilon',
  'varepsilon',
  'zeta',
  'eta',
  'theta',
  'vartheta',
  'iota',
  'kappa',
  'lambda',
  'mu',
  'nu',
  'xi',
  'rho',
  'sigma',
  'tau',
  'upsilon',
  'phi',
  'varphi',
  'chi',
  'psi',
  'omega',
  'Gamma',
  'Delta',
  'Theta',
  'Lambda',
  'Xi',
  'Sigma',
  'Phi',
  'Psi',
  'Omega',
]);
const FUNCS = new Set(['sin', 'cos', 'tan', 'sec', 'csc', 'cot', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'tanh', 'ln', 'log', 'exp']);
/** Relation commands and their canonical operator. */
const REL_CMDS: Record<string, string> = {
  le: '<=',
  leq: '<=',
  leqslant: '<=',
  ge: '>=',
  geq: '>=',
  geqslant: '>=',
  lt: '<',
  gt: '>',
  ne: '!=',
  neq: '!=',
  approx: '~',
};
/** Operators the parser does not evaluate: an answer using them is compared as text. */
const UNSUPPORTED = new Set(['sum', 'prod', 'int', 'iint', 'oint', 'lim', 'limsup', 'liminf', 'max', 'min', 'sup', 'inf']);
/** Commands the parser knows; any other `\name` is read as a symbol (`\zzz`, `\dots`). */
const KNOWN_CMDS = new Set([
  'frac',
  'binom',
  'sqrt',
  'pi',
  'infty',
  'cdot',
  'times',
  'ast',
  'div',
  'pm',
  'mp',
  'cup',
  'langle',
  'rangle',
  'matbegin',
  'matend',
]);

class ParseError extends Error {}

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  // Short letter runs are products of variables inside formulas, words elsewhere ("yes").
  const mathContext = /[\d\\^_=+*/]/.test(s) && !/(^|[^\\a-zA-Z])[a-zA-Z]{2,}\s+[a-zA-Z]{2,}/.test(s);
  let i = 0;
  const subscript = (): string => {
    // after a name: _x or _{…}
    if (s[i] !== '_') return '';
    i++;
    if (s[i] === '{') {
      const end = groupEnd(s, i);
      if (end < 0) throw new ParseError('bad subscript');
      const sub = s.slice(i + 1, end - 1).replace(/\s+/g, '');
      i = end;
      return `_${sub}`;
    }
    const c = s[i++];
    if (c === undefined) throw new ParseError('bad subscript');
    return `_${c}`;
  };
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    const num = /^(\d+\.?\d*|\.\d+)/.exec(s.slice(i, i + 400));
    if (num) {
      i += num[0].length;
      if (s[i] === '_') {
        toks.push({ k: 'var', name: num[0] + subscript() }); // a numeral in a base, 204_5
        continue;
      }
      toks.push({ k: 'num', v: Number(num[0]), int: /^\d+$/.test(num[0]), f: /\./.test(num[0]) && !/\.$/.test(num[0]) });
      continue;
    }
    if (c === '\\') {
      if (s[i + 1] === '\\') {
        toks.push({ k: 'op', v: '\\\\' });
        i += 2;
        continue;
      }
      const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i, i + 40));
      if (!m) throw new ParseError('lone backslash');
      i += m[0].length;
      const name = m[1]!;
      if (name === '{' || name === '}') {
        toks.push({ k: 'op', v: `\\${name}` });
        continue;
      }
      if (name === 'rowsep') {
        if (toks[toks.length - 1]?.k !== 'op' || (toks[toks.length - 1] as { v: string }).v !== '\\\\') toks.push({ k: 'op', v: '\\\\' });
        continue;
      }
      if (REL_CMDS[name]) {
        toks.push({ k: 'op', v: REL_CMDS[name]! });
        continue;
      }
      if (UNSUPPORTED.has(name)) throw new ParseError(`unsupported \\${name}`);
      if (GREEK.has(name) || !(KNOWN_CMDS.has(name) || FUNCS.has(name))) {
        toks.push({ k: 'var', name: `\\${name}${subscript()}` });
        continue;
      }
      toks.push({ k: 'cmd', name });
      continue;
    }
    if (/[a-zA-Z]/.test(c)) {
      const m = /^[a-zA-Z]+/.exec(s.slice(i, i + 200))!;
      i += m[0].length;
      const w = m[0];
      if (w.length === 1) {
        toks.push({ k: 'var', name: w + subscript() });
        continue;
      }
      if (FUNCS.has(w) || w === 'sqrt' || w === 'pi' || w === 'infty' || w === 'inf') {
        toks.push({ k: 'cmd', name: w === 'inf' ? 'infty' : w });
        continue;
      }
      if (/^[A-Z]{2,3}$/.test(w) || (w.length <= 4 && mathContext)) {
        for (const ch of w) toks.push({ k: 'var', name: ch }); // AB, CD (segments), xy in \frac{x+y}{xy}: products
        continue;
      }
      throw new ParseError(`word ${w}`); // text answer, compared as text
    }
    const two = s.slice(i, i + 2);
    if (two === '<=' || two === '>=' || two === '!=' || two === '==') {
      toks.push({ k: 'op', v: two === '==' ? '=' : two });
      i += 2;
      continue;
    }
    if ('+-*/^()[]{},=!|_<>&'.includes(c)) {
      if (c === '*' && s[i + 1] === '*') {
        toks.push({ k: 'op', v: '^' });
        i += 2;
        continue;
      }
      toks.push({ k: 'op', v: c });
      i++;
      continue;
    }
    throw new ParseError(`unexpected ${c}`);
  }
  return toks;
}

const CLOSERS: Record<string, string[]> = { '(': [')', ']'], '[': [']', ')'], '\\{': ['\\}'] };
const REL_OPS = new Set(['=', '<', '<=', '>', '>=', '!=', '~']);

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(o = 0): Tok | undefined {
    return this.toks[this.i + o];
  }
  private isOp(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t !== undefined && t.k === 'op' && t.v === v;
  }
  private isCmd(name: string, o = 0): boolean {
    const t = this.peek(o);
    return t !== undefined && t.k === 'cmd' && t.name === name;
  }
  private expectOp(v: string): void {
    if (!this.isOp(v)) throw new ParseError(`expected ${v}`);
    this.i++;
  }

  parseAll(): MathNode {
    const node = this.parseList();
    if (this.i !== this.toks.length) throw new ParseError('trailing input');
    return node;
  }

  /** item (',' item)* at top level → list when there are commas. */
  private parseList(): MathNode {
    const items = [this.parseRelation()];
    while (this.isOp(',')) {
      this.i++;
      items.push(this.parseRelation());
    }
    return items.length === 1 ? items[0]! : { t: 'list', items };
  }

  private parseRelation(): MathNode {
    if (++this.depth > 60) throw new ParseError('too deep');
    const items = [this.parseUnion()];
    const ops: string[] = [];
    for (;;) {
      const t = this.peek();
      if (t?.k !== 'op' || !REL_OPS.has(t.v)) break;
      this.i++;
      ops.push(t.v);
      items.push(this.parseUnion());
    }
    this.depth--;
    return ops.length === 0 ? items[0]! : { t: 'rel', ops, items };
  }

  private parseUnion(): MathNode {
    const items = [this.parseExpr()];
    while (this.isCmd('cup')) {
      this.i++;
      items.push(this.parseExpr());
    }
    return items.length === 1 ? items[0]! : { t: 'union', items };
  }

  /** Sums; `a \pm b` gives the list of both values. */
  private parseExpr(): MathNode {
    let alts: MathNode[];
    if (this.isCmd('pm') || this.isCmd('mp')) {
      this.i++; // \pm 2021: both signs
      const b = this.parseTerm();
      alts = [b, { t: 'neg', a: b }];
    } else alts = [this.parseTerm()];
    for (;;) {
      if (this.isOp('+') || this.isOp('-')) {
        const op = (this.peek() as { v: '+' | '-' }).v;
        this.i++;
        const b = this.parseTerm();
        alts = alts.map((a) => ({ t: 'bin', op, a, b }));
      } else if (this.isCmd('pm') || this.isCmd('mp')) {
        this.i++;
        const b = this.parseTerm();
        if (alts.length > 8) throw new ParseError('too many \\pm');
        alts = alts.flatMap((a): MathNode[] => [
          { t: 'bin', op: '+', a, b },
          { t: 'bin', op: '-', a, b },
        ]);
      } else return alts.length === 1 ? alts[0]! : { t: 'list', items: alts };
    }
  }

  private startsImplicitFactor(): boolean {
    const t = this.peek();
    if (!t) return false;
    if (t.k === 'var') return true;
    if (t.k === 'cmd') return ['frac', 'sqrt', 'binom', 'pi', 'infty', 'matbegin'].includes(t.name) || FUNCS.has(t.name);
    if (t.k === 'op') return t.v === '(' || t.v === '{';
    return false; // a number after a factor ("2 3") is not a product
  }

  private parseTerm(): MathNode {
    let node = this.parseUnary();
    for (;;) {
      const t = this.peek();
      let op: '*' | '/' | null = null;
      if (t?.k === 'op' && (t.v === '*' || t.v === '/')) op = t.v;
      else if (t?.k === 'cmd' && (t.name === 'cdot' || t.name === 'times' || t.name === 'ast')) op = '*';
      else if (t?.k === 'cmd' && t.name === 'div') op = '/';
      if (op) {
        this.i++;
        node = { t: 'bin', op, a: node, b: this.parseUnary() };
      } else if (this.startsImplicitFactor()) {
        node = { t: 'bin', op: '*', a: node, b: this.parsePower() };
      } else return node;
    }
  }

  private parseUnary(): MathNode {
    if (this.isOp('-')) {
      this.i++;
      return { t: 'neg', a: this.parseUnary() };
    }
    if (this.isOp('+')) {
      this.i++;
      return this.parseUnary();
    }
    return this.parsePower();
  }

  private parsePower(): MathNode {
    if (++this.depth > 60) throw new ParseError('too deep');
    const base = this.parsePostfix();
    let node = base;
    if (this.isOp('^')) {
      this.i++;
      node = { t: 'bin', op: '^', a: base, b: this.parseUnary() };
    }
    this.depth--;
    return node;
  }

  private parsePostfix(): MathNode {
    let node = this.parsePrimary();
    while (this.isOp('!')) {
      this.i++;
      node = { t: 'fn', name: 'factorial', args: [node] };
    }
    return node;
  }

  private parseGroup(): MathNode {
    if (++this.depth > 60) throw new ParseError('too deep');
    this.expectOp('{');
    const node = this.parseList();
    this.expectOp('}');
    this.depth--;
    return node;
  }

  /** A mixed number 4\frac{2}{3}: integer, then \frac of two integer literals. */
  private mixedFraction(): { num: number; den: number } | null {
    const lit = (o: number) => {
      const t = this.peek(o);
      return t?.k === 'num' && t.int ? t.v : null;
    };
    if (!this.isCmd('frac') || !this.isOp('{', 1) || !this.isOp('}', 3) || !this.isOp('{', 4) || !this.isOp('}', 6)) return null;
    const num = lit(2),
      den = lit(5);
    if (num === null || den === null) return null;
    return { num, den };
  }

  /** `\matbegin a & b \\ c & d \matend` (a trailing `\\` is allowed). */
  private parseMatrix(): MathNode {
    const rows: MathNode[][] = [];
    let row: MathNode[] = [];
    for (;;) {
      if (this.isCmd('matend')) {
        this.i++;
        if (row.length > 0) rows.push(row);
        break;
      }
      row.push(this.parseRelation());
      if (this.isOp('&')) this.i++;
      else if (this.isOp('\\\\')) {
        this.i++;
        rows.push(row);
        row = [];
      } else if (!this.isCmd('matend')) throw new ParseError('bad matrix');
    }
    if (rows.length === 0 || rows.some((r) => r.length !== rows[0]!.length)) throw new ParseError('ragged matrix');
    return { t: 'matrix', rows };
  }

  private parsePrimary(): MathNode {
    const t = this.peek();
    if (!t) throw new ParseError('unexpected end');
    this.i++;
    if (t.k === 'num') {
      if (t.int) {
        const mixed = this.mixedFraction();
        if (mixed) {
          this.i += 7;
          return { t: 'bin', op: '+', a: { t: 'num', v: t.v }, b: { t: 'bin', op: '/', a: { t: 'num', v: mixed.num }, b: { t: 'num', v: mixed.den } } };
        }
      }
      return t.f ? { t: 'num', v: t.v, f: true } : { t: 'num', v: t.v };
    }
    if (t.k === 'var') return { t: 'var', name: t.name };
    if (t.k === 'op') {
      if (t.v === '{') {
        this.i--;
        return this.parseGroup();
      }
      if (t.v === '(' || t.v === '[' || t.v === '\\{') {
        if (++this.depth > 60) throw new ParseError('too deep');
        const items = [this.parseRelation()];
        while (this.isOp(',')) {
          this.i++;
          items.push(this.parseRelation());
        }
        const close = this.peek();
        if (close?.k !== 'op' || !CLOSERS[t.v]!.includes(close.v)) throw new ParseError('unclosed bracket');
        this.i++;
        this.depth--;
        if (items.length === 1 && t.v !== '\\{' && ((t.v === '(' && close.v === ')') || (t.v === '[' && close.v === ']'))) {
          return items[0]!; // plain grouping
        }
        return { t: 'tuple', open: t.v, close: close.v, items };
      }
      if (t.v === '|') {
        const inner = this.parseExpr();
        this.expectOp('|');
        return { t: 'fn', name: 'abs', args: [inner] };
      }
      throw new ParseError(`unexpected ${t.v}`);
    }
    // commands
    switch (t.name) {
      case 'pi':
        return { t: 'num', v: Math.PI };
      case 'infty':
        return { t: 'num', v: Infinity };
      case 'matbegin':
        return this.parseMatrix();
      case 'frac':
        return { t: 'bin', op: '/', a: this.parseGroup(), b: this.parseGroup() };
      case 'binom':
        return { t: 'fn', name: 'binom', args: [this.parseGroup(), this.parseGroup()] };
      case 'sqrt': {
        let index: MathNode | null = null;
        if (this.isOp('[')) {
          this.i++;
          index = this.parseExpr();
          this.expectOp(']');
        }
        const arg = this.isOp('{') ? this.parseGroup() : this.parsePostfix();
        return index ? { t: 'fn', name: 'root', args: [arg, index] } : { t: 'fn', name: 'sqrt', args: [arg] };
      }
      case 'langle': {
        const items = [this.parseRelation()];
        while (this.isOp(',')) {
          this.i++;
          items.push(this.parseRelation());
        }
        if (!this.isCmd('rangle')) throw new ParseError('unclosed langle');
        this.i++;
        return { t: 'tuple', open: '(', close: ')', items };
      }
    }
    if (FUNCS.has(t.name)) {
      let base: MathNode | null = null;
      if (t.name === 'log' && this.isOp('_')) {
        this.i++;
        base = this.isOp('{') ? this.parseGroup() : this.parsePrimary();
      }
      let power: MathNode | null = null;
      if (this.isOp('^')) {
        this.i++;
        power = this.isOp('{') ? this.parseGroup() : this.parsePrimary();
      }
      const arg = this.parsePower();
      let node: MathNode = base ? { t: 'fn', name: 'logb', args: [arg, base] } : { t: 'fn', name: t.name, args: [arg] };
      if (power) node = { t: 'bin', op: '^', a: node, b: power };
      return node;
    }
    throw new ParseError(`unsupported \\${t.name}`);
  }
}

/** Parse a normalised answer, or null when it is not (supported) math. */
export function parseAnswer(normalized: string): MathNode | null {
  if (normalized.length === 0 || normalized.length > 2000) return null;
  try {
    return new Parser(tokenize(normalized)).parseAll();
  } catch (e) {
    if (e instanceof ParseError) return null;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function factorial(n: number): number {
  if (!Number.isInteger(n) || n < 0) return NaN;
  if (n > 170) return Infinity;
  let r = 1;
  for (let k = 2; k <= n; k++) r *= k;
  return r;
}

function binom(n: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 0 || n < 0 || k > n || k > 1000) return NaN;
  let r = 1;
  for (let j = 1; j <= k; j++) r = (r * (n - k + j)) / j;
  return Math.round(r);
}

const UNARY: Record<string, (x: number) => number> = {
  sqrt: Math.sqrt,
  abs: Math.abs,
  factorial,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  sec: (x) => 1 / Math.cos(x),
  csc: (x) => 1 / Math.sin(x),
  cot: (x) => 1 / Math.tan(x),
  arcsin: Math.asin,
  arccos: Math.acos,
  arctan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  ln: Math.log,
  log: Math.log10,
  exp: Math.exp,
};

function evaluate(node: MathNode, env: Map<string, number>): number {
  switch (node.t) {
    case 'num':
      return node.v;
    case 'var':
      return env.get(node.name) ?? NaN;
    case 'neg':
      return -evaluate(node.a, env);
    case 'bin': {
      const a = evaluate(node.a, env),
        b = evaluate(node.b, env);
      switch (node.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          return a / b;
        case '^':
          return a ** b; // 10^{10^{10}} is Infinity, not a hang
      }
      break;
    }
    case 'fn': {
      const x = evaluate(node.args[0]!, env);
      if (node.name === 'root') {
        const n = evaluate(node.args[1]!, env);
        return x < 0 && Number.isInteger(n) && n % 2 === 1 ? -((-x) ** (1 / n)) : x ** (1 / n);
      }
      if (node.name === 'binom') return binom(x, evaluate(node.args[1]!, env));
      if (node.name === 'logb') return Math.log(x) / Math.log(evaluate(node.args[1]!, env));
      return UNARY[node.name]?.(x) ?? NaN;
    }
  }
  return NaN; // tuples, lists, relations have no scalar value
}

function collectVars(node: MathNode, out: Set<string>): Set<string> {
  switch (node.t) {
    case 'var':
      out.add(node.name);
      break;
    case 'neg':
      collectVars(node.a, out);
      break;
    case 'bin':
      collectVars(node.a, out);
      collectVars(node.b, out);
      break;
    case 'fn':
      for (const a of node.args) collectVars(a, out);
      break;
    case 'tuple':
    case 'list':
    case 'union':
    case 'rel':
      for (const a of node.items) collectVars(a, out);
      break;
    case 'matrix':
      for (const r of node.rows) for (const a of r) collectVars(a, out);
      break;
  }
  return out;
}

function hasFloat(node: MathNode): boolean {
  switch (node.t) {
    case 'num':
      return node.f === true;
    case 'neg':
      return hasFloat(node.a);
    case 'bin':
      return hasFloat(node.a) || hasFloat(node.b);
    case 'fn':
      return node.args.some(hasFloat);
    default:
      return false;
  }
}

const isScalar = (n: MathNode) => n.t === 'num' || n.t === 'var' || n.t === 'neg' || n.t === 'bin' || n.t === 'fn';

// ---------------------------------------------------------------------------------------------
// Symbolic normal form: rational functions with numeric coefficients over variables and opaque
// atoms (sin(…), non-integer powers of expressions with variables). Differences simplify exactly
// for polynomial and rational expressions; other expressions fall back to sample points.

type Poly = Map<string, { pow: Map<string, number>; c: number }>;
type Rat = { num: Poly; den: Poly; opaque: boolean };

class TooBig extends Error {}
const MAX_TERMS = 200;

const monoKey = (pow: Map<string, number>) =>
  [...pow.entries()]
    .filter(([, e]) => e !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([a, e]) => `${a}^${e}`)
    .join('*');

function constPoly(c: number): Poly {
  return c === 0 ? new Map() : new Map([['', { pow: new Map(), c }]]);
}

function addPoly(a: Poly, b: Poly, sign = 1): Poly {
  const out: Poly = new Map([...a].map(([k, v]) => [k, { pow: v.pow, c: v.c }]));
  for (const [k, v] of b) {
    const e = out.get(k);
    if (e) e.c += sign * v.c;
    else out.set(k, { pow: v.pow, c: sign * v.c });
  }
  if (out.size > MAX_TERMS) throw new TooBig();
  return out;
}

function mulPoly(a: Poly, b: Poly): Poly {
  const out: Poly = new Map();
  if (a.size * b.size > MAX_TERMS * 4) throw new TooBig();
  for (const x of a.values())
    for (const y of b.values()) {
      const pow = new Map(x.pow);
      for (const [v, e] of y.pow) pow.set(v, (pow.get(v) ?? 0) + e);
      const key = monoKey(pow);
      const e = out.get(key);
      if (e) e.c += x.c * y.c;
      else out.set(key, { pow, c: x.c * y.c });
    }
  if (out.size > MAX_TERMS) throw new TooBig();
  return out;
}

const ONE = () => constPoly(1);
const ratConst = (c: number): Rat => ({ num: constPoly(c), den: ONE(), opaque: false });

function ratMul(a: Rat, b: Rat): Rat {
  return { num: mulPoly(a.num, b.num), den: mulPoly(a.den, b.den), opaque: a.opaque || b.opaque };
}
function ratAdd(a: Rat, b: Rat, sign = 1): Rat {
  return {
    num: addPoly(mulPoly(a.num, b.den), mulPoly(b.num, a.den), sign),
    den: mulPoly(a.den, b.den),
    opaque: a.opaque || b.opaque,
  };
}

function polyText(p: Poly): string {
  return [...p.entries()]
    .filter(([, v]) => Math.abs(v.c) > 1e-12)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${Number(v.c.toPrecision(12))}${k ? `*${k}` : ''}`)
    .join('+');
}

function atom(name: string, opaque: boolean): Rat {
  const pow = new Map([[name, 1]]);
  return { num: new Map([[monoKey(pow), { pow, c: 1 }]]), den: ONE(), opaque };
}

function toRat(node: MathNode, hasVars: (n: MathNode) => boolean): Rat {
  if (!hasVars(node)) {
    const v = evaluate(node, new Map());
    if (!Number.isFinite(v)) throw new TooBig();
    return ratConst(v);
  }
  switch (node.t) {
    case 'var':
      return atom(node.name, false);
    case 'neg':
      return ratMul(ratConst(-1), toRat(node.a, hasVars));
    case 'bin': {
      const a = toRat(node.a, hasVars);
      if (node.op === '^') {
        const e = hasVars(node.b) ? NaN : evaluate(node.b, new Map());
        if (Number.isInteger(e) && Math.abs(e) <= 12) {
          let r = ratConst(1);
          for (let k = 0; k < Math.abs(e); k++) r = ratMul(r, a);
          return e < 0 ? { num: r.den, den: r.num, opaque: r.opaque } : r;
        }
        const b = toRat(node.b, hasVars);
        return atom(`pow(${polyText(a.num)}/${polyText(a.den)},${polyText(b.num)}/${polyText(b.den)})`, true);
      }
      const b = toRat(node.b, hasVars);
      if (node.op === '+') return ratAdd(a, b);
      if (node.op === '-') return ratAdd(a, b, -1);
      if (node.op === '*') return ratMul(a, b);
      return ratMul(a, { num: b.den, den: b.num, opaque: b.opaque });
    }
    case 'fn': {
      const args = node.args.map((x) => toRat(x, hasVars));
      return atom(`${node.name}(${args.map((r) => `${polyText(r.num)}/${polyText(r.den)}`).join(',')})`, true);
    }
  }
  throw new TooBig();
}

/** Whether a − b simplifies to 0 (true), is a nonzero rational function (false), or is unknown (null). */
function symbolicEqual(a: MathNode, b: MathNode): boolean | null {
  try {
    const hv = (n: MathNode) => collectVars(n, new Set()).size > 0;
    const ra = toRat(a, hv),
      rb = toRat(b, hv);
    const d = addPoly(mulPoly(ra.num, rb.den), mulPoly(rb.num, ra.den), -1);
    let scale = 0;
    for (const p of [mulPoly(ra.num, rb.den), mulPoly(rb.num, ra.den)]) for (const v of p.values()) scale = Math.max(scale, Math.abs(v.c));
    const zero = [...d.values()].every((v) => Math.abs(v.c) <= 1e-9 * Math.max(1, scale));
    if (zero) return true;
    return ra.opaque || rb.opaque ? null : false;
  } catch (e) {
    if (e instanceof TooBig) return null;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Comparison (gold side first: some rules are one-way, as in TRL's verifier)

/** Digits kept when a decimal literal is involved (Math-Verify's float_rounding = 6). */
const FLOAT_ROUNDING = 6;
/** Relative tolerance for exact values: 109200000 ≠ 109200001, 12.70 ≠ 12.8. */
const REL_TOL = 1e-9;

function roundTo(v: number, digits: number): number {
  if (Math.abs(v) >= 1e12) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Numbers are equal exactly (relative 1e-9), or after rounding to 6 decimals when either was written with a decimal point. */
function numbersEqual(x: number, y: number, float: boolean): boolean {
  if (Number.isNaN(x) || Number.isNaN(y)) return false;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  if (float) {
    const rx = roundTo(x, FLOAT_ROUNDING),
      ry = roundTo(y, FLOAT_ROUNDING);
    return Math.abs(rx - ry) <= 1e-12 * Math.max(1, Math.abs(x));
  }
  return Math.abs(x - y) <= REL_TOL * Math.max(1, Math.abs(x), Math.abs(y));
}

// Fixed, non-special sample points for expressions with free variables (deterministic grading).
const SAMPLES = [0.7317, 1.3849, 2.2163, 0.4271, 3.0587, 1.9123];

function sampleEnv(vars: string[], s: number): Map<string, number> {
  return new Map(vars.map((v, k) => [v, SAMPLES[(s + k * 2) % SAMPLES.length]! + 0.1 * k] as const));
}

function scalarsEqual(a: MathNode, b: MathNode): boolean {
  const vars = [...collectVars(b, collectVars(a, new Set()))];
  if (vars.length === 0) return numbersEqual(evaluate(a, new Map()), evaluate(b, new Map()), hasFloat(a) || hasFloat(b));
  const sym = symbolicEqual(a, b);
  if (sym !== null) return sym;
  let finite = 0;
  for (let s = 0; s < SAMPLES.length; s++) {
    const env = sampleEnv(vars, s);
    const x = evaluate(a, env),
      y = evaluate(b, env);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (!numbersEqual(x, y, true) && Math.abs(x - y) > 1e-8 * Math.max(1, Math.abs(x))) return false;
    if (Number.isFinite(x)) finite++;
  }
  return finite > 0;
}

/** A name on the left of an assignment: x, AB, f(x), x_1, (p,q). */
function isName(n: MathNode): boolean {
  if (n.t === 'var') return true;
  if (n.t === 'bin' && n.op === '*') return isName(n.a) && isName(n.b);
  if (n.t === 'tuple' && n.open === '(') return n.items.every(isName);
  return false;
}

/** name = value with a name on the left (x = 5, (p,q) = (3,2), AB = 4). */
function isAssignment(n: Extract<MathNode, { t: 'rel' }>): boolean {
  return n.ops.length === 1 && n.ops[0] === '=' && isName(n.items[0]!);
}

/**
 * The answer a relation chain states: a = b = … = z gives z; `x = 1/3 ≈ 0.33` gives x = 1/3 (the
 * part before ≈ unless that is a bare name); other relations are kept (assignments are read in
 * nodesEqual, where the other side is known).
 */
function reduceRelation(n: Extract<MathNode, { t: 'rel' }>): MathNode {
  let { ops, items } = n;
  const k = ops.indexOf('~');
  if (k >= 0) {
    if (k === 0 && isName(items[0]!)) {
      items = items.slice(1);
      ops = ops.slice(1);
      const k2 = ops.indexOf('~');
      if (k2 >= 0) (items = items.slice(0, k2 + 1)), (ops = ops.slice(0, k2));
    } else {
      items = items.slice(0, k + 1);
      ops = ops.slice(0, k);
    }
  }
  if (ops.length === 0) return items[0]!;
  if (ops.length >= 2 && ops.every((o) => o === '=')) return items[items.length - 1]!;
  return { t: 'rel', ops, items };
}

/** Matrix arithmetic with matrices of the same shape (+, −) or compatible shapes (·), entry-wise nodes. */
function foldMatrix(n: MathNode): MathNode {
  if (n.t !== 'bin') return n;
  const a = foldMatrix(n.a),
    b = foldMatrix(n.b);
  if (a.t === 'matrix' && b.t === 'matrix') {
    const ra = a.rows.length,
      ca = a.rows[0]!.length,
      cb = b.rows[0]!.length;
    if ((n.op === '+' || n.op === '-') && ra === b.rows.length && ca === cb)
      return { t: 'matrix', rows: a.rows.map((r, i) => r.map((x, j) => ({ t: 'bin', op: n.op, a: x, b: b.rows[i]![j]! }) as MathNode)) };
    if (n.op === '*' && ca === b.rows.length) {
      return {
        t: 'matrix',
        rows: a.rows.map((r) =>
          Array.from({ length: cb }, (_, j) =>
            r.map((x, k): MathNode => ({ t: 'bin', op: '*', a: x, b: b.rows[k]![j]! })).reduce((s, x): MathNode => ({ t: 'bin', op: '+', a: s, b: x })),
          ),
        ),
      };
    }
  }
  if (n.op === '*' && isScalar(a) && b.t === 'matrix')
    return { t: 'matrix', rows: b.rows.map((r) => r.map((x): MathNode => ({ t: 'bin', op: '*', a, b: x }))) };
  return a === n.a && b === n.b ? n : { ...n, a, b };
}

/** Canonical form before comparison: relations reduced, \pm lists flattened, matrix sums folded. */
function reduce(n: MathNode, depth = 0): MathNode {
  if (depth > 40) return n;
  switch (n.t) {
    case 'rel': {
      const r = reduceRelation(n);
      return r.t === 'rel' ? { t: 'rel', ops: r.ops, items: r.items.map((x) => reduce(x, depth + 1)) } : reduce(r, depth + 1);
    }
    case 'list': {
      const items = n.items.map((x) => reduce(x, depth + 1)).flatMap((x) => (x.t === 'list' ? x.items : [x]));
      return items.length === 1 ? items[0]! : { t: 'list', items };
    }
    case 'tuple': {
      const items = n.items.map((x) => reduce(x, depth + 1));
      return { ...n, items: n.open === '\\{' ? items.flatMap((x) => (x.t === 'list' ? x.items : [x])) : items };
    }
    case 'union':
      return { t: 'union', items: n.items.map((x) => reduce(x, depth + 1)) };
    case 'matrix':
      return { t: 'matrix', rows: n.rows.map((r) => r.map((x) => reduce(x, depth + 1))) };
    case 'bin':
      return n.op === '+' || n.op === '-' || n.op === '*' ? foldMatrix(n) : n;
    default:
      return n;
  }
}

function multisetEqual(gs: MathNode[], ps: MathNode[]): boolean {
  if (gs.length !== ps.length) return false;
  const used = new Array<boolean>(ps.length).fill(false);
  for (const g of gs) {
    const k = ps.findIndex((p, j) => !used[j] && nodesEqual(g, p));
    if (k < 0) return false;
    used[k] = true;
  }
  return true;
}

function orderedEqual(gs: MathNode[], ps: MathNode[]): boolean {
  return gs.length === ps.length && gs.every((g, k) => nodesEqual(g, ps[k]!));
}

const FLIP: Record<string, string> = { '<': '>', '>': '<', '<=': '>=', '>=': '<=', '=': '=', '!=': '!=' };

/** a op b as (difference d, op) with op among = != < <=: d op 0. */
function relForm(a: MathNode, op: string, b: MathNode): { d: MathNode; op: string } {
  if (op === '>' || op === '>=') return { d: { t: 'bin', op: '-', a: b, b: a }, op: FLIP[op]! };
  return { d: { t: 'bin', op: '-', a, b }, op };
}

/** d1 = k·d2 for a constant k (k > 0 for inequalities): the same relation, rescaled. */
function proportional(d1: MathNode, d2: MathNode, positive: boolean): boolean {
  if (symbolicEqual(d1, d2) === true) return true;
  if (!positive && symbolicEqual(d1, { t: 'neg', a: d2 }) === true) return true;
  const vars = [...collectVars(d2, collectVars(d1, new Set()))];
  if (vars.length === 0) return false;
  let k: number | null = null;
  for (let s = 0; s < SAMPLES.length; s++) {
    const env = sampleEnv(vars, s);
    const x = evaluate(d1, env),
      y = evaluate(d2, env);
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (Math.abs(y) < 1e-12) {
      if (Math.abs(x) > 1e-9) return false;
      continue;
    }
    const r = x / y;
    if (k === null) k = r;
    else if (Math.abs(r - k) > 1e-8 * Math.max(1, Math.abs(k))) return false;
  }
  return k !== null && Math.abs(k) > 1e-12 && (!positive || k > 0);
}

function relationsEqual(g: Extract<MathNode, { t: 'rel' }>, p: Extract<MathNode, { t: 'rel' }>): boolean {
  if (g.items.length !== p.items.length) return false;
  if (g.items.length === 2) {
    const a = relForm(g.items[0]!, g.ops[0]!, g.items[1]!),
      b = relForm(p.items[0]!, p.ops[0]!, p.items[1]!);
    return a.op === b.op && proportional(a.d, b.d, a.op !== '=' && a.op !== '!=');
  }
  if (orderedEqual(g.items, p.items) && g.ops.every((o, k) => o === p.ops[k])) return true;
  const rev = [...p.items].reverse();
  return orderedEqual(g.items, rev) && g.ops.every((o, k) => o === FLIP[p.ops[p.ops.length - 1 - k]!]);
}

/** The interval a relation on one variable describes (x < 5 → (-∞, 5); -2 ≤ x ≤ 7 → [-2, 7]), or null. */
function relationToInterval(r: Extract<MathNode, { t: 'rel' }>): MathNode | null {
  const constant = (n: MathNode) => collectVars(n, new Set()).size === 0;
  const inf: MathNode = { t: 'num', v: Infinity };
  const ninf: MathNode = { t: 'num', v: -Infinity };
  const iv = (lo: MathNode, loOpen: boolean, hi: MathNode, hiOpen: boolean): MathNode => ({
    t: 'tuple',
    open: loOpen ? '(' : '[',
    close: hiOpen ? ')' : ']',
    items: [lo, hi],
  });
  if (r.items.length === 2) {
    let [a, b] = r.items as [MathNode, MathNode];
    let op = r.ops[0]!;
    if (constant(a) && !constant(b)) [a, b, op] = [b, a, FLIP[op]!];
    if (constant(a) || !constant(b)) return null;
    if (op === '<' || op === '<=') return iv(ninf, true, b, op === '<');
    if (op === '>' || op === '>=') return iv(b, op === '>', inf, true);
    return null;
  }
  if (r.items.length === 3) {
    const [lo, , hi] = r.items as [MathNode, MathNode, MathNode];
    const [o1, o2] = r.ops as [string, string];
    if (!constant(lo) || !constant(hi) || constant(r.items[1]!)) return null;
    if ((o1 === '<' || o1 === '<=') && (o2 === '<' || o2 === '<=')) return iv(lo, o1 === '<', hi, o2 === '<');
    if ((o1 === '>' || o1 === '>=') && (o2 === '>' || o2 === '>=')) return iv(hi, o2 === '>', lo, o1 === '>');
  }
  return null;
}

const isSetLike = (n: MathNode) => n.t === 'union' || (n.t === 'tuple' && n.items.length === 2 && n.open !== '\\{');

/** Structural/numeric equivalence of a parsed gold `g` and a parsed prediction `p`. */
function nodesEqual(g0: MathNode, p0: MathNode): boolean {
  let g = reduce(g0),
    p = reduce(p0);
  if (g.t === 'rel' && p.t === 'rel') {
    if (relationsEqual(g, p)) return true;
    // x = 5 against y = 5: the stated values
    if (!isAssignment(g) || !isAssignment(p)) return false;
    return nodesEqual(g.items[1]!, p.items[1]!);
  }
  // a gold "k = 1" states 1; a predicted "… = v" states v (Math-Verify reads the right-hand side)
  if (g.t === 'rel' && isAssignment(g) && p.t !== 'rel') g = g.items[1]!;
  else if (p.t === 'rel' && p.ops.length === 1 && p.ops[0] === '=' && g.t !== 'rel') p = p.items[1]!;
  if (isScalar(g) && isScalar(p)) return scalarsEqual(g, p);
  if (g.t === 'rel' && isSetLike(p)) {
    const iv = relationToInterval(g);
    return iv !== null && nodesEqual(iv, p);
  }
  if (g.t === 'tuple' && p.t === 'tuple') {
    if (g.open === '\\{' && p.open === '\\{') return multisetEqual(g.items, p.items);
    if (g.open !== p.open || g.close !== p.close) return false;
    return orderedEqual(g.items, p.items);
  }
  if (g.t === 'list' && p.t === 'list') return multisetEqual(g.items, p.items);
  if (g.t === 'tuple' && g.open === '\\{' && p.t === 'list') return multisetEqual(g.items, p.items);
  if (p.t === 'tuple' && p.open === '\\{' && g.t === 'list') return multisetEqual(g.items, p.items);
  // "3, 4" against "(3, 4)": same items in the same order
  if (g.t === 'list' && p.t === 'tuple' && p.open === '(' && p.close === ')') return orderedEqual(g.items, p.items);
  if (p.t === 'list' && g.t === 'tuple' && g.open === '(' && g.close === ')') return orderedEqual(g.items, p.items);
  if (g.t === 'union' && p.t === 'union') return multisetEqual(g.items, p.items);
  if (g.t === 'matrix' && p.t === 'matrix') {
    return g.rows.length === p.rows.length && g.rows.every((r, i) => orderedEqual(r, p.rows[i]!));
  }
  return false;
}

/** Longer answers are not normalised or parsed, only compared verbatim. */
const MAX_ANSWER_CHARS = 1000;

/** Case-folded text with spacing, braces and a trailing period removed (for non-math answers). */
function textKey(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\s{}()]/g, '')
    .replace(/\\/g, '')
    .replace(/\.$/, '');
}

/** The verdict and its reason (for `webgrpo reward --explain`). */
export type Judgement = { equal: boolean; gold: string; answer: string; how: string };

/**
 * Whether `answer` states the same final answer as `gold` (both already extracted), with a reason.
 * Numbers compare exactly, or after rounding to 6 decimals when either is written with a decimal
 * point; expressions compare by simplifying the difference (rational functions), else at sample
 * points; relations, sets, intervals, tuples and matrices structurally.
 */
export function judgeAnswers(answer: string, gold: string): Judgement {
  if (answer.length > MAX_ANSWER_CHARS || gold.length > MAX_ANSWER_CHARS) {
    const equal = answer.trim() === gold.trim();
    return { equal, gold, answer, how: 'over 1000 characters: compared verbatim' };
  }
  const na = normalizeAnswer(answer),
    ng = normalizeAnswer(gold);
  if (na.length === 0 || ng.length === 0) return { equal: false, gold: ng, answer: na, how: 'empty after normalisation' };
  const pa = parseAnswer(na),
    pg = parseAnswer(ng);
  if (pa && pg) {
    const equal = nodesEqual(pg, pa);
    return { equal, gold: ng, answer: na, how: `parsed both sides: ${equal ? 'equivalent' : 'not equivalent'} as ${describe(reduce(pg))}` };
  }
  if (na === ng) return { equal: true, gold: ng, answer: na, how: 'same text after normalisation' };
  const equal = textKey(na) === textKey(ng);
  return { equal, gold: ng, answer: na, how: `${pg ? 'answer' : 'gold'} is not math: compared as text` };
}

function describe(n: MathNode): string {
  switch (n.t) {
    case 'rel':
      return 'relations';
    case 'tuple':
      return n.open === '\\{' ? 'sets' : n.items.length === 2 ? 'intervals/tuples' : 'tuples';
    case 'list':
      return 'several answers (any order)';
    case 'union':
      return 'unions of intervals';
    case 'matrix':
      return 'matrices (entry-wise)';
    default:
      return collectVars(n, new Set()).size > 0 ? 'expressions' : 'numbers';
  }
}

/** True when `answer` and `gold` denote the same final answer (see judgeAnswers). */
export function answersEqual(answer: string, gold: string): boolean {
  return judgeAnswers(answer, gold).equal;
}
