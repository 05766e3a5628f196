/**
 * The discovery documents kubectl reads before anything else (`/version`, `/api`, `/apis`,
 * `/api/v1`, `/apis/batch/v1`). Served as the legacy (non-aggregated) kind: kubectl asks for
 * `apidiscovery.k8s.io/v2` first and falls back when the answer is a plain APIGroupList.
 */

export const VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-tributary-emulator',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

const batchGroup = {
  name: 'batch',
  versions: [{ groupVersion: 'batch/v1', version: 'v1' }],
  preferredVersion: { groupVersion: 'batch/v1', version: 'v1' },
};

export const API_GROUP_LIST = { kind: 'APIGroupList', apiVersion: 'v1', groups: [batchGroup] };
export const BATCH_GROUP = { kind: 'APIGroup', apiVersion: 'v1', ...batchGroup };

export const CORE_V1_RESOURCES = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: ['list'], shortNames: ['ev'] },
    { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
    {
      name: 'pods',
      singularName: 'pod',
      namespaced: true,
      kind: 'Pod',
      verbs: ['delete', 'get', 'list', 'watch'],
      shortNames: ['po'],
      categories: ['all'],
    },
    { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    {
      name: 'secrets',
      singularName: 'secret',
      namespaced: true,
      kind: 'Secret',
      verbs: ['create', 'delete', 'get', 'list', 'update', 'watch'],
    },
  ],
};

export const BATCH_V1_RESOURCES = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'batch/v1',
  resources: [
    {
      name: 'jobs',
      singularName: 'job',
      namespaced: true,
      kind: 'Job',
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      categories: ['all'],
    },
    { name: 'jobs/status', singularName: '', namespaced: true, kind: 'Job', verbs: ['get'] },
  ],
};
