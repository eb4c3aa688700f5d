/**
 * Reading a latest pointer over moto: a pointer over the metadata size limit but within the read
 * cap reads as unreadable (metadata_version 0, its ETag known) and the next promotion replaces it;
 * one over the read cap fails the read instead of being buffered.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { pointerKeys } from '@core/artifacts';
import { MAX_METADATA_BYTES } from '@core/metadata';
import { publish } from '@core/release/publish/publish';
import { POINTER_READ_MAX_BYTES, readPointer } from '@core/release/store/pointer';
import { startMoto, type MotoServer } from '../../../support/moto-server';
import { closeReleaseWorld, packageAndStage, releaseWorld, SETTINGS, type ReleaseWorld } from '../fixtures';

const REF = { app: 'slack', binaryType: 'nuitka', architecture: 'x86_64' } as const;
let moto: MotoServer;
let world: ReleaseWorld;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
  const requestKey = await packageAndStage(world, { version: '1.0.0' }, 'AROATEST:AWSCodeBuild-p0');
  await publish(world.deps, SETTINGS, { requestKey, branch: 'main' });
});
afterAll(async () => {
  await closeReleaseWorld(world, moto);
});

async function overwritePointer(bytes: number): Promise<void> {
  await world.s3.send(
    new PutObjectCommand({
      Bucket: world.store.bucket,
      Key: pointerKeys(REF).latestMetadata,
      Body: `{"pad":"${'x'.repeat(bytes - 10)}"}`,
    }),
  );
}

test('the read cap is above the metadata limit', () => {
  expect(POINTER_READ_MAX_BYTES).toBeGreaterThan(MAX_METADATA_BYTES);
});

test('a pointer over the metadata limit reads as unreadable and the next promotion replaces it', async () => {
  await overwritePointer(MAX_METADATA_BYTES * 2);
  const unreadable = await readPointer(world.store, REF);
  expect(unreadable).toEqual({ etag: expect.any(String), metadataVersion: 0 });

  const requestKey = await packageAndStage(world, { version: '1.1.0' }, 'AROATEST:AWSCodeBuild-p1');
  await publish(world.deps, SETTINGS, { requestKey, branch: 'main' });
  const pointer = await readPointer(world.store, REF);
  expect([pointer.metadata?.version, pointer.metadataVersion]).toEqual(['1.1.0', 2]);
});

test('a pointer over the read cap fails the read, naming the limit', async () => {
  await overwritePointer(POINTER_READ_MAX_BYTES + 1);
  await expect(readPointer(world.store, REF)).rejects.toThrow(
    new RegExp(`is ${POINTER_READ_MAX_BYTES + 1} bytes, over the ${POINTER_READ_MAX_BYTES}-byte limit$`),
  );
});
