// `import text from './file.ext?raw'` gives the file's text as the default export, as Vite's `?raw`
// does in the browser build (WGSL shaders, export-trl's Python templates). Registered by register.mjs.
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('?raw')) {
    const source = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(source)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
