#!/usr/bin/env node
// The CLI is plain JavaScript (the package's build); a TypeScript flow file is turned into
// JavaScript with esbuild when it is loaded, and only then.
//
// `run` and `resume` start their first task worker right here, before the CLI itself loads: the
// worker's own Node start and module loading then overlap the CLI's, instead of coming after it.
// The run adopts it (or stops it, if it turns out not to be needed).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
let warm;
const prestart = ['--help', '-h', '--dry-run', '--compute', '--with'];
if (
  (argv[0] === 'run' || argv[0] === 'resume') &&
  !argv.some((a) => prestart.includes(a) || a.startsWith('--compute=') || a.startsWith('--with='))
) {
  try {
    // Not our environment: the host basics only (the run sends the rest with the flow, see WarmPool).
    const { hostBasics } = await import('@tributary/core/host-environment');
    const args = ['--enable-source-maps', fileURLToPath(import.meta.resolve('@tributary/core/worker'))];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: { ...hostBasics(), TRIBUTARY_WORKER: '1' },
    });
    child.on('error', () => undefined);
    warm = { child, args };
  } catch {
    // no warm worker: the run starts its workers itself
  }
}
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(argv, { warm });
