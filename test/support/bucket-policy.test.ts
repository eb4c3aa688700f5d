import { denyingStatements, resolve, roleArn, wildcardMatches, type PolicyStatement } from './bucket-policy';

const BUCKET = 'arn:aws:s3:::Bucket';

describe('bucket policy evaluator', () => {
  test('wildcards match across slashes, ? matches one character, actions case-insensitively', () => {
    expect(
      wildcardMatches(
        `${BUCKET}/binaries/*.*.*.gz`,
        `${BUCKET}/binaries/a-monitor/watchy-a-monitor-1.2.3.gz`,
      ),
    ).toBe(true);
    expect(
      wildcardMatches(`${BUCKET}/binaries/*.*.*.gz`, `${BUCKET}/binaries/a-monitor/watchy-a-monitor.gz`),
    ).toBe(false);
    expect(wildcardMatches('s3:DeleteObject?', 's3:DeleteObjects')).toBe(true);
    expect(wildcardMatches('s3:PutObject*', 's3:putobjectacl', true)).toBe(true);
    expect(wildcardMatches('s3:PutObject*', 's3:putobjectacl')).toBe(false);
  });

  test('ArnNotEquals holds for a request without the key (a service principal), Null tests presence', () => {
    const statements: PolicyStatement[] = [
      {
        Sid: 'OnlyWriter',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: `${BUCKET}/*`,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': roleArn('writer') } },
      },
      {
        Sid: 'Conditional',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: `${BUCKET}/*`,
        Condition: { Null: { 's3:if-none-match': 'true' } },
      },
    ];
    const put = { action: 's3:PutObject', key: 'k' };
    expect(denyingStatements(statements, BUCKET, { ...put, service: 'cloudfront.amazonaws.com' })).toEqual([
      'OnlyWriter',
      'Conditional',
    ]);
    expect(denyingStatements(statements, BUCKET, { ...put, principalArn: roleArn('writer') })).toEqual([
      'Conditional',
    ]);
    expect(
      denyingStatements(statements, BUCKET, {
        ...put,
        principalArn: roleArn('writer'),
        keys: { 's3:if-none-match': '*' },
      }),
    ).toEqual([]);
  });

  test('a statement it does not model throws instead of being misread', () => {
    const unknown: PolicyStatement = {
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: `${BUCKET}/*`,
      Condition: { StringNotLike: { 'aws:userid': 'AROA*' } },
    };
    expect(() => denyingStatements([unknown], BUCKET, { action: 's3:GetObject', key: 'k' })).toThrow(
      'bucket policy: condition operator StringNotLike is not modelled',
    );
    expect(() => resolve({ 'Fn::ImportValue': 'x' })).toThrow('bucket policy: cannot resolve');
  });
});
