export { IDEMPOTENCY_HEADER, METADATA_METHODS, methodPath, PROTOCOL_VERSION, type MetadataMethod } from './methods.ts';
export { errorSchema, requestSchema, resultSchema, type JsonSchema } from './schemas.ts';
export { fromWireError, statusOfCode, toWireError, type WireError } from './wire-errors.ts';
