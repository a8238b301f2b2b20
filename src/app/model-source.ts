// Where the page and the worker read a run's model from: a built-in model served with the site, a
// Hub repository (kept in the Cache API), or a folder the user picked (copied into OPFS).

/// <reference types="vite/client" />

import { opfsSource } from '../io/opfs.ts';
import { openSource, openUrlFolder, type ModelSource, type OpenSourceOptions } from '../io/source.ts';
import { builtinModelName, type ModelRef } from '../rl/run-config.ts';
import { localModelFolder } from './storage.ts';

export function modelSource(model: ModelRef, onProgress?: OpenSourceOptions['onProgress']): ModelSource {
  if (model.kind === 'builtin')
    return openUrlFolder(new URL(`${import.meta.env.BASE_URL}models/${builtinModelName(model)}/`, self.location.origin).href, { onProgress });
  if (model.kind === 'hub') return openSource(`hf:${model.repo}${model.revision ? `@${model.revision}` : ''}`, { onProgress });
  return opfsSource(localModelFolder(model.name));
}
