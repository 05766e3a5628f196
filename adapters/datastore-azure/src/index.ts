export { AzureDatastore, createAzureDatastore, azureOptionsFromUrl, type AzureDatastoreOptions } from './azure-datastore.ts';
