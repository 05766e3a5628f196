import { TributaryError } from '../errors.ts';
import { HOST_BASICS } from './host-environment.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Check `--env-pass` names (a value is never accepted here: `NAME=value` would put it in shell history). @internal */
export function checkEnvPass(names: unknown): string[] {
  if (!Array.isArray(names))
    throw new TributaryError('PARAM_INVALID', `envPass takes an array of variable names, e.g. envPass: ['HF_TOKEN'], not ${typeof names}.`);
  for (const name of names) {
    if (typeof name !== 'string' || !NAME.test(name)) {
      // A value is never echoed back: `NAME=value` would show the value.
      const shown = typeof name === 'string' && name.includes('=') ? `${name.split('=')[0]}=…` : JSON.stringify(name);
      throw new TributaryError(
        'PARAM_INVALID',
        `Cannot pass ${shown} to tasks: envPass (--env-pass) takes environment variable names, made of letters, digits and _, not starting with a digit ` +
          `(set the variable here and pass its name, e.g. --env-pass HF_TOKEN; one name per option).`,
      );
    }
  }
  const reserved = (names as string[]).find((n) => n.startsWith('TRIBUTARY_'));
  if (reserved)
    throw new TributaryError(
      'PARAM_INVALID',
      `Cannot pass ${reserved} to tasks: TRIBUTARY_* variables are set by Tributary itself (a task's identity and datastore). Use another name.`,
    );
  return [...new Set(names as string[])];
}

/** What a launched process gets of the environment: explicit values, and names a local backend may copy. @internal */
export interface JobEnvironment {
  /** Values set in the job (identity, locators, the variables passed by name). */
  env: Record<string, string>;
  /** Names a backend running the job on this host copies from its own environment. */
  inheritEnv: string[];
}

/**
 * The environment of a task job or worker: its identity (`TRIBUTARY_*`), the variables the user
 * passes by name (`envPass`, with the values they have here), and, for local backends only, the
 * host basics and the credential variables the datastore reads (its own standard chain on this
 * host). Never the orchestrator's whole environment.
 * @internal
 */
export function jobEnvironment(options: {
  identity: Record<string, string>;
  envPass: readonly string[];
  credentialEnv?: readonly string[];
}): JobEnvironment {
  const env: Record<string, string> = {};
  for (const name of options.envPass) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, options.identity);
  return { env, inheritEnv: [...new Set([...HOST_BASICS, ...(options.credentialEnv ?? [])])] };
}
