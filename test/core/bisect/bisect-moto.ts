/**
 * The moto lifecycle every bisect suite shares: one moto server per test file, started before its
 * tests, reset before each test (with the release bucket and, when named, the CodeBuild project made
 * again), stopped after them.
 *
 *   const aws = useBisectMoto({ project: PROJECT });
 *   test('...', async () => {
 *     const store = new SessionStore(aws.s3, BISECT_BUCKET);
 *     const runner = new CodeBuildRunner(aws.codebuild);
 *   });
 */
import { CodeBuildClient, CreateProjectCommand } from '@aws-sdk/client-codebuild';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startMoto, type MotoServer } from '../../support/moto-server';

/** The release bucket the bisect suites keep their sessions in. */
export const BISECT_BUCKET = 'release-bucket';

export interface BisectMotoOptions {
  /** A CodeBuild project (GitHub source, no artifacts) created after every reset. @default none */
  readonly project?: string;
}

export interface BisectMoto {
  /** The running server (its endpoint, its client config); only inside tests and hooks. */
  readonly moto: MotoServer;
  readonly s3: S3Client;
  readonly codebuild: CodeBuildClient;
  /** moto's reset, then the bucket (and project) again: what runs before every test. */
  reset(): Promise<void>;
}

/** Registers the beforeAll, beforeEach and afterAll hooks of the file that calls it. */
export function useBisectMoto(options: BisectMotoOptions = {}): BisectMoto {
  let running: { moto: MotoServer; s3: S3Client; codebuild: CodeBuildClient } | undefined;
  const started = () => {
    if (!running) throw new Error('moto is not running: use it inside a test or a hook');
    return running;
  };
  const aws: BisectMoto = {
    get moto() {
      return started().moto;
    },
    get s3() {
      return started().s3;
    },
    get codebuild() {
      return started().codebuild;
    },
    async reset() {
      const { moto, s3, codebuild } = started();
      await moto.reset();
      await s3.send(new CreateBucketCommand({ Bucket: BISECT_BUCKET }));
      if (options.project !== undefined) await createProject(codebuild, options.project);
    },
  };
  beforeAll(async () => {
    const moto = await startMoto();
    running = {
      moto,
      s3: new S3Client(moto.clientConfig),
      codebuild: new CodeBuildClient(moto.clientConfig),
    };
  });
  afterAll(async () => {
    if (!running) return;
    const { moto, s3, codebuild } = running;
    running = undefined;
    s3.destroy();
    codebuild.destroy();
    await moto.stop();
  });
  beforeEach(() => aws.reset());
  return aws;
}

/** A CodeBuild project building this repository from GitHub (moto records its builds). */
async function createProject(codebuild: CodeBuildClient, name: string): Promise<void> {
  await codebuild.send(
    new CreateProjectCommand({
      name,
      source: { type: 'GITHUB', location: 'https://github.com/watchy-cloud/watchy-release-platform.git' },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: {
        type: 'LINUX_CONTAINER',
        image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
        computeType: 'BUILD_GENERAL1_MEDIUM',
      },
      serviceRole: 'arn:aws:iam::123456789012:role/build',
    }),
  );
}
