/**
 * PATCH bodies. `application/merge-patch+json` is RFC 7386; `strategic-merge-patch+json` is
 * treated as a merge patch (the strategic rules only differ for keyed lists such as containers and
 * env, which a client patching a Job's parallelism or labels does not touch); `json-patch+json` is
 * RFC 6902 and, as in the real server, must be an array: a merge body sent with client-node's
 * default patch content type fails here as it fails there.
 */
import { badRequest, unsupportedMediaType } from './api-errors.ts';

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/'))
    throw badRequest(`the server rejected our request due to an error in our request: invalid JSON pointer "${path}"`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[]): { parent: Record<string, Json> | Json[]; key: string } {
  let node: Json = doc;
  for (const part of parts.slice(0, -1)) {
    node = Array.isArray(node) ? node[Number(part)] : isObject(node) ? node[part] : undefined;
    if (node === undefined) throw badRequest(`doc is missing path: "/${parts.join('/')}": missing value`);
  }
  if (!Array.isArray(node) && !isObject(node)) throw badRequest(`doc is missing path: "/${parts.join('/')}"`);
  return { parent: node, key: parts[parts.length - 1]! };
}

export function jsonPatch(doc: Json, operations: Json): Json {
  if (!Array.isArray(operations)) {
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  }
  let out = structuredClone(doc);
  for (const op of operations as Array<{ op: string; path: string; value?: Json; from?: string }>) {
    const parts = pointer(op.path);
    if (parts.length === 0) {
      if (op.op === 'replace' || op.op === 'add') out = structuredClone(op.value);
      continue;
    }
    const { parent, key } = parentOf(out, parts);
    const get = () => (Array.isArray(parent) ? parent[Number(key)] : parent[key]);
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, structuredClone(op.value));
        else parent[key] = structuredClone(op.value);
        break;
      case 'replace':
        if (get() === undefined) throw badRequest(`replace operation does not apply: doc is missing key: ${op.path}: missing value`);
        if (Array.isArray(parent)) parent[Number(key)] = structuredClone(op.value);
        else parent[key] = structuredClone(op.value);
        break;
      case 'remove':
        if (get() === undefined) throw badRequest(`remove operation does not apply: doc is missing path: "${op.path}": missing value`);
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
        break;
      case 'test':
        if (JSON.stringify(get()) !== JSON.stringify(op.value)) throw badRequest(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${op.op}`);
    }
  }
  return out;
}

/** Applies a PATCH body by its content type. */
export function applyPatch(doc: Json, contentType: string, body: Json): Json {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') {
    if (!isObject(body)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
    return mergePatch(doc, body);
  }
  if (type === 'application/json-patch+json') return jsonPatch(doc, body);
  throw unsupportedMediaType(type);
}
