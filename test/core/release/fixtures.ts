/**
 * Shared fixtures of the release tests: moto with a release bucket, a KMS signing key and a
 * CloudFront distribution (whose invalidations the tests read back), real
 * packages made by `packageBinary` from a real ELF (this machine's /bin/true plus a variant suffix,
 * so each release has its own bytes), staged with the real stager.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CloudFrontClient,
  CreateDistributionCommand,
  GetInvalidationCommand,
  ListInvalidationsCommand,
} from '@aws-sdk/client-cloudfront';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { packageBinary } from '@core/packaging';
import type { Architecture, BinaryType } from '@core/artifacts';
import { kmsPublicKey, KmsSigner } from '@core/release/kms-signer';
import type { ReleaseDeps } from '@core/release/deps';
import { CloudFrontInvalidator } from '@core/release/cloudfront-invalidator';
import { stageDist } from '@core/release/publish/stage';
import { S3ReleaseStore } from '@core/release/store/store';
import type { PublishSettings } from '@core/release/publish/publish';
import type { MotoServer } from '../../support/moto-server';

export const SETTINGS: PublishSettings = {
  releaseBranch: 'main',
  integrationBranch: 'develop',
  binaryDistributionUrl: 'https://releases.example.test/binaries',
};

/** Every path invalidated on `distributionId` so far, oldest invalidation first (moto's CloudFront). */
export async function invalidatedPaths(
  cloudfront: CloudFrontClient,
  distributionId: string,
): Promise<string[]> {
  const list = await cloudfront.send(new ListInvalidationsCommand({ DistributionId: distributionId }));
  const paths: string[] = [];
  for (const summary of [...(list.InvalidationList?.Items ?? [])].reverse()) {
    const one = await cloudfront.send(
      new GetInvalidationCommand({ DistributionId: distributionId, Id: summary.Id! }),
    );
    paths.push(...(one.Invalidation?.InvalidationBatch?.Paths?.Items ?? []));
  }
  return paths;
}

export interface ReleaseWorld {
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly store: S3ReleaseStore;
  readonly deps: ReleaseDeps;
  readonly publicKey: KeyObject;
  readonly cloudfront: CloudFrontClient;
  readonly distributionId: string;
  readonly keyArn: string;
}

let bucketCounter = 0;

/** Closes the world's clients, then stops moto: the teardown every release suite runs. */
export async function closeReleaseWorld(
  world: ReleaseWorld | undefined,
  moto: MotoServer | undefined,
): Promise<void> {
  world?.s3.destroy();
  world?.kms.destroy();
  world?.cloudfront.destroy();
  await moto?.stop();
}

export async function releaseWorld(moto: MotoServer): Promise<ReleaseWorld> {
  const s3 = new S3Client(moto.clientConfig);
  const kms = new KMSClient(moto.clientConfig);
  const bucket = `releases-${process.pid}-${++bucketCounter}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
  const keyArn = key.KeyMetadata!.Arn!;
  const store = new S3ReleaseStore(s3, bucket);
  const cloudfront = new CloudFrontClient(moto.clientConfig);
  const distribution = await cloudfront.send(
    new CreateDistributionCommand({
      DistributionConfig: {
        CallerReference: bucket,
        Comment: 'release tests',
        Enabled: true,
        Origins: {
          Quantity: 1,
          Items: [
            {
              Id: 'releases',
              DomainName: `${bucket}.s3.amazonaws.com`,
              S3OriginConfig: { OriginAccessIdentity: '' },
            },
          ],
        },
        DefaultCacheBehavior: {
          TargetOriginId: 'releases',
          ViewerProtocolPolicy: 'https-only',
          CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6',
        },
      },
    }),
  );
  const distributionId = distribution.Distribution!.Id!;
  const invalidator = new CloudFrontInvalidator(cloudfront, distributionId);
  return {
    s3,
    kms,
    store,
    keyArn,
    cloudfront,
    distributionId,
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
  /** The `build_id` packaged into the metadata. @default `watchy-nuitka-x86_64:{version}` */
  readonly buildId?: string;
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
    buildId: spec.buildId ?? `watchy-nuitka-x86_64:${spec.version}`,
    buildTime: new Date('2026-11-22T05:00:00Z'),
  });
  await rm(binary);
  return join(dir, 'dist');
}

/** package → stage (session `session`, recording `branch`); returns the key to publish. */
export async function packageAndStage(
  world: ReleaseWorld,
  spec: PackageSpec,
  session = 'AROATEST:AWSCodeBuild-1',
  branch = 'main',
): Promise<string> {
  const dir = await makePackage(spec);
  const staged = await stageDist(world.store, { dir, session, branch });
  return staged.key;
}
