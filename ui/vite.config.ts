import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The run browser's app: src/app bundled to dist/app at package build time (scripts/build.mjs),
// so `tributary ui` needs no toolchain at run time. JSX is Preact's (tsconfig.app.json).
export default defineConfig({
  root: fileURLToPath(new URL('./src/app', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('./dist/app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
  },
});
