/**
 * How to open the same adapter in another process (a task worker, a remote container): an
 * importable module, the name of its factory export, and JSON-safe options. Adapters that can
 * be shared across processes expose one as `locator`. Never holds secrets: credentials come
 * from each process's environment.
 * @public
 */
export interface AdapterLocator {
  /** Import specifier or file URL of the module. */
  module: string;
  /** Name of the exported factory: `(options) => adapter | Promise<adapter>`. */
  factory: string;
  /** JSON-safe options passed to the factory. */
  options: unknown;
}
