export { makeNpmPackages, type NpmPackageFiles, type NpmPackageSpec } from './make-npm-packages.ts';
