import { safeText } from './safe-text.ts';

/**
 * Where the CLI writes. Everything goes through {@link safeText} (multi-line mode) as a last line
 * of defence; values from stored data are also escaped one-line where they are put in a line.
 */

/** Write CLI text (not task output) to stdout. @internal */
export function out(text: string): void {
  process.stdout.write(safeText(text, { multiline: true }));
}

/** Write CLI text (not task output) to stderr. @internal */
export function err(text: string): void {
  process.stderr.write(safeText(text, { multiline: true }));
}

let runStarted = false;

/**
 * `tributary runs | head -1`: the reader goes away, the next write fails with EPIPE. That is the
 * reader's choice, not an error: exit 0 quietly. While a run is going, stop writing instead and let
 * the run finish (and be recorded): its output stays available through `tributary logs`.
 * @internal
 */
export function handleClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
      if (!runStarted) process.exit(0);
    });
  }
}

/**
 * A run starts: from now on closed pipes never end the process (the run must be recorded, and the
 * exit code must be the run's, even when the EPIPE is reported after the run). @internal
 */
export function keepRunningOnClosedPipes(): void {
  runStarted = true;
}
