/**
 * A Rust workspace build: several packages staged as one batch and published by one invocation
 * (moto); a batch naming another build's request is refused. And the small pure helpers.
 */
import { mkdtemp, readdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SEMVER_PATTERN } from '@core/artifacts';
import { KmsSigner, KMS_RAW_MESSAGE_LIMIT } from '@core/release/kms-signer';
import { publish } from '@core/release/publish/publish';
import { compareSemver, parseArtifactName } from '@core/release/history/queries';
import { rebuildVersion } from '@core/release/rollback/rebuild';
import { stageDist } from '@core/release/publish/stage';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { closeReleaseWorld, makePackage, releaseWorld, SETTINGS, type ReleaseWorld } from './fixtures';

let moto: MotoServer;
let world: ReleaseWorld;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
});
afterAll(async () => {
  await closeReleaseWorld(world, moto);
});

/** Two Rust Lambda packages in one output directory, as the rust-lambda buildspec leaves them. */
async function workspaceDist(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'watchy-rust-dist-'));
  for (const app of ['backend', 'ws-connect']) {
    const one = await makePackage({ app, version: '0.3.0', binaryType: 'rust' });
    for (const file of await readdir(one)) await rename(join(one, file), join(dir, file));
  }
  return dir;
}

describe('batches (a Rust workspace build)', () => {
  test('stage writes one request per binary and a batch; one publish promotes both', async () => {
    const staged = await stageDist(world.store, {
      dir: await workspaceDist(),
      session: 'AROATEST:AWSCodeBuild-rust',
      branch: 'main',
    });
    expect(staged.key).toBe('staging/AROATEST:AWSCodeBuild-rust/publish-batch.json');
    expect(staged.requests).toEqual([
      'staging/AROATEST:AWSCodeBuild-rust/backend-lambda/0.3.0/publish-request.json',
      'staging/AROATEST:AWSCodeBuild-rust/ws-connect-lambda/0.3.0/publish-request.json',
    ]);
    const outcome = await publish(world.deps, SETTINGS, { requestKey: staged.key, branch: 'main' });
    expect(outcome.results.map((r) => [r.artifact, r.pointer, r.metadataVersion])).toEqual([
      ['backend-lambda', 'promoted', 1],
      ['ws-connect-lambda', 'promoted', 1],
    ]);
  });

  test("a batch naming another build's request is refused before anything is published", async () => {
    const key = 'staging/AROATEST:AWSCodeBuild-evil/publish-batch.json';
    const body = JSON.stringify({
      batchVersion: 1,
      requests: ['staging/AROATEST:AWSCodeBuild-rust/backend-lambda/0.3.0/publish-request.json'],
    });
    await world.s3.send(new PutObjectCommand({ Bucket: world.store.bucket, Key: key, Body: body }));
    await expect(publish(world.deps, SETTINGS, { requestKey: key, branch: 'main' })).rejects.toThrow(
      "invalid publish batch: staging/AROATEST:AWSCodeBuild-rust/backend-lambda/0.3.0/publish-request.json is outside the batch's staging prefix staging/AROATEST:AWSCodeBuild-evil/",
    );
  });
});

describe('helpers', () => {
  test('artifact folder names parse back to their refs, and nothing else does', () => {
    expect(parseArtifactName('slack-monitor')).toEqual({
      app: 'slack',
      binaryType: 'nuitka',
      architecture: 'x86_64',
    });
    expect(parseArtifactName('slack-monitor-arm64')).toEqual({
      app: 'slack',
      binaryType: 'nuitka',
      architecture: 'arm64',
    });
    expect(parseArtifactName('ws-connect-lambda-arm64')).toEqual({
      app: 'ws-connect',
      binaryType: 'rust',
      architecture: 'arm64',
    });
    expect(parseArtifactName('-monitor')).toBeUndefined();
    expect(parseArtifactName('slack')).toBeUndefined();
  });

  test('semver precedence: prereleases below their release, numeric identifiers numerically', () => {
    const sorted = [
      '1.10.0',
      '1.2.0',
      '1.2.0-rc.10',
      '1.2.0-rc.2',
      '0.0.0-dev.20261122.gabc',
      '1.2.0-alpha',
    ].sort(compareSemver);
    expect(sorted).toEqual([
      '0.0.0-dev.20261122.gabc',
      '1.2.0-alpha',
      '1.2.0-rc.2',
      '1.2.0-rc.10',
      '1.2.0',
      '1.10.0',
    ]);
  });

  test('rebuild versions are semver of their own, never the original', () => {
    const at = new Date('2026-11-22T06:07:08Z');
    expect(rebuildVersion('1.2.0', at)).toBe('1.2.0-rebuild.20261122060708');
    expect(rebuildVersion('1.2.0-rc.1', at)).toBe('1.2.0-rc.1.rebuild.20261122060708');
    expect(SEMVER_PATTERN.test(rebuildVersion('1.2.0-rc.1', at))).toBe(true);
  });

  test('the KMS signer refuses payloads over the RAW message limit without calling KMS', async () => {
    const signer = new KmsSigner(world.kms, world.keyArn);
    await expect(signer.sign(Buffer.alloc(KMS_RAW_MESSAGE_LIMIT + 1))).rejects.toThrow(
      "signing payload is 4097 bytes, over KMS's 4096-byte RAW message limit",
    );
  });
});

describe('staging retries', () => {
  test('staging the same packages again in the same build is a no-op with the same key', async () => {
    const dir = await makePackage({ version: '9.0.0' });
    const first = await stageDist(world.store, {
      dir,
      session: 'AROATEST:AWSCodeBuild-retry',
      branch: 'main',
    });
    const second = await stageDist(world.store, {
      dir,
      session: 'AROATEST:AWSCodeBuild-retry',
      branch: 'main',
    });
    expect(second).toEqual(first);
  });

  test('staging other bytes under a key the build already staged is refused', async () => {
    const other = await makePackage({ version: '9.0.0', variant: 'another build' });
    await expect(
      stageDist(world.store, { dir: other, session: 'AROATEST:AWSCodeBuild-retry', branch: 'main' }),
    ).rejects.toThrow(
      /^s3:\/\/.*\/staging\/AROATEST:AWSCodeBuild-retry\/slack-monitor\/9\.0\.0\/watchy-slack-monitor-9\.0\.0\.gz already holds something else/,
    );
  });
});
