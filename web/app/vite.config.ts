/**
 * The web app's build: Preact, bundled by Vite into dist/app/ under the /app/ base, which the
 * Rostrum server serves (src/api/routes/pages.ts). `npm run build` runs it; `npm start` builds first.
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  base: '/app/',
  plugins: [preact()],
  build: {
    outDir: new URL('../../dist/app/', import.meta.url).pathname,
    emptyOutDir: true,
    target: 'es2022',
    // One chunk for the page, one for hls.js (loaded when the player starts).
    chunkSizeWarningLimit: 600,
  },
});
