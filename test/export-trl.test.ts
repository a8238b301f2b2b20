import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pyStr, trlScript } from '../src/rl/export-trl.ts';
import { fillTemplate, templateBody } from '../src/rl/trl/template.ts';
import { BUILTIN_REWARDS } from '../src/rl/rewards/index.ts';

const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** What `webgrpo train` writes with no flags (src/cli/main.ts). */
const DEFAULT_RUN = {
  model: 'public/models/tiny-arith',
  dataset: 'arithmetic:2',
  reward_funcs: ['math'],
  reward_module: null,
  filter_accuracy: null,
  dynamic_sampling: false,
  num_generations: 4,
  prompts_per_step: 16,
  max_completion_length: 64,
  temperature: 1,
  top_p: 1,
  top_k: 0,
  min_p: 0,
  learning_rate: 0.003,
  lr_scheduler_type: 'linear',
  warmup_ratio: 0.1,
  optimizer: 'adamw',
  adam_beta1: 0.9,
  adam_beta2: 0.99,
  adam_epsilon: 1e-8,
  weight_decay: 0,
  max_grad_norm: 1,
  loss_type: 'dapo',
  scale_rewards: 'group',
  beta: 0,
  epsilon: 0.2,
  epsilon_high: 0.2,
  entropy_coef: 0,
  top_entropy_quantile: 1,
  mask_truncated_completions: false,
  num_iterations: 1,
  gradient_accumulation_steps: 1,
  max_steps: 90,
  seed: 0,
  lora: { r: 16, alpha: 32, dropout: 0, useRslora: false, targetModules: ALL },
};

/** Most options away from their defaults: DAPO + beta + rsLoRA + Hub dataset + revision, accumulation, num_iterations. */
const BIG_RUN = {
  ...DEFAULT_RUN,
  model: 'hf:Qwen/Qwen2.5-0.5B-Instruct@v1.0',
  dataset: 'hf:openai/gsm8k:main:train',
  reward_funcs: ['math', 'format', 'overlong'],
  reward_module: 'my-reward.mjs',
  filter_accuracy: [0.2, 0.8],
  dynamic_sampling: true,
  loss_type: 'dapo',
  epsilon_high: 0.28,
  mask_truncated_completions: true,
  beta: 0.001,
  entropy_coef: 0.001,
  scale_rewards: 'none',
  optimizer: 'sgd',
  lr_scheduler_type: 'cosine',
  warmup_ratio: 0.1,
  learning_rate: 5e-6,
  top_k: 50,
  min_p: 0.05,
  top_p: 0.95,
  temperature: 0.6,
  max_grad_norm: 0.1,
  weight_decay: 0.01,
  top_entropy_quantile: 0.2,
  num_iterations: 2,
  gradient_accumulation_steps: 4,
  gradient_checkpointing: false,
  max_steps: 30,
  seed: 7,
  lora: { r: 32, alpha: 128, dropout: 0.05, useRslora: true, targetModules: ['q_proj', 'v_proj'] },
};

/** One-shot RLVR with a problem text that needs escaping (quotes, backslash, newline, non-ASCII). */
const ONE_SHOT_RUN = {
  ...DEFAULT_RUN,
  model: 'hf:Qwen/Qwen2.5-Math-1.5B',
  dataset: { one_shot_problem: 'The volume is ∛2048 "units"\\n — find x.\n', one_shot_answer: '12.8' },
  temperature: 0.6,
  beta: 0.001,
  entropy_coef: 0.001,
  max_steps: 5,
  prompts_per_step: 4,
  num_generations: 8,
};

const DEFAULT_GRPO_ARGS: Record<string, string> = {
  output_dir: 'OUTPUT_DIR',
  num_generations: '4',
  per_device_train_batch_size: '64',
  gradient_accumulation_steps: '1',
  gradient_checkpointing: 'True',
  max_completion_length: '64',
  temperature: '1.0',
  top_p: '1.0',
  top_k: '0',
  min_p: 'None',
  learning_rate: '0.003',
  lr_scheduler_type: '"linear"',
  warmup_ratio: '0.1',
  optim: '"adamw_torch"',
  adam_beta1: '0.9',
  adam_beta2: '0.99',
  adam_epsilon: '1e-8',
  weight_decay: '0.0',
  max_grad_norm: '1.0',
  loss_type: '"dapo"',
  scale_rewards: '"group"',
  beta: '0.0',
  epsilon: '0.2',
  epsilon_high: '0.2',
  mask_truncated_completions: 'False',
  top_entropy_quantile: '1.0',
  num_iterations: '1',
  max_steps: '90',
  seed: '0',
  logging_steps: '1',
};

/** The `key=value,` argument lines of the multi-line call `name(` … `)`; every line must be one. */
function kwargs(script: string, name: string): Record<string, string> {
  const lines = script.split('\n');
  const start = lines.findIndex((l) => l.trimEnd().endsWith(`${name}(`));
  assert.ok(start >= 0, `no ${name}( call`);
  const out: Record<string, string> = {};
  for (let i = start + 1; ; i++) {
    assert.ok(i < lines.length, `${name}( is not closed`);
    if (/^\s*\)\s*$/.test(lines[i])) break;
    const m = /^\s+(\w+)=(.+?),(?:\s+#.*)?$/.exec(lines[i]);
    assert.ok(m, `not a key=value line in ${name}(: ${lines[i]}`);
    assert.ok(!(m[1] in out), `${m[1]} given twice`);
    out[m[1]] = m[2];
  }
  return out;
}

const python = spawnSync('python3', ['--version']).status === 0;

function withScript<T>(script: string, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-trl-'));
  try {
    const path = join(dir, 'train_trl.py');
    writeFileSync(path, script);
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function py(args: string[]): string {
  const r = spawnSync('python3', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `python3 failed: ${r.stderr}`);
  return r.stdout;
}

/** ast.parse the script (when python3 exists). */
function checkSyntax(script: string): void {
  if (!python) return;
  withScript(script, (path) => py(['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', path]));
}

/** Import the script as a module (its heavy imports are inside main()) and run `code` with it as `m`; JSON out. */
function runWithModule(script: string, code: string): unknown {
  return withScript(script, (path) =>
    JSON.parse(
      py([
        '-c',
        `import importlib.util,json,sys\nspec=importlib.util.spec_from_file_location("m",sys.argv[1])\nm=importlib.util.module_from_spec(spec)\nspec.loader.exec_module(m)\n${code}`,
        path,
      ]),
    ),
  );
}

test('defaults: GRPOConfig and LoraConfig arguments, model path, arithmetic generator, math reward', () => {
  const script = trlScript(DEFAULT_RUN);
  assert.deepEqual(kwargs(script, 'GRPOConfig'), DEFAULT_GRPO_ARGS);
  assert.deepEqual(kwargs(script, 'LoraConfig'), {
    r: '16',
    lora_alpha: '32',
    lora_dropout: '0.0',
    target_modules: '["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]',
    use_rslora: 'False',
    bias: '"none"',
    task_type: '"CAUSAL_LM"',
  });
  assert.deepEqual(kwargs(script, 'GRPOTrainer'), {
    model: 'MODEL',
    reward_funcs: 'REWARD_FUNCS',
    args: 'training_args',
    train_dataset: 'train_dataset',
    peft_config: 'peft_config',
  });
  assert.match(script, /^MODEL = "public\/models\/tiny-arith"$/m);
  assert.match(script, /local model folder/);
  assert.match(script, /^REWARD_FUNCS = \[math_reward\]$/m);
  // One problem per prompt of every step: 90 steps × 16 prompts.
  assert.match(script, /problems = \[arithmetic_problem\(2, rng\) for _ in range\(1440\)\]/);
  assert.match(script, /exact random stream differs/);
  assert.doesNotMatch(script, /entropy_coef/);
  assert.match(script, /filter_accuracy: off/);
  assert.match(script, /dynamic_sampling: off/);
  assert.match(script, /^trainer\.train\(\)|^\s+trainer\.train\(\)$/m);
  assert.doesNotMatch(script, /REVISION/);
  assert.doesNotMatch(script, /TODO/);
  checkSyntax(script);
  // A config.json missing keys gets the CLI defaults.
  assert.deepEqual(kwargs(trlScript({}), 'GRPOConfig'), DEFAULT_GRPO_ARGS);
});

test('DAPO + beta + rsLoRA + Hub dataset + revision, gradient accumulation and num_iterations', () => {
  const run = BIG_RUN;
  const script = trlScript(run);
  assert.deepEqual(kwargs(script, 'GRPOConfig'), {
    ...DEFAULT_GRPO_ARGS,
    per_device_train_batch_size: '16',
    gradient_accumulation_steps: '4',
    gradient_checkpointing: 'False',
    temperature: '0.6',
    top_p: '0.95',
    top_k: '50',
    min_p: '0.05',
    learning_rate: '0.000005',
    lr_scheduler_type: '"cosine"',
    warmup_ratio: '0.1',
    optim: '"sgd"',
    weight_decay: '0.01',
    max_grad_norm: '0.1',
    scale_rewards: '"none"',
    beta: '0.001',
    epsilon_high: '0.28',
    mask_truncated_completions: 'True',
    top_entropy_quantile: '0.2',
    entropy_coef: '0.001',
    num_iterations: '2',
    max_steps: '60',
    seed: '7',
    model_init_kwargs: '{"revision": REVISION}',
  });
  assert.deepEqual(kwargs(script, 'LoraConfig'), {
    r: '32',
    lora_alpha: '128',
    lora_dropout: '0.05',
    target_modules: '["q_proj", "v_proj"]',
    use_rslora: 'True',
    bias: '"none"',
    task_type: '"CAUSAL_LM"',
  });
  assert.equal(kwargs(script, 'GRPOTrainer').processing_class, 'AutoTokenizer.from_pretrained(MODEL, revision=REVISION)');
  assert.match(script, /^MODEL = "Qwen\/Qwen2\.5-0\.5B-Instruct"/m);
  assert.match(script, /^REVISION = "v1\.0"$/m);
  assert.match(script, /raw = load_dataset\("openai\/gsm8k", "main", split="train"\)/);
  assert.match(script, /train_dataset = raw\.filter\(usable_row\)\.map\(to_grpo_row\)/);
  assert.match(script, /^REWARD_FUNCS = \[math_reward, format_reward, overlong_reward, reward_module\]$/m);
  assert.match(script, /TODO: webgrpo 'overlong'/);
  assert.match(script, /TODO: port webgrpo's --reward-module "my-reward\.mjs"/);
  assert.match(script, /filter_accuracy = \(0\.2, 0\.8\)/);
  assert.match(script, /dynamic_sampling = True/);
  assert.match(script, /webgrpo max_steps 30 × num_iterations 2/);
  assert.match(script, /older TRL took a bool: False/);
  checkSyntax(script);

  // Default config name and another split.
  const plain = trlScript({ ...DEFAULT_RUN, dataset: 'hf:HuggingFaceH4/MATH-500:default:test' });
  assert.match(plain, /raw = load_dataset\("HuggingFaceH4\/MATH-500", split="test"\)/);
  // A Hub model without a revision is passed as a repo id string.
  const noRev = trlScript({ ...DEFAULT_RUN, model: 'hf:Qwen/Qwen2.5-0.5B-Instruct' });
  assert.doesNotMatch(noRev, /REVISION|model_init_kwargs|processing_class/);
  assert.match(noRev, /^MODEL = "Qwen\/Qwen2\.5-0\.5B-Instruct"/m);
});

test('one-shot: the problem repeated, gold graded as given, entropy_coef', () => {
  const run = ONE_SHOT_RUN;
  const script = trlScript(run);
  const args = kwargs(script, 'GRPOConfig');
  assert.deepEqual(Object.keys(args).sort(), [...Object.keys(DEFAULT_GRPO_ARGS), 'entropy_coef'].sort());
  assert.equal(args.per_device_train_batch_size, '32');
  assert.equal(args.temperature, '0.6');
  assert.equal(args.beta, '0.001');
  assert.ok(script.includes(`ONE_SHOT_PROBLEM = ${pyStr(run.dataset.one_shot_problem)}`));
  assert.match(script, /ONE_SHOT_ANSWER = extract_gold_answer\("12\.8"\)/);
  assert.match(script, /train_dataset = Dataset\.from_list\(\[row\] \* 20\)/);
  assert.equal(args.entropy_coef, '0.001');
  assert.match(script, /^\s*entropy_coef=0\.001,$/m, 'dapo averages the bonus as TRL does: no note');
  checkSyntax(script);
  if (python) {
    // The problem text survives the round trip through the Python literal, non-ASCII included.
    const text = withScript(script, (path) =>
      py([
        '-c',
        'import ast,sys,json; t=ast.parse(open(sys.argv[1]).read()); print(json.dumps([n.value.value for n in ast.walk(t) if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "ONE_SHOT_PROBLEM"][0]))',
        path,
      ]),
    );
    assert.equal(JSON.parse(text), run.dataset.one_shot_problem);
  }
});

test('file datasets: json/csv/parquet builders; countdown generator', () => {
  const jsonl = trlScript({ ...DEFAULT_RUN, dataset: 'data/train.jsonl', reward_funcs: ['math', 'cosine'] });
  assert.deepEqual(kwargs(jsonl, 'GRPOConfig'), DEFAULT_GRPO_ARGS);
  assert.match(jsonl, /raw = load_dataset\("json", data_files="data\/train\.jsonl", split="train"\)/);
  assert.match(jsonl, /copy the file/);
  assert.match(jsonl, /TODO: webgrpo 'cosine'/);
  checkSyntax(jsonl);
  const csv = trlScript({ ...DEFAULT_RUN, dataset: 'my data.csv' });
  assert.match(csv, /load_dataset\("csv", data_files="my data\.csv", split="train"\)/);
  const parquet = trlScript({ ...DEFAULT_RUN, dataset: '/srv/x.parquet' });
  assert.match(parquet, /load_dataset\("parquet", data_files="\/srv\/x\.parquet", split="train"\)/);
  const json = trlScript({ ...DEFAULT_RUN, dataset: 'rows.json' });
  assert.match(json, /load_dataset\("json", data_files="rows\.json", split="train"\)/);
  assert.match(json, /field="key"/);
  checkSyntax(json);

  const countdown = trlScript({ ...DEFAULT_RUN, dataset: 'countdown:4', reward_funcs: ['countdown', 'format'] });
  assert.match(countdown, /countdown_problem\(rng, 4\)/);
  assert.match(countdown, /^REWARD_FUNCS = \[countdown_reward, format_reward\]$/m);
  checkSyntax(countdown);
});

test('bad configs are refused', () => {
  assert.throws(() => trlScript({ ...DEFAULT_RUN, dataset: 'nope' }), /unknown dataset/);
  assert.throws(() => trlScript({ ...DEFAULT_RUN, gradient_accumulation_steps: 3 }), /not divisible/);
  assert.throws(() => trlScript({ ...DEFAULT_RUN, learning_rate: 'fast' }), /learning_rate/);
  assert.throws(() => trlScript({ ...DEFAULT_RUN, dataset: { one_shot_problem: 'x' } }), /one-shot/);
  assert.throws(() => trlScript({ ...DEFAULT_RUN, model: 'hf:nope' }), /bad model spec/);
});

test('the Python rewards and generators agree with webgrpo (needs python3)', { skip: !python && 'python3 not found' }, () => {
  const script = trlScript({ ...DEFAULT_RUN, reward_funcs: ['math', 'format', 'countdown'] });
  const mathCases: [string, string][] = [
    ['so \\boxed{72}', '72'],
    ['\\boxed{71}', '72'],
    ['<answer>14/3</answer>', '\\frac{14}{3}'],
    ['\\boxed{0.5}', '\\frac12'],
    ['\\boxed{90^\\circ}', '90'],
    ['\\boxed{\\$18}', '18'],
    ['\\boxed{1,000}', '1000'],
    ['\\boxed{x=5}', '5'],
    ['\\boxed{10\\%}', '10'],
    ['\\boxed{\\text{Evelyn}}', 'Evelyn'],
    ['The answer is\n#### 1,234', '1234'],
    ['\\boxed{12.70}', '12.8'],
    ['\\boxed{12.8}', '12.8'],
    ['no answer here', '3'],
    ['\\boxed{3} then \\boxed{4}', '4'],
    ['<think>hm</think><answer>\\boxed{-2}</answer>', '-2'],
  ];
  const formatCases = [
    '<think>a</think><answer>b</answer>',
    ' <think>\na\n</think>\n<answer>\nb\n</answer>\n',
    '<think>a</think>x<answer>b</answer>',
    '<think>a</think><answer>b</answer><answer>c</answer>',
    'plain',
  ];
  const countdownCases: [string, number[], number][] = [
    ['<answer>(10 - 4) * 3</answer>', [3, 4, 10], 18],
    ['<answer>10 - 4 * 3</answer>', [3, 4, 10], 18],
    ['<answer>10 - 4</answer>', [3, 4, 10], 6],
    ['<answer>x + 1</answer>', [1], 2],
    ['<answer>10 / (4 - 4)</answer>', [10, 4, 4], 1],
    ['no tags', [1, 2], 3],
  ];
  const got = runWithModule(
    script,
    [
      `cases = json.loads(${pyStr(JSON.stringify({ mathCases, formatCases, countdownCases }))})`,
      'out = {',
      '  "math": m.math_reward([[{"role": "assistant", "content": c}] for c, _ in cases["mathCases"]], answer=[g for _, g in cases["mathCases"]]),',
      '  "format": m.format_reward(cases["formatCases"]),',
      '  "countdown": m.countdown_reward([c for c, _, _ in cases["countdownCases"]], nums=[n for _, n, _ in cases["countdownCases"]], target=[t for _, _, t in cases["countdownCases"]]),',
      '  "none": m.math_reward(["\\\\boxed{1}"], answer=[""]),',
      '  "names": [f.__name__ for f in m.REWARD_FUNCS],',
      '}',
      'print(json.dumps(out))',
    ].join('\n'),
  ) as Record<string, unknown>;
  const ts = (name: string, c: string, row: Record<string, unknown>) => BUILTIN_REWARDS[name](c, row) as number;
  assert.deepEqual(
    got.math,
    mathCases.map(([c, g]) => ts('math', c, { answer: g })),
  );
  assert.deepEqual(
    got.format,
    formatCases.map((c) => ts('format', c, {})),
  );
  assert.deepEqual(
    got.countdown,
    countdownCases.map(([c, nums, target]) => ts('countdown', c, { nums, target })),
  );
  assert.deepEqual(got.none, [null]);
  assert.deepEqual(got.names, ['math', 'format', 'countdown']);

  // Generators: the same task formats; countdown solutions reach their targets.
  const arith = trlScript(DEFAULT_RUN);
  const problems = runWithModule(
    arith,
    ['import random', 'rng = random.Random(0)', 'print(json.dumps([m.arithmetic_problem(level, rng) for level in (1, 2, 3) for _ in range(50)]))'].join('\n'),
  ) as { question: string; answer: string; solution: string }[];
  for (const p of problems) {
    const [, a, op, b] = /^(\d+)([-+*])(\d+)$/.exec(p.question)!;
    const value = op === '+' ? +a + +b : op === '-' ? +a - +b : +a * +b;
    assert.equal(p.answer, String(value));
    assert.equal(ts('math', p.solution, { answer: p.answer }), 1);
  }
  const cd = trlScript({ ...DEFAULT_RUN, dataset: 'countdown' });
  const cdProblems = runWithModule(
    cd,
    ['import random', 'rng = random.Random(1)', 'print(json.dumps([m.countdown_problem(rng) for _ in range(50)]))'].join('\n'),
  ) as { nums: number[]; target: number; solution: string; question: string }[];
  for (const p of cdProblems) {
    assert.ok(p.nums.length === 3 || p.nums.length === 4);
    assert.equal(ts('countdown', `<answer>${p.solution}</answer>`, { nums: p.nums, target: p.target }), 1, JSON.stringify(p));
    assert.match(p.question, /^Using the numbers \[[\d, ]+\], create an equation that equals \d+\./);
  }
});

/** Every run config this file exports (and one more: an unknown reward, PEFT's snake_case LoRA keys). */
const CASES: Record<string, Record<string, unknown>> = {
  default: DEFAULT_RUN,
  'empty config.json': {},
  big: BIG_RUN,
  'hub dataset, default config': { ...DEFAULT_RUN, dataset: 'hf:HuggingFaceH4/MATH-500:default:test' },
  'hub model without revision': { ...DEFAULT_RUN, model: 'hf:Qwen/Qwen2.5-0.5B-Instruct' },
  'one-shot': ONE_SHOT_RUN,
  'jsonl + cosine': { ...DEFAULT_RUN, dataset: 'data/train.jsonl', reward_funcs: ['math', 'cosine'] },
  csv: { ...DEFAULT_RUN, dataset: 'my data.csv' },
  parquet: { ...DEFAULT_RUN, dataset: '/srv/x.parquet' },
  json: { ...DEFAULT_RUN, dataset: 'rows.json' },
  'countdown:4': { ...DEFAULT_RUN, dataset: 'countdown:4', reward_funcs: ['countdown', 'format'] },
  countdown: { ...DEFAULT_RUN, dataset: 'countdown' },
  'math + format + countdown': { ...DEFAULT_RUN, reward_funcs: ['math', 'format', 'countdown'] },
  'stub reward, snake_case lora': { ...DEFAULT_RUN, reward_funcs: ['cosine'], lora: { r: 8, lora_alpha: 16.5, target_modules: ['q_proj'] } },
  'reward module only': { ...DEFAULT_RUN, reward_funcs: undefined, reward_module: 'r.mjs', model: 'hf:a/b@main' },
};

const TEMPLATE_DIR = fileURLToPath(new URL('../src/rl/trl/', import.meta.url));
const TEMPLATES = readdirSync(TEMPLATE_DIR)
  .filter((f) => f.endsWith('.py'))
  .sort();

/** `python3 -m py_compile` on files (bytecode goes to a temp folder, never next to the sources). */
function pyCompile(files: string[]): { status: number | null; stderr: string } {
  const cache = mkdtempSync(join(tmpdir(), 'webgrpo-pycache-'));
  try {
    const r = spawnSync('python3', ['-m', 'py_compile', ...files], { encoding: 'utf8', env: { ...process.env, PYTHONPYCACHEPREFIX: cache } });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

test('every exported script compiles with python3 -m py_compile', (t) => {
  if (!python) return t.skip('python3 not found on PATH');
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-trl-'));
  try {
    const files = Object.entries(CASES).map(([name, run], i) => {
      const script = trlScript(run);
      assert.doesNotMatch(script, /@webgrpo/, `${name}: a template marker is left in the script`);
      const path = join(dir, `case${i}_${name.replace(/\W+/g, '_')}.py`);
      writeFileSync(path, script);
      return path;
    });
    // One python3 for all of them (py_compile names the failing file in stderr).
    const r = pyCompile(files);
    assert.equal(r.status, 0, `py_compile failed:\n${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Python templates (src/rl/trl/*.py) compile, and the building blocks import on their own', (t) => {
  assert.ok(TEMPLATES.includes('train_grpo.py'), `templates found: ${TEMPLATES.join(', ')}`);
  if (!python) return t.skip('python3 not found on PATH');
  const compiled = pyCompile(TEMPLATES.map((f) => join(TEMPLATE_DIR, f)));
  assert.equal(compiled.status, 0, `py_compile failed:\n${compiled.stderr}`);
  // train_grpo.py is the skeleton (its names come from the blocks); every other file imports alone.
  const blocks = TEMPLATES.filter((f) => f !== 'train_grpo.py').map((f) => f.slice(0, -3));
  const r = spawnSync(
    'python3',
    ['-B', '-c', `import sys; sys.path.insert(0, sys.argv[1])\nfor name in sys.argv[2:]: __import__(name)`, TEMPLATE_DIR, ...blocks],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `importing ${blocks.join(', ')} failed:\n${r.stderr}`);
});

test('template markers: slots, conditional lines, the dropped header, missing values refused', () => {
  const source = [
    '# header, dropped',
    '# @webgrpo-start',
    'a = 1',
    '',
    'x = 0  # @webgrpo: gone',
    '',
    'def f():',
    '    pass  # @webgrpo: body',
    '    keep = 1  # @webgrpo-if: yes',
    '    drop = 1  # @webgrpo-if: !yes',
  ].join('\n');
  assert.equal(templateBody(source).split('\n')[0], 'a = 1');
  assert.equal(
    fillTemplate(source, { slots: { gone: [], body: ['y = 2', '', 'return y'] }, flags: { yes: true } }),
    ['a = 1', '', 'def f():', '    y = 2', '', '    return y', '    keep = 1'].join('\n'),
  );
  assert.throws(() => fillTemplate(source, { slots: { gone: [] }, flags: { yes: true } }), /slot "body" was not filled/);
  assert.throws(() => fillTemplate(source, { slots: { gone: [], body: 'pass' } }), /flag "yes" was not given/);
  assert.throws(() => fillTemplate('x = 1  # @webgrpo gone', {}), /malformed marker/);
});
