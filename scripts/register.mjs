// Node entry hook: TypeScript via tsx, plus `?raw` imports (`*.wgsl?raw`, `*.py?raw`) as strings (what Vite does in the browser).
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-loader.mjs', import.meta.url);
