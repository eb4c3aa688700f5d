/**
 * The /api service contract: one request and one response shape for every route, whichever adapter
 * carries them (the API Gateway HTTP API Lambda, or the local HTTP server that turns requests into
 * API Gateway v2 events). Route handlers are pure functions of a request and their dependencies.
 *
 * Every error answers JSON `{"error": "...", "check": "..."}`: `error` says what was refused, in one
 * line; `check` names what to look at (the field, header or permission).
 */

/** Who is calling, as the authorizer established it (absent for webhooks: they carry their own scheme). */
export interface ApiIdentity {
  /** `iam` (SigV4: operators and the CLI) or `jwt` (browsers, through the user pool / OIDC issuer). */
  readonly scheme: 'iam' | 'jwt';
  /** IAM principal ARN or the JWT `sub`/`email`. */
  readonly principal: string;
  /** JWT scopes or groups, when the scheme is `jwt`. */
  readonly scopes?: readonly string[];
}

export interface ApiRequest {
  readonly method: string;
  /** The raw path, e.g. `/api/services/slack-monitor/builds`. */
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** The body exactly as received (webhook signatures are over these bytes). */
  readonly rawBody: Buffer;
  readonly identity?: ApiIdentity;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialised as JSON unless it is already a string. */
  readonly body?: unknown;
}

export interface ApiErrorBody {
  readonly error: string;
  readonly check: string;
}

/** Largest request body any route accepts (webhook pushes included); more is 413. */
export const MAX_API_BODY_BYTES = 1024 * 1024;

export function apiError(status: number, error: string, check: string): ApiResponse {
  return { status, body: { error, check } satisfies ApiErrorBody };
}
