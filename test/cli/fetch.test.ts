/**
 * `watchy fetch` as a user runs it (the CLI entry bin/watchy.ts in a child process) against a real
 * HTTP release server on 127.0.0.1. The entry runs under `node --import tsx`, which resolves the
 * entry's lazy `import()` of command modules.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRelease, ReleaseServer, testKey, type Release } from '../core/loader/release-server';

/** The npm bin shim, as `npx watchy` runs it (it registers tsx with the project's tsconfig). */
const WATCHY = join(__dirname, '..', '..', 'bin', 'watchy.js');
const key = testKey();
let server: ReleaseServer;
let work: string;
let keyFile: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function watchy(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WATCHY, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

beforeEach(async () => {
  server = await ReleaseServer.start();
  work = mkdtempSync(join(tmpdir(), 'watchy-fetch-'));
  keyFile = join(work, 'release-key.pem');
  writeFileSync(keyFile, key.publicKeyPem);
});

afterEach(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

async function publish(version: string, metadataVersion: number, signer = key.signer): Promise<Release> {
  const release = await makeRelease(server, { version, metadataVersion, signer });
  server.publish(release);
  return release;
}

describe('watchy fetch', () => {
  test('installs a signed release and prints the binary path on the last line', async () => {
    const release = await publish('1.0.0', 1);
    const dest = join(work, 'bin');
    const run = await watchy(
      'fetch',
      '--metadata-url',
      release.metadataUrl,
      '--dest',
      dest,
      '--public-key',
      keyFile,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const path = lastLine(run.stdout);
    expect(path).toBe(join(dest, `sha256-${release.metadata.sha256}`));
    expect(execFileSync(path, ['--version']).toString().trim()).toBe('1.0.0');
    expect(run.stdout).toMatch(/^installed: version 1\.0\.0 \(metadata_version 1/);
  });

  test('accepts the public key as base64 DER, as `aws kms get-public-key --output text` prints it', async () => {
    const release = await publish('1.0.0', 1);
    const der = join(work, 'key.b64');
    writeFileSync(der, `${key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}\n`);
    const run = await watchy(
      'fetch',
      '--metadata-url',
      release.metadataUrl,
      '--dest',
      join(work, 'b'),
      '--public-key',
      der,
    );
    expect(run.code).toBe(0);
  });

  test('a second run with unchanged metadata downloads nothing', async () => {
    const release = await publish('1.0.0', 1);
    const dest = join(work, 'bin');
    await watchy('fetch', '--metadata-url', release.metadataUrl, '--dest', dest, '--public-key', keyFile);
    const downloads = server.count('.gz');
    const run = await watchy(
      'fetch',
      '--metadata-url',
      release.metadataUrl,
      '--dest',
      dest,
      '--public-key',
      keyFile,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^unchanged: version 1\.0\.0/);
    expect(server.count('.gz')).toBe(downloads);
  });

  test('a refused release exits 1 even though the earlier verified binary stays, and says which', async () => {
    const v1 = await publish('1.0.0', 1);
    const dest = join(work, 'bin');
    await watchy('fetch', '--metadata-url', v1.metadataUrl, '--dest', dest, '--public-key', keyFile);
    await publish('1.1.0', 2, testKey('intruder').signer);
    const run = await watchy(
      'fetch',
      '--metadata-url',
      v1.metadataUrl,
      '--dest',
      dest,
      '--public-key',
      keyFile,
    );
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`watchy fetch: signature check failed for ${v1.metadataUrl}`);
    expect(run.stderr).toContain('the verified version 1.0.0 (metadata_version 1');
    expect(run.stderr).toContain('stays installed');
    expect(lastLine(run.stdout)).toBe(join(dest, `sha256-${v1.metadata.sha256}`));
  });

  test('a refused release with nothing installed exits 1 and prints no path', async () => {
    const release = await makeRelease(server, { version: '1.0.0', metadataVersion: 1 });
    server.publish(release);
    const run = await watchy(
      'fetch',
      '--metadata-url',
      release.metadataUrl,
      '--dest',
      join(work, 'b'),
      '--public-key',
      keyFile,
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `watchy fetch: signature check failed for ${release.metadataUrl}: metadata is not signed and unsigned metadata is not allowed\n`,
    );
  });

  test('without --public-key or --allow-unsigned it is a usage error', async () => {
    const run = await watchy('fetch', '--metadata-url', 'http://127.0.0.1:1/x.json', '--dest', work);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'watchy fetch: give --public-key FILE, or --allow-unsigned to accept unsigned metadata\n',
    );
  });

  test('a public key file that is not a P-256 key is a usage error naming the problem', async () => {
    const bad = join(work, 'bad.pem');
    writeFileSync(bad, 'not a key at all!');
    const run = await watchy(
      'fetch',
      '--metadata-url',
      'http://127.0.0.1:1/x.json',
      '--dest',
      work,
      '--public-key',
      bad,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^watchy fetch: config check failed for http:\/\/127\.0\.0\.1:1\/x\.json: unusable public key/,
    );
  });
});
