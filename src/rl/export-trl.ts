// `webgrpo export-trl RUN`: a Python script that reproduces a webgrpo run (RUN/config.json) with
// Hugging Face TRL's GRPOTrainer + PEFT LoRA on a GPU server. The GRPO names already match TRL's
// GRPOConfig (REFERENCE §5); what TRL lacks (entropy bonus, group filtering) is explained in comments.
//
// Mapping decisions (see also the comments the script carries):
// - per_device_train_batch_size = prompts_per_step × num_generations / gradient_accumulation_steps
//   and steps_per_generation left at its default (= gradient_accumulation_steps), so one TRL
//   generation batch is webgrpo's prompts_per_step × num_generations completions (one GPU).
// - max_steps = webgrpo max_steps × num_iterations: webgrpo's step is one generation batch with
//   num_iterations optimizer updates, TRL's step is one optimizer update.
// - top_k 0 and min_p 0 mean "off" in webgrpo: top_k=0 (TRL's own "off") and min_p=None.
// - Rewards: math (own extraction as webgrpo, equivalence by math_verify when installed, else a
//   numeric/text fallback), format (the R1 regex), countdown (TinyZero, ast-based evaluator) are
//   ported; cosine, overlong and --reward-module become stubs returning None with a TODO.
// - Reward-function __name__s are set to webgrpo's names, so TRL logs rewards/math/mean etc.
// - Heavy imports (datasets, peft, trl, transformers) live inside main(), so the reward functions
//   can be imported and tested without a GPU stack.

import { parseDatasetSpec, type DatasetSpec } from '../data/dataset.ts';
import { TINY_ARITH_LEVEL } from '../data/arithmetic.ts';
import { ALL_TARGETS } from '../lora/config.ts';
import { GRPO_DEFAULTS } from './grpo.ts';
import { snakeCase } from './run.ts';
import { parseHubSpec } from '../io/source.ts';

/** The CLI defaults of `webgrpo train` (snake_case), for keys a config.json may lack. */
const DEFAULTS: Record<string, unknown> = snakeCase(GRPO_DEFAULTS);

const DEFAULT_MODEL = 'public/models/tiny-arith';
const DEFAULT_DATASET = `arithmetic:${TINY_ARITH_LEVEL}`;

// -------------------------------------------------------------------------------------------------
// Python literals

/** A Python string literal (double-quoted, ASCII only, so any text round-trips). */
export function pyStr(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** A Python float literal: 2e-3 → 0.002, 1 → 1.0, 1e-8 → 1e-8. */
function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'float("nan")' : x > 0 ? 'float("inf")' : '-float("inf")';
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

function pyInt(x: number): string {
  if (!Number.isInteger(x)) throw new Error(`export-trl: expected an integer, got ${x}`);
  return String(x);
}

const pyBool = (b: boolean) => (b ? 'True' : 'False');
const pyList = (xs: string[]) => `[${xs.map(pyStr).join(', ')}]`;
/** A value in a one-line comment (no newlines). */
const inline = (v: unknown) => JSON.stringify(v).replace(/[\r\n\u2028\u2029]/g, ' ');

// -------------------------------------------------------------------------------------------------
// Reading the run config

class Cfg {
  constructor(private readonly raw: Record<string, unknown>) {}
  num(key: string): number {
    const v = this.raw[key] ?? DEFAULTS[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`export-trl: config.json "${key}" must be a finite number, got ${inline(v)}`);
    return v;
  }
  str(key: string): string {
    const v = this.raw[key] ?? DEFAULTS[key];
    if (typeof v !== 'string') throw new Error(`export-trl: config.json "${key}" must be a string, got ${inline(v)}`);
    return v;
  }
  bool(key: string): boolean {
    return (this.raw[key] ?? DEFAULTS[key]) === true;
  }
}

interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  targetModules: string[];
}

/** `lora` as written by `webgrpo train` (camelCase LoraConfig); PEFT's snake_case spelling is accepted too. */
function loraSettings(raw: unknown): LoraSettings {
  const l = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const pick = (...keys: string[]) => keys.map((k) => l[k]).find((v) => v !== undefined && v !== null);
  const n = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const targets = pick('targetModules', 'target_modules');
  return {
    r: n(pick('r'), 16),
    alpha: n(pick('alpha', 'lora_alpha'), 32),
    dropout: n(pick('dropout', 'lora_dropout'), 0),
    useRslora: pick('useRslora', 'use_rslora') === true,
    targetModules: Array.isArray(targets) ? targets.map(String) : [...ALL_TARGETS],
  };
}

// -------------------------------------------------------------------------------------------------
// Python building blocks

const PY_TEXT_HELPERS = String.raw`
def completion_text(completion):
    """The text of a completion: a string, or (conversational) the contents of its messages."""
    if isinstance(completion, list):
        return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))
    return str(completion)


def last_boxed(text):
    """The content of the last brace-matched \\boxed{...} in text, or None (as webgrpo's lastBoxed)."""
    found = None
    start = text.find("\\boxed{")
    while start >= 0:
        depth, end = 0, -1
        for i in range(start + len("\\boxed"), len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end < 0:
            return found
        found = text[start + len("\\boxed{"):end]
        start = text.find("\\boxed{", end + 1)
    return found


def last_answer_tag(text):
    """The content of the last <answer>...</answer> block, stripped, or None."""
    found = None
    for m in re.finditer(r"<answer>([\s\S]*?)</answer>", text):
        found = m.group(1).strip()
    return found


def last_hash_answer(text):
    """The text after the last GSM8K-style '####' up to the end of its line, or None."""
    k = text.rfind("####")
    if k < 0:
        return None
    line = text[k + 4:].split("\n")[0].strip()
    return line or None


def extract_gold_answer(text):
    """Gold answer of a dataset row: after the last '####' (',' and '$' removed), else the last \\boxed{}, else the text."""
    text = str(text)
    k = text.rfind("####")
    if k >= 0:
        return re.sub(r"[,$]", "", text[k + 4:].strip()).strip()
    if "\\boxed" in text:
        boxed = last_boxed(text)
        if boxed is not None:
            return boxed.strip()
    return text.strip()
`;

const PY_MATH_REWARD = String.raw`
# Equivalence of a final answer and the gold answer: math_verify (pip install math-verify) when it is
# installed, else (and whenever math_verify says no) a numeric comparison with a small LaTeX
# clean-up, then an exact comparison of the normalised text. webgrpo's own checker (latex.ts) accepts
# more forms than the fallback (e.g. (3,\pi/2) tuples); install math_verify for LaTeX answers.
try:
    from math_verify import parse as _mv_parse, verify as _mv_verify

    MATH_VERIFY = True
except ImportError:
    MATH_VERIFY = False


def extract_answer(completion):
    """The final answer of a completion, as webgrpo's extractAnswer: the last <answer> block (its last
    \\boxed{} or '#### N' if it has one), else the last \\boxed{} anywhere, else the last '#### N'."""
    tagged = last_answer_tag(completion)
    if tagged is not None:
        inner = last_boxed(tagged)
        if inner is None:
            inner = last_hash_answer(tagged)
        return tagged if inner is None else inner
    boxed = last_boxed(completion)
    return boxed if boxed is not None else last_hash_answer(completion)


def normalize_gold(gold):
    gold = str(gold)
    k = gold.rfind("####")
    if k < 0:
        return gold.strip()
    return re.sub(r"[,$]", "", gold[k + 4:].strip())


def _clean(s):
    s = s.strip().strip("$").strip()
    s = re.sub(r"\\(?:left|right|displaystyle|!|,|;)", "", s)
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\^\s*\{?\\circ\}?", "", s)
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "").replace("$", "")
    s = re.sub(r"^[A-Za-z]\s*=\s*", "", s)
    s = re.sub(r"(\d),(\d{3})", r"\1\2", s)
    return re.sub(r"\s+", "", s)


def _to_number(s):
    s = _clean(s)
    m = re.fullmatch(r"(-?)\\[dt]?frac\{?(\d+(?:\.\d+)?)\}?\{?(\d+(?:\.\d+)?)\}?", s)
    if m:
        value = float(m.group(2)) / float(m.group(3))
        return -value if m.group(1) else value
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", s)
    if m:
        return float(m.group(1)) / float(m.group(2))
    try:
        return float(s)
    except ValueError:
        return None


def answers_equal(answer, gold):
    if MATH_VERIFY:
        try:
            if _mv_verify(_mv_parse("\\boxed{" + gold + "}"), _mv_parse("\\boxed{" + answer + "}")):
                return True
        except Exception:
            pass
    a, g = _to_number(answer), _to_number(gold)
    if a is not None and g is not None:
        return math.isclose(a, g, rel_tol=1e-9, abs_tol=1e-9)
    return _clean(answer) == _clean(gold)


def math_reward(completions, answer=None, **kwargs):
    """webgrpo 'math': 1 when the final answer equals the gold answer, else 0; None without a gold answer."""
    golds = answer if answer is not None else [None] * len(completions)
    rewards = []
    for completion, gold in zip(completions, golds):
        if gold is None or str(gold).strip() == "":
            rewards.append(None)
            continue
        predicted = extract_answer(completion_text(completion))
        rewards.append(1.0 if predicted is not None and answers_equal(predicted, normalize_gold(gold)) else 0.0)
    return rewards


math_reward.__name__ = "math"  # TRL logs rewards/<__name__>/mean, as webgrpo's rewards/math/mean
`;

const PY_FORMAT_REWARD = String.raw`
FORMAT_RE = re.compile(r"\s*<think>[\s\S]*?</think>\s*<answer>[\s\S]*?</answer>\s*")


def format_reward(completions, **kwargs):
    """webgrpo 'format' (R1): 1 when the completion is one <think>...</think> block then one
    <answer>...</answer> block (whitespace around and between allowed, each tag exactly once), else 0."""
    rewards = []
    for completion in completions:
        text = completion_text(completion)
        once = all(text.count(tag) == 1 for tag in ("<think>", "</think>", "<answer>", "</answer>"))
        rewards.append(1.0 if once and FORMAT_RE.fullmatch(text) else 0.0)
    return rewards


format_reward.__name__ = "format"
`;

const PY_COUNTDOWN_REWARD = String.raw`
def _eval_arithmetic(expr):
    """Value of + - * / ( ) arithmetic over numbers, or None; walks the AST, never eval()."""
    if "**" in expr or "//" in expr:
        return None
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return None

    def value(node):
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            v = value(node.operand)
            return v if isinstance(node.op, ast.UAdd) else -v
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a / b
        raise ValueError("unsupported expression")

    try:
        return value(tree)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def countdown_reward(completions, target=None, nums=None, numbers=None, **kwargs):
    """webgrpo 'countdown' (TinyZero): the last <answer> equation uses each number once and equals the
    target (|diff| < 1e-5) -> 1.0; any other answer -> 0.1; no <answer> -> 0; None without target/nums."""
    given_lists = nums if nums is not None else numbers
    rewards = []
    for i, completion in enumerate(completions):
        goal = target[i] if target is not None else None
        given = given_lists[i] if given_lists is not None else None
        if goal is None or given is None:
            rewards.append(None)
            continue
        equation = last_answer_tag(completion_text(completion))
        if equation is None:
            rewards.append(0.0)
            continue
        if not re.fullmatch(r"[\d+\-*/().\s]+", equation):
            rewards.append(0.1)
            continue
        used = sorted(int(d) for d in re.findall(r"\d+", equation))
        if used != sorted(int(n) for n in given):
            rewards.append(0.1)
            continue
        v = _eval_arithmetic(equation)
        rewards.append(1.0 if v is not None and math.isfinite(v) and abs(v - float(goal)) < 1e-5 else 0.1)
    return rewards


countdown_reward.__name__ = "countdown"
`;

/** webgrpo semantics of the rewards the script does not port, for the TODO stubs. */
const STUB_REWARDS: Record<string, string[]> = {
  cosine: [
    "webgrpo 'cosine': cosine length reward (Yeo et al. 2025) with the paper's values:",
    'R = v_min + (v_max - v_min) / 2 * (1 + cos(pi * len / L)), L = max_completion_length,',
    'len = completion tokens (len(completion_ids)); correct (math reward = 1): v_max 2, v_min 1;',
    'wrong: v_max -10, v_min 0; len >= L: -10. None when the answer column is missing.',
  ],
  overlong: [
    "webgrpo 'overlong': DAPO soft overlong penalty with L_max = max_completion_length and",
    'L_cache = round(0.2 * L_max): 0 when len <= L_max - L_cache, (L_max - L_cache - len) / L_cache',
    'in the buffer, -1 beyond L_max. TRL ships it: trl.rewards.get_soft_overlong_punishment(',
    'max_completion_len=L_max, soft_punish_cache=L_cache).',
  ],
};

function stubReward(fnName: string, metricName: string, doc: string[]): string {
  return [
    '',
    `def ${fnName}(completions, **kwargs):`,
    ...doc.map((l) => `    # TODO: ${l}`),
    '    # Returns None (not applicable) until ported: TRL leaves None rewards out of the sum.',
    '    return [None] * len(completions)',
    '',
    '',
    `${fnName}.__name__ = ${pyStr(metricName)}`,
    '',
  ].join('\n');
}

const PY_DATA_HELPERS = String.raw`
QUESTION_FIELDS = ("question", "problem", "prompt")
ANSWER_FIELDS = ("answer", "solution", "ground_truth")


def _field_text(row, names):
    """The first present field of names as text; a chat list gives its last user message."""
    for name in names:
        v = row.get(name)
        if v is None:
            continue
        if isinstance(v, list):
            messages = [m for m in v if isinstance(m, dict) and isinstance(m.get("content"), str)]
            users = [m for m in messages if m.get("role") == "user"]
            picked = (users or messages)[-1:] if messages else []
            return picked[0]["content"] if picked and picked[0]["content"].strip() else None
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return str(v)
        return v if isinstance(v, str) and v.strip() else None
    return None


def usable_row(row):
    question, answer = _field_text(row, QUESTION_FIELDS), _field_text(row, ANSWER_FIELDS)
    return question is not None and answer is not None and extract_gold_answer(answer) != ""


def to_grpo_row(row):
    """webgrpo's row mapping: the question (question|problem|prompt) becomes a conversational prompt
    with one user turn (webgrpo applies the chat template to that turn, no system prompt); the answer
    (answer|solution|ground_truth) becomes the gold answer (GSM8K '#### N' or the last \\boxed{})."""
    question = _field_text(row, QUESTION_FIELDS)
    answer = extract_gold_answer(_field_text(row, ANSWER_FIELDS))
    return {"prompt": [{"role": "user", "content": question}], "answer": answer}
`;

const PY_ARITHMETIC = String.raw`
def arithmetic_problem(level, rng):
    """webgrpo's arithmetic task (src/data/arithmetic.ts): level 1 one-digit sums; level 2 two-digit
    sums; level 3 two-digit sums, differences and two-digit x one-digit products."""

    def rint(lo, hi):
        return lo + int(rng.random() * (hi - lo + 1))

    def boxed(question, steps, answer):
        return {"question": question, "answer": str(answer), "solution": steps + "\\boxed{" + str(answer) + "}"}

    if level == 1:
        a, b = rint(0, 9), rint(0, 9)
        return boxed(f"{a}+{b}", "", a + b)
    if level == 2 or rng.random() < 0.4:
        a, b = rint(10, 99), rint(10, 99)
        at, au, bt, bu = a - a % 10, a % 10, b - b % 10, b % 10
        return boxed(f"{a}+{b}", f"{at}+{bt}={at + bt}, {au}+{bu}={au + bu}, {at + bt}+{au + bu}={a + b}. ", a + b)
    if rng.random() < 0.5:
        a = rint(20, 99)
        b = rint(11, a)
        bt, bu = b - b % 10, b % 10
        return boxed(f"{a}-{b}", f"{a}-{bt}={a - bt}, {a - bt}-{bu}={a - b}. ", a - b)
    a, b = rint(11, 99), rint(2, 9)
    at, au = a - a % 10, a % 10
    return boxed(f"{a}*{b}", f"{at}*{b}={at * b}, {au}*{b}={au * b}, {at * b}+{au * b}={a * b}. ", a * b)
`;

const PY_COUNTDOWN = String.raw`
def countdown_question(nums, target):
    return (
        f"Using the numbers [{', '.join(str(n) for n in nums)}], create an equation that equals {target}. "
        "You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. "
        "Show your work in <think> </think> tags. And return the final answer in <answer> </answer> tags, "
        "for example <answer> (1 + 2) / 3 </answer>."
    )


def countdown_problem(rng, count=None, max_target=100):
    """webgrpo's TinyZero Countdown generator (src/data/countdown.ts): count numbers in 1..99 (3 or 4,
    either when None) combined at random into a target in 1..max_target, so every problem is solvable."""

    def rint(lo, hi):
        return lo + int(rng.random() * (hi - lo + 1))

    n = count if count is not None else (3 if rng.random() < 0.5 else 4)
    attempt = 0
    while True:
        nums = [rint(1, 99) for _ in range(n)]
        terms = [(v, str(v), True) for v in nums]
        while len(terms) > 1:
            i = rint(0, len(terms) - 1)
            j = rint(0, len(terms) - 2)
            if j >= i:
                j += 1
            a, b = (terms[i], terms[j]) if terms[i][0] >= terms[j][0] else (terms[j], terms[i])
            ops = ["+", "*"]
            if a[0] > b[0]:
                ops.append("-")
            if b[0] > 1 and a[0] % b[0] == 0:
                ops.append("/")
            op = ops[rint(0, len(ops) - 1)]
            v = a[0] + b[0] if op == "+" else a[0] - b[0] if op == "-" else a[0] * b[0] if op == "*" else a[0] // b[0]
            wrap = lambda t: t[1] if t[2] else "(" + t[1] + ")"
            terms = [t for t in terms if t is not a and t is not b]
            terms.append((v, f"{wrap(a)} {op} {wrap(b)}", False))
        target, solution = terms[0][0], terms[0][1]
        if 1 <= target <= max_target or attempt >= 200:
            return {"nums": nums, "target": target, "solution": solution, "question": countdown_question(nums, target)}
        attempt += 1
`;

// -------------------------------------------------------------------------------------------------
// The script

interface DatasetCode {
  /** Lines at module level (helpers). */
  helpers: string[];
  /** Lines inside main() building `train_dataset`. */
  build: string[];
  /** Comment lines above the dataset. */
  notes: string[];
}

function datasetCode(dataset: unknown, cfg: Cfg): DatasetCode {
  const steps = cfg.num('max_steps');
  const perStep = cfg.num('prompts_per_step');
  const seed = cfg.num('seed');
  const generated = Math.max(1000, steps * perStep);
  if (dataset && typeof dataset === 'object') {
    const d = dataset as Record<string, unknown>;
    if (typeof d.one_shot_problem !== 'string' || typeof d.one_shot_answer !== 'string') {
      throw new Error('export-trl: a one-shot dataset needs one_shot_problem and one_shot_answer strings');
    }
    // RepeatSampler drops incomplete batches: repeat the problem at least prompts_per_step times.
    const copies = Math.max(perStep, steps * perStep);
    return {
      helpers: [],
      notes: [
        '# One-shot RLVR: the single problem repeated to fill every batch (webgrpo --one-shot-problem).',
        '# The gold answer is graded as given (e.g. One-shot RLVR\'s pi_1 gold "12.8").',
      ],
      build: [
        `ONE_SHOT_PROBLEM = ${pyStr(d.one_shot_problem)}`,
        `ONE_SHOT_ANSWER = extract_gold_answer(${pyStr(d.one_shot_answer)})`,
        'row = {"prompt": [{"role": "user", "content": ONE_SHOT_PROBLEM}], "answer": ONE_SHOT_ANSWER}',
        `train_dataset = Dataset.from_list([row] * ${copies})`,
      ],
    };
  }
  const specString = typeof dataset === 'string' ? dataset : DEFAULT_DATASET;
  const spec: DatasetSpec = parseDatasetSpec(specString);
  switch (spec.kind) {
    case 'arithmetic':
      return {
        helpers: [PY_ARITHMETIC],
        notes: [
          `# Dataset ${inline(specString)}: webgrpo's arithmetic generator ported to Python. Same task format and`,
          '# distribution, but the exact random stream differs (webgrpo draws problem i from mulberry32 seeded',
          `# by (seed, i)), so the problems are not the same ones. ${generated} problems are generated up front;`,
          '# TRL cycles through them in shuffled epochs.',
        ],
        build: [
          `rng = random.Random(${pyInt(seed)})`,
          `problems = [arithmetic_problem(${spec.level}, rng) for _ in range(${generated})]`,
          'train_dataset = Dataset.from_list(',
          '    [{"prompt": [{"role": "user", "content": p["question"]}], "answer": p["answer"], "solution": p["solution"]} for p in problems]',
          ')',
        ],
      };
    case 'countdown':
      return {
        helpers: [PY_COUNTDOWN],
        notes: [
          `# Dataset ${inline(specString)}: webgrpo's TinyZero Countdown generator ported to Python. Same format and`,
          '# distribution, but the exact random stream differs from webgrpo\'s (mulberry32 per (seed, i)), so the',
          `# problems are not the same ones. ${generated} problems are generated up front; TRL cycles through them.`,
        ],
        build: [
          `rng = random.Random(${pyInt(seed)})`,
          `problems = [countdown_problem(rng, ${spec.count ?? 'None'}) for _ in range(${generated})]`,
          'train_dataset = Dataset.from_list(',
          '    [',
          '        {"prompt": [{"role": "user", "content": p["question"]}], "answer": str(p["target"]), "nums": p["nums"], "target": p["target"]}',
          '        for p in problems',
          '    ]',
          ')',
        ],
      };
    case 'hub':
      return {
        helpers: [PY_DATA_HELPERS],
        notes: [
          `# Dataset ${inline(specString)} from the Hub (webgrpo reads the same split from its Parquet conversion).`,
          '# Rows without a question or answer are dropped (webgrpo stops on them unless --skip-bad-rows).',
        ],
        build: [
          spec.config === 'default'
            ? `raw = load_dataset(${pyStr(spec.repo)}, split=${pyStr(spec.split)})`
            : `raw = load_dataset(${pyStr(spec.repo)}, ${pyStr(spec.config)}, split=${pyStr(spec.split)})`,
          'train_dataset = raw.filter(usable_row).map(to_grpo_row)',
        ],
      };
    case 'file': {
      const builder = spec.format === 'jsonl' || spec.format === 'json' ? 'json' : spec.format;
      return {
        helpers: [PY_DATA_HELPERS],
        notes: [
          `# Dataset file ${inline(spec.path)} (${spec.format}): the path is as webgrpo was given it; copy the file`,
          '# next to this script (or fix the path) on the GPU server.',
          ...(spec.format === 'json'
            ? ['# A .json file holding {"key": [rows]} needs field="key" in load_dataset (webgrpo finds the array itself).']
            : []),
          '# Rows without a question or answer are dropped (webgrpo stops on them unless --skip-bad-rows).',
        ],
        build: [
          `raw = load_dataset(${pyStr(builder)}, data_files=${pyStr(spec.path)}, split="train")`,
          'train_dataset = raw.filter(usable_row).map(to_grpo_row)',
        ],
      };
    }
  }
}

function modelCode(model: string): { lines: string[]; revision: string | null } {
  if (model.startsWith('hf:')) {
    const hub = parseHubSpec(model)!;
    const revision = model.includes('@') ? hub.revision : null;
    return {
      revision,
      lines: [
        `MODEL = ${pyStr(hub.repo)}  # webgrpo: ${inline(model)}`,
        ...(revision !== null ? [`REVISION = ${pyStr(revision)}`] : []),
      ],
    };
  }
  return {
    revision: null,
    lines: [
      `# webgrpo trained a local model folder: copy it (config.json, *.safetensors, tokenizer files with the`,
      '# chat template) to the GPU server and fix this path, or replace it with a Hub repo id.',
      `MODEL = ${pyStr(model)}`,
    ],
  };
}

function filterNotes(runConfig: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const acc = runConfig.filter_accuracy;
  if (Array.isArray(acc) && acc.length === 2) {
    lines.push(
      `# filter_accuracy = (${acc.map(String).join(', ')}): balanced online difficulty filtering is not in TRL. webgrpo`,
      '# resampled groups whose accuracy was not strictly inside those bounds (up to 4 rounds per step).',
      '# Nearest equivalent: filter the dataset offline by the base model\'s pass rate (sample',
      '# num_generations answers per prompt, keep prompts whose accuracy lies inside the bounds), or',
      '# subclass GRPOTrainer to resample in _generate_and_score_completions.',
    );
  } else {
    lines.push('# filter_accuracy: off in the webgrpo run (TRL has no such option either).');
  }
  if (runConfig.dynamic_sampling === true) {
    lines.push(
      '# dynamic_sampling = True: DAPO dynamic sampling (drop groups whose rewards are all equal and',
      '# resample) is not in TRL\'s GRPOTrainer. Such groups get zero advantage there, so they add no',
      '# policy gradient but still count in the loss normaliser and the batch. Nearest equivalent:',
      '# trl.experimental.grpo_with_replay_buffer (GRPOWithReplayBufferTrainer replaces zero-std groups with',
      '# earlier high-reward groups), or the offline filtering above.',
    );
  } else {
    lines.push('# dynamic_sampling: off in the webgrpo run.');
  }
  return lines;
}

/**
 * A runnable Python script (string) reproducing a webgrpo run (the object in RUN/config.json) with
 * TRL's GRPOTrainer and a PEFT LoRA adapter. Throws on a config it cannot map (bad dataset or
 * model spec, non-numeric settings, a batch not divisible by gradient_accumulation_steps).
 */
export function trlScript(runConfig: Record<string, unknown>): string {
  const cfg = new Cfg(runConfig);
  const model = typeof runConfig.model === 'string' ? runConfig.model : DEFAULT_MODEL;
  const lora = loraSettings(runConfig.lora);
  const G = cfg.num('num_generations');
  const perStep = cfg.num('prompts_per_step');
  const accum = cfg.num('gradient_accumulation_steps');
  const iterations = cfg.num('num_iterations');
  const steps = cfg.num('max_steps');
  if ((perStep * G) % accum !== 0) {
    throw new Error(`export-trl: prompts_per_step × num_generations (${perStep * G}) is not divisible by gradient_accumulation_steps (${accum})`);
  }
  const optimizer = cfg.str('optimizer');
  if (optimizer !== 'adamw' && optimizer !== 'sgd') throw new Error(`export-trl: unknown optimizer ${inline(optimizer)}`);
  const scaleRewards = cfg.str('scale_rewards');
  const epsilon = cfg.num('epsilon');
  const epsilonHigh = runConfig.epsilon_high === undefined || runConfig.epsilon_high === null ? epsilon : cfg.num('epsilon_high');
  const entropyCoef = cfg.num('entropy_coef');
  const minP = cfg.num('min_p');

  const rewardNames = Array.isArray(runConfig.reward_funcs)
    ? runConfig.reward_funcs.map(String)
    : typeof runConfig.reward_module === 'string' ? [] : ['math'];
  const rewardModule = typeof runConfig.reward_module === 'string' ? runConfig.reward_module : null;

  const { lines: modelLines, revision } = modelCode(model);
  const data = datasetCode(runConfig.dataset, cfg);

  // Reward functions: Python function names in order, and their module-level code.
  const rewardFns: string[] = [];
  const rewardBlocks: string[] = [];
  for (const name of rewardNames) {
    if (name === 'math') rewardFns.push('math_reward'), rewardBlocks.push(PY_MATH_REWARD);
    else if (name === 'format') rewardFns.push('format_reward'), rewardBlocks.push(PY_FORMAT_REWARD);
    else if (name === 'countdown') rewardFns.push('countdown_reward'), rewardBlocks.push(PY_COUNTDOWN_REWARD);
    else {
      const fn = `${name.replace(/\W/g, '_')}_reward`;
      rewardFns.push(fn);
      rewardBlocks.push(stubReward(fn, name, STUB_REWARDS[name] ?? [`webgrpo reward ${inline(name)}: not a reward this exporter knows; port it by hand.`]));
    }
  }
  if (rewardModule !== null) {
    rewardFns.push('reward_module');
    rewardBlocks.push(stubReward('reward_module', 'reward_module', [
      `port webgrpo's --reward-module ${inline(rewardModule)} to Python. Its default export is`,
      '(completion, row) => number | null, called once per completion with row = the dataset columns plus',
      'answer (the gold answer), max_completion_length and completion_length (tokens). Here completions',
      'is a list (use completion_text(c)), the dataset columns arrive as lists in kwargs (answer=...,',
      'one entry per completion) and kwargs["completion_ids"] gives the token lengths. Return one float',
      'or None per completion.',
    ]));
  }
  if (rewardFns.length === 0) throw new Error('export-trl: the run has no reward functions');

  const scheduler = cfg.str('lr_scheduler_type');
  const batch = (perStep * G) / accum;
  const topK = cfg.num('top_k');

  const grpoArgs: [string, string, string?][] = [
    ['output_dir', 'OUTPUT_DIR'],
    ['num_generations', pyInt(G)],
    ['per_device_train_batch_size', pyInt(batch),
      `prompts_per_step ${perStep} × num_generations ${G}${accum > 1 ? ` / gradient_accumulation_steps ${accum}` : ''}`],
    ['gradient_accumulation_steps', pyInt(accum)],
    ['max_completion_length', pyInt(cfg.num('max_completion_length'))],
    ['temperature', pyFloat(cfg.num('temperature'))],
    ['top_p', pyFloat(cfg.num('top_p'))],
    ['top_k', pyInt(topK), topK === 0 ? '0 = off (older TRL: None)' : undefined],
    ['min_p', minP === 0 ? 'None' : pyFloat(minP), minP === 0 ? 'webgrpo min_p 0 = off' : undefined],
    ['learning_rate', pyFloat(cfg.num('learning_rate'))],
    ['lr_scheduler_type', pyStr(scheduler)],
    ['warmup_ratio', pyFloat(cfg.num('warmup_ratio'))],
    ['optim', pyStr(optimizer === 'adamw' ? 'adamw_torch' : 'sgd')],
    ['adam_beta1', pyFloat(cfg.num('adam_beta1'))],
    ['adam_beta2', pyFloat(cfg.num('adam_beta2')), 'webgrpo default 0.99 (transformers: 0.999)'],
    ['adam_epsilon', pyFloat(cfg.num('adam_epsilon'))],
    ['weight_decay', pyFloat(cfg.num('weight_decay'))],
    ['max_grad_norm', pyFloat(cfg.num('max_grad_norm'))],
    ['loss_type', pyStr(cfg.str('loss_type'))],
    ['scale_rewards', pyStr(scaleRewards),
      `older TRL took a bool: ${scaleRewards === 'none' ? 'False' : scaleRewards === 'group' ? 'True' : '"batch" has no bool form'}`],
    ['beta', pyFloat(cfg.num('beta'))],
    ['epsilon', pyFloat(epsilon)],
    ['epsilon_high', pyFloat(epsilonHigh)],
    ['mask_truncated_completions', pyBool(cfg.bool('mask_truncated_completions'))],
    ['top_entropy_quantile', pyFloat(cfg.num('top_entropy_quantile'))],
    ['num_iterations', pyInt(iterations)],
    ['max_steps', pyInt(steps * iterations),
      iterations > 1 ? `webgrpo max_steps ${steps} × num_iterations ${iterations}: TRL counts optimizer updates` : undefined],
    ['seed', pyInt(cfg.num('seed'))],
    ['logging_steps', '1'],
    ...(revision !== null ? [['model_init_kwargs', '{"revision": REVISION}'] as [string, string]] : []),
  ];

  const L: string[] = [];
  const out = (...lines: string[]) => L.push(...lines);
  out(
    '#!/usr/bin/env python3',
    '# Reproduces a webgrpo GRPO + LoRA run with Hugging Face TRL (written by `webgrpo export-trl`).',
    `#   webgrpo model: ${inline(model)}`,
    `#   webgrpo dataset: ${inline(runConfig.dataset ?? DEFAULT_DATASET)}`,
    `#   webgrpo rewards: ${inline([...rewardNames, ...(rewardModule !== null ? [`reward_module ${rewardModule}`] : [])])}`,
    '#',
    '# Needs: pip install trl peft datasets   (optional: pip install math-verify). Written for a recent',
    '# TRL (string scale_rewards, top_entropy_quantile, top_k=0 = off); see the comments for older ones.',
    '# Run:   python this_script.py   (several GPUs: accelerate launch this_script.py; then divide',
    '#        per_device_train_batch_size by the number of GPUs to keep the same batch)',
    '#',
    '# Step counting: a webgrpo step is one generation batch (prompts_per_step × num_generations',
    '# completions) followed by num_iterations optimizer updates; a TRL step is one optimizer update.',
    '# The settings below give TRL the same generation batch and the same number of updates.',
    '',
    'import ast',
    'import math',
    'import random',
    'import re',
    '',
    'OUTPUT_DIR = "trl-output"',
    '',
    ...modelLines,
    '',
    `# entropy_coef: TRL's GRPOConfig has no entropy bonus, so it is not supported here; this run used`,
    `# entropy_coef=${pyFloat(entropyCoef)}${entropyCoef === 0 ? ' (off), so nothing is lost' : ' (loss -= entropy_coef × mean token entropy); TRL trains as with 0'}.`,
    ...filterNotes(runConfig),
    '',
    '',
    '# ---- text helpers (same extraction rules as webgrpo) ----',
    PY_TEXT_HELPERS.trim(),
    '',
    '',
    '# ---- reward functions ----',
    ...rewardBlocks.map((b) => b.trim() + '\n\n'),
    `REWARD_FUNCS = [${rewardFns.join(', ')}]`,
    '',
  );
  if (data.helpers.length > 0) out('', '# ---- dataset helpers ----', ...data.helpers.map((h) => h.trim() + '\n\n'));
  out(
    '',
    'def main():',
    '    from datasets import Dataset, load_dataset  # noqa: F401',
    '    from peft import LoraConfig',
    '    from trl import GRPOConfig, GRPOTrainer',
    ...(revision !== null ? ['    from transformers import AutoTokenizer'] : []),
    '',
    ...(rewardNames.includes('math')
      ? ['    print("math reward equivalence:", "math_verify" if MATH_VERIFY else "numeric/text fallback (pip install math-verify)")', '']
      : []),
    ...data.notes.map((l) => `    ${l}`),
    ...data.build.map((l) => `    ${l}`),
    '',
    '    training_args = GRPOConfig(',
    ...grpoArgs.map(([k, v, note]) => `        ${k}=${v},${note ? `  # ${note}` : ''}`),
    '    )',
    '',
    `    # LoRA as webgrpo: scale lora_alpha / r${lora.useRslora ? ' (rsLoRA: lora_alpha / sqrt(r))' : ''}, A kaiming-uniform, B = 0.`,
    '    peft_config = LoraConfig(',
    `        r=${pyInt(lora.r)},`,
    `        lora_alpha=${Number.isInteger(lora.alpha) ? pyInt(lora.alpha) : pyFloat(lora.alpha)},`,
    `        lora_dropout=${pyFloat(lora.dropout)},`,
    `        target_modules=${pyList(lora.targetModules)},`,
    `        use_rslora=${pyBool(lora.useRslora)},`,
    '        bias="none",',
    '        task_type="CAUSAL_LM",',
    '    )',
    '',
    '    trainer = GRPOTrainer(',
    '        model=MODEL,',
    ...(revision !== null ? ['        processing_class=AutoTokenizer.from_pretrained(MODEL, revision=REVISION),'] : []),
    '        reward_funcs=REWARD_FUNCS,',
    '        args=training_args,',
    '        train_dataset=train_dataset,',
    '        peft_config=peft_config,',
    '    )',
    '    trainer.train()',
    '    trainer.save_model(OUTPUT_DIR)  # the LoRA adapter (adapter_config.json + adapter_model.safetensors)',
    '',
    '',
    'if __name__ == "__main__":',
    '    main()',
    '',
  );
  return L.join('\n').replace(/\n{3,}/g, '\n\n\n');
}
