/** What the UI server's JSON API sends (dates as epoch ms): shared by the server and the browser app. Types only. */
export interface RunView {
  flow: string;
  runId: string;
  pathspec: string;
  status: string;
  stale?: string;
  user: string;
  tags: string[];
  systemTags: string[];
  params: Record<string, unknown>;
  createdAt: number;
  finishedAt?: number;
  durationMs?: number;
  originRunId?: string;
}
export interface StepSummary {
  name: string;
  type: string;
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'mixed';
}
export interface TaskRow {
  taskId: string;
  pathspec: string;
  key: string;
  status: string;
  attempts: number;
  createdAt: number;
  finishedAt?: number;
  originPathspec?: string;
}
export interface CardView {
  index: number;
  id: string | null;
  type: string;
  status: string;
  size: number;
  attempt: number;
  renderedAt: number;
  error?: string;
}
export interface TaskDetail {
  task: TaskRow;
  attempts: Array<{ attempt: number; status: string; startedAt: number; finishedAt?: number; error?: { code: string; message: string } }>;
  artifacts: Array<{ name: string; type: string; size: number; sha: string; encoding: string }>;
  cards: CardView[];
  timings: { dispatchMs?: number; queueMs?: number; runMs?: number };
  exception?: { code: string; message: string; artifact?: string };
  index?: number;
  parents: TaskRow[];
  parentCount: number;
}
