/**
 * Bad publish events, one named test each: a clear one-line error and no write under binaries/ or
 * state/. Plus the conflicting re-publish, and the checksum S3 applies to staged uploads (an
 * in-process fake store, because moto does not verify the checksums it is sent).
 */
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { publish } from '@core/release/publish/publish';
import { PUBLISH_REQUEST_FILE, type PublishRequest } from '@core/release/publish/request';
import { stageDist } from '@core/release/publish/stage';
import type { ReleaseStore, WriteOptions } from '@core/release/store/store';
import { sha256Hex } from '@core/release/store/verify';
import { startMoto, type MotoServer } from '../../support/moto-server';
import {
  closeReleaseWorld,
  makePackage,
  packageAndStage,
  releaseWorld,
  SETTINGS,
  type ReleaseWorld,
} from './fixtures';

let moto: MotoServer;
let world: ReleaseWorld;
let goodKey: string;
let good: PublishRequest;
/** The same package staged by other builds, for tests that rewrite their request or objects. */
let hashCopy: PublishRequest;
let tamperCopy: PublishRequest;
const HASH_SESSION = 'AROATEST:AWSCodeBuild-hash';
const TAMPER_SESSION = 'AROATEST:AWSCodeBuild-tamper';

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
  goodKey = await packageAndStage(world, { version: '2.0.0' });
  good = await readRequest(goodKey);
  hashCopy = await readRequest(await packageAndStage(world, { version: '2.0.0' }, HASH_SESSION));
  tamperCopy = await readRequest(await packageAndStage(world, { version: '2.0.0' }, TAMPER_SESSION));
});

async function readRequest(key: string): Promise<PublishRequest> {
  return JSON.parse((await world.store.get(key, 1 << 20))!.body.toString()) as PublishRequest;
}
afterAll(async () => {
  await closeReleaseWorld(world, moto);
});

async function released(): Promise<string[]> {
  const out = await world.s3.send(new ListObjectsV2Command({ Bucket: world.store.bucket }));
  return (out.Contents ?? [])
    .map((o) => o.Key!)
    .filter((k) => k.startsWith('binaries/') || k.startsWith('state/'));
}

const BAD_SESSION = 'AROATEST:AWSCodeBuild-bad';

/** Writes `request` (any JSON) as a publish request of session `s`, publishes it on main, returns the error. */
async function refusal(request: unknown, session = BAD_SESSION): Promise<string> {
  const key = `staging/${session}/slack-monitor/2.0.0/${PUBLISH_REQUEST_FILE}`;
  const body = typeof request === 'string' ? request : JSON.stringify(request);
  await world.s3.send(new PutObjectCommand({ Bucket: world.store.bucket, Key: key, Body: body }));
  const before = await released();
  const error = await publish(world.deps, SETTINGS, { requestKey: key, branch: 'main' }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect(error!.message).not.toContain('\n');
  expect(await released()).toEqual(before);
  return error!.message;
}

const withGood = (patch: (r: Record<string, unknown>) => void, base: PublishRequest = good) => {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  patch(copy);
  return copy;
};

describe('publish refuses bad requests and writes nothing', () => {
  test('missing field', async () => {
    expect(await refusal(withGood((r) => delete r.sourceRevision))).toBe(
      'invalid publish request: sourceRevision: required field is missing',
    );
  });
  test('wrong type', async () => {
    expect(await refusal(withGood((r) => ((r.binary as Record<string, unknown>).size = '12')))).toMatch(
      /^invalid publish request: binary\.size: .*expected number/i,
    );
  });
  test('"../" in the app name', async () => {
    expect(await refusal(withGood((r) => (r.app = '../slack')))).toBe(
      'invalid publish request: app: expected 1-40 lowercase letters, digits or inner hyphens, got "../slack"',
    );
  });
  test('"/" in the app name', async () => {
    expect(await refusal(withGood((r) => (r.app = 'sl/ack')))).toBe(
      'invalid publish request: app: expected 1-40 lowercase letters, digits or inner hyphens, got "sl/ack"',
    );
  });
  test('unknown architecture', async () => {
    expect(await refusal(withGood((r) => (r.architecture = 'mips')))).toMatch(
      /^invalid publish request: architecture: .*"x86_64"\|"arm64", got "mips"$/,
    );
  });
  test('version that is not semver', async () => {
    expect(await refusal(withGood((r) => (r.version = '2.0')))).toBe(
      'invalid publish request: version: expected a semantic version like 1.2.3, got "2.0"',
    );
  });
  test('payload over the size limit', async () => {
    expect(await refusal(withGood((r) => (r.buildId = 'x'.repeat(20_000))))).toMatch(
      /^invalid publish request: .*over the 16384-byte limit$/,
    );
  });
  test('not JSON', async () => {
    expect(await refusal('{"requestVersion": 1,')).toMatch(/^invalid publish request: not JSON/);
  });
  test('staged object whose hash does not match (the .gz changed after staging)', async () => {
    const gz = (await world.store.get(tamperCopy.binary.key, 1 << 26))!.body;
    const tampered = Buffer.from(gz);
    const at = tampered.length - 9;
    tampered[at] = tampered[at]! ^ 0xff;
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.store.bucket, Key: tamperCopy.binary.key, Body: tampered }),
    );
    const message = await refusal(tamperCopy, TAMPER_SESSION);
    expect(message).toMatch(
      /^sha256 check failed for s3:\/\/.*watchy-slack-monitor-2\.0\.0\.gz: (S3 checksum is|got) [0-9a-f]{64}, expected [0-9a-f]{64}$/,
    );
  });
  test('request hash that disagrees with the staged metadata', async () => {
    const message = await refusal(
      withGood((r) => ((r.binary as Record<string, unknown>).sha256 = 'f'.repeat(64)), hashCopy),
      HASH_SESSION,
    );
    expect(message).toMatch(
      /^staged metadata does not match the request: compressed_sha256 is "[0-9a-f]{64}", request says "f{64}"$/,
    );
  });
  test('raw binary hash that does not match the .gz contents', async () => {
    const message = await refusal(
      withGood((r) => ((r.binary as Record<string, unknown>).rawSha256 = 'e'.repeat(64)), hashCopy),
      HASH_SESSION,
    );
    expect(message).toMatch(
      /^staged metadata does not match the request: sha256 is "[0-9a-f]{64}", request says "e{64}"$/,
    );
  });
  test("objects outside the request's own staging prefix", async () => {
    // Session "bad" names objects another build (session 1) staged.
    expect(await refusal(good)).toBe(
      `invalid publish request: binary.key: expected staging/AROATEST:AWSCodeBuild-bad/slack-monitor/2.0.0/watchy-slack-monitor-2.0.0.gz, got ${good.binary.key}`,
    );
  });
  test('a branch that is neither main nor develop', async () => {
    await expect(publish(world.deps, SETTINGS, { requestKey: goodKey, branch: 'feature/x' })).rejects.toThrow(
      'branch "feature/x" is not published: only main (promoted) and develop (versioned only)',
    );
  });
  test('a request key outside staging/', async () => {
    await expect(
      publish(world.deps, SETTINGS, { requestKey: 'binaries/x/publish-request.json', branch: 'main' }),
    ).rejects.toThrow(/^invalid publish invocation: requestKey: expected a key under staging\//);
  });
});

describe('idempotency and conflicts', () => {
  test('publishing the same request twice: the second changes nothing', async () => {
    const first = await publish(world.deps, SETTINGS, { requestKey: goodKey, branch: 'main' });
    expect(first.results[0]).toMatchObject({ versioned: 'created', pointer: 'promoted' });
    const objects = await released();
    const second = await publish(world.deps, SETTINGS, { requestKey: goodKey, branch: 'main' });
    expect(second.results[0]).toMatchObject({
      versioned: 'unchanged',
      pointer: 'already-promoted',
      metadataVersion: first.results[0]!.metadataVersion,
    });
    expect(await released()).toEqual(objects);
  });

  test('a different artifact for an existing version is refused and nothing is overwritten', async () => {
    const versionedKey = 'binaries/slack-monitor/watchy-slack-monitor-2.0.0.gz';
    const before = (await world.store.get(versionedKey, 1 << 26))!;
    const other = await packageAndStage(
      world,
      { version: '2.0.0', variant: 'a different build' },
      'AROATEST:AWSCodeBuild-other',
    );
    await expect(publish(world.deps, SETTINGS, { requestKey: other, branch: 'main' })).rejects.toThrow(
      'version 2.0.0 of slack-monitor is already published with a different artifact (binaries/slack-monitor/watchy-slack-monitor-2.0.0.gz); nothing was overwritten',
    );
    const after = (await world.store.get(versionedKey, 1 << 26))!;
    expect(after.etag).toBe(before.etag);
  });
});

/**
 * In-process fake of what S3 does and moto does not: reject an upload whose body does not match its
 * x-amz-checksum-sha256. `corrupt` flips a byte of every body "in transit".
 */
class ChecksumVerifyingFakeStore implements ReleaseStore {
  readonly bucket = 'fake';
  readonly objects = new Map<string, Buffer>();
  constructor(private readonly corrupt: boolean) {}
  async head() {
    return undefined;
  }
  async get() {
    return undefined;
  }
  async list() {
    return { keys: [...this.objects.keys()], prefixes: [] };
  }
  async putIfAbsent(key: string, body: Buffer, options: WriteOptions) {
    const sent = this.corrupt
      ? Buffer.concat([body.subarray(0, -1), Buffer.from([body[body.length - 1]! ^ 1])])
      : body;
    if (sha256Hex(sent) !== options.sha256)
      throw new Error(`BadDigest: the SHA-256 you specified did not match the calculated checksum (${key})`);
    this.objects.set(key, sent);
    return 'created' as const;
  }
  async putIfMatch(key: string, body: Buffer, _etag: string | undefined, options: WriteOptions) {
    await this.putIfAbsent(key, body, options);
    return 'written' as const;
  }
}

describe('staging checksums (in-process fake: moto does not verify checksums)', () => {
  test('fake S3 rejects a staged upload changed in transit, and the request is never written', async () => {
    const dir = await makePackage({ version: '3.0.0' });
    const store = new ChecksumVerifyingFakeStore(true);
    await expect(
      stageDist(store, { dir, session: 'AROATEST:AWSCodeBuild-9', branch: 'main' }),
    ).rejects.toThrow(/^BadDigest/);
    expect([...store.objects.keys()]).toEqual([]);
  });
  test('fake S3 accepts the same upload unchanged: the stager sends the right checksums', async () => {
    const dir = await makePackage({ version: '3.0.0' });
    const store = new ChecksumVerifyingFakeStore(false);
    const staged = await stageDist(store, { dir, session: 'AROATEST:AWSCodeBuild-9', branch: 'main' });
    expect([...store.objects.keys()].sort()).toEqual(
      [
        'staging/AROATEST:AWSCodeBuild-9/slack-monitor/3.0.0/watchy-slack-monitor-3.0.0.gz',
        'staging/AROATEST:AWSCodeBuild-9/slack-monitor/3.0.0/watchy-slack-monitor.json',
        staged.key,
      ].sort(),
    );
  });
});
