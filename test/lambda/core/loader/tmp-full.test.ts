/**
 * `/tmp` full, on a real filesystem: a 1 MiB tmpfs mounted for the test (needs root, as these
 * build machines run; skipped with a note elsewhere). The binary does not fit, so the loader
 * refuses before downloading, keeps the earlier verified binary, and leaves nothing half-written.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryLoader, stateFileName } from '../../../../lambda/core/loader';
import { makeRelease, monitorScript, ReleaseServer, testKey } from './release-server';

function tryMount(dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir]).status === 0;
}

const mountPoint = mkdtempSync(join(tmpdir(), 'watchy-tmpfs-'));
const mounted = tryMount(mountPoint);
const key = testKey();
let server: ReleaseServer;

beforeAll(async () => {
  server = await ReleaseServer.start();
});

afterAll(async () => {
  await server.close();
  if (mounted) spawnSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

(mounted ? test : test.skip)(
  '/tmp full (a real 1 MiB tmpfs): refused before downloading, the earlier verified binary still runs',
  async () => {
    const warnings: string[] = [];
    const v1 = await makeRelease(server, { version: '1.0.0', metadataVersion: 1, signer: key.signer });
    server.publish(v1);
    const loader = new BinaryLoader({
      metadataUrl: v1.metadataUrl,
      destDir: mountPoint,
      publicKey: key.publicKey,
      warn: (m) => warnings.push(m),
    });
    try {
      expect((await loader.load()).outcome).toBe('downloaded');
      const v2 = await makeRelease(server, {
        version: '1.1.0',
        metadataVersion: 2,
        signer: key.signer,
        raw: monitorScript('1.1.0', 2 * 1024 * 1024),
      });
      server.publish(v2);
      const result = await loader.load();
      expect(result.outcome).toBe('kept');
      expect(result.refused?.check).toBe('disk-space');
      expect(result.refused?.message).toMatch(/has \d+ bytes free, the binary needs 2097152$/);
      expect(server.count('1.1.0.gz')).toBe(0);
      expect(execFileSync(result.binary.path, ['--version']).toString().trim()).toBe('1.0.0');
      expect(readdirSync(mountPoint).sort()).toEqual([
        `sha256-${v1.metadata.sha256}`,
        stateFileName(v1.metadataUrl),
      ]);
    } finally {
      loader.close();
    }
  },
);
