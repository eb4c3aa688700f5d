/** Staging retried in the same build (moto): the same packages are a no-op, other bytes are refused. */
import { stageDist } from '@core/release/publish/stage';
import { startMoto, type MotoServer } from '../../../support/moto-server';
import { closeReleaseWorld, makePackage, releaseWorld, type ReleaseWorld } from '../fixtures';

let moto: MotoServer;
let world: ReleaseWorld;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
});
afterAll(async () => {
  await closeReleaseWorld(world, moto);
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
