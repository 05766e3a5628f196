/** The pod the job controller makes from a Job's template, with what the real controller adds to it. */
import { randomUUID } from 'node:crypto';
import { generateName, now, type KubeJob, type KubePod } from './model.ts';
import { qosClass } from './pod-status.ts';

export const INDEX_KEY = 'batch.kubernetes.io/job-completion-index';
/** Keeps a pod until the controller has counted its outcome. */
export const TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';

/**
 * Named `<job>-<5 chars>` (`<job>-<index>-<5 chars>` for Indexed Jobs), owned by the Job, with the
 * completion index as label, annotation and `JOB_COMPLETION_INDEX` env, and the pod defaults the
 * API server's admission sets (service account, tolerations for lost nodes).
 */
export function podFromTemplate(job: KubeJob, index: number | undefined, taken: (name: string) => boolean): KubePod {
  const template = structuredClone(job.spec.template);
  const base = index === undefined ? `${job.metadata.name}-` : `${job.metadata.name}-${index}-`;
  let name = generateName(base);
  while (taken(name)) name = generateName(base);
  const labels: Record<string, string> = { ...template.metadata?.labels };
  const annotations: Record<string, string> = { ...template.metadata?.annotations };
  const spec = template.spec;
  if (index !== undefined) {
    labels[INDEX_KEY] = annotations[INDEX_KEY] = String(index);
    spec.hostname ??= `${job.metadata.name}-${index}`;
    // The real controller injects the index into every container's env.
    for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
      const env = (container.env ??= []);
      if (!env.some((e) => e.name === 'JOB_COMPLETION_INDEX')) {
        env.push({
          name: 'JOB_COMPLETION_INDEX',
          valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${INDEX_KEY}']` } },
        });
      }
    }
  }
  spec.serviceAccountName ??= 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.tolerations ??= [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
  const pod: KubePod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: base,
      namespace: job.metadata.namespace!,
      uid: randomUUID(),
      creationTimestamp: now(),
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: job.metadata.name,
          uid: job.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      finalizers: [TRACKING_FINALIZER],
    },
    spec,
    status: { phase: 'Pending' },
  };
  pod.status.qosClass = qosClass(pod);
  return pod;
}
