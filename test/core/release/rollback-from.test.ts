/**
 * Rollbacks say what they roll back from, over HTTP against moto: each race between operators (or
 * an operator and a promotion) forced into one order, so every outcome is checked exactly: applied,
 * a no-op naming the rollback that already did it, or refused with one line and nothing written.
 */
import type { Signer } from '@core/signing';
import { verifyMetadataSignature } from '@core/signing';
import { readHistory, type ReleaseHistory } from '@core/release/history/history';
import { readPointer } from '@core/release/store/pointer';
import { publish } from '@core/release/publish/publish';
import { emergencyRollback, rollbackToVersion } from '@core/release/rollback/rollback';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { closeReleaseWorld, packageAndStage, releaseWorld, SETTINGS, type ReleaseWorld } from './fixtures';

const REF = { app: 'slack', binaryType: 'nuitka', architecture: 'x86_64' } as const;
let moto: MotoServer;
const worlds: ReleaseWorld[] = [];

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  for (const world of worlds) await closeReleaseWorld(world, undefined);
  await moto?.stop();
});

/** A fresh bucket with 1.0.0, 1.1.0 and 1.2.0 promoted in order (1.2.0 is latest, metadata_version 3). */
async function threeReleases(): Promise<ReleaseWorld> {
  const world = await releaseWorld(moto);
  worlds.push(world);
  for (const [i, version] of ['1.0.0', '1.1.0', '1.2.0'].entries()) {
    const requestKey = await packageAndStage(world, { version }, `AROATEST:AWSCodeBuild-v${i}`);
    await publish(world.deps, SETTINGS, { requestKey, branch: 'main' });
  }
  return world;
}

async function promote(world: ReleaseWorld, version: string): Promise<string> {
  const requestKey = await packageAndStage(world, { version }, `AROATEST:AWSCodeBuild-${version}`);
  await publish(world.deps, SETTINGS, { requestKey, branch: 'main' });
  const { history } = await readHistory(world.store, REF);
  return history.entries.at(-1)!.requestId;
}

async function state(world: ReleaseWorld): Promise<{ history: ReleaseHistory; pointer: [string?, number?] }> {
  const { history } = await readHistory(world.store, REF);
  const pointer = await readPointer(world.store, REF);
  return { history, pointer: [pointer.metadata?.version, pointer.metadataVersion] };
}

const emergency = (world: ReleaseWorld, from: string, requestId: string, deps = world.deps) =>
  emergencyRollback(deps, { ...REF, from, requestId, rebuild: false });
const rollback = (world: ReleaseWorld, from: string, version: string, requestId: string) =>
  rollbackToVersion(world.deps, { ...REF, from, version, requestId, rebuild: false });

describe('rollbacks from a stated release', () => {
  test('an emergency rollback from a release a promotion has since replaced is refused with one line, nothing written', async () => {
    const world = await threeReleases();
    const promotion = await promote(world, '1.3.0');
    const before = await state(world);
    await expect(emergency(world, '1.2.0', 'late-operator')).rejects.toThrow(
      new RegExp(
        `^refusing to roll back slack-monitor from 1\\.2\\.0: publish by ${promotion} moved it to 1\\.3\\.0 \\(metadata_version 4\\); nothing changed$`,
      ),
    );
    expect(await state(world)).toEqual(before);
    expect(before.history.bad).toEqual({});
  });

  test('a second operator rolling back the same release after the first is a no-op naming the first', async () => {
    const world = await threeReleases();
    await emergency(world, '1.2.0', 'operator-a');
    const before = await state(world);
    expect(await emergency(world, '1.2.0', 'operator-b')).toEqual({
      outcome: 'unchanged',
      artifact: 'slack-monitor',
      detail: 'already rolled back from 1.2.0 to 1.1.0 by operator-a',
      by: {
        action: 'emergency-rollback',
        from: '1.2.0',
        to: '1.1.0',
        requestId: 'operator-a',
        metadataVersion: 4,
        time: before.history.entries.at(-1)!.time,
      },
    });
    expect(await state(world)).toEqual(before);
    expect(Object.keys(before.history.bad)).toEqual(['1.2.0']);
  });

  test('already rolled back, then promoted: the no-op says so and where the pointer went since', async () => {
    const world = await threeReleases();
    await emergency(world, '1.2.0', 'operator-a');
    await promote(world, '1.3.0');
    expect(await emergency(world, '1.2.0', 'operator-b')).toMatchObject({
      outcome: 'unchanged',
      detail: 'already rolled back from 1.2.0 to 1.1.0 by operator-a; it has since moved on to 1.3.0',
    });
    expect((await state(world)).pointer).toEqual(['1.3.0', 5]);
  });

  test("rollback to the version another operator's rollback already reached is a no-op naming it", async () => {
    const world = await threeReleases();
    await rollback(world, '1.2.0', '1.0.0', 'operator-a');
    expect(await rollback(world, '1.2.0', '1.0.0', 'operator-b')).toMatchObject({
      outcome: 'unchanged',
      detail: 'already rolled back from 1.2.0 to 1.0.0 by operator-a',
      by: { action: 'rollback', requestId: 'operator-a' },
    });
  });

  test("rollback to a version after another operator's emergency rollback went elsewhere is refused; 1.1.0 stays good", async () => {
    const world = await threeReleases();
    await emergency(world, '1.2.0', 'operator-a');
    const before = await state(world);
    await expect(rollback(world, '1.2.0', '1.0.0', 'operator-b')).rejects.toThrow(
      'refusing to roll back slack-monitor from 1.2.0: emergency-rollback by operator-a moved it to 1.1.0 (metadata_version 4); nothing changed',
    );
    expect(await state(world)).toEqual(before);
    expect(Object.keys(before.history.bad)).toEqual(['1.2.0']);
  });

  test('a rollback from a release the pointer never showed is refused', async () => {
    const world = await threeReleases();
    await expect(emergency(world, '9.9.9', 'typo')).rejects.toThrow(
      'refusing to roll back slack-monitor from 9.9.9: it shows 1.2.0, and 9.9.9 is not in its history; nothing changed',
    );
    expect((await state(world)).pointer).toEqual(['1.2.0', 3]);
  });

  test('a rollback from the release the pointer shows still goes back, even after earlier rollbacks', async () => {
    const world = await threeReleases();
    await emergency(world, '1.2.0', 'operator-a');
    // Someone who saw 1.1.0 (after operator-a) means 1.1.0: one further back, on purpose.
    expect(await emergency(world, '1.1.0', 'operator-c')).toMatchObject({
      outcome: 'rolled-back',
      from: '1.1.0',
      to: '1.0.0',
      detail: 'rolled back slack-monitor from 1.1.0 to 1.0.0 (metadata_version 5); 1.1.0 marked bad',
    });
  });

  test('a rollback superseded by a promotion landing between its history entry and its pointer write says which came first', async () => {
    const world = await threeReleases();
    const requestKey = await packageAndStage(world, { version: '1.3.0' }, 'AROATEST:AWSCodeBuild-1.3.0');
    // The rollback's signer waits until the promotion is done: its entry is in the history, its pointer write is not.
    let release!: () => void;
    const promoted = new Promise<void>((resolve) => (release = resolve));
    const held: Signer = {
      keyId: world.deps.signer.keyId,
      sign: async (payload) => {
        await promoted;
        return world.deps.signer.sign(payload);
      },
    };
    const rolling = rollbackToVersion(
      { ...world.deps, signer: held },
      { ...REF, from: '1.2.0', version: '1.0.0', requestId: 'op-slow', rebuild: false },
    );
    for (;;) {
      const { history } = await readHistory(world.store, REF);
      if (history.entries.some((e) => e.requestId === 'op-slow')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await publish(world.deps, SETTINGS, { requestKey, branch: 'main' });
    release();
    const result = await rolling;
    const { history, pointer } = await state(world);
    const promotion = history.entries.at(-1)!;
    expect(history.entries.slice(3).map((e) => `${e.action} ${e.replaced}->${e.version}`)).toEqual([
      'rollback 1.2.0->1.0.0',
      'publish 1.0.0->1.3.0',
    ]);
    expect(result).toMatchObject({
      outcome: 'rolled-back',
      superseded: true,
      next: {
        action: 'publish',
        from: '1.0.0',
        to: '1.3.0',
        requestId: promotion.requestId,
        metadataVersion: 5,
      },
      detail: `rolled back slack-monitor from 1.2.0 to 1.0.0 (metadata_version 4); 1.2.0 marked bad; then publish by ${promotion.requestId} moved it to 1.3.0 (metadata_version 5)`,
    });
    expect(pointer).toEqual(['1.3.0', 5]);
  });

  test("an emergency rollback finishes another's rollback that stopped before its pointer write, instead of compounding it", async () => {
    const world = await threeReleases();
    const failing: Signer = {
      keyId: world.deps.signer.keyId,
      sign: async () => {
        throw new Error('the function timed out');
      },
    };
    await expect(emergency(world, '1.2.0', 'operator-a', { ...world.deps, signer: failing })).rejects.toThrow(
      'the function timed out',
    );
    // operator-a's entry is in the history; the pointer still shows 1.2.0.
    expect((await state(world)).pointer).toEqual(['1.2.0', 3]);
    expect(await emergency(world, '1.2.0', 'operator-b')).toMatchObject({
      outcome: 'unchanged',
      detail: 'already rolled back from 1.2.0 to 1.1.0 by operator-a',
    });
    const { history, pointer } = await state(world);
    expect(pointer).toEqual(['1.1.0', 4]);
    expect(history.entries).toHaveLength(4);
    expect(Object.keys(history.bad)).toEqual(['1.2.0']);
    const latest = (await readPointer(world.store, REF)).metadata!;
    expect(verifyMetadataSignature(latest, world.publicKey)).toBe(true);
  });
});
