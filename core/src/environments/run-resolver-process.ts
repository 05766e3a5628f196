/**
 * Runs a resolver's tool (pip, npm, micromamba) as a child process, no shell, and collects its
 * output. Every environment resolver spawns its solver or installer this way, so the failure
 * modes are the same for all of them: a tool that cannot be started rejects with `CONFIG` naming
 * it; an aborted run with `ABORTED` (the child is killed). A non-zero exit code is not an error
 * here: resolvers turn the tool's own words into their message.
 */
import { execFile } from 'node:child_process';
import { TributaryError } from '../errors.ts';

/** @public */
export interface ResolverProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** @public */
export interface ResolverProcessOptions {
  /** The resolver's name, for error context. */
  adapter: string;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** @public */
export function runResolverProcess(
  command: string,
  args: readonly string[],
  options: ResolverProcessOptions,
): Promise<ResolverProcessResult> {
  const { signal, adapter } = options;
  if (signal?.aborted) return Promise.reject(aborted(adapter, command));
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        windowsHide: true,
        env: options.env ?? process.env,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(signal === undefined ? {} : { signal }),
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ exitCode: 0, stdout, stderr });
        if (signal?.aborted || error.name === 'AbortError') return reject(aborted(adapter, command, error));
        if (typeof error.code === 'number') return resolve({ exitCode: error.code, stdout, stderr });
        reject(
          new TributaryError('CONFIG', `Could not run ${command}: ${error.message}`, { cause: error, context: { adapter, path: command } }),
        );
      },
    );
  });
}

function aborted(adapter: string, command: string, cause?: unknown): TributaryError {
  return new TributaryError('ABORTED', `Aborted while running ${command}`, { cause, context: { adapter } });
}
