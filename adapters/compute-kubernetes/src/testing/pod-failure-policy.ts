/**
 * `spec.podFailurePolicy`: the first rule that matches a failed pod decides what its failure
 * means (`FailJob`, `FailIndex`, `Ignore` — not counted against the backoff limit — or `Count`).
 * A common use is ignoring disruptions: `onPodConditions: [{type: DisruptionTarget}]`, `Ignore`.
 */
import type { JobSpec, KubePod } from './model.ts';

export interface PolicyVerdict {
  action: 'FailJob' | 'FailIndex' | 'Ignore' | 'Count';
  /** The Job condition message for FailJob, as the job controller writes it. */
  message?: string;
}

export function evaluatePodFailurePolicy(spec: JobSpec, pod: KubePod): PolicyVerdict {
  const rules = spec.podFailurePolicy?.rules ?? [];
  const where = `${pod.metadata.namespace}/${pod.metadata.name}`;
  for (const [i, rule] of rules.entries()) {
    if (rule.onExitCodes) {
      const { containerName, operator, values } = rule.onExitCodes;
      for (const status of pod.status.containerStatuses ?? []) {
        const code = status.state.terminated?.exitCode;
        if (code === undefined || code === 0 || (containerName && status.name !== containerName)) continue;
        if (operator === 'In' ? values.includes(code) : !values.includes(code)) {
          return {
            action: rule.action,
            message: `Container ${status.name} for pod ${where} failed with exit code ${code} matching ${rule.action} rule at index ${i}`,
          };
        }
      }
    }
    for (const wanted of rule.onPodConditions ?? []) {
      const found = (pod.status.conditions ?? []).find((c) => c.type === wanted.type && c.status === (wanted.status ?? 'True'));
      if (found)
        return { action: rule.action, message: `Pod ${where} has condition ${wanted.type} matching ${rule.action} rule at index ${i}` };
    }
  }
  return { action: 'Count' };
}
