/**
 * The compute environment's vCPUs. A RUNNABLE job starts only when its VCPU requirement fits in what
 * starting and running jobs leave free, as real Batch does; a job larger than the whole environment
 * stays RUNNABLE forever (real Batch's "stuck in RUNNABLE"). Jobs are taken in submission order, and a
 * later, smaller job may start before an earlier one that does not fit yet.
 */

export interface Schedulable {
  readonly vcpus: number;
}

export class CapacityScheduler<T extends Schedulable> {
  private readonly waiting: T[] = [];
  private readonly holding = new Set<T>();
  private used = 0;
  private pumping = false;
  private pumpAgain = false;

  /**
   * @param admit - asked once a waiting job fits: false keeps it waiting (not yet eligible, or held by a fault).
   * @param start - called with each job admitted; its vCPUs are held until `release`.
   */
  constructor(
    readonly maxVcpus: number,
    private readonly admit: (job: T) => boolean,
    private readonly start: (job: T) => void,
  ) {}

  /** vCPUs held by starting and running jobs. */
  get usedVcpus(): number {
    return this.used;
  }

  enqueue(job: T): void {
    if (!this.waiting.includes(job)) this.waiting.push(job);
    this.pump();
  }

  /** Takes a job out of the queue (cancelled, vanished); no-op if it is not waiting. */
  withdraw(job: T): void {
    const i = this.waiting.indexOf(job);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** Gives back what a job holds (idempotent), then starts whatever now fits. */
  release(job: T): void {
    if (this.holding.delete(job)) this.used -= job.vcpus;
    this.pump();
  }

  /** Starts every waiting job that fits and is admitted. Call when a job became eligible. */
  pump(): void {
    // A pump requested from inside `admit` or `start` runs once the current one is done.
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (const job of [...this.waiting]) {
          // A small epsilon: fractional vCPUs (0.25, 0.5) must add up exactly to the maximum.
          if (!this.waiting.includes(job) || this.used + job.vcpus > this.maxVcpus + 1e-9 || !this.admit(job)) continue;
          this.withdraw(job);
          this.holding.add(job);
          this.used += job.vcpus;
          this.start(job);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }
}
