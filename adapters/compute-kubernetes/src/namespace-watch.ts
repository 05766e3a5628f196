/**
 * The jobs and pods Tributary manages in one namespace, kept current by one watch of each (a
 * small informer): list, then watch from the list's resourceVersion; when a watch ends or fails,
 * list again and watch again, polling every `pollMs` while the API is unreachable. Two requests
 * per namespace per re-list, whatever the number of jobs: no request per job per poll.
 */
import { BatchV1Api, CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import { MANAGED_BY } from './job-manifest.ts';

const SELECTOR = Object.entries(MANAGED_BY)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

export type WatchEvent = { kind: 'job' | 'pod'; type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: any };

export class NamespaceWatch {
  /** Pods by uid and jobs by name, as last seen. */
  readonly pods = new Map<string, any>();
  readonly jobs = new Map<string, any>();
  private readonly aborts = new Set<AbortController>();
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly kc: KubeConfig,
    private readonly namespace: string,
    private readonly pollMs: number,
    private readonly onChange: (e: WatchEvent) => void,
  ) {}

  start(): void {
    if (this.loop) return;
    this.stopped = false;
    this.loop = this.run();
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
    this.wake?.();
    this.loop = undefined;
  }

  /** Pods of one job (by its name), oldest first. */
  podsOf(job: string): any[] {
    return [...this.pods.values()].filter(
      (p) => p.metadata?.labels?.['job-name'] === job || p.metadata?.labels?.['batch.kubernetes.io/job-name'] === job,
    );
  }

  private async run(): Promise<void> {
    const batch = this.kc.makeApiClient(BatchV1Api);
    const core = this.kc.makeApiClient(CoreV1Api);
    while (!this.stopped) {
      try {
        const [jobs, pods] = await Promise.all([
          batch.listNamespacedJob({ namespace: this.namespace, labelSelector: SELECTOR }),
          core.listNamespacedPod({ namespace: this.namespace, labelSelector: SELECTOR }),
        ]);
        if (this.stopped) return;
        this.replace('job', this.jobs, jobs.items, (j) => j.metadata?.name);
        this.replace('pod', this.pods, pods.items, (p) => p.metadata?.uid);
        // Both watches run until either ends; then everything is listed again (nothing missed in between).
        await new Promise<void>((resolve) => {
          let ended = false;
          const end = () => {
            if (ended) return;
            ended = true;
            for (const a of started) a.abort();
            resolve();
          };
          const started: AbortController[] = [];
          this.wake = end;
          const watch = new Watch(this.kc);
          const open = (path: string, rv: string | undefined, kind: 'job' | 'pod') =>
            watch
              .watch(
                path,
                { labelSelector: SELECTOR, allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
                (type, object) => this.apply(kind, type, object),
                () => end(),
              )
              .then(
                (a) => {
                  started.push(a);
                  this.aborts.add(a);
                  if (ended) a.abort();
                },
                () => end(),
              );
          void open(`/apis/batch/v1/namespaces/${this.namespace}/jobs`, jobs.metadata?.resourceVersion, 'job');
          void open(`/api/v1/namespaces/${this.namespace}/pods`, pods.metadata?.resourceVersion, 'pod');
        });
      } catch {
        // The API is down or refused: poll again shortly.
      }
      // Not unref()ed: while jobs are followed, this loop is what keeps the orchestrator alive.
      if (!this.stopped) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, this.pollMs)));
    }
  }

  private apply(kind: 'job' | 'pod', type: string, object: any): void {
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
    const map = kind === 'job' ? this.jobs : this.pods;
    const key = kind === 'job' ? object?.metadata?.name : object?.metadata?.uid;
    if (!key) return;
    if (type === 'DELETED') map.delete(key);
    else map.set(key, object);
    this.onChange({ kind, type, object });
  }

  /** A fresh list: what vanished meanwhile is reported DELETED, the rest MODIFIED. */
  private replace(kind: 'job' | 'pod', map: Map<string, any>, items: any[], keyOf: (o: any) => string | undefined): void {
    const fresh = new Map(items.flatMap((o) => (keyOf(o) ? [[keyOf(o)!, o] as const] : [])));
    for (const [key, old] of map) if (!fresh.has(key)) this.apply(kind, 'DELETED', old);
    for (const [, o] of fresh) this.apply(kind, 'MODIFIED', o);
  }
}
