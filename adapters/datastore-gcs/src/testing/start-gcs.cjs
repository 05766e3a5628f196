// Starts firebase-tools' Cloud Storage emulator without Java. Its official launcher insists on a
// Java rules runtime (downloaded, Java 21) that the GCS JSON API routes (/storage/v1,
// /upload/storage/v1) never use: they go through the admin storage layer, which checks no rules.
// So the rules runtime and manager are replaced by no-ops. Depends on firebase-tools internals
// (pinned version). Port from GCS_PORT; blobs under os.tmpdir() (set TMPDIR per instance).
const { StorageEmulator } = require('firebase-tools/lib/emulator/storage');
const { EmulatorRegistry } = require('firebase-tools/lib/emulator/registry');

const port = Number(process.env.GCS_PORT);
const noop = async () => {};
const emu = new StorageEmulator({ projectId: 'demo-test', host: '127.0.0.1', port, rules: [], auto_download: false });
emu._rulesRuntime = { start: noop, stop: noop };
emu._rulesManager = { start: noop, stop: noop, getRuleset: () => undefined };
EmulatorRegistry.start(emu).then(
  () => console.log(`GCS emulator listening on http://127.0.0.1:${port}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
process.on('SIGTERM', () => emu.stop().finally(() => process.exit(0)));
