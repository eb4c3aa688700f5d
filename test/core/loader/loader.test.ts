/**
 * The consumer loader against a real HTTP server on 127.0.0.1: one named test per attack or fault.
 * After every refusal, no unverified executable is left and the earlier verified binary still runs.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BinaryLoader, LoaderError, type LoaderCheck, type LoaderOptions } from '@core/loader';
import { serializeMetadata } from '@core/metadata';
import {
  makeRelease,
  monitorScript,
  otherArch,
  ReleaseServer,
  testKey,
  type Release,
  type ReleaseOptions,
} from './release-server';
import { brokenElfs, refusalLine } from '../../support/elf-files';

const key = testKey('release-key');
const otherKey = testKey('someone-else');
let server: ReleaseServer;
let dirs: string[] = [];
let loaders: BinaryLoader[] = [];
let warnings: string[] = [];

beforeEach(async () => {
  server = await ReleaseServer.start();
  warnings = [];
});

afterEach(async () => {
  for (const loader of loaders) loader.close();
  await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
  loaders = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'watchy-loader-'));
  dirs.push(dir);
  return dir;
}

function loaderFor(release: Release, options: Partial<LoaderOptions> = {}): BinaryLoader {
  const loader = new BinaryLoader({
    metadataUrl: release.metadataUrl,
    destDir: options.destDir ?? tempDir(),
    publicKey: key.publicKeyPem,
    http: { connectTimeoutMs: 1_000, idleTimeoutMs: 1_000, retries: 2, backoffMs: 10 },
    warn: (message) => warnings.push(message),
    ...options,
  });
  loaders.push(loader);
  return loader;
}

function signed(options: Omit<ReleaseOptions, 'signer'>): Promise<Release> {
  return makeRelease(server, { signer: key.signer, ...options });
}

function runVersion(path: string): string {
  return execFileSync(path, ['--version']).toString().trim();
}

/** Every file in `dir` that is executable is a verified binary named by its own SHA-256; no temp files. */
function expectOnlyVerifiedExecutables(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    expect(name.startsWith('.partial-')).toBe(false);
    if ((statSync(path).mode & 0o111) !== 0) {
      expect(name).toMatch(/^sha256-[0-9a-f]{64}$/);
      expect(`sha256-${createHash('sha256').update(readFileSync(path)).digest('hex')}`).toBe(name);
    }
  }
}

async function expectRefused(loader: BinaryLoader, check: LoaderCheck, url?: string): Promise<LoaderError> {
  const error = await loader.load().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LoaderError);
  const failure = error as LoaderError;
  expect(failure.check).toBe(check);
  if (url) expect(failure.message).toContain(url);
  expect(failure.message).not.toContain('\n');
  expectOnlyVerifiedExecutables(loader.destDir);
  return failure;
}

/**
 * The shared shape of an attack test: v1.0.0 is installed and verified; then `bad` is offered.
 * The loader refuses it with `check`, keeps v1.0.0 (which still runs) and leaves no unverified
 * executable. A fresh loader offered the same release refuses it and installs nothing.
 */
async function expectAttackRefused(
  offer: () => Promise<void> | void,
  check: LoaderCheck,
  options: {
    fresh?: boolean;
    loader?: Partial<LoaderOptions>;
    url?: () => string;
    /** How the installed v1.0.0 is released. @default signed, metadata_version 1 */
    installed?: Partial<ReleaseOptions>;
  } = {},
): Promise<LoaderError> {
  const good = await makeRelease(server, {
    signer: key.signer,
    version: '1.0.0',
    metadataVersion: 1,
    ...options.installed,
  });
  server.publish(good);
  const loader = loaderFor(good, options.loader);
  expect((await loader.load()).outcome).toBe('downloaded');
  await offer();
  const result = await loader.load();
  expect(result.outcome).toBe('kept');
  expect(result.refused?.check).toBe(check);
  expect(result.binary.metadata.version).toBe('1.0.0');
  expect(runVersion(result.binary.path)).toBe('1.0.0');
  expectOnlyVerifiedExecutables(loader.destDir);
  expect(
    warnings.some(
      (w) => w.includes(`${check} check failed`) && w.includes('keeping the verified version 1.0.0'),
    ),
  ).toBe(true);
  if (options.fresh === false) return result.refused!;
  const fresh = loaderFor(good, { ...options.loader, destDir: tempDir() });
  const failure = await expectRefused(fresh, check, options.url?.());
  expect(readdirSync(fresh.destDir).filter((n) => n.startsWith('sha256-'))).toEqual([]);
  return failure;
}

describe('good releases', () => {
  test('a good signed release installs, is executable and runs', async () => {
    const release = await signed({ version: '1.0.0' });
    server.publish(release);
    const loader = loaderFor(release);
    const result = await loader.load();
    expect(result.outcome).toBe('downloaded');
    expect(result.binary.path).toBe(join(loader.destDir, `sha256-${release.metadata.sha256}`));
    expect(readFileSync(result.binary.path).equals(release.raw)).toBe(true);
    expect(statSync(result.binary.path).mode & 0o777).toBe(0o755);
    expect(runVersion(result.binary.path)).toBe('1.0.0');
    expectOnlyVerifiedExecutables(loader.destDir);
  });

  test('warm start with unchanged metadata: one conditional GET (304), no download', async () => {
    const release = await signed({ version: '1.0.0' });
    server.publish(release);
    const loader = loaderFor(release);
    await loader.load();
    const before = server.requests.length;
    const result = await loader.load();
    expect(result.outcome).toBe('not-modified');
    expect(server.requests.slice(before)).toEqual([`GET ${release.metadataPath}`]);
  });

  test('a new release replaces the installed one; the one before stays on disk for a rollback', async () => {
    const v1 = await signed({ version: '1.0.0', metadataVersion: 1 });
    server.publish(v1);
    const loader = loaderFor(v1);
    await loader.load();
    const v2 = await signed({ version: '1.1.0', metadataVersion: 2 });
    server.publish(v2);
    const upgraded = await loader.load();
    expect(upgraded.outcome).toBe('downloaded');
    expect(runVersion(upgraded.binary.path)).toBe('1.1.0');
    // A rollback publishes a higher metadata_version pointing at the old artifact: no download.
    const rollback = await signed({ version: '1.0.0', metadataVersion: 3 });
    server.publish(rollback);
    const downloadsBefore = server.count('.gz');
    const rolledBack = await loader.load();
    expect(rolledBack.outcome).toBe('cached');
    expect(server.count('.gz')).toBe(downloadsBefore);
    expect(runVersion(rolledBack.binary.path)).toBe('1.0.0');
  });

  test('a new process in the same directory reuses the verified binary without downloading', async () => {
    const release = await signed({ version: '1.0.0' });
    server.publish(release);
    const dir = tempDir();
    await loaderFor(release, { destDir: dir }).load();
    const downloads = server.count('.gz');
    const second = await loaderFor(release, { destDir: dir }).load();
    expect(second.outcome).toBe('not-modified');
    expect(server.count('.gz')).toBe(downloads);
  });

  test('disk use stays bounded: a third release removes the first binary', async () => {
    const dir = tempDir();
    for (const [version, metadataVersion] of [
      ['1.0.0', 1],
      ['1.1.0', 2],
      ['1.2.0', 3],
    ] as const) {
      const release = await signed({ version, metadataVersion });
      server.publish(release);
      await loaderFor(release, { destDir: dir }).load();
    }
    const binaries = readdirSync(dir).filter((n) => n.startsWith('sha256-'));
    const expected = await Promise.all(
      ['1.1.0', '1.2.0'].map(async (version) => `sha256-${(await signed({ version })).metadata.sha256}`),
    );
    expect(binaries.sort()).toEqual(expected.sort());
  });

  test("two artifacts sharing a directory keep each other's binaries", async () => {
    const dir = tempDir();
    const arm = await signed({ version: '1.0.0', architecture: otherArch() });
    const slack = await signed({ version: '1.0.0', raw: monitorScript('slack 1.0.0') });
    server.publish(arm);
    server.publish(slack);
    // The other architecture's artifact, installed by a loader for that architecture.
    await loaderFor(arm, { destDir: dir, architecture: otherArch() }).load();
    for (const [version, metadataVersion] of [
      ['1.1.0', 2],
      ['1.2.0', 3],
    ] as const) {
      const next = await signed({ version, metadataVersion });
      server.publish(next);
      await loaderFor(next, { destDir: dir }).load();
    }
    expect(readdirSync(dir)).toContain(`sha256-${arm.metadata.sha256}`);
  });

  test('unsigned seed-format metadata installs when the deployment allows unsigned', async () => {
    const release = await makeRelease(server, { version: '1.0.0', seedFormat: true });
    server.publish(release);
    const loader = loaderFor(release, { allowUnsigned: true, publicKey: undefined });
    const result = await loader.load();
    expect(result.outcome).toBe('downloaded');
    expect(runVersion(result.binary.path)).toBe('1.0.0');
  });
});

describe('attacks and faults (one test each)', () => {
  test('tampered binary: the served .gz is not the one metadata describes', async () => {
    const failure = await expectAttackRefused(async () => {
      // Stored (level 0) gzip: the tampered file has exactly the signed size; only the hash tells.
      const raw = monitorScript('1.1.0');
      const v2 = await signed({ version: '1.1.0', metadataVersion: 2, raw, gz: gzipSync(raw, { level: 0 }) });
      const evil = Buffer.from(raw);
      evil.write('#!/bin/sh\necho pwned; exit 0\n', 0);
      server.publish({ ...v2, gz: gzipSync(evil, { level: 0 }) });
    }, 'compressed-sha256');
    expect(failure.message).toContain('watchy-slack-monitor-1.1.0.gz: got ');
  });

  test('tampered binary with seed-format metadata (no compressed hash): the raw sha256 refuses it', async () => {
    await expectAttackRefused(
      async () => {
        const v2 = await makeRelease(server, { version: '1.1.0', seedFormat: true });
        const evil = Buffer.from(v2.raw);
        evil.write('#!/bin/sh\necho pwned; exit 0\n', 0);
        server.publish({ ...v2, gz: gzipSync(evil) });
      },
      'sha256',
      { loader: { allowUnsigned: true }, installed: { seedFormat: true, signer: undefined } },
    );
  });

  test('hash edited after signing: the signature no longer verifies', async () => {
    await expectAttackRefused(async () => {
      const v2 = await signed({ version: '1.1.0', metadataVersion: 2 });
      const evil = Buffer.from('#!/bin/sh\necho pwned\n');
      const edited = { ...v2.metadata, sha256: createHash('sha256').update(evil).digest('hex') };
      server.publish({ ...v2, gz: gzipSync(evil) }, serializeMetadata(edited));
    }, 'signature');
  });

  test('unsigned metadata is refused when unsigned is not allowed', async () => {
    await expectAttackRefused(async () => {
      server.publish(await makeRelease(server, { version: '1.1.0', metadataVersion: 2 }));
    }, 'signature');
  });

  test('metadata signed by another key is refused', async () => {
    await expectAttackRefused(async () => {
      server.publish(
        await makeRelease(server, { version: '1.1.0', metadataVersion: 2, signer: otherKey.signer }),
      );
    }, 'signature');
  });

  test('a binary for another architecture is refused', async () => {
    await expectAttackRefused(async () => {
      const v2 = await signed({ version: '1.1.0', metadataVersion: 2, architecture: otherArch() });
      // Served at this machine's pointer: the signed metadata itself names the other target.
      server.publish(v2);
      const ours = await signed({ version: '1.0.0' });
      server.serveStatic(ours.metadataPath, serializeMetadata(v2.metadata));
    }, 'architecture');
  });

  test('gzip bomb: output stops at binary_size and is refused', async () => {
    await expectAttackRefused(async () => {
      const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 });
      const small = monitorScript('1.1.0', 100_000);
      // Honest about the .gz it serves (sizes and hash), lying about what it inflates to.
      const v2 = await signed({
        version: '1.1.0',
        metadataVersion: 2,
        raw: small,
        gz: bomb,
      });
      server.publish(v2);
    }, 'binary-size');
  });

  test('a server that sends more bytes than compressed_size is cut off', async () => {
    const failure = await expectAttackRefused(async () => {
      const v2 = await signed({ version: '1.1.0', metadataVersion: 2 });
      server.publish(v2);
      server.routes.set(new URL(v2.metadata.download_url).pathname, (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        response.write(v2.gz);
        const more = () => {
          while (!response.destroyed && response.write(randomBytes(64 * 1024)));
          if (!response.destroyed) response.once('drain', more);
        };
        more();
      });
    }, 'compressed-size');
    expect(failure.message).toContain('more than');
  });

  test("mix-and-match: signed metadata of one version pointing at another version's binary", async () => {
    await expectAttackRefused(async () => {
      const v1 = await signed({ version: '1.0.0' });
      const v2 = await signed({
        version: '1.1.0',
        metadataVersion: 2,
        edit: (m) => ({ ...m, download_url: v1.metadata.download_url }),
      });
      server.publish(v2);
    }, 'download-url');
  });

  test("mix-and-match: another version's .gz served at this version's key", async () => {
    await expectAttackRefused(async () => {
      // Same length raw binaries, stored gzip: the two .gz files differ only in content.
      const v1raw = monitorScript('1.0.0');
      const v2raw = monitorScript('1.1.0');
      expect(v1raw.length).toBe(v2raw.length);
      const v2 = await signed({
        version: '1.1.0',
        metadataVersion: 2,
        raw: v2raw,
        gz: gzipSync(v2raw, { level: 0 }),
      });
      server.publish({ ...v2, gz: gzipSync(v1raw, { level: 0 }) });
    }, 'compressed-sha256');
  });

  test('a binary built for another machine (its ELF header) is refused though its metadata names this one', async () => {
    const failure = await expectAttackRefused(async () => {
      const elf = Buffer.from(readFileSync('/bin/true'));
      elf.writeUInt16LE(otherArch() === 'arm64' ? 183 : 62, 18); // e_machine
      server.publish(await signed({ version: '1.1.0', metadataVersion: 2, raw: elf }));
    }, 'executable');
    expect(failure.message).toMatch(
      /binary is an ELF 64-bit (aarch64|x86_64) executable, metadata says (x86_64|arm64)$/,
    );
  });

  test('a binary that is neither an ELF executable nor a #! script is refused', async () => {
    await expectAttackRefused(async () => {
      server.publish(
        await signed({ version: '1.1.0', metadataVersion: 2, raw: Buffer.from('MZ\x90\x00 not for linux') }),
      );
    }, 'executable');
  });

  for (const architecture of ['x86_64', 'arm64'] as const) {
    test.each(brokenElfs(architecture).map((b) => [b.name, b] as const))(
      `an ${architecture} ELF the kernel could not load is refused before it is installed: %s`,
      async (_name, broken) => {
        let url = '';
        const failure = await expectAttackRefused(
          async () => {
            const bad = await signed({
              version: '1.1.0',
              metadataVersion: 2,
              architecture,
              raw: broken.bytes,
            });
            url = bad.metadata.download_url;
            server.publish(bad);
          },
          'executable',
          { loader: { architecture }, installed: { architecture }, url: () => url },
        );
        expect(failure.message).toMatch(
          refusalLine(broken, 'binary', `executable check failed for ${url}: `),
        );
      },
    );
  }

  test("this machine's own ELF executable installs and runs", async () => {
    const release = await signed({ version: '1.0.0', raw: readFileSync('/bin/true') });
    server.publish(release);
    const result = await loaderFor(release).load();
    expect(result.outcome).toBe('downloaded');
    expect(() => execFileSync(result.binary.path)).not.toThrow();
  });

  test('malformed metadata JSON is refused', async () => {
    await expectAttackRefused(async () => {
      const v1 = await signed({ version: '1.0.0' });
      server.serveStatic(v1.metadataPath, '{"version": "1.1.0", ');
    }, 'metadata-json');
  });

  test('metadata 404 is refused without retrying', async () => {
    const v1 = await signed({ version: '1.0.0' });
    await expectAttackRefused(
      () => {
        server.routes.delete(v1.metadataPath);
      },
      'http',
      { url: () => v1.metadataUrl },
    );
    expect(warnings.filter((w) => w.includes('retrying'))).toEqual([]);
    expect(server.count(v1.metadataPath)).toBe(3);
  });

  test('a 500 then success: retried with backoff and installed', async () => {
    const release = await signed({ version: '1.0.0' });
    server.publish(release);
    const real = server.routes.get(release.metadataPath)!;
    let calls = 0;
    server.routes.set(release.metadataPath, (request, response) => {
      calls += 1;
      if (calls === 1) response.writeHead(500).end('boom');
      else real(request, response);
    });
    const result = await loaderFor(release).load();
    expect(result.outcome).toBe('downloaded');
    expect(calls).toBe(2);
    expect(warnings).toEqual([expect.stringMatching(/^http check failed for .*: HTTP 500 .*; retrying$/)]);
  });

  test('a stalled download fails with the configured idle timeout', async () => {
    const failure = await expectAttackRefused(
      async () => {
        const v2 = await signed({ version: '1.1.0', metadataVersion: 2 });
        server.publish(v2);
        server.routes.set(new URL(v2.metadata.download_url).pathname, (_request, response) => {
          response.writeHead(200, { 'content-length': v2.gz.length });
          response.write(v2.gz.subarray(0, 1000)); // then nothing, forever
        });
      },
      'timeout',
      { loader: { http: { connectTimeoutMs: 1_000, idleTimeoutMs: 300, retries: 1, backoffMs: 10 } } },
    );
    expect(failure.message).toContain('no data for 300 ms (stalled)');
  }, 20_000);

  test('a downgrade to a lower metadata_version is refused', async () => {
    const v2 = await signed({ version: '1.1.0', metadataVersion: 5 });
    server.publish(v2);
    const loader = loaderFor(v2);
    await loader.load();
    // Validly signed, but older than what is installed: a replayed earlier pointer.
    server.publish(await signed({ version: '1.0.0', metadataVersion: 3 }));
    const result = await loader.load();
    expect(result.outcome).toBe('kept');
    expect(result.refused?.check).toBe('metadata-version');
    expect(result.refused?.message).toContain(
      'offered metadata_version 3 (version 1.0.0) is lower than the installed 5',
    );
    expect(runVersion(result.binary.path)).toBe('1.1.0');
    expectOnlyVerifiedExecutables(loader.destDir);
    expect(server.count('1.0.0.gz')).toBe(0);
  });

  test('the same metadata_version naming a different binary is refused', async () => {
    await expectAttackRefused(
      async () => server.publish(await signed({ version: '1.1.0', metadataVersion: 1 })),
      'metadata-version',
      { fresh: false },
    );
  });

  test("a fresh start refuses metadata below the deployment's minimum metadata_version", async () => {
    const release = await signed({ version: '1.0.0', metadataVersion: 2 });
    server.publish(release);
    await expectRefused(loaderFor(release, { minMetadataVersion: 3 }), 'metadata-version');
  });

  test("a binary_size over the deployment's limit is refused before downloading", async () => {
    await expectAttackRefused(
      async () =>
        server.publish(
          await signed({ version: '1.1.0', metadataVersion: 2, raw: monitorScript('1.1.0', 300_000) }),
        ),
      'size-limit',
      { loader: { maxBinaryBytes: 250_000 } },
    );
    expect(server.count('1.1.0.gz')).toBe(0);
  });

  test('metadata over 64 KiB is refused without reading it all', async () => {
    await expectAttackRefused(async () => {
      const v1 = await signed({ version: '1.0.0' });
      server.serveStatic(v1.metadataPath, `{"pad":"${'x'.repeat(70_000)}"}`);
    }, 'metadata-size');
  });

  test('a server that is down: the earlier verified binary stays, with a warning', async () => {
    await expectAttackRefused(
      async () => {
        await server.close();
      },
      'http',
      { fresh: false },
    );
    server = await ReleaseServer.start();
  });
});
