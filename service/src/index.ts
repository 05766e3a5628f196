export { createMetadataService, type MetadataService, type MetadataServiceOptions } from './metadata-service.ts';
