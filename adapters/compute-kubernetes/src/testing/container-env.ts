/**
 * What the kubelet resolves before it starts a container: the environment (`env`, `valueFrom`
 * downward-API and Secret references, `envFrom`), `$(VAR)` references in env values, command and
 * args, and the memory limit as a quantity.
 */
import type { Container, KubePod, KubeSecret } from './model.ts';

/** The downward-API paths `env[].valueFrom.fieldRef` accepts, as the real validation lists them. */
export const SUPPORTED_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];

export function isSupportedFieldPath(path: string): boolean {
  return SUPPORTED_FIELD_PATHS.includes(path) || /^metadata\.(labels|annotations)\['[^']+'\]$/.test(path);
}

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A resource quantity (`"512Mi"`, `"4096M"`, `"1.5Gi"`, `"1e9"`, `2`) as a number of base units; undefined if malformed. */
export function parseQuantity(quantity: string | number): number | undefined {
  if (typeof quantity === 'number') return quantity;
  const m = QUANTITY.exec(quantity.trim());
  if (!m) return undefined;
  const [, digits, suffix] = m as unknown as [string, string, string];
  const value = Number(digits);
  if (Number.isNaN(value)) return undefined;
  if (suffix in BINARY) return value * BINARY[suffix]!;
  if (suffix in DECIMAL) return value * DECIMAL[suffix]!;
  const exponent = /^[eE]([-+]?[0-9]+)$/.exec(suffix);
  return exponent ? value * 10 ** Number(exponent[1]) : undefined;
}

export function quantityPattern(): string {
  return QUANTITY.source;
}

/** The container's memory limit in MiB (rounded up), if it declares one. */
export function memoryLimitMiB(container: Container): number | undefined {
  const limit = container.resources?.limits?.memory;
  if (limit === undefined) return undefined;
  const bytes = parseQuantity(limit);
  return bytes === undefined ? undefined : Math.ceil(bytes / 2 ** 20);
}

/** Why a container cannot be created; the kubelet shows it as `waiting: CreateContainerConfigError`. */
export class ContainerConfigError extends Error {}

/**
 * `$(VAR)` is replaced by VAR's value if it is defined, `$$` escapes a `$`, and a reference to an
 * undefined variable stays as written, as the kubelet expands env values, command and args.
 */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in env ? env[name]! : match;
  });
}

function fieldRef(pod: KubePod, path: string): string {
  const meta = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (meta) return pod.metadata[meta[1] as 'labels' | 'annotations']?.[meta[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return pod.status.hostIP ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return pod.status.podIP ?? '';
    default:
      throw new ContainerConfigError(`unsupported fieldPath: ${path}`);
  }
}

function resourceFieldRef(container: Container, resource: string, divisor = '1'): string {
  const [kind, name] = resource.split('.') as [string, string];
  const raw = (kind === 'limits' ? container.resources?.limits : container.resources?.requests)?.[name];
  const value = raw === undefined ? 0 : (parseQuantity(raw) ?? 0);
  return String(Math.ceil(value / (parseQuantity(divisor) || 1)));
}

function secretValue(secret: KubeSecret, key: string): string | undefined {
  const data = secret.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}

/** The container's environment, as the kubelet builds it: `envFrom` first, then `env` (which wins). */
export function containerEnv(pod: KubePod, container: Container, secret: (name: string) => KubeSecret | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  const namespace = pod.metadata.namespace;
  for (const source of container.envFrom ?? []) {
    if (source.secretRef) {
      const found = secret(source.secretRef.name);
      if (!found) {
        if (source.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${source.secretRef.name}" not found`);
      }
      for (const key of Object.keys(found.data ?? {})) env[(source.prefix ?? '') + key] = secretValue(found, key)!;
    } else if (source.configMapRef && !source.configMapRef.optional) {
      // ConfigMaps are not served by this emulator, so every one is missing.
      throw new ContainerConfigError(`configmap "${source.configMapRef.name}" not found`);
    }
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expand(variable.value ?? '', env);
    } else if (from.fieldRef) {
      env[variable.name] = fieldRef(pod, from.fieldRef.fieldPath);
    } else if (from.resourceFieldRef) {
      env[variable.name] = resourceFieldRef(container, from.resourceFieldRef.resource, from.resourceFieldRef.divisor);
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const found = secret(ref.name);
      const value = found ? secretValue(found, ref.key) : undefined;
      if (value !== undefined) env[variable.name] = value;
      else if (!ref.optional) {
        throw new ContainerConfigError(
          found ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}` : `secret "${ref.name}" not found`,
        );
      }
    } else if (from.configMapKeyRef && !from.configMapKeyRef.optional) {
      throw new ContainerConfigError(`configmap "${from.configMapKeyRef.name}" not found`);
    }
  }
  return env;
}

/** `command` + `args` with `$(VAR)` expanded; empty when neither is set (the image's entrypoint, which there is none of here). */
export function containerArgv(container: Container, env: Record<string, string>): string[] {
  return [...(container.command ?? []), ...(container.args ?? [])].map((part) => expand(part, env));
}
