/**
 * Tributary's run browser: `startUiServer({ client })` serves a read-only web app over a Client
 * (flows, runs, a live run graph, a step's tasks, a task's attempts, logs, artifacts and cards).
 * `tributary ui` starts it from the command line.
 * @packageDocumentation
 */
export { startUiServer, type UiServer, type UiServerOptions } from './ui-server.ts';
