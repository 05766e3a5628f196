// Builds every published package to ESM JavaScript + declarations (tsc --build with project
// references; no bundler: each source file becomes one .js file next to its .d.ts and maps), then
// copies the plain JavaScript files that live among the sources (worker-thread entry points, a
// CommonJS launcher) into each package's dist/.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const refs = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')).references;

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--build', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

let copied = 0;
for (const { path } of refs) {
  const pkg = dirname(join(root, path));
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (/\.(mjs|cjs)$/.test(e.name)) {
        const out = join(pkg, 'dist', relative(join(pkg, 'src'), full));
        mkdirSync(dirname(out), { recursive: true });
        copyFileSync(full, out);
        copied++;
      }
    }
  };
  walk(join(pkg, 'src'));
}
// The run browser's app is bundled by Vite (Preact, TypeScript), so `tributary ui` needs no toolchain.
const ui = join(root, 'ui');
const uiRequire = createRequire(join(ui, 'package.json'));
execFileSync(
  process.execPath,
  [join(dirname(uiRequire.resolve('vite/package.json')), 'bin', 'vite.js'), 'build', '--config', join(ui, 'vite.config.ts')],
  { cwd: ui, stdio: 'inherit' },
);
console.log(`build: ${refs.length} packages, ${copied} plain JavaScript file(s) copied, ui app bundled`);
