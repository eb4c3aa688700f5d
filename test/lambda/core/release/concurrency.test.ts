/**
 * 32 concurrent promotions and rollbacks on one pointer, over HTTP against moto's conditional
 * writes: no lost update, metadata_version strictly grows through the history, and at the end the
 * pointer (metadata and .gz) shows the history's last entry.
 */
import { pointerKeys } from '../../../../lambda/core/artifacts';
import { readHistory } from '../../../../lambda/core/release/history';
import { readPointer } from '../../../../lambda/core/release/pointer';
import { publish } from '../../../../lambda/core/release/publish';
import { emergencyRollback, rollbackToVersion } from '../../../../lambda/core/release/rollback';
import { verifyMetadataSignature } from '../../../../lambda/core/signing';
import { startMoto, type MotoServer } from '../../../support/moto-server';
import { closeReleaseWorld, packageAndStage, releaseWorld, SETTINGS, type ReleaseWorld } from './fixtures';

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

test('32 concurrent promotions and rollbacks: no lost update; history and pointer agree', async () => {
  // Two releases promoted first, so rollbacks have somewhere to go.
  const base = ['4.0.0', '4.0.1'];
  for (const [i, version] of base.entries()) {
    const key = await packageAndStage(world, { version }, `AROATEST:AWSCodeBuild-base${i}`);
    await publish(world.deps, SETTINGS, { requestKey: key, branch: 'main' });
  }
  const promotions = 16;
  const keys: string[] = [];
  for (let i = 0; i < promotions; i++) {
    keys.push(await packageAndStage(world, { version: `5.0.${i}` }, `AROATEST:AWSCodeBuild-c${i}`));
  }
  const operations: Promise<unknown>[] = [];
  for (let i = 0; i < 32; i++) {
    if (i % 2 === 0) {
      operations.push(publish(world.deps, SETTINGS, { requestKey: keys[i / 2]!, branch: 'main' }));
    } else if (i % 4 === 1) {
      operations.push(
        emergencyRollback(world.deps, { ...REF, requestId: `incident-${i}`, rebuild: false }).catch(
          (e: Error) => e,
        ),
      );
    } else {
      operations.push(
        rollbackToVersion(world.deps, {
          ...REF,
          version: '4.0.0',
          requestId: `op-${i}`,
          rebuild: false,
        }).catch((e: Error) => e),
      );
    }
  }
  const results = await Promise.all(operations);
  for (const result of results) {
    // Rollbacks may legitimately be refused (e.g. 4.0.0 marked bad by an earlier rollback); nothing may fail otherwise.
    if (result instanceof Error) expect(result.message).toMatch(/marked bad|no earlier good release/);
  }

  const { history } = await readHistory(world.store, REF);
  const versions = history.entries.map((e) => e.metadataVersion);
  expect(versions).toEqual([...versions].sort((a, b) => a - b));
  expect(new Set(versions).size).toBe(versions.length);
  // Each move saw the one before it: the history is one unbroken chain.
  for (let i = 1; i < history.entries.length; i++) {
    expect(history.entries[i]!.replaced).toBe(history.entries[i - 1]!.version);
  }
  // Every successful operation has its own entry: none was lost.
  const promoted = results.filter(
    (r) => (r as { results?: { pointer: string }[] }).results?.[0]?.pointer === 'promoted',
  );
  const rolledBack = results.filter((r) => (r as { outcome?: string }).outcome === 'rolled-back');
  expect(promoted.length).toBeGreaterThan(0);
  expect(history.entries.length).toBe(base.length + promoted.length + rolledBack.length);

  const pointer = await readPointer(world.store, REF);
  const head = history.entries.at(-1)!;
  expect(pointer.metadataVersion).toBe(head.metadataVersion);
  expect(pointer.metadata?.version).toBe(head.version);
  expect(verifyMetadataSignature(pointer.metadata!, world.publicKey)).toBe(true);
  const gz = await world.store.head(pointerKeys(REF).latestBinary);
  expect(gz?.metadata['metadata-version']).toBe(String(head.metadataVersion));
  expect(gz?.metadata.version).toBe(head.version);
});
