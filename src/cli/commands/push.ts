// webgrpo push RUN --repo owner/name: upload a run to the Hugging Face Hub (DESIGN.md §13.4) — the
// PEFT adapter and any GGUF files at the repository's root, the run's own files under run/, and a
// model card with the reward chart. The token comes from an environment variable only; nothing is
// written into the run folder.

import { existsSync, openAsBlob, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RUN_FILES_DIR } from '../../rl/model-card.ts';
import { hubFilesOfRun, PublishError, publishToHub, repoIdProblem, RUN_FILES, type RunForHub } from '../../rl/publish.ts';
import { runConfigFromJson } from '../../rl/run-config.ts';
import { log, output, UsageError, type Command } from '../flags.ts';

const USAGE = 'push RUN --repo owner/name [--private] [--new-repo] [--token-env HF_TOKEN]   (upload the adapter, GGUF files and a model card to the Hub)';

/** The run folder's files for hubFilesOfRun, read lazily from disk. */
async function runForHub(run: string, repo: string): Promise<RunForHub> {
  const rootFiles: RunForHub['rootFiles'] = [];
  const adapter = join(run, 'adapter');
  for (const name of readdirSync(adapter).sort())
    if (statSync(join(adapter, name)).isFile()) rootFiles.push({ name, content: await openAsBlob(join(adapter, name)) });
  for (const name of readdirSync(run).sort()) {
    if (name.endsWith('.gguf') && statSync(join(run, name)).isFile()) rootFiles.push({ name, content: await openAsBlob(join(run, name)) });
  }
  const runFiles: RunForHub['runFiles'] = {};
  for (const name of RUN_FILES) if (existsSync(join(run, name))) runFiles[name] = await openAsBlob(join(run, name));
  return { repo, rootFiles, runFiles };
}

export const push: Command = {
  usage: USAGE,
  options: {
    repo: { type: 'string' },
    private: { type: 'boolean', default: false },
    'new-repo': { type: 'boolean', default: false },
    'token-env': { type: 'string', default: 'HF_TOKEN' },
    'hub-endpoint': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: true,
  help: () =>
    [
      '    --repo owner/name       the model repository; created when missing (private with --private), else uploaded into',
      '    --new-repo              fail when the repository already exists instead of uploading into it',
      '    --token-env NAME        the environment variable holding a Hub write token (default HF_TOKEN; never printed)',
      '    --hub-endpoint URL      the Hub (default $HF_ENDPOINT or https://huggingface.co)',
      '',
      '  Uploads adapter/* and RUN/*.gguf to the root, config.json, metrics.jsonl, summary.json, passk.json,',
      `  reward.svg and train_trl.py under ${RUN_FILES_DIR}/, and README.md (the model card), in one commit.`,
    ].join('\n'),
  async run(values, argv) {
    const valueFlags = new Set(['--repo', '--token-env', '--hub-endpoint']);
    const positional = argv.filter((a, i) => !a.startsWith('-') && !valueFlags.has(argv[i - 1]));
    if (positional.length !== 1) throw new UsageError(`push takes one run folder: webgrpo ${USAGE}`);
    const run = positional[0];
    const repo = values.repo as string | undefined;
    if (!repo) throw new UsageError('push needs --repo owner/name.');
    const problem = repoIdProblem(repo);
    if (problem) throw new UsageError(`--repo: ${problem}.`);
    const tokenEnv = values['token-env'] as string;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(tokenEnv)) throw new UsageError(`--token-env takes the name of an environment variable, got "${tokenEnv}".`);
    const token = process.env[tokenEnv]?.trim();
    if (!token) throw new UsageError(`$${tokenEnv} is not set: put a Hugging Face write token in it (or name another variable with --token-env).`);
    const configFile = join(run, 'config.json');
    if (!existsSync(configFile)) throw new UsageError(`${configFile} not found: is ${run} a webgrpo train run?`);
    if (!existsSync(join(run, 'adapter', 'adapter_model.safetensors')))
      throw new UsageError(`${run} has no adapter/adapter_model.safetensors yet: push a finished or stopped run.`);
    runConfigFromJson(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
    const files = await hubFilesOfRun(await runForHub(run, repo));
    const names = files.map((f) => f.path);

    const endpoint = ((values['hub-endpoint'] as string | undefined) ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
    log(`pushing ${basename(run)} to ${endpoint}/${repo}: ${names.length} files`);
    try {
      const result = await publishToHub({
        repo,
        token,
        endpoint,
        files,
        private: values.private === true,
        newRepo: values['new-repo'] === true,
        onProgress: log,
      });
      output(values, { ...result, files: names }, `${result.url}`);
    } catch (e) {
      if (!(e instanceof PublishError)) throw e;
      const hint = e.kind === 'token' ? ` (the token came from $${tokenEnv})` : '';
      const message = `${e.message}${hint} The run folder ${run} is unchanged.`;
      throw e.kind === 'usage' ? new UsageError(message) : new Error(message);
    }
  },
};
