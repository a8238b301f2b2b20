// WGSL sources are imported as text: Vite handles `?raw`, Node uses scripts/register.mjs.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}

// The Python templates of export-trl (src/rl/trl/*.py), imported as text the same way.
declare module '*.py?raw' {
  const source: string;
  export default source;
}
