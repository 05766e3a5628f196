/** Calls to the UI server's JSON API (same origin). */
export type { CardView, RunView, StepSummary, TaskDetail, TaskRow } from '../shared/api-types.ts';

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
