// Node entry hook: TypeScript via tsx, plus `*.wgsl?raw` imports as strings (what Vite does in the browser).
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-loader.mjs', import.meta.url);
