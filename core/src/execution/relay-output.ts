import type { ComputeJob } from '../ports/compute-backend.ts';

async function drain(stream: AsyncIterable<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  } catch {
    // the process is gone; its exit is reported by its result
  }
}

/**
 * Read a job's stdout and stderr to their end (a full pipe would block the process), handing the
 * text on. Resolves once both are fully relayed.
 * @internal
 */
export function relayOutput(job: ComputeJob, onText: (stream: 'stdout' | 'stderr', text: string) => void): Promise<void> {
  return Promise.all([drain(job.stdout, (t) => onText('stdout', t)), drain(job.stderr, (t) => onText('stderr', t))]).then(() => undefined);
}
