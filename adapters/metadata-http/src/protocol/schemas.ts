/**
 * JSON Schemas (draft-07) of each method's arguments and result: the service validates every
 * request body against them before a handler runs, and serializes every answer by them.
 */
import type { MetadataMethod } from './methods.ts';

/** A JSON Schema, as plain data. @public */
export type JsonSchema = Record<string, unknown>;

const str = { type: 'string' };
const num = { type: 'number' };
const int = { type: 'integer', minimum: 0 };
// Attempt numbers are small; Postgres stores them as integer.
const attemptNo = { type: 'integer', minimum: 0, maximum: 2147483647 };
const strings = { type: 'array', items: str };
const any = {};
const object = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const mapOf = (value: JsonSchema): JsonSchema => ({ type: 'object', additionalProperties: value });
const arrayOf = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });

const runStatus = { type: 'string', enum: ['running', 'succeeded', 'failed', 'aborted'] };
const finishedStatus = { type: 'string', enum: ['succeeded', 'failed', 'aborted'] };
const taskStatus = { type: 'string', enum: ['pending', 'running', 'succeeded', 'failed'] };

const newRunProps = {
  flow: str,
  user: str,
  params: { type: 'object', additionalProperties: true },
  tags: strings,
  systemTags: strings,
  codeHash: str,
  graph: any,
  originRunId: str,
};
const newRun = object(newRunProps, ['flow', 'user', 'params', 'tags', 'systemTags', 'codeHash', 'graph']);
const runRecord = object({ ...newRunProps, runId: str, status: runStatus, createdAt: num, finishedAt: num, heartbeatAt: num }, [
  'flow',
  'user',
  'params',
  'tags',
  'systemTags',
  'codeHash',
  'graph',
  'runId',
  'status',
  'createdAt',
]);
const newTaskProps = { flow: str, runId: str, step: str, key: str, parents: strings, originPathspec: str };
const newTask = object(newTaskProps, ['flow', 'runId', 'step', 'key', 'parents']);
const taskRecord = object({ ...newTaskProps, taskId: str, status: taskStatus, attempts: int, createdAt: num, finishedAt: num }, [
  'flow',
  'runId',
  'step',
  'key',
  'parents',
  'taskId',
  'status',
  'attempts',
  'createdAt',
]);
const taskRef = object({ flow: str, runId: str, taskId: str });
const taskSet = object({ flow: str, runId: str, taskIds: { type: 'array', items: str, maxItems: 1000 } });
const artifactRefProps = { name: str, sha: str, size: int, type: str, encoding: str };
const artifactRef = object(artifactRefProps);
const artifactRecord = object({ ...artifactRefProps, attempt: int });
const attemptError = object({ code: str, message: str });
const attemptRecord = object(
  {
    attempt: int,
    status: { type: 'string', enum: ['running', 'succeeded', 'failed'] },
    startedAt: num,
    finishedAt: num,
    error: attemptError,
  },
  ['attempt', 'status', 'startedAt'],
);
const stringMap = mapOf(str);
const outcome: JsonSchema = {
  oneOf: [
    object({ status: { const: 'succeeded' }, artifacts: arrayOf(artifactRef), metadata: stringMap }, ['status', 'artifacts']),
    object({ status: { const: 'failed' }, error: attemptError, metadata: stringMap }, ['status', 'error']),
  ],
};
const page = (item: JsonSchema) => object({ items: arrayOf(item), cursor: str }, ['items']);
const runQuery = object(
  {
    flow: str,
    tags: strings,
    status: runStatus,
    user: str,
    since: num,
    until: num,
    cursor: str,
    limit: { type: 'integer' },
  },
  [],
);
const taskQuery = object({ flow: str, runId: str, step: str, status: taskStatus, cursor: str, limit: { type: 'integer' } }, [
  'flow',
  'runId',
]);
const nothing = { type: 'null' };

/** Arguments (in order; trailing optional ones may be left out) and result of each method. */
const METHODS: Record<MetadataMethod, { args: JsonSchema[]; required: number; result: JsonSchema }> = {
  createRun: { args: [newRun], required: 1, result: runRecord },
  getRun: { args: [str, str], required: 2, result: runRecord },
  listRuns: { args: [runQuery], required: 1, result: page(runRecord) },
  latestRun: { args: [str, object({ status: runStatus }, [])], required: 1, result: nullable(runRecord) },
  finishRun: { args: [str, str, finishedStatus], required: 3, result: nothing },
  heartbeat: { args: [str, str], required: 2, result: nothing },
  addTags: { args: [str, str, strings], required: 3, result: nothing },
  removeTags: { args: [str, str, strings], required: 3, result: nothing },
  replaceTags: { args: [str, str, strings, strings], required: 4, result: nothing },
  listFlows: { args: [object({ tags: strings }, [])], required: 0, result: strings },
  registerTask: { args: [newTask], required: 1, result: taskRecord },
  registerTasks: { args: [arrayOf(newTask)], required: 1, result: arrayOf(taskRecord) },
  getTask: { args: [taskRef], required: 1, result: taskRecord },
  listTasks: { args: [taskQuery], required: 1, result: page(taskRecord) },
  listChildren: { args: [taskRef], required: 1, result: arrayOf(taskRecord) },
  startAttempt: { args: [taskRef, attemptNo], required: 2, result: nothing },
  finishAttempt: { args: [taskRef, attemptNo, outcome], required: 3, result: nothing },
  listAttempts: { args: [taskRef], required: 1, result: arrayOf(attemptRecord) },
  listArtifacts: { args: [taskRef, object({ attempt: attemptNo }, [])], required: 1, result: arrayOf(artifactRecord) },
  getMetadata: { args: [taskRef], required: 1, result: stringMap },
  listArtifactsOfTasks: { args: [taskSet], required: 1, result: mapOf(arrayOf(artifactRecord)) },
  getMetadataOfTasks: { args: [taskSet], required: 1, result: mapOf(stringMap) },
  listAttemptsOfTasks: { args: [taskSet], required: 1, result: mapOf(arrayOf(attemptRecord)) },
  getTasks: { args: [taskSet], required: 1, result: mapOf(taskRecord) },
  putMetadata: { args: [taskRef, stringMap], required: 2, result: nothing },
};

/** The schema of a method's request body, `{ args: [...] }`. @public */
export function requestSchema(method: MetadataMethod): JsonSchema {
  const m = METHODS[method];
  return object({ args: { type: 'array', items: m.args, additionalItems: false, minItems: m.required } });
}

/** The schema of a method's successful answer, `{ result }`. @public */
export function resultSchema(method: MetadataMethod): JsonSchema {
  return object({ result: METHODS[method].result });
}

/** The schema of an error answer. @public */
export const errorSchema: JsonSchema = object(
  { error: object({ code: str, message: str, retryable: { type: 'boolean' }, pathspec: str }, ['code', 'message', 'retryable']) },
  ['error'],
);
