import { writeFileSync } from 'node:fs';
import { startHarness } from './test/remote-harness.ts';
const h = await startHarness('kubernetes');
writeFileSync(
  '/tmp/h.env',
  Object.entries({ ...h.cliEnv, DS: h.datastore('dbg2') })
    .map(([k, v]) => `export ${k}='${v}'`)
    .join('\n'),
);
setInterval(() => console.log('running', h.running(), JSON.stringify(h.requests())), 2000);
setTimeout(async () => {
  await h.stop();
  process.exit(0);
}, 60000);
