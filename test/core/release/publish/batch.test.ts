/**
 * A Rust workspace build: several packages staged as one batch and published by one invocation
 * (moto); a batch naming another build's request is refused.
 */
import { mkdtemp, readdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { publish } from '@core/release/publish/publish';
import { stageDist } from '@core/release/publish/stage';
import { startMoto, type MotoServer } from '../../../support/moto-server';
import { closeReleaseWorld, makePackage, releaseWorld, SETTINGS, type ReleaseWorld } from '../fixtures';

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
