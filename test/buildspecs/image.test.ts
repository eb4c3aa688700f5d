import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_ECR_REPOSITORY_URI,
  WATCHY_IMAGE_BUILDER,
  WATCHY_IMAGE_DIGEST,
  WATCHY_IMAGE_TAG,
  WATCHY_IMAGE_URI,
  WATCHY_SOURCE_PATH,
  WATCHY_SOURCE_URL,
  WATCHY_VERSION,
} from '@core/build-env';
import {
  COMMIT,
  PUSHED_DIGEST,
  REPOSITORY_URI,
  ROOT,
  flagValues,
  preinstalledPack,
  runWithShims,
  shimScript,
} from './image-shims';

const SOURCE_URL = 'https://github.com/watchy-cloud/watchy-release-platform';
/** The image pins of image.yml (its env variables): the one place base and builder images are set. */
const PINS = (
  parse(readFileSync(join(ROOT, 'buildspecs', 'image.yml'), 'utf8')) as {
    env: { variables: Record<string, string> };
  }
).env.variables;
const DIGEST_REF = /^[a-z0-9][a-z0-9./_-]*(:[\w][\w.-]*)?@sha256:[0-9a-f]{64}$/;
const BUILD_URL = 'https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/x/build/x:1';
const RELAY_URI = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/watchy/webhook-relay';

function statusApi(extra: Record<string, string> = {}): Record<string, string> {
  return {
    [WATCHY_APP]: 'status-api',
    [WATCHY_ARCH]: 'x86_64',
    [WATCHY_SOURCE_PATH]: 'examples/services/status-api',
    [WATCHY_IMAGE_BUILDER]: 'dockerfile',
    [WATCHY_ECR_REPOSITORY_URI]: REPOSITORY_URI,
    [WATCHY_SOURCE_URL]: SOURCE_URL,
    [WATCHY_VERSION]: '1.2.3',
    CODEBUILD_BUILD_URL: BUILD_URL,
    ...extra,
  };
}

function webhookRelay(extra: Record<string, string> = {}): Record<string, string> {
  return statusApi({
    [WATCHY_APP]: 'webhook-relay',
    [WATCHY_SOURCE_PATH]: 'examples/services/webhook-relay',
    [WATCHY_IMAGE_BUILDER]: 'buildpacks',
    [WATCHY_ECR_REPOSITORY_URI]: RELAY_URI,
    ...extra,
  });
}

describe('buildspecs/image.yml', () => {
  test('declares the exported variables of the build-env contract', () => {
    const spec = parse(readFileSync(join(ROOT, 'buildspecs', 'image.yml'), 'utf8')) as {
      env: { 'exported-variables': string[] };
    };
    expect(spec.env['exported-variables'].sort()).toEqual(
      [WATCHY_IMAGE_DIGEST, WATCHY_IMAGE_TAG, WATCHY_IMAGE_URI].sort(),
    );
  });

  test('dockerfile service, up to the engine call (docker shim): commit tag, OCI labels and build args, pushed to its own repository', async () => {
    const run = await runWithShims({ buildspec: 'image.yml', variables: statusApi() });
    expect(run.result.failure).toBeUndefined();
    expect(run.result.status).toBe('SUCCEEDED');
    const docker = run.callsOf('docker');
    expect(docker.map((c) => c[0])).toEqual(['login', 'build', 'push']);
    const [login, build, push] = docker as [string[], string[], string[]];
    expect(login).toEqual([
      'login',
      '--username',
      'AWS',
      '--password-stdin',
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    ]);
    expect(readFileSync(join(run.dir, 'login-password'), 'utf8').trim()).toBe('ecr-token');
    const image = `${REPOSITORY_URI}:${COMMIT}`;
    expect(flagValues(build, '--tag')).toEqual([image]);
    expect(flagValues(build, '--platform')).toEqual(['linux/amd64']);
    expect(build[build.length - 1]).toBe('examples/services/status-api');
    const labels = Object.fromEntries(flagValues(build, '--label').map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(labels).toEqual({
      'org.opencontainers.image.revision': COMMIT,
      'org.opencontainers.image.created': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      'org.opencontainers.image.source': SOURCE_URL,
      'org.opencontainers.image.version': '1.2.3',
      'org.opencontainers.image.title': 'status-api',
      'cloud.watchy.build.url': BUILD_URL,
    });
    const buildArgs = Object.fromEntries(
      flagValues(build, '--build-arg').map((a) => a.split(/=(.*)/s).slice(0, 2)),
    );
    expect(buildArgs).toMatchObject({ REVISION: COMMIT, SOURCE: SOURCE_URL, VERSION: '1.2.3', BUILD_URL });
    // The base image: the digest pinned in image.yml, never a tag.
    expect(buildArgs.NODE_IMAGE).toBe(PINS.NODE_IMAGE);
    expect(buildArgs.NODE_IMAGE).toMatch(DIGEST_REF);
    expect(buildArgs.NODE_IMAGE).toMatch(/\/node:22-alpine@sha256:/);
    expect(buildArgs.CREATED).toBe(labels['org.opencontainers.image.created']);
    expect(push).toEqual(['push', image]);
    expect(run.callsOf('pack')).toEqual([]);
    expect(run.result.exported).toEqual({
      [WATCHY_IMAGE_URI]: image,
      [WATCHY_IMAGE_TAG]: COMMIT,
      [WATCHY_IMAGE_DIGEST]: PUSHED_DIGEST,
    });
  });

  test('buildpacks service, up to the engine call (pack shim): Paketo builder and run image by digest, BP_OCI labels, published to its own repository, no docker build', async () => {
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: webhookRelay(),
      prepare: preinstalledPack,
    });
    expect(run.result.failure).toBeUndefined();
    expect(run.callsOf('curl')).toEqual([]);
    const pack = run.callsOf('pack');
    expect(pack).toHaveLength(1);
    const args = pack[0]!;
    expect(args.slice(0, 2)).toEqual(['build', `${RELAY_URI}:${COMMIT}`]);
    expect(flagValues(args, '--builder')).toEqual([PINS.PAKETO_BUILDER]);
    expect(PINS.PAKETO_BUILDER).toMatch(/^paketobuildpacks\/builder-jammy-base@sha256:[0-9a-f]{64}$/);
    // The run image too: otherwise the builder's metadata names it by a moving tag.
    expect(flagValues(args, '--run-image')).toEqual([PINS.PAKETO_RUN_IMAGE]);
    expect(PINS.PAKETO_RUN_IMAGE).toMatch(/^paketobuildpacks\/run-jammy-base@sha256:[0-9a-f]{64}$/);
    expect(flagValues(args, '--path')).toEqual(['examples/services/webhook-relay']);
    expect(flagValues(args, '--platform')).toEqual(['linux/amd64']);
    expect(args).toContain('--publish');
    const env = Object.fromEntries(flagValues(args, '--env').map((e) => e.split(/=(.*)/s).slice(0, 2)));
    expect(env).toMatchObject({
      BP_OCI_REVISION: COMMIT,
      BP_OCI_SOURCE: SOURCE_URL,
      BP_OCI_VERSION: '1.2.3',
      BP_OCI_TITLE: 'webhook-relay',
      BP_IMAGE_LABELS: `cloud.watchy.build.url=${BUILD_URL}`,
    });
    expect(env.BP_OCI_CREATED).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(flagValues(args, '--cache')).toEqual([
      `type=build;format=bind;source=${join(run.dir, 'pack-cache')}`,
    ]);
    expect(run.callsOf('docker').map((c) => c[0])).toEqual(['login']);
    expect(run.result.exported[WATCHY_IMAGE_DIGEST]).toBe(PUSHED_DIGEST);
  });

  test('installing pack: a download that matches the pinned sha256 is unpacked and used', async () => {
    const staging = mkdtempSync(join(tmpdir(), 'watchy-pack-release-'));
    writeFileSync(join(staging, 'pack'), shimScript('pack'));
    chmodSync(join(staging, 'pack'), 0o755);
    const tgz = join(staging, 'pack.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', staging, 'pack']);
    const sum = createHash('sha256').update(readFileSync(tgz)).digest('hex');
    const run = await runWithShims({
      buildspec: 'image.yml',
      // A project variable overrides the buildspec's pin: here, the pin of this test's tarball.
      variables: webhookRelay({ PACK_SHA256_X86_64: sum }),
      shimEnv: { SHIM_CURL_BODY: tgz },
    });
    expect(run.result.failure).toBeUndefined();
    expect(run.callsOf('curl')).toHaveLength(1);
    expect(run.callsOf('curl')[0]).toContain(
      'https://github.com/buildpacks/pack/releases/download/v0.38.2/pack-v0.38.2-linux.tgz',
    );
    expect(existsSync(join(run.dir, 'pack-bin', 'pack'))).toBe(true);
    expect(run.callsOf('pack')).toHaveLength(1);
  });

  test('installing pack: a download whose sha256 does not match the pin fails the build and installs nothing', async () => {
    const staging = mkdtempSync(join(tmpdir(), 'watchy-pack-release-'));
    writeFileSync(join(staging, 'evil.tgz'), 'this is not the pack release');
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: webhookRelay(),
      shimEnv: { SHIM_CURL_BODY: join(staging, 'evil.tgz') },
    });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain(
      'image: pack-v0.38.2-linux.tgz does not match its pinned sha256 a00765572b7d464b1691d64fd264d9a807b066a7e7805db32b9918d9be16e228; refusing to run it',
    );
    expect(existsSync(join(run.dir, 'pack-bin', 'pack'))).toBe(false);
    expect(run.callsOf('pack')).toEqual([]);
    expect(run.callsOf('docker')).toEqual([]);
  });

  test('an image already pushed for this commit is not rebuilt (tags are immutable) and its digest is exported', async () => {
    const existing = `sha256:${'b'.repeat(64)}`;
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi(),
      shimEnv: { SHIM_EXISTING_DIGEST: existing },
    });
    expect(run.result.failure).toBeUndefined();
    expect(run.callsOf('docker')).toEqual([]);
    expect(run.result.exported[WATCHY_IMAGE_DIGEST]).toBe(existing);
  });

  test('an arm64 build (ARM host, uname shim) tags <commit>-arm64 and builds for linux/arm64', async () => {
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi({ [WATCHY_ARCH]: 'arm64' }),
      shims: ['docker', 'pack', 'aws', 'curl', 'uname'],
      shimEnv: { SHIM_UNAME_M: 'aarch64' },
    });
    expect(run.result.failure).toBeUndefined();
    const build = run.callsOf('docker').find((c) => c[0] === 'build')!;
    expect(flagValues(build, '--tag')).toEqual([`${REPOSITORY_URI}:${COMMIT}-arm64`]);
    expect(flagValues(build, '--platform')).toEqual(['linux/arm64']);
    expect(run.result.exported[WATCHY_IMAGE_TAG]).toBe(`${COMMIT}-arm64`);
  });

  test('an arm64 image on an x86_64 build host fails: it needs the arm64 project', async () => {
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi({ [WATCHY_ARCH]: 'arm64' }),
      shims: ['docker', 'pack', 'aws', 'curl', 'uname'],
      shimEnv: { SHIM_UNAME_M: 'x86_64' },
    });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain(
      'image: this is an x86_64 build host; an arm64 image needs the arm64 project',
    );
    expect(run.callsOf('docker')).toEqual([]);
  });

  test('a dockerfile service without a Dockerfile fails before any docker call', async () => {
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi({ [WATCHY_SOURCE_PATH]: 'examples/services/webhook-relay' }),
    });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain(
      'image: examples/services/webhook-relay/Dockerfile not found (builder dockerfile)',
    );
    expect(run.callsOf('docker')).toEqual([]);
  });

  test.each([
    ['NODE_IMAGE', 'public.ecr.aws/docker/library/node:22-alpine'],
    ['PAKETO_BUILDER', 'paketobuildpacks/builder-jammy-base:latest'],
    ['PAKETO_RUN_IMAGE', `paketobuildpacks/run-jammy-base@sha256:${'a'.repeat(63)}`],
  ])('an image pin that is not a digest (%s = %s) fails before any engine call', async (name, value) => {
    const run = await runWithShims({ buildspec: 'image.yml', variables: statusApi({ [name]: value }) });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain(
      `image: ${name} must be pinned by digest (name@sha256:<64 hex digits>), got '${value}'`,
    );
    expect(run.callsOf('docker')).toEqual([]);
    expect(run.callsOf('pack')).toEqual([]);
  });

  test('a Dockerfile with a base image by tag fails before any engine call, naming the line; stages and digests pass', async () => {
    const service = mkdtempSync(join(tmpdir(), 'watchy-dockerfile-'));
    const digest = `sha256:${'c'.repeat(64)}`;
    writeFileSync(
      join(service, 'Dockerfile'),
      `ARG NODE_IMAGE\nFROM \${NODE_IMAGE} AS deps\nFROM --platform=linux/amd64 busybox@${digest} AS tools\nFROM deps\n# FROM node:22 in a comment\nFROM node:22-alpine\n`,
    );
    const bad = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi({ [WATCHY_SOURCE_PATH]: service }),
    });
    expect(bad.result.status).toBe('FAILED');
    expect(bad.output).toContain(
      `image: ${service}/Dockerfile line 6: FROM node:22-alpine is not pinned by digest: use \${NODE_IMAGE} or name@sha256:<digest>`,
    );
    expect(bad.callsOf('docker')).toEqual([]);

    writeFileSync(
      join(service, 'Dockerfile'),
      `FROM \${NODE_IMAGE} AS deps\nFROM busybox@${digest}\nFROM deps\n`,
    );
    const good = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi({ [WATCHY_SOURCE_PATH]: service }),
    });
    expect(good.result.failure).toBeUndefined();
    expect(good.callsOf('docker').map((c) => c[0])).toEqual(['login', 'build', 'push']);
  });

  test('a repository URI that is not an ECR repository fails with a clear message', async () => {
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi({ [WATCHY_ECR_REPOSITORY_URI]: 'docker.io/library/status-api' }),
    });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain(
      "image: WATCHY_ECR_REPOSITORY_URI is not an ECR repository URI: 'docker.io/library/status-api'",
    );
    expect(run.calls).toEqual([]);
  });

  test('a missing contract variable fails naming it', async () => {
    const variables = statusApi();
    delete variables[WATCHY_IMAGE_BUILDER];
    const run = await runWithShims({ buildspec: 'image.yml', variables });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain('image: WATCHY_IMAGE_BUILDER is not set');
  });

  test('a failed docker build never pushes and exports no digest', async () => {
    const run = await runWithShims({
      buildspec: 'image.yml',
      variables: statusApi(),
      shimEnv: { SHIM_DOCKER_BUILD_EXIT: '1' },
    });
    expect(run.result.status).toBe('FAILED');
    expect(run.callsOf('docker').map((c) => c[0])).toEqual(['login', 'build']);
    expect(run.result.exported[WATCHY_IMAGE_DIGEST] ?? '').toBe('');
  });
});
