import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The web app is a static site: `npm run build` writes dist/, which any static host can serve.
// WGSL files are imported with `?raw`; the built-in tiny model is served from public/models/.
export default defineConfig({
  plugins: [react()],
  build: { target: 'es2022' },
  worker: { format: 'es' },
});
