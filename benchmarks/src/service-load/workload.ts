/** What the load is made of: the operations, the flows the runs go to, the artifacts per task. */

export const WRITE_OPS = ['createRun', 'registerTask', 'startAttempt', 'finishAttempt'] as const;
export const READ_OPS = ['latestRun', 'listTasks', 'listArtifacts'] as const;
export const OPS = [...WRITE_OPS, ...READ_OPS] as const;
export type Op = (typeof OPS)[number];
export const isWrite = (op: Op) => (WRITE_OPS as readonly string[]).includes(op);

export const FLOWS = ['LoadFlowA', 'LoadFlowB', 'LoadFlowC', 'LoadFlowD'];
export const ARTIFACTS_PER_TASK = 3;
