export { PypiResolver, createPypiResolver, type PypiResolverOptions } from './pypi-resolver.ts';
