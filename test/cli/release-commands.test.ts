/**
 * The release commands as an operator runs them (bin/watchy.ts in a child process): against moto with
 * --endpoint-url (stage finds its session with STS GetCallerIdentity, publish signs with a local key),
 * and without it through the deployed functions, here a local stand-in of the Lambda Invoke API
 * (moto runs Lambda functions only in Docker, which this machine lacks).
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parseMetadataJson } from '@core/metadata';
import { toPublicKey, verifyMetadataSignature } from '@core/signing';
import { startMoto, type MotoServer } from '../support/moto-server';
import { makePackage } from '../core/release/fixtures';

const ROOT = join(__dirname, '..', '..');
/** The npm bin shim, as `npx watchy` runs it (it registers tsx with the project's tsconfig). */
const WATCHY = join(ROOT, 'bin', 'watchy.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function watchy(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [WATCHY, ...args],
      {
        cwd: ROOT,
        // NODE_NO_WARNINGS: the SDK's Node 20 support notice would otherwise precede the one-line error.
        env: {
          ...process.env,
          NODE_NO_WARNINGS: '1',
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_REGION: 'us-east-1',
          ...env,
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let moto: MotoServer;
let s3: S3Client;
let keyFile: string;
let publicKeyFile: string;
let publicKey: ReturnType<typeof toPublicKey>;
const BUCKET = 'cli-releases';

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client(moto.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  keyFile = join(mkdtempSync(join(tmpdir(), 'watchy-cli-')), 'release-key.pem');
  writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  publicKeyFile = join(keyFile, '..', 'release-key.pub.pem');
  writeFileSync(publicKeyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  publicKey = toPublicKey(pair.publicKey.export({ type: 'spki', format: 'pem' }));
});
afterAll(async () => {
  s3?.destroy();
  await moto?.stop();
});

const conn = () => ['--endpoint-url', moto.endpoint, '--bucket', BUCKET];
const signing = () => ['--signing-key', keyFile, '--key-id', 'test-key'];

describe('watchy release commands with --endpoint-url (moto)', () => {
  test('stage → publish main → second release → emergency-rollback → rollback → history/status/list', async () => {
    const keys: string[] = [];
    for (const version of ['8.0.0', '8.1.0']) {
      const dist = await makePackage({ version });
      const staged = await watchy(['stage', '--dist', dist, '--branch', 'main', ...conn()]);
      expect(staged).toMatchObject({ code: 0 });
      const key = staged.stdout.trim();
      // The session is the caller's STS user id (moto's default identity).
      expect(key).toMatch(/^staging\/[^/]+\/slack-monitor\/8\.\d\.0\/publish-request\.json$/);
      keys.push(key);
      const published = await watchy([
        'publish',
        '--request-key',
        key,
        '--branch',
        'main',
        '--base-url',
        'https://r.test/binaries',
        ...conn(),
        ...signing(),
      ]);
      expect(published.code).toBe(0);
      expect(JSON.parse(published.stdout).results[0]).toMatchObject({ version, pointer: 'promoted' });
    }
    // No --from: it rolls back from what status shows now (8.1.0).
    const rolledBack = await watchy([
      'emergency-rollback',
      'slack',
      '--reason',
      'alarm',
      '--request-id',
      'incident-42',
      ...conn(),
      ...signing(),
    ]);
    expect(rolledBack.code).toBe(0);
    expect(JSON.parse(rolledBack.stdout)).toMatchObject({
      outcome: 'rolled-back',
      from: '8.1.0',
      to: '8.0.0',
      metadataVersion: 3,
    });
    expect(rolledBack.stderr).toBe(
      'rolled back slack-monitor from 8.1.0 to 8.0.0 (metadata_version 3); 8.1.0 marked bad\n',
    );

    const latest = parseMetadataJson(
      Buffer.from(
        await (
          await s3.send(
            new (await import('@aws-sdk/client-s3')).GetObjectCommand({
              Bucket: BUCKET,
              Key: 'binaries/slack-monitor/watchy-slack-monitor.json',
            }),
          )
        ).Body!.transformToByteArray(),
      ),
    );
    expect(latest).toMatchObject({
      version: '8.0.0',
      metadata_version: 3,
      signature: { key_id: 'test-key' },
    });
    expect(verifyMetadataSignature(latest, publicKey)).toBe(true);

    const refused = await watchy(['rollback', 'slack', '8.1.0', ...conn(), ...signing()]);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr.trim()).toBe(
      'watchy rollback: version 8.1.0 of slack-monitor is marked bad (alarm); refusing to roll back to it',
    );

    const history = await watchy(['history', 'slack', '--limit', '2', ...conn()]);
    expect(JSON.parse(history.stdout)).toMatchObject({
      entries: [
        { version: '8.0.0', action: 'emergency-rollback' },
        { version: '8.1.0', action: 'publish', bad: 'alarm' },
      ],
    });
    const status = await watchy(['status', '--public-key', publicKeyFile, ...conn()]);
    expect(JSON.parse(status.stdout).pointers).toEqual([
      expect.objectContaining({
        artifact: 'slack-monitor',
        version: '8.0.0',
        signature: 'valid',
        inSync: true,
      }),
    ]);
    const list = await watchy(['list', 'slack', ...conn()]);
    expect(JSON.parse(list.stdout)).toEqual({
      artifacts: [{ artifact: 'slack-monitor', versions: ['8.0.0', '8.1.0'] }],
    });
  });

  test('a second operator rolling back from 8.1.0 is told who already did (exit 0); after a promotion, a rollback from 8.0.0 is refused (exit 1)', async () => {
    // The state the test above left: 8.0.0 live (metadata_version 3) after incident-42 rolled back 8.1.0.
    const again = await watchy(['emergency-rollback', 'slack', '--from', '8.1.0', ...conn(), ...signing()]);
    expect(again).toMatchObject({
      code: 0,
      stderr: 'already rolled back from 8.1.0 to 8.0.0 by incident-42\n',
    });
    expect(JSON.parse(again.stdout)).toMatchObject({
      outcome: 'unchanged',
      by: { action: 'emergency-rollback', from: '8.1.0', to: '8.0.0', requestId: 'incident-42' },
    });

    const dist = await makePackage({ version: '8.2.0' });
    const key = (await watchy(['stage', '--dist', dist, '--branch', 'main', ...conn()])).stdout.trim();
    const published = await watchy([
      'publish',
      '--request-key',
      key,
      '--branch',
      'main',
      '--base-url',
      'https://r.test/binaries',
      ...conn(),
      ...signing(),
    ]);
    expect(published.code).toBe(0);
    const history = JSON.parse((await watchy(['history', 'slack', '--limit', '1', ...conn()])).stdout) as {
      entries: { requestId: string }[];
    };
    const promotion = history.entries[0]!.requestId;

    // An operator who still saw 8.0.0: the promotion got there first, nothing is rolled back.
    const refused = await watchy(['emergency-rollback', 'slack', '--from', '8.0.0', ...conn(), ...signing()]);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toBe(
      `watchy emergency-rollback: refusing to roll back slack-monitor from 8.0.0: publish by ${promotion} moved it to 8.2.0 (metadata_version 4); nothing changed\n`,
    );
    const rollback = await watchy(['rollback', 'slack', '8.0.0', '--from', '8.0.0', ...conn(), ...signing()]);
    expect(rollback).toMatchObject({ code: 1, stdout: '' });
    expect(rollback.stderr).toBe(
      `watchy rollback: refusing to roll back slack-monitor from 8.0.0: publish by ${promotion} moved it to 8.2.0 (metadata_version 4); nothing changed\n`,
    );
    const status = await watchy(['status', 'slack', ...conn()]);
    expect(JSON.parse(status.stdout).pointers).toEqual([
      expect.objectContaining({ version: '8.2.0', metadataVersion: 4, inSync: true }),
    ]);
  });

  test('a --from that is not a version is refused with one line', async () => {
    const run = await watchy(['emergency-rollback', 'slack', '--from', 'latest', ...conn(), ...signing()]);
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr.trim()).toMatch(
      /^watchy emergency-rollback: invalid request: from: expected a semantic version like 1\.2\.3/,
    );
  });

  test('stage of a directory without packages fails with one line', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'watchy-empty-'));
    const run = await watchy(['stage', '--dist', empty, '--session', 's', '--branch', 'main', ...conn()]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `watchy stage: no packages in ${empty} (expected watchy-{name}.json and its .gz)`,
    );
  });

  test('stage without a branch is a usage error (exit 2) and stages nothing: every request records its branch', async () => {
    const dist = await makePackage({ version: '8.2.0' });
    const run = await watchy(['stage', '--dist', dist, '--session', 'no-branch', ...conn()], {
      WATCHY_BRANCH: '',
      CODEBUILD_SOURCE_VERSION: '',
    });
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr.trim()).toBe(
      'watchy stage: missing --branch (or WATCHY_BRANCH): a staged request records the branch it was built from',
    );
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'staging/no-branch/' }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  test('stage records the branch of a refs/heads/ CODEBUILD_SOURCE_VERSION when WATCHY_BRANCH is unset', async () => {
    const dist = await makePackage({ version: '8.3.0' });
    const run = await watchy(['stage', '--dist', dist, '--session', 'by-ref', ...conn()], {
      WATCHY_BRANCH: '',
      CODEBUILD_SOURCE_VERSION: 'refs/heads/develop',
    });
    expect(run.code).toBe(0);
    const request = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: run.stdout.trim() }));
    expect(JSON.parse(await request.Body!.transformToString())).toMatchObject({ branch: 'develop' });
  });

  test('publish with --endpoint-url but no signing key is a usage error (exit 2)', async () => {
    const run = await watchy([
      'publish',
      '--request-key',
      'staging/s/x/1.0.0/publish-request.json',
      '--branch',
      'main',
      '--base-url',
      'https://r.test/binaries',
      ...conn(),
    ]);
    expect(run).toMatchObject({ code: 2 });
    expect(run.stderr.trim()).toBe(
      'watchy publish: with --endpoint-url, give --signing-key FILE or --kms-key-id ARN',
    );
  });

  test('rollback without a version is a usage error (exit 2)', async () => {
    const run = await watchy(['rollback', 'slack', ...conn()]);
    expect(run).toMatchObject({ code: 2 });
    expect(run.stderr.trim()).toBe('watchy rollback: expected <app> <version>');
  });

  test('a bad --arch is a usage error (exit 2)', async () => {
    const run = await watchy(['emergency-rollback', 'slack', '--arch', 'mips', ...conn()]);
    expect(run.stderr.trim()).toBe(
      'watchy emergency-rollback: --arch must be one of x86_64, arm64, got "mips"',
    );
    expect(run.code).toBe(2);
  });

  test('a bad --type is a usage error (exit 2)', async () => {
    const run = await watchy(['history', 'slack', '--type', 'go', ...conn()]);
    expect(run.stderr.trim()).toBe('watchy history: --type must be one of nuitka, rust, got "go"');
    expect(run.code).toBe(2);
  });
});

describe('watchy release commands without --endpoint-url (the deployed functions)', () => {
  let server: Server;
  let endpoint: string;
  const calls: { path: string; body: unknown }[] = [];

  beforeAll(async () => {
    // Lambda's Invoke API: POST /2015-03-31/functions/{name}/invocations; a handled error sets X-Amz-Function-Error.
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        calls.push({ path: req.url ?? '', body });
        res.setHeader('Content-Type', 'application/json');
        if (body.action === 'status') {
          res.end(
            JSON.stringify({
              pointers: [{ artifact: 'slack-monitor', version: '3.1.0', metadataVersion: 5 }],
            }),
          );
          return;
        }
        if (body.action === 'emergency-rollback') {
          res.setHeader('X-Amz-Function-Error', 'Unhandled');
          res.end(
            JSON.stringify({
              errorType: 'ReleaseError',
              errorMessage: 'nothing has been promoted for slack-monitor',
            }),
          );
          return;
        }
        res.end(JSON.stringify({ artifacts: [] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    endpoint = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('list invokes {prefix}-rollback with the operator request', async () => {
    const run = await watchy(['list', '--stack-prefix', 'Watchy-Prod'], {
      AWS_ENDPOINT_URL_LAMBDA: endpoint,
    });
    expect(run).toMatchObject({ code: 0 });
    expect(JSON.parse(run.stdout)).toEqual({ artifacts: [] });
    expect(calls.at(-1)).toEqual({
      path: '/2015-03-31/functions/Watchy-Prod-rollback/invocations',
      body: { action: 'list' },
    });
  });

  test('publish names the build: it invokes {prefix}-publish with the build id (and key) only, never a branch', async () => {
    const buildId = 'Watchy-Build-ProjectsNuitkaX8664:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
    const run = await watchy(['publish', '--build-id', buildId], { AWS_ENDPOINT_URL_LAMBDA: endpoint });
    expect(run).toMatchObject({ code: 0 });
    expect(calls.at(-1)).toEqual({
      path: '/2015-03-31/functions/Watchy-publish/invocations',
      body: { buildId },
    });
    const key =
      'staging/AROA5NUITKAX8664ROLE1:AWSCodeBuild-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9/publish-batch.json';
    await watchy(['publish', '--build-id', buildId, '--request-key', key], {
      AWS_ENDPOINT_URL_LAMBDA: endpoint,
    });
    expect(calls.at(-1)?.body).toEqual({ buildId, requestKey: key });
  });

  test('publish --branch without --endpoint-url is a usage error (exit 2): the function takes the branch from the build', async () => {
    const before = calls.length;
    const run = await watchy(
      ['publish', '--request-key', 'staging/x/y/1.0.0/publish-request.json', '--branch', 'main'],
      {
        AWS_ENDPOINT_URL_LAMBDA: endpoint,
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'watchy publish: without --endpoint-url, name the build (--build-id): the publish function takes its branch from the build, never from --branch',
    );
    expect(calls.length).toBe(before);
  });

  test("the function's error comes back as one line and exit 1; the rollback says what status showed when it started", async () => {
    const before = calls.length;
    const run = await watchy(['emergency-rollback', 'slack'], { AWS_ENDPOINT_URL_LAMBDA: endpoint });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      'watchy emergency-rollback: Watchy-rollback: nothing has been promoted for slack-monitor',
    );
    expect(calls.slice(before).map((c) => c.body)).toEqual([
      { action: 'status', app: 'slack' },
      {
        action: 'emergency-rollback',
        app: 'slack',
        architecture: 'x86_64',
        binaryType: 'nuitka',
        from: '3.1.0',
        rebuild: false,
      },
    ]);
  });

  test('with --from the rollback reads no status first', async () => {
    const before = calls.length;
    await watchy(['emergency-rollback', 'slack', '--from', '3.0.0'], { AWS_ENDPOINT_URL_LAMBDA: endpoint });
    expect(calls.slice(before).map((c) => c.body)).toEqual([expect.objectContaining({ from: '3.0.0' })]);
  });

  test('a pointer status does not show is refused before anything is asked to move', async () => {
    const before = calls.length;
    const run = await watchy(['rollback', 'zoom', '1.0.0'], { AWS_ENDPOINT_URL_LAMBDA: endpoint });
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr.trim()).toBe('watchy rollback: nothing has been promoted for zoom-monitor');
    expect(calls.slice(before).map((c) => c.body)).toEqual([{ action: 'status', app: 'zoom' }]);
  });
});
