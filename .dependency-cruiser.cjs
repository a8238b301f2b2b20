/**
 * Layers point down: each may import only from the layers before it.
 *   src/gpu → src/kernels → src/io → src/model → src/lora → src/train → src/data → src/rl
 *   → src/app and src/cli (which never import each other)
 * Run: npm run lint:layers
 */
const ORDER = ['gpu', 'kernels', 'io', 'model', 'lora', 'train', 'data', 'rl', 'app|cli'];
const ORDER_TEXT = 'src/gpu → src/kernels → src/io → src/model → src/lora → src/train → src/data → src/rl → src/app | src/cli';

const layerRules = ORDER.slice(0, -1).map((layer, i) => {
  const higher = ORDER.slice(i + 1).join('|');
  return {
    name: `${layer}-imports-only-${ORDER.slice(0, i + 1).join('-')}`,
    comment: `src/${layer} may import only from layers before it (${ORDER_TEXT})`,
    severity: 'error',
    from: { path: `^src/(${layer})/` },
    to: { path: `^src/(${higher})/` },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: `Import cycles are not allowed; layers only point down (${ORDER_TEXT})`,
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'app-not-cli',
      comment: `src/app must not import src/cli: they are siblings on the top layer (${ORDER_TEXT})`,
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'cli-not-app',
      comment: `src/cli must not import src/app: they are siblings on the top layer (${ORDER_TEXT})`,
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/app/' },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    exclude: { path: '\\.tsx$' },
    doNotFollow: { path: 'node_modules' },
  },
};
