/**
 * The release flow over real HTTP against moto (S3 conditional writes, KMS ECC_NIST_P256 signing):
 * package → stage → publish (develop) → publish (main) → second release → emergency rollback →
 * rollback to a version, checking the latest pointer after every step.
 */
import { GetObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { parseMetadataJson, type WatchyMetadata } from '@core/metadata';
import { verifyMetadataSignature } from '@core/signing';
import { pointerKeys, releaseKeys } from '@core/artifacts';
import { readHistory } from '@core/release/history/history';
import { publish } from '@core/release/publish/publish';
import { emergencyRollback, rollbackToVersion } from '@core/release/rollback/rollback';
import { startMoto, type MotoServer } from '../../support/moto-server';
import {
  closeReleaseWorld,
  invalidatedPaths,
  packageAndStage,
  releaseWorld,
  SETTINGS,
  type ReleaseWorld,
} from './fixtures';

const REF = { app: 'slack', binaryType: 'nuitka', architecture: 'x86_64' } as const;
let moto: MotoServer;
let world: ReleaseWorld;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
});
afterAll(async () => {
  await closeReleaseWorld(world, moto);
});

async function latest(): Promise<{ metadata: WatchyMetadata; gzSha256: string }> {
  const keys = pointerKeys(REF);
  const json = await world.s3.send(
    new GetObjectCommand({ Bucket: world.store.bucket, Key: keys.latestMetadata }),
  );
  const gz = await world.s3.send(
    new GetObjectCommand({ Bucket: world.store.bucket, Key: keys.latestBinary }),
  );
  const metadata = parseMetadataJson(Buffer.from(await json.Body!.transformToByteArray()));
  const gzSha256 = createHash('sha256')
    .update(await gz.Body!.transformToByteArray())
    .digest('hex');
  return { metadata, gzSha256 };
}

let lastMetadataVersion = 0;
async function expectLatest(version: string): Promise<WatchyMetadata> {
  const { metadata, gzSha256 } = await latest();
  expect(verifyMetadataSignature(metadata, world.publicKey)).toBe(true);
  expect(metadata.signature?.key_id).toBe(world.keyArn);
  expect(metadata.version).toBe(version);
  expect(metadata.download_url).toBe(
    `${SETTINGS.binaryDistributionUrl}/slack-monitor/watchy-slack-monitor-${version}.gz`,
  );
  expect(gzSha256).toBe(metadata.compressed_sha256);
  expect(metadata.metadata_version).toBeGreaterThan(lastMetadataVersion);
  lastMetadataVersion = metadata.metadata_version!;
  const { history } = await readHistory(world.store, REF);
  expect(history.entries.at(-1)).toMatchObject({ version, metadataVersion: lastMetadataVersion });
  return metadata;
}

describe('release flow (moto, KMS-signed)', () => {
  let request1: string;
  let request2: string;

  test('develop: publishes versioned artifacts only, signed, no pointer', async () => {
    const developRequest = await packageAndStage(
      world,
      { version: '1.0.0' },
      'AROATEST:AWSCodeBuild-develop',
      'develop',
    );
    const outcome = await publish(world.deps, SETTINGS, { requestKey: developRequest, branch: 'develop' });
    expect(outcome.results).toEqual([
      expect.objectContaining({ versioned: 'created', pointer: 'not-promoted' }),
    ]);
    const keys = releaseKeys(REF, '1.0.0');
    const versioned = await world.s3.send(
      new GetObjectCommand({ Bucket: world.store.bucket, Key: keys.versionedMetadata }),
    );
    const metadata = parseMetadataJson(Buffer.from(await versioned.Body!.transformToByteArray()));
    expect(verifyMetadataSignature(metadata, world.publicKey)).toBe(true);
    expect(metadata.metadata_version).toBeUndefined();
    expect(metadata.source_revision).toBe('abcdef1234567');
    await expect(world.store.head(pointerKeys(REF).latestMetadata)).resolves.toBeUndefined();
  });

  test('main: a main build of the same artifact is promoted; the versioned objects stay untouched', async () => {
    request1 = await packageAndStage(world, { version: '1.0.0' });
    const outcome = await publish(world.deps, SETTINGS, { requestKey: request1, branch: 'main' });
    expect(outcome.results[0]).toMatchObject({
      versioned: 'unchanged',
      pointer: 'promoted',
      metadataVersion: 1,
    });
    await expectLatest('1.0.0');
    expect(await invalidatedPaths(world.cloudfront, world.distributionId)).toEqual([
      '/binaries/slack-monitor/watchy-slack-monitor.json',
      '/binaries/slack-monitor/watchy-slack-monitor.gz',
    ]);
  });

  test('second release on main moves the pointer and grows metadata_version', async () => {
    request2 = await packageAndStage(
      world,
      { version: '1.1.0', sourceRevision: 'bbbbbbb2222222' },
      'AROATEST:AWSCodeBuild-2',
    );
    const outcome = await publish(world.deps, SETTINGS, { requestKey: request2, branch: 'main' });
    expect(outcome.results[0]).toMatchObject({
      versioned: 'created',
      pointer: 'promoted',
      metadataVersion: 2,
    });
    await expectLatest('1.1.0');
  });

  test('a retried publish of the first release changes nothing (no downgrade, no new version)', async () => {
    const before = await world.s3.send(
      new ListObjectVersionsCommand({ Bucket: world.store.bucket, Prefix: 'binaries/' }),
    );
    const outcome = await publish(world.deps, SETTINGS, { requestKey: request1, branch: 'main' });
    expect(outcome.results[0]).toMatchObject({
      versioned: 'unchanged',
      pointer: 'already-promoted',
      metadataVersion: 1,
    });
    const after = await world.s3.send(
      new ListObjectVersionsCommand({ Bucket: world.store.bucket, Prefix: 'binaries/' }),
    );
    expect(after.Versions?.length).toBe(before.Versions?.length);
    expect((await latest()).metadata.version).toBe('1.1.0');
    // Two moves so far (1.0.0, 1.1.0): two invalidations of the two pointer paths, none for the retry.
    expect(await invalidatedPaths(world.cloudfront, world.distributionId)).toHaveLength(4);
  });

  test('emergency rollback: back to 1.0.0 with a higher metadata_version, 1.1.0 marked bad', async () => {
    const result = await emergencyRollback(world.deps, {
      ...REF,
      from: '1.1.0',
      requestId: 'incident-1',
      reason: 'crash loop',
      rebuild: false,
    });
    expect(result).toMatchObject({
      outcome: 'rolled-back',
      from: '1.1.0',
      to: '1.0.0',
      metadataVersion: 3,
      detail: 'rolled back slack-monitor from 1.1.0 to 1.0.0 (metadata_version 3); 1.1.0 marked bad',
    });
    const metadata = await expectLatest('1.0.0');
    expect(metadata.source_revision).toBe('abcdef1234567');
    const { history } = await readHistory(world.store, REF);
    expect(history.bad['1.1.0']).toMatchObject({ reason: 'crash loop', metadataVersion: 3 });
  });

  test('the same emergency rollback again (same request id) is a no-op', async () => {
    const result = await emergencyRollback(world.deps, {
      ...REF,
      from: '1.1.0',
      requestId: 'incident-1',
      rebuild: false,
    });
    expect(result).toMatchObject({ outcome: 'already-done', to: '1.0.0', metadataVersion: 3 });
    expect((await latest()).metadata.metadata_version).toBe(3);
  });

  test('rollback to a version marked bad is refused', async () => {
    await expect(
      rollbackToVersion(world.deps, { ...REF, from: '1.0.0', version: '1.1.0', rebuild: false }),
    ).rejects.toThrow(
      'version 1.1.0 of slack-monitor is marked bad (crash loop); refusing to roll back to it',
    );
    expect((await latest()).metadata.metadata_version).toBe(3);
  });

  test('rollback to a version: a third release, then back to 1.0.0', async () => {
    const request3 = await packageAndStage(world, { version: '1.2.0' }, 'AROATEST:AWSCodeBuild-3');
    await publish(world.deps, SETTINGS, { requestKey: request3, branch: 'main' });
    await expectLatest('1.2.0');
    const result = await rollbackToVersion(world.deps, {
      ...REF,
      from: '1.2.0',
      version: '1.0.0',
      requestId: 'op-2',
      rebuild: false,
    });
    expect(result).toMatchObject({ outcome: 'rolled-back', from: '1.2.0', to: '1.0.0' });
    await expectLatest('1.0.0');
    const again = await rollbackToVersion(world.deps, {
      ...REF,
      from: '1.0.0',
      version: '1.0.0',
      rebuild: false,
    });
    expect(again).toMatchObject({ outcome: 'unchanged', detail: 'the latest pointer is already at 1.0.0' });
  });

  test('rollback never points at an artifact that does not match its metadata', async () => {
    const request4 = await packageAndStage(
      world,
      { version: '1.3.0', sourceRevision: 'ccccccc3333333' },
      'AROATEST:AWSCodeBuild-4',
      'develop',
    );
    await publish(world.deps, SETTINGS, { requestKey: request4, branch: 'develop' });
    // Corrupt 1.3.0's versioned .gz behind the store's back (as a bad actor with bucket access would).
    const keys = releaseKeys(REF, '1.3.0');
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await world.s3.send(
      new PutObjectCommand({
        Bucket: world.store.bucket,
        Key: keys.versionedBinary,
        Body: Buffer.from('not the release'),
      }),
    );
    await expect(
      rollbackToVersion(world.deps, { ...REF, from: '1.0.0', version: '1.3.0', rebuild: false }),
    ).rejects.toThrow(/size check failed for s3:\/\/.*watchy-slack-monitor-1\.3\.0\.gz/);
    const result = await rollbackToVersion(world.deps, {
      ...REF,
      from: '1.0.0',
      version: '1.3.0',
      rebuild: true,
    });
    expect(result).toMatchObject({
      outcome: 'rebuild-needed',
      version: '1.3.0',
      sourceRevision: 'ccccccc3333333',
    });
    expect((await latest()).metadata.version).toBe('1.0.0');
  });
});
