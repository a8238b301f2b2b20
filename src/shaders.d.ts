// WGSL sources are imported as text: Vite handles `?raw`, Node uses scripts/register.mjs.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
