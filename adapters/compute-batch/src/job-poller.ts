/**
 * One poller for every job this backend follows: DescribeJobs with up to 100 ids per call
 * (array children included, as `<id>:<index>`), every `pollMs`; throttling (429,
 * TooManyRequestsException) and 5xx answers double the interval up to 30 s, a good answer brings
 * it back. An id Batch does not return is given a grace period (DescribeJobs is eventually
 * consistent right after SubmitJob), then reported missing.
 */
import { DescribeJobsCommand, type BatchClient } from '@aws-sdk/client-batch';

const MAX_IDS = 100;
const MISSING_GRACE_MS = 10_000;

export interface Followed {
  since: number;
  onDetail(job: any): void;
  onMissing(): void;
}

function throttledOrTransient(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return (
    /Throttl|TooManyRequests/i.test(e?.name ?? '') || status === 429 || (status !== undefined && status >= 500) || status === undefined
  );
}

export class JobPoller {
  private readonly followed = new Map<string, Followed>();
  private timer?: NodeJS.Timeout;
  private interval: number;
  private running = false;
  /** DescribeJobs calls made (for the benchmark's request counts and tests). */
  calls = 0;

  constructor(
    private readonly client: BatchClient,
    private readonly pollMs: number,
  ) {
    this.interval = pollMs;
  }

  follow(id: string, f: Omit<Followed, 'since'>): void {
    this.followed.set(id, { ...f, since: Date.now() });
    this.schedule();
  }

  unfollow(id: string): void {
    this.followed.delete(id);
    if (this.followed.size === 0) this.stop();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.running || this.followed.size === 0) return;
    this.timer = setTimeout(() => void this.tick(), this.interval);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    try {
      const ids = [...this.followed.keys()];
      for (let i = 0; i < ids.length; i += MAX_IDS) {
        const chunk = ids.slice(i, i + MAX_IDS);
        this.calls++;
        const out = await this.client.send(new DescribeJobsCommand({ jobs: chunk }));
        const seen = new Set<string>();
        for (const job of out.jobs ?? []) {
          const id =
            job.arrayProperties?.index !== undefined && !job.jobId?.includes(':')
              ? `${job.jobId}:${job.arrayProperties.index}`
              : job.jobId!;
          seen.add(id);
          this.followed.get(id)?.onDetail(job);
        }
        for (const id of chunk) {
          const f = this.followed.get(id);
          if (f && !seen.has(id) && Date.now() - f.since > MISSING_GRACE_MS) f.onMissing();
        }
      }
      this.interval = this.pollMs;
    } catch (err) {
      // Back off on throttling and server errors (and anything unexpected): the next poll catches up.
      this.interval = throttledOrTransient(err) ? Math.min(this.interval * 2, 30_000) : this.pollMs;
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
