/**
 * Live output of a job whose backend shows none (AWS Batch: the container's output goes to
 * CloudWatch, which we do not read): the task stores its log in the datastore every couple of
 * seconds, and this reads the stored log while the job runs and hands on what is new, prefixed
 * with the task's pathspec, as Metaflow's launcher tails its logs in S3.
 */
import { TributaryError } from '../errors.ts';
import type { Datastore } from '../ports/datastore.ts';

type Stream = 'stdout' | 'stderr';

/** @internal */
export interface LogTail {
  /** Read once more (what the job stored last) and stop. */
  stop(): Promise<void>;
}

/** @internal */
export function tailTaskLogs(
  datastore: Datastore,
  keyOf: (stream: Stream) => string,
  prefix: string,
  onText: (stream: Stream, text: string) => void,
  everyMs = 1000,
): LogTail {
  const seen: Record<Stream, number> = { stdout: 0, stderr: 0 };
  const atLineStart: Record<Stream, boolean> = { stdout: true, stderr: true };
  let reading: Promise<void> = Promise.resolve();
  const readOnce = async () => {
    for (const stream of ['stdout', 'stderr'] as const) {
      let bytes: Uint8Array;
      try {
        bytes = await datastore.get(keyOf(stream));
      } catch (err) {
        if (TributaryError.is(err) && err.code === 'NOT_FOUND') continue;
        return;
      }
      if (bytes.length <= seen[stream]) continue;
      const text = Buffer.from(bytes.subarray(seen[stream])).toString('utf8');
      seen[stream] = bytes.length;
      let out = '';
      for (const line of text.split(/(?<=\n)/)) {
        out += (atLineStart[stream] ? prefix : '') + line;
        atLineStart[stream] = line.endsWith('\n');
      }
      onText(stream, out);
    }
  };
  const tick = () => {
    reading = reading.then(readOnce).catch(() => undefined);
  };
  const timer = setInterval(tick, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      tick();
      await reading;
      for (const stream of ['stdout', 'stderr'] as const) if (!atLineStart[stream]) onText(stream, '\n');
    },
  };
}
