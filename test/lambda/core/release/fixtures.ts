/**
 * Shared fixtures of the release tests: moto with a release bucket and a KMS signing key, real
 * packages made by `packageBinary` from a real ELF (this machine's /bin/true plus a variant suffix,
 * so each release has its own bytes), staged with the real stager.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { packageBinary } from '../../../../lambda/core/packaging';
import type { Architecture, BinaryType } from '../../../../lambda/core/artifacts';
import { kmsPublicKey, KmsSigner } from '../../../../lambda/core/release/kms-signer';
import type { Invalidator, ReleaseDeps } from '../../../../lambda/core/release/deps';
import { stageDist } from '../../../../lambda/core/release/stage';
import { S3ReleaseStore } from '../../../../lambda/core/release/store';
import type { PublishSettings } from '../../../../lambda/core/release/publish';
import type { MotoServer } from '../../../support/moto-server';

export const SETTINGS: PublishSettings = {
  releaseBranch: 'main',
  integrationBranch: 'develop',
  binaryDistributionUrl: 'https://releases.example.test/binaries',
};

/** Records invalidated paths (CloudFront itself is out of these tests' scope). */
export class RecordingInvalidator implements Invalidator {
  readonly paths: string[] = [];
  async invalidate(paths: readonly string[]): Promise<void> {
    this.paths.push(...paths);
  }
}

export interface ReleaseWorld {
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly store: S3ReleaseStore;
  readonly deps: ReleaseDeps;
  readonly publicKey: KeyObject;
  readonly invalidator: RecordingInvalidator;
  readonly keyArn: string;
}

let bucketCounter = 0;

export async function releaseWorld(moto: MotoServer): Promise<ReleaseWorld> {
  const s3 = new S3Client(moto.clientConfig);
  const kms = new KMSClient(moto.clientConfig);
  const bucket = `releases-${process.pid}-${++bucketCounter}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
  const keyArn = key.KeyMetadata!.Arn!;
  const store = new S3ReleaseStore(s3, bucket);
  const invalidator = new RecordingInvalidator();
  return {
    s3,
    kms,
    store,
    keyArn,
    invalidator,
    publicKey: await kmsPublicKey(kms, keyArn),
    deps: { store, signer: new KmsSigner(kms, keyArn), invalidator },
  };
}

export interface PackageSpec {
  readonly app?: string;
  readonly version: string;
  readonly variant?: string;
  readonly binaryType?: BinaryType;
  readonly architecture?: Architecture;
  readonly sourceRevision?: string;
}

/** `watchy package` of a real ELF into a fresh directory; returns the directory. */
export async function makePackage(spec: PackageSpec): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'watchy-release-'));
  const binary = join(dir, 'binary');
  await writeFile(
    binary,
    Buffer.concat([await readFile('/bin/true'), Buffer.from(`\nvariant ${spec.variant ?? spec.version}\n`)]),
  );
  const binaryType = spec.binaryType ?? 'nuitka';
  await packageBinary({
    app: spec.app ?? 'slack',
    binaryType,
    architecture: spec.architecture ?? 'x86_64',
    version: spec.version,
    binaryPath: binary,
    outDir: join(dir, 'dist'),
    saasApp: 'Slack',
    baseUrl: SETTINGS.binaryDistributionUrl,
    ...(binaryType === 'nuitka' ? { pythonVersion: '3.11' } : {}),
    sourceRevision: spec.sourceRevision ?? 'abcdef1234567',
    buildId: `watchy-nuitka-x86_64:${spec.version}`,
    buildTime: new Date('2026-11-22T05:00:00Z'),
  });
  await rm(binary);
  return join(dir, 'dist');
}

/** package → stage (session `session`); returns the key to publish. */
export async function packageAndStage(
  world: ReleaseWorld,
  spec: PackageSpec,
  session = 'AROATEST:AWSCodeBuild-1',
): Promise<string> {
  const dir = await makePackage(spec);
  const staged = await stageDist(world.store, { dir, session });
  return staged.key;
}
