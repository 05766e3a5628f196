/**
 * API errors as the API server sends them: a `Status` object with `code` and `reason`, which
 * client-node surfaces as `ApiException` (`.code`, `.body`) and kubectl prints as
 * `Error from server (Reason): message`.
 */

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** Group and kind as error messages name them: `jobs.batch "x" not found`, `Job.batch "x" is invalid`. */
export const RESOURCE_NAMES = {
  jobs: { group: 'batch', plural: 'jobs', kind: 'Job', qualified: 'jobs.batch', kindQualified: 'Job.batch' },
  pods: { group: '', plural: 'pods', kind: 'Pod', qualified: 'pods', kindQualified: 'Pod' },
  secrets: { group: '', plural: 'secrets', kind: 'Secret', qualified: 'secrets', kindQualified: 'Secret' },
  namespaces: { group: '', plural: 'namespaces', kind: 'Namespace', qualified: 'namespaces', kindQualified: 'Namespace' },
} as const;

export type NamedResource = keyof typeof RESOURCE_NAMES;

/** Thrown by handlers; the router turns it into the Status response. */
export class ApiError extends Error {
  constructor(
    readonly body: StatusBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
    this.name = 'ApiError';
  }
  get code(): number {
    return this.body.code;
  }
}

function status(code: number, reason: string, message: string, details?: StatusBody['details']): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export function notFound(resource: NamedResource, name: string): ApiError {
  const r = RESOURCE_NAMES[resource];
  return new ApiError(status(404, 'NotFound', `${r.qualified} "${name}" not found`, { name, group: r.group || undefined, kind: r.plural }));
}

export function pathNotFound(): ApiError {
  return new ApiError(status(404, 'NotFound', 'the server could not find the requested resource', {}));
}

export function alreadyExists(resource: NamedResource, name: string): ApiError {
  const r = RESOURCE_NAMES[resource];
  return new ApiError(
    status(409, 'AlreadyExists', `${r.qualified} "${name}" already exists`, { name, group: r.group || undefined, kind: r.plural }),
  );
}

export function conflict(resource: NamedResource, name: string): ApiError {
  const r = RESOURCE_NAMES[resource];
  const message = `Operation cannot be fulfilled on ${r.qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  return new ApiError(status(409, 'Conflict', message, { name, group: r.group || undefined, kind: r.plural }));
}

/** 422: the real server lists every field error, bracketed when there is more than one. */
export function invalid(resource: NamedResource, name: string, causes: StatusCause[]): ApiError {
  const r = RESOURCE_NAMES[resource];
  const texts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const list = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  return new ApiError(
    status(422, 'Invalid', `${r.kindQualified} "${name}" is invalid: ${list}`, { name, group: r.group || undefined, kind: r.kind, causes }),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(status(400, 'BadRequest', message));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    status(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`,
    ),
  );
}

/** What `failApi` injects. 429 carries `Retry-After: 1`, which client libraries honour. */
export function injected(code: 500 | 429 | 503): ApiError {
  if (code === 429) {
    return new ApiError(status(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 }), {
      'retry-after': '1',
    });
  }
  if (code === 503)
    return new ApiError(status(503, 'ServiceUnavailable', 'the server is currently unable to handle the request (injected fault)'));
  return new ApiError(
    status(500, 'InternalError', 'Internal error occurred: injected fault', {
      causes: [{ reason: 'UnexpectedServerResponse', message: 'injected fault' }],
    }),
  );
}

export function gone(message: string): StatusBody {
  return status(410, 'Expired', message);
}
