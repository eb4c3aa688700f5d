/**
 * Concurrent writers on one pointer, over HTTP against moto's conditional writes: 32 promotions and
 * rollbacks lose no update, metadata_version strictly grows through the history, and at the end the
 * pointer (metadata and .gz) shows the history's last entry. Operators racing each other (or a
 * promotion) with rollbacks from the release they saw never compound: one step back, one bad mark,
 * and the history's one serial order is what each result reports.
 */
import { pointerKeys } from '@core/artifacts';
import { readHistory, type HistoryEntry } from '@core/release/history/history';
import { readPointer } from '@core/release/store/pointer';
import { publish } from '@core/release/publish/publish';
import {
  emergencyRollback,
  rollbackToVersion,
  runPointerOperation,
  type RollbackResult,
} from '@core/release/rollback/rollback';
import { verifyMetadataSignature } from '@core/signing';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { closeReleaseWorld, packageAndStage, releaseWorld, SETTINGS, type ReleaseWorld } from './fixtures';

const REF = { app: 'slack', binaryType: 'nuitka', architecture: 'x86_64' } as const;
let moto: MotoServer;
let world: ReleaseWorld;
const others: ReleaseWorld[] = [];

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
});
afterAll(async () => {
  for (const other of others) await closeReleaseWorld(other, undefined);
  await closeReleaseWorld(world, moto);
});

/** A fresh bucket with 1.0.0, 1.1.0 and 1.2.0 promoted in order (1.2.0 is latest, metadata_version 3). */
async function threeReleases(): Promise<ReleaseWorld> {
  const fresh = await releaseWorld(moto);
  others.push(fresh);
  for (const [i, version] of ['1.0.0', '1.1.0', '1.2.0'].entries()) {
    const requestKey = await packageAndStage(fresh, { version }, `AROATEST:AWSCodeBuild-v${i}`);
    await publish(fresh.deps, SETTINGS, { requestKey, branch: 'main' });
  }
  return fresh;
}

/** The pointer agrees with the history's head, signed, .gz included. */
async function expectPointerAtHead(w: ReleaseWorld, head: HistoryEntry): Promise<void> {
  const pointer = await readPointer(w.store, REF);
  expect([pointer.metadata?.version, pointer.metadataVersion]).toEqual([head.version, head.metadataVersion]);
  expect(verifyMetadataSignature(pointer.metadata!, w.publicKey)).toBe(true);
  const gz = await w.store.head(pointerKeys(REF).latestBinary);
  expect([gz?.metadata.version, gz?.metadata['metadata-version']]).toEqual([
    head.version,
    String(head.metadataVersion),
  ]);
}

test('32 concurrent promotions and rollbacks: no lost update; history and pointer agree; nothing marked bad that nobody rolled back from', async () => {
  // Two releases promoted first, so rollbacks have somewhere to go.
  const base = ['4.0.0', '4.0.1'];
  for (const [i, version] of base.entries()) {
    const key = await packageAndStage(world, { version }, `AROATEST:AWSCodeBuild-base${i}`);
    await publish(world.deps, SETTINGS, { requestKey: key, branch: 'main' });
  }
  const keys: string[] = [];
  for (let i = 0; i < 16; i++) {
    keys.push(await packageAndStage(world, { version: `5.0.${i}` }, `AROATEST:AWSCodeBuild-c${i}`));
  }
  /** What each rollback said it rolls back from: what the pointer showed when it started (as `watchy status`). */
  const asked = new Map<string, string>();
  let promotionsLanded = false;
  /** An operator: reads the pointer, rolls back from it; refused because it moved meanwhile, looks again. */
  const operator = async (requestId: string, run: (from: string) => Promise<RollbackResult>) => {
    for (let tries = 1; ; tries++) {
      const from = (await readPointer(world.store, REF)).metadata!.version;
      asked.set(requestId, from);
      try {
        return await run(from);
      } catch (error) {
        // Refused because the pointer moved meanwhile: look again, five times, and for as long as
        // promotions are still landing (a loaded machine can keep every rollback behind them).
        const moving = tries < 5 || (!promotionsLanded && tries < 200);
        if (moving && /^refusing to roll back/.test((error as Error).message)) continue;
        return error as Error;
      }
    }
  };
  // All 16 promotions start at once; each pair of rollbacks (one emergency, one to 4.0.0) starts as
  // soon as one of the first 8 promotions lands, so they run among the promotions still in flight and
  // the two of a pair usually see the same release.
  const promotionsRun = keys.map((requestKey) =>
    publish(world.deps, SETTINGS, { requestKey, branch: 'main' }),
  );
  void Promise.allSettled(promotionsRun).then(() => (promotionsLanded = true));
  const operations: Promise<unknown>[] = [...promotionsRun];
  for (let i = 0; i < 16; i++) {
    const landed = promotionsRun[Math.floor(i / 2)]!;
    const requestId = i % 2 === 0 ? `incident-${i}` : `op-${i}`;
    operations.push(
      landed.then(() =>
        operator(requestId, (from) =>
          i % 2 === 0
            ? emergencyRollback(world.deps, { ...REF, from, requestId, rebuild: false })
            : rollbackToVersion(world.deps, { ...REF, from, version: '4.0.0', requestId, rebuild: false }),
        ),
      ),
    );
  }
  const results = await Promise.all(operations);
  for (const result of results) {
    // Rollbacks may legitimately be refused (4.0.0 marked bad by an earlier one, or the pointer moved
    // on from what they saw); nothing may fail otherwise.
    if (result instanceof Error) {
      expect(result.message).toMatch(
        /marked bad|no earlier good release|^refusing to roll back slack-monitor from/,
      );
    }
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
  const rolledBack = results.filter((r) => (r as RollbackResult).outcome === 'rolled-back');
  expect(promoted.length).toBeGreaterThan(0);
  expect(rolledBack.length).toBeGreaterThan(0);
  expect(history.entries.length).toBe(base.length + promoted.length + rolledBack.length);
  // Every rollback in the history left the release its request said, and only those are marked bad.
  const rollbacks = history.entries.filter((e) => e.action !== 'publish');
  expect(rollbacks).toHaveLength(rolledBack.length);
  for (const entry of rollbacks) expect(entry.replaced).toBe(asked.get(entry.requestId));
  expect(Object.keys(history.bad).sort()).toEqual([...new Set(rollbacks.map((e) => e.replaced!))].sort());

  await expectPointerAtHead(world, history.entries.at(-1)!);
});

test.each([2, 8])(
  '%i concurrent emergency rollbacks from the same release end exactly one step back with exactly one bad mark',
  async (n) => {
    const w = await threeReleases();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        runPointerOperation(w.deps, {
          action: 'emergency-rollback',
          ...REF,
          from: '1.2.0',
          requestId: `operator-${i}`,
          reason: `operator ${i}: crash loop`,
        }),
      ),
    );
    const { history } = await readHistory(w.store, REF);
    const moves = history.entries.slice(3);
    expect(moves).toEqual([
      expect.objectContaining({
        action: 'emergency-rollback',
        replaced: '1.2.0',
        version: '1.1.0',
        metadataVersion: 4,
      }),
    ]);
    expect(Object.keys(history.bad)).toEqual(['1.2.0']);
    const winner = moves[0]!.requestId;
    const applied = results.filter((r) => r.outcome === 'rolled-back');
    expect(applied).toEqual([expect.objectContaining({ from: '1.2.0', to: '1.1.0', metadataVersion: 4 })]);
    const rest = results.filter((r) => r.outcome !== 'rolled-back');
    expect(rest).toHaveLength(n - 1);
    for (const other of rest) {
      expect(other).toMatchObject({
        outcome: 'unchanged',
        detail: `already rolled back from 1.2.0 to 1.1.0 by ${winner}`,
        by: {
          action: 'emergency-rollback',
          from: '1.2.0',
          to: '1.1.0',
          requestId: winner,
          metadataVersion: 4,
        },
      });
    }
    await expectPointerAtHead(w, moves[0]!);
  },
);

test('a rollback to a version racing a promotion: one serial order in the history, and the result says which', async () => {
  const w = await threeReleases();
  const requestKey = await packageAndStage(w, { version: '1.3.0' }, 'AROATEST:AWSCodeBuild-v3');
  const [rollback, promotion] = await Promise.allSettled([
    rollbackToVersion(w.deps, {
      ...REF,
      from: '1.2.0',
      version: '1.0.0',
      requestId: 'op-race',
      rebuild: false,
    }),
    publish(w.deps, SETTINGS, { requestKey, branch: 'main' }),
  ]);
  expect(promotion).toMatchObject({ status: 'fulfilled', value: { results: [{ pointer: 'promoted' }] } });
  const { history } = await readHistory(w.store, REF);
  const moves = history.entries.slice(3);
  const published = moves.find((e) => e.action === 'publish')!;
  if (rollback.status === 'rejected') {
    // The promotion came first: the rollback saw 1.2.0 leave and changed nothing.
    expect(moves).toEqual([
      expect.objectContaining({ action: 'publish', replaced: '1.2.0', version: '1.3.0' }),
    ]);
    expect((rollback.reason as Error).message).toBe(
      `refusing to roll back slack-monitor from 1.2.0: publish by ${published.requestId} moved it to 1.3.0 (metadata_version 4); nothing changed`,
    );
    expect(history.bad).toEqual({});
  } else {
    // The rollback came first; the promotion then moved on from where it left the pointer.
    expect(moves).toEqual([
      expect.objectContaining({
        action: 'rollback',
        replaced: '1.2.0',
        version: '1.0.0',
        requestId: 'op-race',
      }),
      expect.objectContaining({ action: 'publish', replaced: '1.0.0', version: '1.3.0', metadataVersion: 5 }),
    ]);
    expect(Object.keys(history.bad)).toEqual(['1.2.0']);
    const result = rollback.value;
    expect(result).toMatchObject({ outcome: 'rolled-back', from: '1.2.0', to: '1.0.0', metadataVersion: 4 });
    const told = 'rolled back slack-monitor from 1.2.0 to 1.0.0 (metadata_version 4); 1.2.0 marked bad';
    if (result.outcome === 'rolled-back' && result.superseded) {
      expect(result.detail).toBe(
        `${told}; then publish by ${published.requestId} moved it to 1.3.0 (metadata_version 5)`,
      );
    } else {
      expect(result).toMatchObject({ detail: told });
    }
  }
  await expectPointerAtHead(w, history.entries.at(-1)!);
});
