/**
 * What the Deny statements of a synthesized S3 bucket policy say about one request, evaluated the
 * way IAM does for the parts these policies use: `Action` and `Resource`/`NotResource` with `*` and
 * `?` wildcards (matching `/` too), `Principal` `*` or one service, and the condition operators
 * `ArnNotEquals` (a request without the key matches, as for every negated operator), `Null`, `Bool`
 * and `NumericLessThan`. Anything else in a Deny statement (another operator or principal form, an
 * intrinsic it cannot resolve) throws, so a policy that changes shape fails the tests instead of
 * being misread.
 *
 * Template values are resolved against fixed stand-ins: `AWS::Partition` aws, `AWS::AccountId`
 * 111111111111, `AWS::Region` eu-west-1, a bucket's `Arn` arn:aws:s3:::{its logical id}.
 */

export const ACCOUNT = '111111111111';
export const REGION = 'eu-west-1';

/** One request to the bucket. */
export interface BucketRequest {
  /** IAM action, e.g. `s3:PutObject`. */
  readonly action: string;
  /** Object key (no leading slash). */
  readonly key: string;
  /** `aws:PrincipalArn`: for a role session, the role's ARN. Absent for service principals. */
  readonly principalArn?: string;
  /** A service principal making the request (`cloudfront.amazonaws.com`). @default none */
  readonly service?: string;
  /**
   * Condition keys the request carries (`s3:if-none-match`, `s3:if-match`), over the defaults of a
   * TLS 1.3 request (`aws:SecureTransport` true, `s3:TlsVersion` 1.3). @default none
   */
  readonly keys?: Readonly<Record<string, string>>;
}

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Principal?: unknown;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** A role's ARN in the stand-in account. */
export const roleArn = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** Resolves the intrinsics a bucket policy holds (Ref of pseudo parameters, GetAtt Arn, Join). */
export function resolve(value: unknown): unknown {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key === 'Ref') {
      const pseudo: Record<string, string> = {
        'AWS::Partition': 'aws',
        'AWS::AccountId': ACCOUNT,
        'AWS::Region': REGION,
      };
      if (typeof arg === 'string' && pseudo[arg]) return pseudo[arg];
    }
    if (entries.length === 1 && key === 'Fn::GetAtt') {
      const [id, attribute] = arg as [string, string];
      if (attribute === 'Arn') return `arn:aws:s3:::${id}`;
    }
    if (entries.length === 1 && key === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((part) => asString(resolve(part))).join(separator);
    }
  }
  throw new Error(`bucket policy: cannot resolve ${JSON.stringify(value)}`);
}

function asString(value: unknown): string {
  if (typeof value !== 'string')
    throw new Error(`bucket policy: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function strings(value: unknown): string[] {
  return [resolve(value)].flat().map(asString);
}

/** IAM wildcard matching: `*` any run of characters (`/` included), `?` one character. */
export function wildcardMatches(pattern: string, value: string, caseInsensitive = false): boolean {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's').test(value);
}

const TLS_DEFAULTS: Readonly<Record<string, string>> = {
  'aws:SecureTransport': 'true',
  's3:TlsVersion': '1.3',
};

function conditionHolds(operator: string, key: string, expected: unknown, request: BucketRequest): boolean {
  const actual =
    key === 'aws:PrincipalArn'
      ? request.principalArn
      : ({ ...TLS_DEFAULTS, ...request.keys } as Record<string, string>)[key];
  if (operator === 'ArnNotEquals') {
    if (actual === undefined) return true;
    return !strings(expected).includes(actual);
  }
  if (operator === 'Null') {
    const wantsAbsent = asString(expected) === 'true';
    return wantsAbsent === (actual === undefined);
  }
  if (operator === 'Bool') return actual !== undefined && actual === String(resolve(expected));
  if (operator === 'NumericLessThan') return actual !== undefined && Number(actual) < Number(expected);
  throw new Error(`bucket policy: condition operator ${operator} is not modelled`);
}

function principalMatches(principal: unknown, request: BucketRequest): boolean {
  if (principal === '*' || JSON.stringify(principal) === '{"AWS":"*"}') return true;
  const service = (principal as { Service?: unknown } | undefined)?.Service;
  if (typeof service === 'string' && Object.keys(principal as object).length === 1) {
    return request.service === service;
  }
  throw new Error(`bucket policy: principal ${JSON.stringify(principal)} is not modelled`);
}

function statementApplies(statement: PolicyStatement, request: BucketRequest, bucketArn: string): boolean {
  if (!principalMatches(statement.Principal, request)) return false;
  const actions = [statement.Action].flat();
  if (!actions.some((a) => wildcardMatches(a, request.action, true))) return false;
  const objectArn = `${bucketArn}/${request.key}`;
  if (statement.Resource !== undefined) {
    if (!strings(statement.Resource).some((r) => wildcardMatches(r, objectArn))) return false;
  } else if (statement.NotResource !== undefined) {
    if (strings(statement.NotResource).some((r) => wildcardMatches(r, objectArn))) return false;
  } else {
    throw new Error(`bucket policy: statement ${statement.Sid ?? '?'} has neither Resource nor NotResource`);
  }
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(block)) {
      if (!conditionHolds(operator, key, expected, request)) return false;
    }
  }
  return true;
}

/**
 * The Sids of the Deny statements that refuse `request` (empty: the bucket policy does not stand in
 * its way; IAM still has to allow it). `bucketArn` is the resolved ARN of the bucket the policy is on.
 */
export function denyingStatements(
  statements: readonly PolicyStatement[],
  bucketArn: string,
  request: BucketRequest,
): string[] {
  return statements
    .filter((s) => s.Effect === 'Deny')
    .filter((s) => statementApplies(s, request, bucketArn))
    .map((s) => s.Sid ?? '(no sid)');
}
