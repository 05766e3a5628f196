import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { TributaryError } from '../errors.ts';
import { sha256 } from '../util/hash.ts';
import type { CodePackageManifest } from './code-package-manifest.ts';
import { unpackTar } from './tar.ts';

/** Check an unpacked package against its manifest: every file listed, every hash right, nothing extra. */
function verify(files: Record<string, Uint8Array>, sha: string): CodePackageManifest {
  const raw = files['manifest.json'];
  if (!raw) throw new TributaryError('INTEGRITY', `Code package ${sha} has no manifest.json: refusing to run it.`);
  const manifest = JSON.parse(Buffer.from(raw).toString('utf8')) as CodePackageManifest;
  const names = Object.keys(files).filter((n) => n !== 'manifest.json');
  if (names.length !== Object.keys(manifest.files).length || !manifest.files[manifest.entry])
    throw new TributaryError('INTEGRITY', `Code package ${sha} does not match its manifest: refusing to run it.`);
  for (const name of names) {
    if (manifest.files[name] !== sha256(files[name]!))
      throw new TributaryError('INTEGRITY', `File ${name} of code package ${sha} does not match its hash: refusing to run it.`);
  }
  return manifest;
}

/**
 * Make a run's code package available as files: fetched from the datastore (verified against its
 * address), unpacked, checked file by file against its manifest, and moved into place atomically
 * under `$TRIBUTARY_CODE_CACHE` (default: the system temp folder), where later jobs on the same
 * machine reuse it (checked again each time; a copy that does not verify is unpacked anew). Resolves with the folder's URL (ending in `/`).
 * @internal
 */
export async function materializeCodePackage(store: ArtifactStore, sha: string): Promise<URL> {
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new TributaryError('INTEGRITY', `Not a code package address: ${JSON.stringify(sha)}.`);
  const cache = process.env.TRIBUTARY_CODE_CACHE || join(tmpdir(), 'tributary-code');
  const dir = join(cache, sha);
  const url = pathToFileURL(`${dir}/`);
  if (existsSync(join(dir, '.verified'))) {
    // Unpacked earlier on this machine: checked again (cheap), so a file changed since is not run.
    // The cache is only a copy: one that does not verify is replaced from the datastore, whose
    // package is verified against its address.
    try {
      const files: Record<string, Uint8Array> = { 'manifest.json': readFileSync(join(dir, 'manifest.json')) };
      const manifest = JSON.parse(Buffer.from(files['manifest.json']!).toString('utf8')) as CodePackageManifest;
      for (const name of Object.keys(manifest.files)) files[name] = readFileSync(join(dir, name));
      verify(files, sha);
      return url;
    } catch (err) {
      process.stderr.write(
        `[tributary] the unpacked code package in ${dir} does not verify (${(err as Error).message}); unpacking it again from the datastore\n`,
      );
      const aside = `${dir}.${process.pid}.${Date.now()}.bad`;
      try {
        renameSync(dir, aside);
        rmSync(aside, { recursive: true, force: true });
      } catch {
        // another job replaced it meanwhile
      }
    }
  }
  const files = unpackTar(await store.getBlob(sha, undefined, 'code package'));
  verify(files, sha);
  const tmp = `${dir}.${process.pid}.${Date.now()}.tmp`;
  mkdirSync(tmp, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(join(tmp, name, '..'), { recursive: true });
    writeFileSync(join(tmp, name), bytes);
  }
  writeFileSync(join(tmp, '.verified'), sha);
  try {
    renameSync(tmp, dir);
  } catch {
    // Another job on this machine put it there first: theirs is the same content.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, '.verified'))) throw new TributaryError('INFRASTRUCTURE', `Cannot unpack code package ${sha} into ${cache}.`);
  }
  return url;
}
