/** Calls to the UI server's JSON API (same origin). */
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
  status: string;
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

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const enc = (s: string) => encodeURIComponent(s);
export const path = (...segs: string[]) => segs.map(enc).join('/');

async function call(url: string): Promise<Response> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) {
    let code = 'HTTP_' + res.status;
    let message = res.statusText;
    try {
      const body = (await res.json()) as { error?: { code: string; message: string } };
      if (body.error) ({ code, message } = body.error);
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function getJson<T>(url: string): Promise<T> {
  return (await call(url)).json() as Promise<T>;
}

export async function getText(url: string): Promise<string> {
  return (await call(url)).text();
}
