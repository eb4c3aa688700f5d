/**
 * `/tmp` full, on real file systems, for any user, never skipped:
 *
 * - **The free-space check**, on a real 1 MiB tmpfs. Mounting one needs root, so the loader runs
 *   in a child process with a private mount namespace (`unshare --mount`; for a normal user also
 *   `--user --map-root-user`, root in a user namespace of its own), and the mount goes when the
 *   child exits. Where the kernel allows neither, the test fails and says why.
 * - **The write path**, on any file system: the loader in a child process whose file size limit
 *   (RLIMIT_FSIZE, set by prlimit; every user may lower their own) is below the binary, so writing
 *   the download fails with EFBIG after the free-space check has passed.
 *
 * Either way the offered release is refused as `disk-space`, the earlier verified binary stays and
 * still runs, and nothing half-written is left.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildSync } from 'esbuild';
import { BinaryLoader, stateFileName } from '@core/loader';
import { makeRelease, monitorScript, ReleaseServer, testKey, type Release } from './release-server';
import type { ChildConfig, ChildReport } from './tmp-full-child';

const MIB = 1024 * 1024;
const key = testKey();
let server: ReleaseServer;
let work: string;
let childScript: string;

beforeAll(async () => {
  server = await ReleaseServer.start();
  work = mkdtempSync(join(tmpdir(), 'watchy-tmp-full-'));
  childScript = join(work, 'tmp-full-child.js');
  buildSync({
    entryPoints: [join(__dirname, 'tmp-full-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    outfile: childScript,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

interface ChildRun {
  readonly reports: ChildReport[];
  readonly code: number | null;
  readonly stderr: string;
}

/**
 * Runs the child under `wrapper` (`unshare …`, `prlimit …`); after every report but the last,
 * `between()` runs and the child is told to load again.
 */
function runChild(wrapper: string[], config: ChildConfig, between: () => Promise<void>): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      wrapper[0]!,
      [...wrapper.slice(1), process.execPath, childScript, JSON.stringify(config)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const reports: ChildReport[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => reject(new Error(`cannot run ${wrapper[0]}: ${error.message}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      reports.push(JSON.parse(line) as ChildReport);
      if (reports.length < config.loads) {
        between().then(
          () => child.stdin.write('\n'),
          (error: unknown) => {
            child.kill();
            reject(error as Error);
          },
        );
      }
    });
    child.on('close', (code) => resolve({ reports, code, stderr }));
  });
}

async function publishV2(): Promise<Release> {
  const v2 = await makeRelease(server, {
    version: '1.1.0',
    metadataVersion: 2,
    signer: key.signer,
    raw: monitorScript('1.1.0', 2 * MIB),
  });
  server.publish(v2);
  return v2;
}

test('/tmp full (a real 1 MiB tmpfs, no root needed): refused by the free-space check before downloading, the earlier verified binary still runs', async () => {
  const v1 = await makeRelease(server, { version: '1.0.0', metadataVersion: 1, signer: key.signer });
  server.publish(v1);
  const mountPoint = mkdtempSync(join(work, 'tmpfs-'));
  const wrapper =
    process.getuid?.() === 0 ? ['unshare', '--mount'] : ['unshare', '--user', '--map-root-user', '--mount'];
  const run = await runChild(
    wrapper,
    {
      metadataUrl: v1.metadataUrl,
      publicKeyPem: key.publicKeyPem,
      dir: mountPoint,
      loads: 2,
      mountTmpfs: MIB,
    },
    async () => {
      await publishV2();
    },
  );
  if (run.reports.length < 2) {
    throw new Error(
      `could not run the loader on a tmpfs (${wrapper.join(' ')} exited ${run.code}: ${run.stderr.trim()}); ` +
        'this test needs root or unprivileged user namespaces (kernel.unprivileged_userns_clone=1, ' +
        'kernel.apparmor_restrict_unprivileged_userns=0)',
    );
  }
  const [first, second] = run.reports as [ChildReport, ChildReport];
  expect(first).toMatchObject({ outcome: 'downloaded', version: '1.0.0', fileSystemBytes: MIB });
  expect(second.outcome).toBe('kept');
  expect(second.refused?.check).toBe('disk-space');
  expect(second.refused?.message).toMatch(/has \d+ bytes free, the binary needs 2097152$/);
  expect(server.count('1.1.0.gz')).toBe(0);
  expect(second.version).toBe('1.0.0');
  expect(second.path).toBe(first.path);
  expect(second.files).toEqual([`sha256-${v1.metadata.sha256}`, stateFileName(v1.metadataUrl)].sort());
  expect(run.code).toBe(0);
});

test('/tmp full while writing (a 1 MiB file size limit, RLIMIT_FSIZE): the write fails with EFBIG, refused as disk-space, nothing half-written, the earlier binary still runs', async () => {
  const v1 = await makeRelease(server, { version: '1.0.0', metadataVersion: 1, signer: key.signer });
  server.publish(v1);
  const dir = mkdtempSync(join(work, 'fsize-'));
  const loader = new BinaryLoader({ metadataUrl: v1.metadataUrl, destDir: dir, publicKey: key.publicKey });
  try {
    expect((await loader.load()).outcome).toBe('downloaded');
  } finally {
    loader.close();
  }
  const v2 = await publishV2();
  const before = server.count('1.1.0.gz');
  const run = await runChild(
    ['prlimit', `--fsize=${MIB}`, '--'],
    { metadataUrl: v1.metadataUrl, publicKeyPem: key.publicKeyPem, dir, loads: 1 },
    () => Promise.reject(new Error('one load only')),
  );
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const [report] = run.reports as [ChildReport];
  expect(report.outcome).toBe('kept');
  expect(report.refused).toEqual({
    check: 'disk-space',
    message: `disk-space check failed for ${v2.metadata.download_url}: the binary exceeds the file size limit while writing it (EFBIG)`,
  });
  // The free-space check passed (the file system is large): the download started, once (no retry).
  expect(report.fileSystemBytes).toBeGreaterThan(4 * MIB);
  expect(server.count('1.1.0.gz') - before).toBe(1);
  expect(report.version).toBe('1.0.0');
  expect(report.files).toEqual([`sha256-${v1.metadata.sha256}`, stateFileName(v1.metadataUrl)].sort());
});
