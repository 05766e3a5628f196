/** The kubeconfig an emulator writes for kubectl and `KubeConfig.loadFromFile`. */

export const EMULATOR_TOKEN = 'emulator-token';

/**
 * `insecure-skip-tls-verify: true` is not about TLS here (the server is plain http): client-node
 * refuses an http:// server without it.
 */
export function kubeconfigYaml(server: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: emulator',
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: emulator',
    '  user:',
    `    token: ${EMULATOR_TOKEN}`,
    'contexts:',
    '- name: emulator',
    '  context:',
    '    cluster: emulator',
    '    user: emulator',
    `    namespace: ${namespace}`,
    'current-context: emulator',
    'preferences: {}',
    '',
  ].join('\n');
}
