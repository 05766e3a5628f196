/**
 * This machine's platform in conda's words (`linux-64`, `osx-arm64`...), the name locks use.
 * Remote steps (Kubernetes, Batch) resolve for `linux-64` whatever the laptop is.
 * @public
 */
export function hostPlatform(): string {
  const os = process.platform === 'darwin' ? 'osx' : process.platform === 'win32' ? 'win' : process.platform;
  const arch = process.arch === 'x64' ? '64' : process.arch === 'arm64' ? (os === 'linux' ? 'aarch64' : 'arm64') : process.arch;
  return `${os}-${arch}`;
}

/** The platform remote jobs run on. @public */
export const REMOTE_PLATFORM = 'linux-64';
