/**
 * Schema validation of created and patched Jobs against the official Kubernetes OpenAPI models,
 * through `kubernetes-models` (`new Job(body).validate()`, ajv on the published schema). Loaded
 * lazily so the testing module imports without it; an emulator started with `validate: true`
 * fails at start, saying so, when it is missing.
 */
import type { StatusCause } from './api-errors.ts';

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

type Validator = (body: unknown) => StatusCause[];

let loading: Promise<Validator> | undefined;

/** `/spec/template/spec/containers/0` → `spec.template.spec.containers[0]`, the path style of the API's own messages. */
function fieldPath(instancePath: string, leaf?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (leaf) parts.push(leaf);
  let out = '';
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  return out;
}

function valueAt(body: unknown, instancePath: string): unknown {
  let node = body;
  for (const part of instancePath.split('/').filter(Boolean))
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  return node;
}

function toCause(body: unknown, error: AjvError): StatusCause {
  if (error.keyword === 'required') {
    return {
      reason: 'FieldValueRequired',
      message: 'Required value',
      field: fieldPath(error.instancePath, String(error.params.missingProperty)),
    };
  }
  const value = JSON.stringify(valueAt(body, error.instancePath));
  if (error.keyword === 'enum') {
    const allowed = (error.params.allowedValues as unknown[] | undefined)?.map((v) => JSON.stringify(v)).join(', ');
    return {
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${value}: supported values: ${allowed}`,
      field: fieldPath(error.instancePath),
    };
  }
  return {
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${value}: ${error.message ?? error.keyword}`,
    field: fieldPath(error.instancePath),
  };
}

/** Resolves to the validator, or rejects with an error saying what to install. */
export function loadJobValidator(): Promise<Validator> {
  loading ??= (async () => {
    let Job: new (body: unknown) => { validate(): void };
    try {
      // A variable specifier keeps bundlers and tsc from requiring the optional dependency.
      const specifier = 'kubernetes-models/batch/v1/Job';
      ({ Job } = (await import(specifier)) as { Job: typeof Job });
    } catch (cause) {
      loading = undefined;
      throw new Error(
        'startKubernetesEmulator({ validate: true }) needs the package kubernetes-models (4.5.1, a devDependency of @tributary/compute-kubernetes) ' +
          'to validate Jobs against the Kubernetes OpenAPI schema; install it, or pass validate: false',
        { cause },
      );
    }
    return (body) => {
      try {
        new Job(body).validate();
        return [];
      } catch (e) {
        const errors = (e as { errors?: AjvError[] }).errors;
        if (!errors?.length) return [{ reason: 'FieldValueInvalid', message: (e as Error).message }];
        return errors.map((error) => toCause(body, error));
      }
    };
  })();
  return loading;
}
