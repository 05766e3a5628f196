export { CondaResolver, createCondaResolver, type CondaResolverOptions } from './conda-resolver.ts';
