/** The manifest inside every code package. @public */
export interface CodePackageManifest {
  format: 1;
  /** The module a task job imports (exports `runAttempt(jobSpec)`, and the lazy `loadFlow` and `loadDatastore`). */
  entry: string;
  /** SHA-256 of every other file of the package, by name. */
  files: Record<string, string>;
  /** The flow module it was built from, relative to the project root. */
  flowSource: string;
  /** Packages left out of the bundle (native addons): the image must have them installed. */
  external: string[];
}
