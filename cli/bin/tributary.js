#!/usr/bin/env node
// The CLI is plain JavaScript (the package's build); a TypeScript flow file is turned into
// JavaScript with esbuild when it is loaded, and only then.
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
