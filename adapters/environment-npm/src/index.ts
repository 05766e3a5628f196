export { NpmResolver, createNpmResolver, type NpmResolverOptions } from './npm-resolver.ts';
