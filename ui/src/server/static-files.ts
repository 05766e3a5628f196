/** The built browser app (dist/app, made by Vite at package build time), served as files. */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** `ui/dist/app`, from src/server or dist/server alike (both two levels under the package). */
export const APP_DIR = fileURLToPath(new URL('../../dist/app/', import.meta.url));

/** A file of the app, or undefined (not built, or no such file). Paths never leave APP_DIR. */
export async function appFile(path: string): Promise<{ body: Buffer; type: string; immutable: boolean } | undefined> {
  const rel = path === '/' || path === '' ? 'index.html' : path.replace(/^\/+/, '');
  const full = normalize(join(APP_DIR, rel));
  if (!full.startsWith(APP_DIR.endsWith(sep) ? APP_DIR : APP_DIR + sep)) return undefined;
  try {
    const body = await readFile(full);
    // Vite names assets by content hash: they never change under one name.
    return { body, type: TYPES[extname(full)] ?? 'application/octet-stream', immutable: rel.startsWith('assets/') };
  } catch {
    return undefined;
  }
}
