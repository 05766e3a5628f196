// Issue 12, items 1 and 3: the batch/v1 Job of one attempt (backoffLimit 0) and the Indexed Job of a
// foreach, checked against the official Kubernetes OpenAPI models (kubernetes-models), and the
// settings and backend options they are built from.
import fc from 'fast-check';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { describe, expect, test } from 'vitest';
import { TributaryError, type KubernetesSettings, type LaunchSpec } from '@tributary/core';
import { buildJob, labelValue } from '../src/job-manifest.ts';
import { checkSettings, kubernetesOptionsFromUrl, type KubernetesComputeOptions } from '../src/kubernetes-options.ts';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Mi|Gi|Ki)?$/;

function validate(body: Record<string, any>): void {
  new Job(body as ConstructorParameters<typeof Job>[0]).validate();
}

function spec(over: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    name: 'TrainFlow/1700/train/3',
    command: 'node',
    args: ['/opt/tributary/task.mjs', 'file:///specs/3.json'],
    env: { TRIBUTARY_TASK: 'TrainFlow/1700/train/3', TRIBUTARY_DATASTORE: 's3://bucket/prefix' },
    identity: { flow: 'TrainFlow', runId: '1700', step: 'train', taskId: '3', attempt: 1, user: 'ada' },
    ...over,
  };
}

const OPTIONS: KubernetesComputeOptions = { image: 'registry.example/tributary-task:1.0' };

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

function configError(f: () => unknown): TributaryError {
  const err = thrown(f);
  expect(TributaryError.is(err, 'CONFIG')).toBe(true);
  return err as TributaryError;
}

/** Every label value that Tributary computes is a valid label value. */
function expectValidLabels(labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    expect(typeof v, k).toBe('string');
    expect(v.length, k).toBeLessThanOrEqual(63);
    expect(v, k).toMatch(LABEL_VALUE);
  }
}

const FULL: KubernetesSettings = {
  image: 'registry.example/step-image:2',
  namespace: 'ml',
  serviceAccount: 'tributary-runner',
  cpu: 0.5,
  memory: 6000,
  gpu: 2,
  gpuVendor: 'amd',
  disk: 20480,
  nodeSelector: { 'node.kubernetes.io/instance-type': 'g5.xlarge', pool: 'gpu' },
  tolerations: [
    { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'spot', operator: 'Equal', value: 'true', effect: 'NoExecute', tolerationSeconds: 30 },
  ],
  secrets: ['db-credentials', 'api-token'],
  labels: { team: 'ranking' },
  annotations: { 'example.com/owner': 'ada@example.com' },
  imagePullPolicy: 'IfNotPresent',
};

describe('buildJob: a Job per attempt', () => {
  test('issue 12 item 1: a plain job with default settings validates against the OpenAPI models', () => {
    const { namespace, body } = buildJob(spec(), {}, OPTIONS);
    validate(body);
    expect(namespace).toBe('default');
    expect(body.apiVersion).toBe('batch/v1');
    expect(body.kind).toBe('Job');
    expect(body.metadata.namespace).toBe('default');
    expect(body.metadata.generateName).toMatch(/^t-train-$/);
    expect(body.spec.backoffLimit).toBe(0);
    expect(body.spec.completions).toBe(1);
    expect(body.spec.parallelism).toBe(1);
    expect(body.spec.completionMode ?? 'NonIndexed').toBe('NonIndexed');
    expect(body.spec.backoffLimitPerIndex).toBeUndefined();
    expect(body.spec.ttlSecondsAfterFinished).toBe(7 * 24 * 3600);
    const pod = body.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.terminationGracePeriodSeconds).toBe(0);
    expect(pod.activeDeadlineSeconds).toBeUndefined();
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.name).toBe('train');
    expect(c.image).toBe(OPTIONS.image);
    expect(c.command).toEqual(['node']);
    expect(c.args).toEqual(['/opt/tributary/task.mjs', 'file:///specs/3.json']);
    expect(c.envFrom).toBeUndefined();
    expect(c.imagePullPolicy).toBeUndefined();
  });

  test('issue 12 item 1: default resources are cpu 1, 4096Mi memory and 10240Mi disk; the memory limit is the request', () => {
    const { body } = buildJob(spec(), {}, OPTIONS);
    const r = body.spec.template.spec.containers[0].resources;
    expect(r).toEqual({ requests: { cpu: '1', memory: '4096Mi', 'ephemeral-storage': '10240Mi' }, limits: { memory: '4096Mi' } });
  });

  test('issue 12 item 1: every setting lands where Kubernetes reads it, and the job still validates', () => {
    const { namespace, body } = buildJob(spec({ timeoutMs: 90_500 }), FULL, {
      ...OPTIONS,
      namespace: 'backend-ns',
      serviceAccount: 'backend-sa',
      ttlSecondsAfterFinished: 3600,
      labels: { env: 'prod', team: 'backend' },
      annotations: { 'example.com/from': 'backend' },
    });
    validate(body);
    expect(namespace).toBe('ml');
    expect(body.metadata.namespace).toBe('ml');
    expect(body.spec.ttlSecondsAfterFinished).toBe(3600);
    const pod = body.spec.template.spec;
    expect(pod.serviceAccountName).toBe('tributary-runner');
    expect(pod.nodeSelector).toEqual(FULL.nodeSelector);
    expect(pod.tolerations).toEqual(FULL.tolerations);
    // @timeout: the pod's deadline (seconds, rounded up), not the job's.
    expect(pod.activeDeadlineSeconds).toBe(91);
    expect(body.spec.activeDeadlineSeconds).toBeUndefined();
    const c = pod.containers[0];
    expect(c.image).toBe('registry.example/step-image:2');
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.envFrom).toEqual([{ secretRef: { name: 'db-credentials' } }, { secretRef: { name: 'api-token' } }]);
    expect(c.resources).toEqual({
      requests: { cpu: '500m', memory: '6000Mi', 'ephemeral-storage': '20480Mi' },
      limits: { memory: '6000Mi', 'amd.com/gpu': '2' },
    });
    // Labels and annotations of the backend and of the step (the step's win), on the job and its pods.
    for (const meta of [body.metadata, body.spec.template.metadata]) {
      expect(meta.labels).toMatchObject({ env: 'prod', team: 'ranking' });
      expect(meta.annotations).toMatchObject({ 'example.com/from': 'backend', 'example.com/owner': 'ada@example.com' });
    }
  });

  test('issue 12 item 1: backend options fill in what the step did not set', () => {
    const { namespace, body } = buildJob(spec(), {}, { ...OPTIONS, namespace: 'backend-ns', serviceAccount: 'backend-sa' });
    expect(namespace).toBe('backend-ns');
    expect(body.spec.template.spec.serviceAccountName).toBe('backend-sa');
    expect(body.spec.template.spec.containers[0].image).toBe(OPTIONS.image);
  });

  test('issue 12 item 1: gpu defaults to the nvidia.com/gpu limit; no gpu, no gpu limit', () => {
    const withGpu = buildJob(spec({ resources: { gpu: 1 } }), {}, OPTIONS).body;
    validate(withGpu);
    expect(withGpu.spec.template.spec.containers[0].resources.limits).toEqual({ memory: '4096Mi', 'nvidia.com/gpu': '1' });
    const none = buildJob(spec(), {}, OPTIONS).body;
    expect(Object.keys(none.spec.template.spec.containers[0].resources.limits)).toEqual(['memory']);
  });

  test('issue 12 item 1: the larger of @resources and @kubernetes wins, field by field', () => {
    const { body } = buildJob(
      spec({ resources: { cpu: 2, memory: 8192, disk: 1000, gpu: 1 } }),
      { cpu: 4, memory: 1024, disk: 50_000, gpu: 0 },
      OPTIONS,
    );
    validate(body);
    expect(body.spec.template.spec.containers[0].resources).toEqual({
      requests: { cpu: '4', memory: '8192Mi', 'ephemeral-storage': '50000Mi' },
      limits: { memory: '8192Mi', 'nvidia.com/gpu': '1' },
    });
  });

  test('issue 12 item 1: fractional cpu is given in millicores; fractional memory is rounded up', () => {
    const c = (cpu: number) =>
      buildJob(spec({ resources: { cpu } }), {}, OPTIONS).body.spec.template.spec.containers[0].resources.requests.cpu;
    expect(c(0.5)).toBe('500m');
    expect(c(0.25)).toBe('250m');
    expect(c(1.5)).toBe('1500m');
    expect(c(3)).toBe('3');
    const mem = buildJob(spec({ resources: { memory: 1000.2 } }), {}, OPTIONS).body.spec.template.spec.containers[0].resources;
    expect(mem.requests.memory).toBe('1001Mi');
    expect(mem.limits.memory).toBe('1001Mi');
  });

  // Regression (was a bug, fixed in the working tree): cpuQuantity computes Math.ceil(cpu * 1000): floating-point error
  // makes 4.03 * 1000 = 4030.0000000000005, so 4.03 CPUs are requested as 4031m (731 of the values 0.001..99.999 are off by
  // one).
  test('issue 12 item 1: a cpu with whole millicores is requested exactly (4.03 → 4030m, 2.007 → 2007m)', () => {
    const c = (cpu: number) => buildJob(spec(), { cpu }, OPTIONS).body.spec.template.spec.containers[0].resources.requests.cpu;
    expect(c(4.03)).toBe('4030m');
    expect(c(2.007)).toBe('2007m');
  });

  test('issue 12 item 1: quantities are valid Kubernetes quantities for any resources', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            cpu: fc.double({ min: 0.001, max: 256, noNaN: true }),
            memory: fc.double({ min: 1, max: 1_000_000, noNaN: true }),
            disk: fc.double({ min: 1, max: 1_000_000, noNaN: true }),
            gpu: fc.double({ min: 0, max: 16, noNaN: true }),
          },
          { requiredKeys: [] },
        ),
        (resources) => {
          const { body } = buildJob(spec({ resources }), {}, OPTIONS);
          validate(body);
          const r = body.spec.template.spec.containers[0].resources;
          for (const v of [...Object.values(r.requests), ...Object.values(r.limits)]) expect(v).toMatch(QUANTITY);
          expect(r.limits.memory).toBe(r.requests.memory);
        },
      ),
    );
  });

  test('issue 12 item 1: a missing image is a CONFIG error saying how to set one', () => {
    const err = configError(() => buildJob(spec(), {}, {}));
    expect(err.message).toContain('TrainFlow/1700/train/3');
    expect(err.message).toContain('@kubernetes({ image })');
    expect(err.message).toContain('--with kubernetes:image=');
    expect(err.message).toContain('TRIBUTARY_KUBERNETES_IMAGE');
  });

  test('issue 12 item 1: the container env is the LaunchSpec env and nothing else', () => {
    process.env.ISSUE12_SHOULD_NOT_LEAK = 'secret';
    try {
      const { body } = buildJob(spec({ inheritEnv: ['PATH', 'HOME', 'ISSUE12_SHOULD_NOT_LEAK'] }), {}, OPTIONS);
      expect(body.spec.template.spec.containers[0].env).toEqual([
        { name: 'TRIBUTARY_TASK', value: 'TrainFlow/1700/train/3' },
        { name: 'TRIBUTARY_DATASTORE', value: 's3://bucket/prefix' },
      ]);
      expect(JSON.stringify(body)).not.toContain('secret');
      const none = buildJob(spec({ env: undefined }), {}, OPTIONS).body;
      expect(none.spec.template.spec.containers[0].env).toEqual([]);
      validate(none);
    } finally {
      delete process.env.ISSUE12_SHOULD_NOT_LEAK;
    }
  });

  test('issue 12 item 1: labels and annotations carry flow, run, step, task and attempt, on the job and its pods', () => {
    const { body } = buildJob(spec(), {}, OPTIONS);
    for (const meta of [body.metadata, body.spec.template.metadata]) {
      expect(meta.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'tributary',
        'tributary.dev/flow': 'TrainFlow',
        'tributary.dev/run-id': '1700',
        'tributary.dev/step': 'train',
      });
      expect(meta.annotations).toMatchObject({
        'tributary.dev/name': 'TrainFlow/1700/train/3',
        'tributary.dev/flow': 'TrainFlow',
        'tributary.dev/run-id': '1700',
        'tributary.dev/step': 'train',
        'tributary.dev/task-id': '3',
        'tributary.dev/attempt': '1',
        'tributary.dev/user': 'ada',
      });
      expectValidLabels(meta.labels);
    }
  });

  test('issue 12 item 1: odd names are made valid label values, and kept verbatim in annotations', () => {
    const id = { flow: 'My Flow!', runId: 'run:2026/12/02', step: '_private_step', taskId: 't/1', attempt: 0 };
    const { body } = buildJob(spec({ identity: id }), {}, OPTIONS);
    validate(body);
    expectValidLabels(body.metadata.labels);
    expect(body.metadata.annotations['tributary.dev/flow']).toBe('My Flow!');
    expect(body.metadata.annotations['tributary.dev/run-id']).toBe('run:2026/12/02');
    expect(body.metadata.annotations['tributary.dev/attempt']).toBe('0');
    expect(body.spec.template.spec.containers[0].name).toMatch(DNS_LABEL);
    expect(body.spec.template.spec.containers[0].name).toBe('private-step');
  });
});

describe('buildJob: a foreach as one Indexed Job', () => {
  test('issue 12 item 3: completionMode Indexed, completions N, parallelism min(P, N), backoffLimitPerIndex 0', () => {
    const arraySpec = spec({ identity: { flow: 'TrainFlow', runId: '1700', step: 'train', attempt: 0 } });
    const { body } = buildJob(arraySpec, FULL, OPTIONS, { size: 5, parallelism: 2 });
    validate(body);
    expect(body.spec.completionMode).toBe('Indexed');
    expect(body.spec.completions).toBe(5);
    expect(body.spec.parallelism).toBe(2);
    expect(body.spec.backoffLimitPerIndex).toBe(0);
    expect(body.spec.template.spec.restartPolicy).toBe('Never');
    // No task of its own: each index is one.
    expect(body.metadata.annotations['tributary.dev/task-id']).toBeUndefined();

    const wide = buildJob(arraySpec, {}, OPTIONS, { size: 3, parallelism: 100 }).body;
    validate(wide);
    expect(wide.spec.parallelism).toBe(3);
    expect(wide.spec.completions).toBe(3);
    const zero = buildJob(arraySpec, {}, OPTIONS, { size: 4, parallelism: 0 }).body;
    expect(zero.spec.parallelism).toBeGreaterThanOrEqual(1);
  });

  test('issue 12 item 3: property: parallelism is always between 1 and N and the body validates', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (size, parallelism) => {
        const { body } = buildJob(spec(), {}, OPTIONS, { size, parallelism });
        validate(body);
        expect(body.spec.completions).toBe(size);
        expect(body.spec.parallelism).toBe(Math.min(size, parallelism));
        expect(body.spec.completionMode).toBe('Indexed');
        expect(body.spec.backoffLimitPerIndex).toBe(0);
      }),
    );
  });
});

describe('buildJob: properties', () => {
  test('issue 12 item 1: for arbitrary flow, run and step names the body validates and its labels and names are valid', () => {
    const name = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 100 }), fc.string({ unit: 'grapheme', maxLength: 80 }));
    fc.assert(
      fc.property(
        name,
        name,
        name,
        fc.option(name, { nil: undefined }),
        fc.nat(10),
        fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
        (flow, runId, step, taskId, attempt, size) => {
          const identity = { flow, runId, step, attempt, ...(taskId !== undefined ? { taskId } : {}) };
          const { body } = buildJob(
            spec({ name: `${flow}/${runId}/${step}`, identity }),
            {},
            OPTIONS,
            size ? { size, parallelism: 2 } : undefined,
          );
          validate(body);
          expectValidLabels(body.metadata.labels);
          expectValidLabels(body.spec.template.metadata.labels);
          const container = body.spec.template.spec.containers[0];
          expect(container.name).toMatch(DNS_LABEL);
          expect(container.name.length).toBeLessThanOrEqual(63);
          // generateName + the 5 characters the API server adds is a valid DNS label of at most 63.
          expect(`${body.metadata.generateName}abcde`).toMatch(DNS_LABEL);
          expect(body.metadata.generateName.length + 5).toBeLessThanOrEqual(63);
          expect(body.metadata.annotations['tributary.dev/flow']).toBe(flow);
          expect(body.metadata.annotations['tributary.dev/step']).toBe(step);
          expect(body.metadata.annotations['tributary.dev/attempt']).toBe(String(attempt));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('labelValue', () => {
  test('issue 12 item 1: property: any string becomes a valid label value of at most 63 characters', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '_', '.', ' ', '/'), maxLength: 120 }),
        ),
        (s) => {
          const v = labelValue(s);
          expect(v.length).toBeLessThanOrEqual(63);
          expect(v).toMatch(LABEL_VALUE);
          // Valid output is a fixed point.
          expect(labelValue(v)).toBe(v);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('issue 12 item 1: property: labelValue is the identity on valid values of at most 63 characters', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/).filter((s) => s.length <= 63),
        (s) => {
          expect(labelValue(s)).toBe(s);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('issue 12 item 1: long or odd values end in a hash, so different values stay different', () => {
    const long = 'a'.repeat(100);
    expect(labelValue(long)).toHaveLength(63);
    expect(labelValue(long)).not.toBe(labelValue('a'.repeat(101)));
    expect(labelValue('my flow')).not.toBe(labelValue('my-flow'));
    expect(labelValue('my-flow')).toBe('my-flow');
    expect(labelValue('___')).toMatch(/^[0-9a-f]{8}$/);
    expect(labelValue('')).toBe('');
  });
});

describe('checkSettings (Kubernetes)', () => {
  test('issue 12 item 1: valid settings come back as given; none is an empty object', () => {
    expect(checkSettings(FULL as Record<string, unknown>)).toEqual(FULL);
    expect(checkSettings(undefined)).toEqual({});
    expect(checkSettings({ gpuVendor: 'nvidia', imagePullPolicy: 'Never', pendingTimeout: 0 })).toEqual({
      gpuVendor: 'nvidia',
      imagePullPolicy: 'Never',
      pendingTimeout: 0,
    });
  });

  test('issue 12 item 1: an unknown key is a CONFIG error naming it and listing the settings', () => {
    const err = configError(() => checkSettings({ cpus: 2 }));
    expect(err.message).toContain('"cpus"');
    expect(err.message).toContain('cpu');
    expect(err.message).toContain('nodeSelector');
    configError(() => checkSettings({ queue: 'gpu' }));
  });

  test('issue 12 item 1: wrong types are CONFIG errors naming the key and the types', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ cpu: '2' }, 'cpu'],
      [{ memory: true }, 'memory'],
      [{ image: 3 }, 'image'],
      [{ tolerations: { key: 'a' } }, 'tolerations'],
      [{ secrets: 'db' }, 'secrets'],
      [{ nodeSelector: ['pool=gpu'] }, 'nodeSelector'],
      [{ labels: null }, 'labels'],
      [{ annotations: 'x' }, 'annotations'],
      [{ pendingTimeout: '60' }, 'pendingTimeout'],
    ];
    for (const [settings, key] of cases) {
      const err = configError(() => checkSettings(settings));
      expect(err.message).toContain(key);
    }
    expect(configError(() => checkSettings({ cpu: '2' })).message).toContain('number');
    expect(configError(() => checkSettings({ tolerations: {} })).message).toContain('array');
  });

  test('issue 12 item 1: negative or NaN numbers, and unknown gpu vendors and pull policies, are CONFIG errors', () => {
    configError(() => checkSettings({ cpu: -1 }));
    configError(() => checkSettings({ memory: Number.NaN }));
    expect(configError(() => checkSettings({ gpuVendor: 'intel' })).message).toContain('intel');
    configError(() => checkSettings({ imagePullPolicy: 'always' }));
  });
});

describe('kubernetesOptionsFromUrl', () => {
  test('issue 12 item 1: the query gives the options', () => {
    expect(
      kubernetesOptionsFromUrl(
        'kubernetes://?namespace=ml&image=reg/img:tag&kubeconfig=/path&pendingTimeout=300&serviceAccount=sa&ttlSecondsAfterFinished=60&bootstrap=/b.mjs&node=/usr/bin/node',
        {},
      ),
    ).toEqual({
      namespace: 'ml',
      image: 'reg/img:tag',
      kubeconfig: '/path',
      pendingTimeout: 300,
      serviceAccount: 'sa',
      ttlSecondsAfterFinished: 60,
      bootstrap: '/b.mjs',
      node: '/usr/bin/node',
    });
  });

  test('issue 12 item 1: TRIBUTARY_KUBERNETES_* fill in what the query does not say; the query wins', () => {
    const env = {
      TRIBUTARY_KUBERNETES_NAMESPACE: 'env-ns',
      TRIBUTARY_KUBERNETES_IMAGE: 'env/img:1',
      TRIBUTARY_KUBERNETES_KUBECONFIG: '/env/kubeconfig',
      TRIBUTARY_KUBERNETES_SERVICE_ACCOUNT: 'env-sa',
      TRIBUTARY_KUBERNETES_PENDING_TIMEOUT: '120',
      TRIBUTARY_KUBERNETES_TTL: '3600',
      TRIBUTARY_KUBERNETES_BOOTSTRAP: '/env/task.mjs',
      TRIBUTARY_KUBERNETES_NODE: 'node20',
    };
    expect(kubernetesOptionsFromUrl(new URL('kubernetes://?namespace=ml'), env)).toEqual({
      namespace: 'ml',
      image: 'env/img:1',
      kubeconfig: '/env/kubeconfig',
      serviceAccount: 'env-sa',
      pendingTimeout: 120,
      ttlSecondsAfterFinished: 3600,
      bootstrap: '/env/task.mjs',
      node: 'node20',
    });
    expect(kubernetesOptionsFromUrl('kubernetes://', {})).toEqual({});
  });

  test('issue 12 item 1: a pendingTimeout or TTL that is not a number is a CONFIG error', () => {
    expect(configError(() => kubernetesOptionsFromUrl('kubernetes://?pendingTimeout=ten', {})).message).toContain('pendingTimeout');
    configError(() => kubernetesOptionsFromUrl('kubernetes://?pendingTimeout=-5', {}));
    configError(() => kubernetesOptionsFromUrl('kubernetes://', { TRIBUTARY_KUBERNETES_TTL: 'a week' }));
  });
});
