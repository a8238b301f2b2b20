// Normalisation, parsing and equivalence of final math answers written in (a subset of) LaTeX or
// plain text (DESIGN.md §10.1). Pure string code, no eval, runs in the browser and in Node.
//
// Pipeline: normalizeAnswer() rewrites surface forms (\dfrac → \frac, \frac12 → \frac{1}{2},
// \left/\right, \text{…}, units, %, degrees, $, thousands separators, "x = …") into a canonical
// string; parseAnswer() turns that into a small AST with a recursive-descent parser; answersEqual()
// compares two ASTs structurally (tuples, intervals, sets, lists, equations) and numerically at the
// leaves (expressions with free variables are compared at several fixed sample points). Answers that
// do not parse as math (words such as "Evelyn") are compared as case-folded text.

type MathNode =
  | { t: 'num'; v: number }
  | { t: 'var'; name: string }
  | { t: 'neg'; a: MathNode }
  | { t: 'bin'; op: '+' | '-' | '*' | '/' | '^'; a: MathNode; b: MathNode }
  | { t: 'fn'; name: string; args: MathNode[] }
  /** Bracketed comma list: a point/tuple `(a,b)`, an interval `[a,b)`, or a set `\{a,b\}`. */
  | { t: 'tuple'; open: string; close: string; items: MathNode[] }
  /** Unbracketed top-level comma list, e.g. the solutions "2, -3" (compared ignoring order). */
  | { t: 'list'; items: MathNode[] }
  | { t: 'eq'; a: MathNode; b: MathNode }
  | { t: 'union'; items: MathNode[] };

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

/**
 * Canonical surface form of an answer: strips presentation (math delimiters, \left/\right, spacing,
 * \text wrappers, $, %, degrees, units, thousands separators, a trailing period, "x =" prefixes are
 * handled by the parser) while keeping the mathematical content.
 */
function normalizeAnswer(raw: string): string {
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
    .replace(/\u00a0/g, ' ');
  s = s.replace(/\\\(|\\\)|\\\[|\\\]/g, ' ');
  s = s.replace(/\\\$/g, ' ').replace(/\$/g, ' ');
  s = s.replace(/^(the\s+)?(final\s+)?answer(\s+is)?\s*[:=]?\s*/i, '');
  s = s.replace(/^[a-zA-Z]\s*\\in(?![a-zA-Z])\s*/, ''); // x \in [2, 5) → [2, 5)
  s = s.replace(/\\(left|right|bigl|bigr|Bigl|Bigr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*\.?/g, '');
  s = s.replace(/\\(displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])/g, '');
  s = s
    .replace(/\\(quad|qquad)(?![a-zA-Z])/g, ' ')
    .replace(/\\[,;:! ]/g, '')
    .replace(/~/g, ' ');
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac').replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  s = s.replace(/\\lbrace(?![a-zA-Z])/g, '\\{').replace(/\\rbrace(?![a-zA-Z])/g, '\\}');
  // Degrees and percentages: the number itself is the answer (90^\circ = 90, 10\% = 10).
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])/g, '');
  s = s.replace(/\\%|%/g, '');
  s = unwrapTextCommands(s);
  s = braceArguments(s);
  // Thousands separators 1,000 / 1{,}000 in a lone number (not inside a tuple or interval).
  s = s.replace(/\{,\}/g, ',');
  if (!/[([\]{}]|\\\{/.test(s.replace(/\\frac\{[^{}]*\}\{[^{}]*\}/g, ''))) {
    s = s.replace(/(^|[^\d.])(\d{1,3}(?:,\d{3})+)(?!\d)/g, (_, pre: string, num: string) => pre + num.replace(/,/g, ''));
  }
  s = s.replace(/\s+/g, ' ').trim();
  s = s.replace(/\s*\.$/, '').trim();
  // Trailing unit words ("5 cm", "18 dollars", "3 square feet", "10 cm^2") after a number.
  for (let guard = 0; guard < 5; guard++) {
    const m = /(^|[^A-Za-z\\])([A-Za-z]{2,})\.?\s*(?:\^\s*\{?\d\}?)?$/.exec(s);
    if (!m || MATH_WORDS.has(m[2]!)) break;
    const rest = s.slice(0, m.index + m[1]!.length).trim();
    if (!/\d/.test(rest) || /[=,]$/.test(rest)) break;
    s = rest;
  }
  s = s.replace(/\s*\.$/, '').trim();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer and parser

type Tok = { k: 'num'; v: number; int: boolean } | { k: 'var'; name: string } | { k: 'cmd'; name: string } | { k: 'op'; v: string };

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

class ParseError extends Error {}

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
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
    const num = /^(\d+\.?\d*|\.\d+)/.exec(s.slice(i));
    if (num) {
      toks.push({ k: 'num', v: Number(num[0]), int: /^\d+$/.test(num[0]) });
      i += num[0].length;
      continue;
    }
    if (c === '\\') {
      const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i));
      if (!m) throw new ParseError('lone backslash');
      i += m[0].length;
      const name = m[1]!;
      if (name === '{' || name === '}') {
        toks.push({ k: 'op', v: `\\${name}` });
        continue;
      }
      if (GREEK.has(name)) {
        toks.push({ k: 'var', name: `\\${name}${subscript()}` });
        continue;
      }
      toks.push({ k: 'cmd', name });
      continue;
    }
    if (/[a-zA-Z]/.test(c)) {
      const m = /^[a-zA-Z]+/.exec(s.slice(i))!;
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
      throw new ParseError(`word ${w}`); // text answer, compared as text
    }
    if ('+-*/^()[]{},=!|_'.includes(c)) {
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

class Parser {
  private i = 0;
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
    const items = [this.parseEquation()];
    while (this.isOp(',')) {
      this.i++;
      items.push(this.parseEquation());
    }
    return items.length === 1 ? items[0]! : { t: 'list', items };
  }

  private parseEquation(): MathNode {
    let node = this.parseUnion();
    while (this.isOp('=')) {
      this.i++;
      node = { t: 'eq', a: node, b: this.parseUnion() };
    }
    return node;
  }

  private parseUnion(): MathNode {
    const items = [this.parseExpr()];
    while (this.isCmd('cup')) {
      this.i++;
      items.push(this.parseExpr());
    }
    return items.length === 1 ? items[0]! : { t: 'union', items };
  }

  private parseExpr(): MathNode {
    let node = this.parseTerm();
    for (;;) {
      if (this.isOp('+') || this.isOp('-')) {
        const op = (this.peek() as { v: '+' | '-' }).v;
        this.i++;
        node = { t: 'bin', op, a: node, b: this.parseTerm() };
      } else if (this.isCmd('pm') || this.isCmd('mp')) {
        throw new ParseError('\\pm');
      } else return node;
    }
  }

  private startsImplicitFactor(): boolean {
    const t = this.peek();
    if (!t) return false;
    if (t.k === 'var') return true;
    if (t.k === 'cmd') return ['frac', 'sqrt', 'binom', 'pi', 'infty'].includes(t.name) || FUNCS.has(t.name);
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
    const base = this.parsePostfix();
    if (this.isOp('^')) {
      this.i++;
      return { t: 'bin', op: '^', a: base, b: this.parseUnary() };
    }
    return base;
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
    this.expectOp('{');
    const node = this.parseList();
    this.expectOp('}');
    return node;
  }

  /** A mixed number 4\frac{2}{3}: integer, then \frac of two integer literals. */
  private mixedFraction(): { num: number; den: number } | null {
    const p = (o: number) => this.peek(o);
    const lit = (o: number) => {
      const t = p(o);
      return t?.k === 'num' && t.int ? t.v : null;
    };
    if (!this.isCmd('frac') || !this.isOp('{', 1) || !this.isOp('}', 3) || !this.isOp('{', 4) || !this.isOp('}', 6)) return null;
    const num = lit(2),
      den = lit(5);
    if (num === null || den === null) return null;
    return { num, den };
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
      return { t: 'num', v: t.v };
    }
    if (t.k === 'var') return { t: 'var', name: t.name };
    if (t.k === 'op') {
      if (t.v === '{') {
        this.i--;
        return this.parseGroup();
      }
      if (t.v === '(' || t.v === '[' || t.v === '\\{') {
        const items = [this.parseEquation()];
        while (this.isOp(',')) {
          this.i++;
          items.push(this.parseEquation());
        }
        const close = this.peek();
        if (close?.k !== 'op' || !CLOSERS[t.v]!.includes(close.v)) throw new ParseError('unclosed bracket');
        this.i++;
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
        const items = [this.parseEquation()];
        while (this.isOp(',')) {
          this.i++;
          items.push(this.parseEquation());
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
function parseAnswer(normalized: string): MathNode | null {
  if (normalized.length === 0 || normalized.length > 2000) return null;
  try {
    return new Parser(tokenize(normalized)).parseAll();
  } catch (e) {
    if (e instanceof ParseError) return null;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation and comparison

function factorial(n: number): number {
  if (!Number.isInteger(n) || n < 0) return NaN;
  if (n > 170) return Infinity;
  let r = 1;
  for (let k = 2; k <= n; k++) r *= k;
  return r;
}

function binom(n: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 0 || n < 0 || k > n) return NaN;
  let r = 1;
  for (let j = 1; j <= k; j++) r = (r * (n - k + j)) / j;
  return Math.round(r);
}

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
          return a ** b;
      }
      break;
    }
    case 'fn': {
      const x = evaluate(node.args[0]!, env);
      switch (node.name) {
        case 'sqrt':
          return Math.sqrt(x);
        case 'root': {
          const n = evaluate(node.args[1]!, env);
          return x < 0 && Number.isInteger(n) && n % 2 === 1 ? -((-x) ** (1 / n)) : x ** (1 / n);
        }
        case 'abs':
          return Math.abs(x);
        case 'factorial':
          return factorial(x);
        case 'binom':
          return binom(x, evaluate(node.args[1]!, env));
        case 'sin':
          return Math.sin(x);
        case 'cos':
          return Math.cos(x);
        case 'tan':
          return Math.tan(x);
        case 'sec':
          return 1 / Math.cos(x);
        case 'csc':
          return 1 / Math.sin(x);
        case 'cot':
          return 1 / Math.tan(x);
        case 'arcsin':
          return Math.asin(x);
        case 'arccos':
          return Math.acos(x);
        case 'arctan':
          return Math.atan(x);
        case 'sinh':
          return Math.sinh(x);
        case 'cosh':
          return Math.cosh(x);
        case 'tanh':
          return Math.tanh(x);
        case 'ln':
          return Math.log(x);
        case 'log':
          return Math.log10(x);
        case 'logb':
          return Math.log(x) / Math.log(evaluate(node.args[1]!, env));
        case 'exp':
          return Math.exp(x);
      }
      return NaN;
    }
  }
  return NaN; // tuples, lists, equations have no scalar value
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
    case 'eq':
      collectVars(node.a, out);
      collectVars(node.b, out);
      break;
    case 'fn':
      for (const a of node.args) collectVars(a, out);
      break;
    case 'tuple':
    case 'list':
    case 'union':
      for (const a of node.items) collectVars(a, out);
      break;
  }
  return out;
}

const isScalar = (n: MathNode) => n.t !== 'tuple' && n.t !== 'list' && n.t !== 'eq' && n.t !== 'union';

/** Relative tolerance for numeric equality: tight, so "12.70" ≠ "12.8" and 109200000 ≠ 109200001. */
const REL_TOL = 1e-9;

function close(x: number, y: number, tol: number): boolean {
  if (Number.isNaN(x) || Number.isNaN(y)) return false;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  return Math.abs(x - y) <= tol * Math.max(1, Math.abs(x), Math.abs(y));
}

// Fixed, non-special sample points for expressions with free variables (deterministic grading).
const SAMPLES = [0.7317, 1.3849, 2.2163, 0.4271, 3.0587];

function scalarsEqual(a: MathNode, b: MathNode): boolean {
  const vars = [...collectVars(b, collectVars(a, new Set()))];
  if (vars.length === 0) return close(evaluate(a, new Map()), evaluate(b, new Map()), REL_TOL);
  let finite = 0;
  for (let s = 0; s < SAMPLES.length; s++) {
    const env = new Map(vars.map((v, k) => [v, SAMPLES[(s + k * 2) % SAMPLES.length]! + 0.1 * k] as const));
    const x = evaluate(a, env),
      y = evaluate(b, env);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (!close(x, y, 1e-8)) return false;
    if (Number.isFinite(x)) finite++;
  }
  return finite > 0;
}

/** Drop a "name =" prefix: x = 5 → 5 (only when the left side is a bare variable). */
function stripAssignment(n: MathNode): MathNode {
  if (n.t === 'eq' && n.a.t === 'var') return stripAssignment(n.b);
  if (n.t === 'list') return { t: 'list', items: n.items.map(stripAssignment) };
  return n;
}

function multisetEqual(as: MathNode[], bs: MathNode[]): boolean {
  if (as.length !== bs.length) return false;
  const used = new Array<boolean>(bs.length).fill(false);
  for (const a of as) {
    const k = bs.findIndex((b, j) => !used[j] && nodesEqual(a, b));
    if (k < 0) return false;
    used[k] = true;
  }
  return true;
}

function orderedEqual(as: MathNode[], bs: MathNode[]): boolean {
  return as.length === bs.length && as.every((a, k) => nodesEqual(a, bs[k]!));
}

/** Structural/numeric equivalence of two parsed answers. */
function nodesEqual(a0: MathNode, b0: MathNode): boolean {
  const a = stripAssignment(a0),
    b = stripAssignment(b0);
  if (isScalar(a) && isScalar(b)) return scalarsEqual(a, b);
  if (a.t === 'tuple' && b.t === 'tuple') {
    if (a.open !== b.open || a.close !== b.close) return false;
    return a.open === '\\{' ? multisetEqual(a.items, b.items) : orderedEqual(a.items, b.items);
  }
  if (a.t === 'list' && b.t === 'list') return multisetEqual(a.items, b.items);
  // "3, 4" against "(3, 4)": same items in the same order
  if (a.t === 'list' && b.t === 'tuple' && b.open === '(' && b.close === ')') return orderedEqual(a.items, b.items);
  if (b.t === 'list' && a.t === 'tuple' && a.open === '(' && a.close === ')') return orderedEqual(a.items, b.items);
  if (a.t === 'union' && b.t === 'union') return orderedEqual(a.items, b.items);
  if (a.t === 'eq' && b.t === 'eq') {
    return (nodesEqual(a.a, b.a) && nodesEqual(a.b, b.b)) || (nodesEqual(a.a, b.b) && nodesEqual(a.b, b.a));
  }
  return false;
}

/** Longer answers are not normalised or parsed, only compared verbatim. */
const MAX_ANSWER_CHARS = 1000;

/** Case-folded text with spacing, braces and a trailing period removed (for non-math answers). */
function textKey(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\s{}]/g, '')
    .replace(/\\/g, '')
    .replace(/\.$/, '');
}

/**
 * True when `answer` and `gold` denote the same final answer. Symmetric. Numbers are compared with
 * a tight relative tolerance, so the gold string is graded as given (12.70 ≠ 12.8).
 */
export function answersEqual(answer: string, gold: string): boolean {
  // Final answers are short; a runaway "answer" is compared verbatim (keeps grading linear-time).
  if (answer.length > MAX_ANSWER_CHARS || gold.length > MAX_ANSWER_CHARS) return answer.trim() === gold.trim();
  const na = normalizeAnswer(answer),
    nb = normalizeAnswer(gold);
  if (na.length === 0 || nb.length === 0) return false;
  if (na === nb) return true;
  const pa = parseAnswer(na),
    pb = parseAnswer(nb);
  if (pa && pb) return nodesEqual(pa, pb);
  return textKey(na) === textKey(nb);
}
