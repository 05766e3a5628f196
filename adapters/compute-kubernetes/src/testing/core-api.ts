/** The core/v1 endpoints the emulator serves: pods (read, list/watch, delete, log), secrets, namespaces. */
import { randomUUID } from 'node:crypto';
import { alreadyExists, badRequest, conflict, notFound } from './api-errors.ts';
import { deleteOptions, deleteSuccess, rejectInvalid, requireNamespace, type ApiContext } from './api-context.ts';
import type { ApiRequest, Reply } from './http-server.ts';
import { listOrWatch } from './list-watch.ts';
import { now, type KubePod, type KubeSecret } from './model.ts';
import type { LogQuery } from './pod-logs.ts';
import { toTable, wantsTable } from './tables.ts';

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export function readPod(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  const pod = ctx.store.get<KubePod>('pods', namespace, name);
  if (!pod) throw notFound('pods', name);
  if (wantsTable(request.headers.accept)) return { status: 200, body: toTable('pods', [pod], ctx.store.resourceVersion) };
  return { status: 200, body: pod };
}

export function listPods(ctx: ApiContext, namespace: string | undefined, request: ApiRequest): Reply {
  return listOrWatch(ctx.store, 'pods', namespace, request);
}

export function deletePod(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  if (!ctx.store.peek('pods', namespace, name)) throw notFound('pods', name);
  const { gracePeriodSeconds } = deleteOptions(request.query, request.json());
  const pod = ctx.kubelet.delete(namespace, name, gracePeriodSeconds);
  return { status: 200, body: pod ?? deleteSuccess('pods', name, undefined) };
}

function intParam(query: URLSearchParams, key: string): number | undefined {
  const text = query.get(key);
  if (text === null || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw badRequest(`${key}: invalid value "${text}"`);
  return value;
}

/** Why a container has no log yet, in the words of the real server. */
function waitingText(pod: KubePod, container: string): string {
  const reason = pod.status.containerStatuses?.find((s) => s.name === container)?.state.waiting?.reason ?? 'ContainerCreating';
  const why = reason === 'ErrImagePull' || reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : reason;
  return `container "${container}" in pod "${pod.metadata.name}" is waiting to start: ${why}`;
}

export function readPodLog(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  const pod = ctx.store.peek<KubePod>('pods', namespace, name);
  if (!pod) throw notFound('pods', name);
  const names = pod.spec.containers.map((c) => c.name);
  const q = request.query;
  const container = q.get('container') || (names.length === 1 ? names[0]! : undefined);
  if (!container) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`);
  if (!names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  const previous = q.get('previous') === 'true';
  // Only the first container runs; the others have an empty log once the pod runs.
  const log = container === names[0] ? ctx.kubelet.log(namespace, name, previous) : undefined;
  if (!log) {
    if (previous) throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    if (container !== names[0] && pod.status.phase !== 'Pending') return { status: 200, body: '' };
    throw badRequest(waitingText(pod, container));
  }
  const query: LogQuery = {};
  const tailLines = intParam(q, 'tailLines');
  const limitBytes = intParam(q, 'limitBytes');
  const sinceSeconds = intParam(q, 'sinceSeconds');
  if (tailLines !== undefined) query.tailLines = tailLines;
  if (limitBytes !== undefined) query.limitBytes = limitBytes;
  if (sinceSeconds !== undefined) query.sinceSeconds = sinceSeconds;
  if (q.get('timestamps') === 'true') query.timestamps = true;
  const follow = q.get('follow') === 'true' || q.get('follow') === '1';
  return {
    stream(res, onClose) {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked' });
      if (!follow) {
        res.end(log.read(query));
        return;
      }
      // Chunked text until the container exits, as the kubelet streams it.
      res.flushHeaders();
      const unsubscribe = log.follow(
        query,
        (text) => res.write(text),
        () => res.end(),
      );
      onClose(unsubscribe);
    },
  };
}

function secretCauses(secret: KubeSecret): Array<{ reason: string; message: string; field: string }> {
  const causes: Array<{ reason: string; message: string; field: string }> = [];
  const name = secret.metadata.name;
  if (!SUBDOMAIN.test(name) || name.length > 253) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    });
  }
  for (const key of Object.keys(secret.data ?? {})) {
    if (!SECRET_KEY.test(key)) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: `data[${key}]`,
        message: `Invalid value: "${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
      });
    }
  }
  return causes;
}

/** `stringData` is folded into `data` (base64), as the server does on write. */
function normalizeSecret(body: KubeSecret): KubeSecret {
  const secret = structuredClone(body);
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (data.${key})`);
    }
  }
  if (secret.stringData) {
    secret.data = { ...secret.data };
    for (const [key, value] of Object.entries(secret.stringData)) secret.data[key] = Buffer.from(String(value), 'utf8').toString('base64');
    delete secret.stringData;
  }
  secret.type ??= 'Opaque';
  secret.apiVersion = 'v1';
  secret.kind = 'Secret';
  return secret;
}

export function createSecret(ctx: ApiContext, namespace: string, request: ApiRequest): Reply {
  const body = request.json() as KubeSecret | undefined;
  if (!body || typeof body !== 'object' || !body.metadata) throw badRequest('the body of the request must be a Secret object');
  if (body.metadata.namespace !== undefined && body.metadata.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  requireNamespace(ctx, namespace);
  const secret = normalizeSecret(body);
  if (!secret.metadata.name && secret.metadata.generateName)
    secret.metadata.name = `${secret.metadata.generateName}${randomUUID().slice(0, 5)}`;
  if (!secret.metadata.name) {
    rejectInvalid(ctx, 'secrets', '', [
      { reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' },
    ]);
  }
  const causes = secretCauses(secret);
  if (causes.length) rejectInvalid(ctx, 'secrets', secret.metadata.name, causes);
  if (ctx.store.peek('secrets', namespace, secret.metadata.name)) throw alreadyExists('secrets', secret.metadata.name);
  secret.metadata = { ...secret.metadata, namespace, uid: randomUUID(), creationTimestamp: now() };
  return { status: 201, body: ctx.store.create('secrets', secret) };
}

export function readSecret(ctx: ApiContext, namespace: string, name: string): Reply {
  const secret = ctx.store.get<KubeSecret>('secrets', namespace, name);
  if (!secret) throw notFound('secrets', name);
  return { status: 200, body: secret };
}

export function listSecrets(ctx: ApiContext, namespace: string | undefined, request: ApiRequest): Reply {
  return listOrWatch(ctx.store, 'secrets', namespace, request);
}

export function replaceSecret(ctx: ApiContext, namespace: string, name: string, request: ApiRequest): Reply {
  const before = ctx.store.peek<KubeSecret>('secrets', namespace, name);
  if (!before) throw notFound('secrets', name);
  const secret = normalizeSecret(request.json() as KubeSecret);
  const wanted = secret.metadata?.resourceVersion;
  if (wanted && wanted !== before.metadata.resourceVersion) throw conflict('secrets', name);
  const causes = secretCauses({ ...secret, metadata: { ...secret.metadata, name } });
  if (causes.length) rejectInvalid(ctx, 'secrets', name, causes);
  const stored = ctx.store.update<KubeSecret>('secrets', namespace, name, (s) => {
    s.data = secret.data ?? {};
    s.type = secret.type ?? s.type;
    s.metadata.labels = secret.metadata?.labels ?? {};
    s.metadata.annotations = secret.metadata?.annotations ?? {};
  });
  return { status: 200, body: stored };
}

export function deleteSecret(ctx: ApiContext, namespace: string, name: string): Reply {
  const removed = ctx.store.remove<KubeSecret>('secrets', namespace, name);
  if (!removed) throw notFound('secrets', name);
  return { status: 200, body: deleteSuccess('secrets', name, removed.metadata.uid) };
}

/** Events are not recorded; `kubectl describe` asks for them and shows none. */
export function listEvents(ctx: ApiContext): Reply {
  return {
    status: 200,
    body: { kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: ctx.store.resourceVersion }, items: [] },
  };
}

export function readNamespace(ctx: ApiContext, name: string): Reply {
  const namespace = ctx.namespaces.get(name);
  if (!namespace) throw notFound('namespaces', name);
  return { status: 200, body: namespace };
}

export function listNamespaces(ctx: ApiContext): Reply {
  const items = [...ctx.namespaces.values()].map(({ apiVersion: _a, kind: _k, ...item }) => item);
  return {
    status: 200,
    body: { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: ctx.store.resourceVersion }, items },
  };
}
