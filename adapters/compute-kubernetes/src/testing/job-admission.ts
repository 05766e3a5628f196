/**
 * What the API server does to a Job before it is stored: validation (the schema, then the
 * semantic rules of `batch/v1` the schema cannot express), defaulting, and the generated name,
 * uid, selector and labels. Updates (PATCH, PUT) are checked against the immutable fields.
 */
import { randomUUID } from 'node:crypto';
import { badRequest, invalid, type StatusCause } from './api-errors.ts';
import { isSupportedFieldPath, parseQuantity, quantityPattern, SUPPORTED_FIELD_PATHS } from './container-env.ts';
import { generateName, now, type Container, type KubeJob } from './model.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function subdomainMessage(value: string): string {
  return `Invalid value: "${value}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;
}

function checkKeys(map: Record<string, unknown> | undefined, field: string, causes: StatusCause[], values: boolean): void {
  for (const [key, value] of Object.entries(map ?? {})) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if ((prefix !== undefined && (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253)) || !LABEL_NAME.test(name) || name.length > 63) {
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName'), at most 63 characters`,
      });
    }
    if (values && (typeof value !== 'string' || !LABEL_VALUE.test(value) || value.length > 63)) {
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: "${String(value)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), at most 63 characters`,
      });
    }
  }
}

function checkContainer(container: Container, field: string, causes: StatusCause[]): void {
  if (!container.name) causes.push({ reason: 'FieldValueRequired', field: `${field}.name`, message: 'Required value' });
  else if (!DNS_LABEL.test(container.name) || container.name.length > 63) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: `${field}.name`,
      message: `Invalid value: "${container.name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    });
  }
  if (!container.image) causes.push({ reason: 'FieldValueRequired', field: `${field}.image`, message: 'Required value' });
  (container.env ?? []).forEach((variable, i) => {
    if (!ENV_NAME.test(variable.name ?? '')) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: `${field}.env[${i}].name`,
        message: `Invalid value: "${variable.name}": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
      });
    }
    const path = variable.valueFrom?.fieldRef?.fieldPath;
    if (path !== undefined && !isSupportedFieldPath(path)) {
      causes.push({
        reason: 'FieldValueNotSupported',
        field: `${field}.env[${i}].valueFrom.fieldRef.fieldPath`,
        message: `Unsupported value: "${path}": supported values: ${SUPPORTED_FIELD_PATHS.map((p) => `"${p}"`).join(', ')}`,
      });
    }
  });
  for (const kind of ['limits', 'requests'] as const) {
    for (const [resource, quantity] of Object.entries(container.resources?.[kind] ?? {})) {
      // The real server fails to decode such a body at all: 400, not 422.
      if (parseQuantity(quantity) === undefined) {
        throw badRequest(
          `Job in version "v1" cannot be handled as a Job: quantities must match the regular expression '${quantityPattern()}' (${kind}.${resource}: "${quantity}")`,
        );
      }
    }
  }
}

/** The rules of `batch/v1` Job validation the OpenAPI schema does not carry. */
export function semanticCauses(job: KubeJob): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = job.metadata.name;
  if (name) {
    if (!DNS_SUBDOMAIN.test(name)) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: subdomainMessage(name) });
    // Its name becomes the pods' job-name label value.
    else if (name.length > 63)
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.name',
        message: `Invalid value: "${name}": must be no more than 63 characters`,
      });
  }
  checkKeys(job.metadata.labels, 'metadata.labels', causes, true);
  checkKeys(job.metadata.annotations, 'metadata.annotations', causes, false);
  const spec = job.spec;
  const template = spec?.template;
  checkKeys(template?.metadata?.labels, 'spec.template.metadata.labels', causes, true);
  checkKeys(template?.metadata?.annotations, 'spec.template.metadata.annotations', causes, false);
  const policy = template?.spec?.restartPolicy;
  if (policy === undefined) {
    causes.push({
      reason: 'FieldValueRequired',
      field: 'spec.template.spec.restartPolicy',
      message: 'Required value: valid values: "OnFailure", "Never"',
    });
  } else if (policy !== 'Never' && policy !== 'OnFailure') {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.template.spec.restartPolicy',
      message: `Unsupported value: "${policy}": supported values: "OnFailure", "Never"`,
    });
  }
  const containers = template?.spec?.containers ?? [];
  if (containers.length === 0)
    causes.push({ reason: 'FieldValueRequired', field: 'spec.template.spec.containers', message: 'Required value' });
  const seen = new Set<string>();
  containers.forEach((c, i) => {
    checkContainer(c, `spec.template.spec.containers[${i}]`, causes);
    if (c.name && seen.has(c.name))
      causes.push({
        reason: 'FieldValueDuplicate',
        field: `spec.template.spec.containers[${i}].name`,
        message: `Duplicate value: "${c.name}"`,
      });
    seen.add(c.name);
  });
  for (const field of [
    'parallelism',
    'completions',
    'backoffLimit',
    'backoffLimitPerIndex',
    'maxFailedIndexes',
    'ttlSecondsAfterFinished',
  ] as const) {
    const value = spec?.[field];
    if (typeof value === 'number' && value < 0)
      causes.push({
        reason: 'FieldValueInvalid',
        field: `spec.${field}`,
        message: `Invalid value: ${value}: must be greater than or equal to 0`,
      });
  }
  if (typeof spec?.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds <= 0) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'spec.activeDeadlineSeconds',
      message: `Invalid value: ${spec.activeDeadlineSeconds}: must be greater than 0`,
    });
  }
  const indexed = spec?.completionMode === 'Indexed';
  if (spec?.completionMode !== undefined && spec.completionMode !== 'Indexed' && spec.completionMode !== 'NonIndexed') {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.completionMode',
      message: `Unsupported value: "${spec.completionMode}": supported values: "NonIndexed", "Indexed"`,
    });
  }
  if (indexed && (spec.completions === undefined || spec.completions === null)) {
    causes.push({ reason: 'FieldValueRequired', field: 'spec.completions', message: 'Required value: when completion mode is Indexed' });
  }
  if (spec?.backoffLimitPerIndex !== undefined && !indexed) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'spec.backoffLimitPerIndex',
      message: `Invalid value: ${spec.backoffLimitPerIndex}: requires indexed completion mode`,
    });
  }
  if (spec?.maxFailedIndexes !== undefined && spec.backoffLimitPerIndex === undefined) {
    causes.push({
      reason: 'FieldValueRequired',
      field: 'spec.backoffLimitPerIndex',
      message: 'Required value: when maxFailedIndexes is specified',
    });
  }
  if (spec?.podFailurePolicy && policy !== 'Never') {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'spec.template.spec.restartPolicy',
      message: `Invalid value: "${policy}": only "Never" is supported when podFailurePolicy is specified`,
    });
  }
  return causes;
}

/** Checks the envelope of a created Job: kind, namespace, name. */
export function checkEnvelope(body: unknown, namespace: string): KubeJob {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body of the request must be a Job object');
  const job = body as KubeJob;
  if (job.kind !== undefined && job.kind !== 'Job')
    throw badRequest(`the API version in the data (${job.apiVersion}) does not match the expected API version (batch/v1)`);
  if (job.apiVersion !== undefined && job.apiVersion !== 'batch/v1') {
    throw badRequest(`the API version in the data (${job.apiVersion}) does not match the expected API version (batch/v1)`);
  }
  job.metadata ??= { name: '' };
  if (job.metadata.namespace !== undefined && job.metadata.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  if (!job.metadata.name && !job.metadata.generateName) {
    throw invalid('jobs', '', [
      { reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' },
    ]);
  }
  return job;
}

/** Defaults and generated fields of a new Job, as the API server stores it. */
export function prepareForCreate(input: KubeJob, namespace: string): KubeJob {
  const job = structuredClone(input);
  job.apiVersion = 'batch/v1';
  job.kind = 'Job';
  const meta = job.metadata;
  if (!meta.name) meta.name = generateName(meta.generateName!);
  meta.namespace = namespace;
  meta.uid = randomUUID();
  meta.generation = 1;
  meta.creationTimestamp = now();
  const spec = job.spec;
  if ((spec.completions === undefined || spec.completions === null) && spec.parallelism === undefined) spec.completions = 1;
  spec.parallelism ??= 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex !== undefined ? 2147483647 : 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.manualSelector ??= false;
  spec.podReplacementPolicy ??= spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  const generated = {
    'batch.kubernetes.io/controller-uid': meta.uid,
    'batch.kubernetes.io/job-name': meta.name,
    'controller-uid': meta.uid,
    'job-name': meta.name,
  };
  spec.selector ??= { matchLabels: { 'batch.kubernetes.io/controller-uid': meta.uid } };
  spec.template.metadata = { ...spec.template.metadata, labels: { ...spec.template.metadata?.labels, ...generated } };
  // A Job without labels gets its template's, as the real defaulting does.
  if (!meta.labels || Object.keys(meta.labels).length === 0) meta.labels = { ...spec.template.metadata.labels };
  const pod = spec.template.spec;
  pod.terminationGracePeriodSeconds ??= 30;
  pod.dnsPolicy ??= 'ClusterFirst';
  pod.schedulerName ??= 'default-scheduler';
  pod.securityContext ??= {};
  for (const container of pod.containers) {
    container.terminationMessagePath ??= '/dev/termination-log';
    container.terminationMessagePolicy ??= 'File';
    container.imagePullPolicy ??= !container.image?.includes(':') || container.image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
    container.resources ??= {};
  }
  job.status = {};
  return job;
}

/** Fields of a Job that no update may change, with the error the real server gives. */
export function immutableCauses(before: KubeJob, after: KubeJob): StatusCause[] {
  const causes: StatusCause[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const field of [
    'template',
    'selector',
    'completionMode',
    'completions',
    'podFailurePolicy',
    'backoffLimitPerIndex',
    'manualSelector',
  ] as const) {
    if (!same(before.spec[field], after.spec[field])) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: `spec.${field}`,
        message: `Invalid value: ${JSON.stringify(after.spec[field])}: field is immutable`,
      });
    }
  }
  for (const field of ['name', 'namespace', 'uid', 'creationTimestamp'] as const) {
    if (!same(before.metadata[field], after.metadata[field])) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: `metadata.${field}`,
        message: `Invalid value: ${JSON.stringify(after.metadata[field])}: field is immutable`,
      });
    }
  }
  return causes;
}
