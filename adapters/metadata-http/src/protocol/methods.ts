/**
 * The wire protocol of the metadata service: one `POST /v1/<method>` per MetadataStore method,
 * body `{ "args": [...] }` (the method's arguments in order, without its WriteOptions), answer
 * `{ "result": ... }` (`null` for a method that returns nothing, or for `latestRun` finding none)
 * or `{ "error": { code, message, retryable } }`. The idempotency key of a write travels in the
 * `Idempotency-Key` header.
 */

/** Every MetadataStore method the service serves, with the index of its WriteOptions argument. @public */
export const METADATA_METHODS = {
  createRun: { write: true, options: 1 },
  getRun: { write: false },
  listRuns: { write: false },
  latestRun: { write: false },
  finishRun: { write: true, options: 3 },
  heartbeat: { write: true },
  addTags: { write: true },
  removeTags: { write: true },
  replaceTags: { write: true },
  listFlows: { write: false },
  registerTask: { write: true, options: 1 },
  registerTasks: { write: true, options: 1 },
  getTask: { write: false },
  listTasks: { write: false },
  listChildren: { write: false },
  startAttempt: { write: true, options: 2 },
  finishAttempt: { write: true, options: 3 },
  listAttempts: { write: false },
  listArtifacts: { write: false },
  getMetadata: { write: false },
  listArtifactsOfTasks: { write: false },
  getMetadataOfTasks: { write: false },
  listAttemptsOfTasks: { write: false },
  getTasks: { write: false },
  putMetadata: { write: true },
} as const satisfies Record<string, { write: boolean; options?: number }>;

/** @public */
export type MetadataMethod = keyof typeof METADATA_METHODS;

/** The path of a method's route. @public */
export const methodPath = (method: MetadataMethod): string => `/v1/${method}`;

/** The header that carries a write's idempotency key. @public */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** Version of the protocol, answered by `GET /v1/info`; a client refuses a service that speaks another. @public */
export const PROTOCOL_VERSION = 1;
