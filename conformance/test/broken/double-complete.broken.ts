import { metadataStoreConformance, MemoryMetadataStore } from '../../src/index.ts';
import type { AttemptOutcome, TaskRef } from '@tributary/core';

/** Broken on purpose: a task that already succeeded can complete again (its artifacts are replaced). */
class DoubleCompleteStore extends MemoryMetadataStore {
  override async finishAttempt(ref: TaskRef, attempt: number, outcome: AttemptOutcome): Promise<void> {
    const task = await this.getTask(ref);
    if (task.status === 'succeeded') return;
    return super.finishAttempt(ref, attempt, outcome);
  }
}

metadataStoreConformance({ name: 'completes twice', factory: () => new DoubleCompleteStore() });
