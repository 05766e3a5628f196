/** Test servers and helpers for adapter authors (no vitest needed): `@tributary/conformance/testing`. */
export { startFaultProxy, type FaultProxy, type FaultProxyOptions } from './fault-proxy.ts';
export {
  createContainerRuntime,
  type ContainerExit,
  type ContainerProcess,
  type ContainerRunOptions,
  type ContainerRuntime,
} from './container-runtime.ts';
