export {
  CONDA_FIXTURE_PLACEHOLDER,
  makeCondaChannel,
  type CondaChannelOptions,
  type CondaChannelPackage,
  type CondaFixturePackage,
} from './make-conda-channel.ts';
export { serveCondaChannel, type ServedCondaChannel } from './serve-conda-channel.ts';
export type { TarEntry } from './tar-writer.ts';
