/**
 * The monitor Lambda core with the real loader, a real HTTP release server on 127.0.0.1 and real
 * executables: the "binary" of the main tests is a launcher for the real Slack monitor source
 * (examples/monitors), so the report is the monitor's own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryLoader, type LoadResult } from '@core/loader';
import { MONITOR_ENV, metadataUrlFor, settingsFromEnv } from '@core/monitor/contract';
import { createMonitorHandler, type MonitorHandler } from '../../../lambda/monitor/monitor';
import { runMonitorBinary } from '../../../lambda/monitor/run-binary';
import { makeRelease, ReleaseServer, testKey, type Release } from '../../core/loader/release-server';

const ROOT = join(__dirname, '..', '..', '..');
const MONITORS = join(ROOT, 'examples', 'monitors');
const SAMPLE_EVENT = JSON.parse(readFileSync(join(MONITORS, 'sample-event.json'), 'utf8')) as unknown;
const key = testKey();
/** The Python that has the monitors' requirements (python-dateutil), by absolute path. */
const PYTHON = execFileSync('python3', ['-c', 'import dateutil, sys; print(sys.executable)'])
  .toString()
  .trim();

/** A real executable that runs the Slack monitor from source (stands in for its Nuitka build). */
function slackLauncher(version: string): Buffer {
  return Buffer.from(
    [
      '#!/bin/sh',
      `# watchy-slack-monitor ${version}`,
      `PYTHONPATH='${join(MONITORS, 'common')}' exec '${PYTHON}' '${join(MONITORS, 'slack', 'watchy_slack_monitor.py')}' "$@"`,
      '',
    ].join('\n'),
  );
}

function script(body: string): Buffer {
  return Buffer.from(`#!/bin/sh\n${body}\n`);
}

let server: ReleaseServer;
let dir: string;
let loader: BinaryLoader | undefined;
let warnings: string[];

beforeEach(async () => {
  server = await ReleaseServer.start();
  dir = mkdtempSync(join(tmpdir(), 'watchy-monitor-'));
  warnings = [];
});

afterEach(async () => {
  loader?.close();
  loader = undefined;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function publish(version: string, metadataVersion: number, raw: Buffer): Promise<Release> {
  const release = await makeRelease(server, { version, metadataVersion, raw, signer: key.signer });
  server.publish(release);
  return release;
}

function monitorFor(release: Release, clock?: { t: number }, refreshSeconds = 60): MonitorHandler {
  loader = new BinaryLoader({
    metadataUrl: release.metadataUrl,
    destDir: dir,
    publicKey: key.publicKey,
    http: { connectTimeoutMs: 500, idleTimeoutMs: 500, retries: 0, backoffMs: 1 },
    warn: (m) => warnings.push(m),
  });
  const initial = loader.load();
  initial.catch(() => undefined);
  return createMonitorHandler({
    loader,
    initial,
    refreshSeconds,
    now: clock ? () => clock.t : undefined,
  });
}

const context = (remainingMs = 30_000) => ({ getRemainingTimeInMillis: () => remainingMs });

describe('monitor Lambda core', () => {
  test("runs the verified binary with the event and returns the monitor's JSON report", async () => {
    const handler = monitorFor(await publish('1.0.0', 1, slackLauncher('1.0.0')));
    const report = (await handler(SAMPLE_EVENT, context())) as Record<string, unknown>;
    expect(report).toMatchObject({ app: 'slack', saas_app: 'Slack', status: 'degraded', workspace: 'acme' });
    expect(report.summary).toMatchObject({ ok: 2, degraded: 1, total: 3 });
  });

  test("a bad event is a BadEventError carrying the monitor's own message", async () => {
    const handler = monitorFor(await publish('1.0.0', 1, slackLauncher('1.0.0')));
    await expect(handler({ workspace: 'acme', checks: 'none' }, context())).rejects.toMatchObject({
      name: 'BadEventError',
      message: expect.stringMatching(
        /^monitor rejected the event \(exit 2\): watchy-slack-monitor: bad event: checks/,
      ),
    });
  });

  test('a hung binary is killed when the invocation runs out of time, with a clear error', async () => {
    const handler = monitorFor(await publish('1.0.0', 1, script('sleep 30')));
    await expect(handler({}, context(1_300))).rejects.toMatchObject({
      name: 'MonitorTimeoutError',
      message: 'monitor binary timed out after 300 ms and was killed',
    });
  });

  test('a crashing binary reports its exit code and its last stderr line', async () => {
    const handler = monitorFor(
      await publish('1.0.0', 1, script('echo "starting" >&2\necho "boom: no config" >&2\nexit 3')),
    );
    await expect(handler({}, context())).rejects.toMatchObject({
      name: 'MonitorBinaryError',
      message: 'monitor binary failed with exit code 3: boom: no config',
    });
  });

  test('a binary that prints something other than JSON is an error, not a report', async () => {
    const handler = monitorFor(await publish('1.0.0', 1, script('cat >/dev/null; echo "all good"')));
    await expect(handler({}, context())).rejects.toThrow(
      'monitor binary exited 0 but printed no JSON report: all good',
    );
  });

  test('a binary for another machine is a clear "Exec format error", not a bad event', async () => {
    // Straight to the runner: the loader refuses such a file before it is ever installed.
    const dir2 = mkdtempSync(join(tmpdir(), 'watchy-exec-'));
    try {
      const elf = Buffer.from(readFileSync('/bin/true'));
      elf.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18); // e_machine of the other architecture
      const path = join(dir2, 'binary');
      writeFileSync(path, elf, { mode: 0o755 });
      await expect(runMonitorBinary(path, {}, { timeoutMs: 5_000 })).rejects.toMatchObject({
        name: 'MonitorBinaryError',
        message: expect.stringMatching(
          /^cannot run monitor binary .*: Exec format error \(an ELF (aarch64|x86_64) binary on (x86_64|arm64)\)$/,
        ),
      });
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  test('the binary gets no AWS credentials from the function', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'do-not-leak';
    try {
      const handler = monitorFor(
        await publish(
          '1.0.0',
          1,
          script('cat >/dev/null; printf \'{"secret":"%s","home":"%s"}\' "$AWS_SECRET_ACCESS_KEY" "$HOME"'),
        ),
      );
      expect(await handler({}, context())).toEqual({ secret: '', home: '/tmp' });
    } finally {
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  test('warm invocations within refreshSeconds send no request; after it, one conditional GET', async () => {
    const clock = { t: 0 };
    const release = await publish('1.0.0', 1, slackLauncher('1.0.0'));
    const handler = monitorFor(release, clock, 60);
    await handler(SAMPLE_EVENT, context());
    const before = server.requests.length;
    clock.t = 59_000;
    await handler(SAMPLE_EVENT, context());
    expect(server.requests.length).toBe(before);
    clock.t = 61_000;
    await handler(SAMPLE_EVENT, context());
    expect(server.requests.slice(before)).toEqual([`GET ${release.metadataPath}`]);
  });

  test('a new release is picked up by the first invocation after refreshSeconds', async () => {
    const clock = { t: 0 };
    const handler = monitorFor(
      await publish('1.0.0', 1, script('cat >/dev/null; echo \'{"v":1}\'')),
      clock,
      60,
    );
    expect(await handler({}, context())).toEqual({ v: 1 });
    await publish('1.1.0', 2, script('cat >/dev/null; echo \'{"v":2}\''));
    expect(await handler({}, context())).toEqual({ v: 1 });
    clock.t = 60_000;
    expect(await handler({}, context())).toEqual({ v: 2 });
  });

  test('with the distribution down, the verified binary keeps serving and a warning says why', async () => {
    const clock = { t: 0 };
    const handler = monitorFor(await publish('1.0.0', 1, slackLauncher('1.0.0')), clock, 60);
    await handler(SAMPLE_EVENT, context());
    await server.close();
    clock.t = 120_000;
    expect(await handler(SAMPLE_EVENT, context())).toMatchObject({ app: 'slack' });
    expect(warnings).toEqual([
      expect.stringMatching(
        /^http check failed for .*: network error .*; keeping the verified version 1\.0\.0/,
      ),
    ]);
    server = await ReleaseServer.start();
  });

  test('with no release at init the invocation fails with the loader error; a later one loads', async () => {
    const release = await makeRelease(server, {
      version: '1.0.0',
      metadataVersion: 1,
      raw: slackLauncher('1.0.0'),
      signer: key.signer,
    });
    const handler = monitorFor(release);
    await expect(handler(SAMPLE_EVENT, context())).rejects.toThrow(
      `http check failed for ${release.metadataUrl}: HTTP 404 Not Found`,
    );
    server.publish(release);
    expect(await handler(SAMPLE_EVENT, context())).toMatchObject({ app: 'slack' });
  });
});

describe('monitor environment contract', () => {
  const env = {
    [MONITOR_ENV.distributionUrl]: 'https://d111.cloudfront.net/binaries/',
    [MONITOR_ENV.artifactName]: 'slack-monitor-arm64',
    [MONITOR_ENV.publicKey]: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };

  test('the metadata URL is {BinaryDistributionUrl}/{name}/watchy-{name}.json', () => {
    expect(settingsFromEnv(env).metadataUrl).toBe(
      'https://d111.cloudfront.net/binaries/slack-monitor-arm64/watchy-slack-monitor-arm64.json',
    );
    expect(metadataUrlFor('https://x.example/binaries', 'slack-monitor')).toBe(
      'https://x.example/binaries/slack-monitor/watchy-slack-monitor.json',
    );
  });

  test('a missing variable is one clear config error', () => {
    expect(() => settingsFromEnv({ ...env, [MONITOR_ENV.artifactName]: '' })).toThrow(
      'config check failed for WATCHY_ARTIFACT_NAME: environment variable WATCHY_ARTIFACT_NAME is not set',
    );
  });

  test('a malformed size limit is refused', () => {
    expect(() => settingsFromEnv({ ...env, [MONITOR_ENV.maxBinaryBytes]: '12MB' })).toThrow(
      'WATCHY_MAX_BINARY_BYTES must be a whole number',
    );
  });
});

describe('monitor handler module (lambda/monitor/index.ts)', () => {
  test('loads its binary at init from the environment and serves an invocation', async () => {
    const release = await publish('1.0.0', 1, slackLauncher('1.0.0'));
    const saved = { ...process.env };
    Object.assign(process.env, {
      [MONITOR_ENV.distributionUrl]: server.distributionUrl,
      [MONITOR_ENV.artifactName]: release.metadataPath.split('/')[2],
      [MONITOR_ENV.publicKey]: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      [MONITOR_ENV.binaryDir]: dir,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    try {
      let handler: ((event: unknown, context: unknown) => Promise<unknown>) | undefined;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        handler = require('../../../lambda/monitor/index').handler;
      });
      expect(server.count(release.metadataPath)).toBeLessThanOrEqual(1);
      expect(await handler!(SAMPLE_EVENT, context())).toMatchObject({ app: 'slack', status: 'degraded' });
      expect(server.count('.gz')).toBe(1);
    } finally {
      process.env = saved;
    }
  });
});

export type { LoadResult };
