/**
 * packageBinary on a real ELF executable of this machine (/bin/true): names, metadata validated
 * against the shipped JSON Schema (with Ajv, independently of the generated validator), hashes and
 * sizes recomputed from the files, the zip read back by Info-ZIP's unzip, reproducibility, and
 * one test per bad input, each leaving nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Ajv from 'ajv';
import schema from '@core/metadata/watchy-metadata.schema.json';
import { distFileNames } from '@core/artifacts';
import { downloadUrl, packageBinary, type PackageOptions } from '@core/packaging';

const ARCH = process.arch === 'arm64' ? 'arm64' : 'x86_64';
const OTHER_ARCH = ARCH === 'arm64' ? 'x86_64' : 'arm64';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const validate = new Ajv({ strict: false }).compile(schema);

let work: string;
let binary: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'watchy-package-'));
  binary = join(work, 'watchy-slack-monitor');
  copyFileSync('/bin/true', binary);
});

afterEach(() => rmSync(work, { recursive: true, force: true }));

function options(overrides: Partial<PackageOptions> = {}): PackageOptions {
  return {
    app: 'slack',
    binaryType: 'nuitka',
    architecture: ARCH,
    version: '1.2.3',
    binaryPath: binary,
    outDir: join(work, 'dist'),
    saasApp: 'Slack',
    baseUrl: 'https://d111111abcdef8.cloudfront.net/binaries/',
    pythonVersion: '3.11',
    sourceRevision: '0123456789abcdef0123456789abcdef01234567',
    buildId: 'watchy-nuitka:6c8f7d4e',
    buildTime: new Date('2026-01-05T09:00:00.123Z'),
    ...overrides,
  };
}

describe('packageBinary', () => {
  test('writes the seed set with the names from artifacts.ts', async () => {
    const result = await packageBinary(options());
    const names = distFileNames({ app: 'slack', binaryType: 'nuitka', architecture: ARCH }, '1.2.3');
    expect(readdirSync(result.outDir).sort()).toEqual(
      [names.raw, names.gz, names.metadata, names.versionedMetadata, names.lambdaZip].sort(),
    );
    if (ARCH === 'x86_64') {
      expect(names).toMatchObject({
        raw: 'watchy-slack-monitor-1.2.3',
        gz: 'watchy-slack-monitor-1.2.3.gz',
        metadata: 'watchy-slack-monitor.json',
        lambdaZip: 'watchy-slack-lambda-1.2.3.zip',
      });
    }
    expect(statSync(join(result.outDir, names.raw)).mode & 0o777).toBe(0o755);
  });

  test('metadata has every seed field, validates against the shipped schema and matches the files', async () => {
    const { outDir, files } = await packageBinary(options());
    const raw = readFileSync(binary);
    const gz = readFileSync(join(outDir, files.gz));
    const text = readFileSync(join(outDir, files.metadata), 'utf8');
    const metadata = JSON.parse(text);
    expect(validate(metadata)).toBe(true);
    expect(readFileSync(join(outDir, files.versionedMetadata), 'utf8')).toBe(text);
    expect(metadata).toEqual({
      version: '1.2.3',
      build_time: '2026-01-05T09:00:00Z',
      saas_app: 'Slack',
      binary_type: 'nuitka',
      binary_size: raw.length,
      sha256: sha256(raw),
      download_url: `https://d111111abcdef8.cloudfront.net/binaries/${ARCH === 'x86_64' ? 'slack-monitor' : 'slack-monitor-arm64'}/watchy-${ARCH === 'x86_64' ? 'slack-monitor' : 'slack-monitor-arm64'}-1.2.3.gz`,
      compression: 'gzip',
      target_architecture: ARCH,
      target_os: 'linux',
      lambda_compatible: true,
      runtime_environment: 'amazon-linux-2023',
      python_version: '3.11',
      schema_version: 1,
      app: 'slack',
      compressed_size: gz.length,
      compressed_sha256: sha256(gz),
      source_revision: '0123456789abcdef0123456789abcdef01234567',
      build_id: 'watchy-nuitka:6c8f7d4e',
    });
    expect(metadata).not.toHaveProperty('signature');
    expect(metadata).not.toHaveProperty('metadata_version');
    expect(gunzipSync(gz).equals(raw)).toBe(true);
    expect(readFileSync(join(outDir, files.raw)).equals(raw)).toBe(true);
  });

  test('the download URL is the versioned key, never the latest pointer', () => {
    expect(
      downloadUrl(
        'https://releases.watchy.cloud/binaries',
        { app: 'slack', binaryType: 'nuitka', architecture: 'x86_64' },
        '1.0.0',
      ),
    ).toBe('https://releases.watchy.cloud/binaries/slack-monitor/watchy-slack-monitor-1.0.0.gz');
    expect(
      downloadUrl(
        'https://x.example/b',
        { app: 'backend', binaryType: 'rust', architecture: 'arm64' },
        '2.0.0',
      ),
    ).toBe('https://x.example/b/backend-lambda-arm64/watchy-backend-lambda-arm64-2.0.0.gz');
  });

  test('the Lambda zip holds the executable binary, read back by unzip', async () => {
    const { outDir, files } = await packageBinary(options());
    const zip = join(outDir, files.lambdaZip);
    const listing = execFileSync('unzip', ['-Z', zip], { encoding: 'utf8' });
    expect(listing).toMatch(/^-rwxr-xr-x .* watchy-slack-monitor(?:-arm64)?$/m);
    expect(listing).toContain('number of entries: 1');
    execFileSync('unzip', ['-tq', zip]);
    expect(execFileSync('unzip', ['-p', zip]).equals(readFileSync(binary))).toBe(true);
  });

  test('a rust binary is zipped as bootstrap and has no python_version', async () => {
    const { outDir, files, metadata } = await packageBinary(
      options({ app: 'ws-connect', binaryType: 'rust', saasApp: 'ws-connect', pythonVersion: undefined }),
    );
    expect(files.lambdaZip).toBe(`watchy-ws-connect-lambda${ARCH === 'x86_64' ? '' : '-arm64'}-1.2.3.zip`);
    expect(execFileSync('unzip', ['-Z1', join(outDir, files.lambdaZip)], { encoding: 'utf8' }).trim()).toBe(
      'bootstrap',
    );
    expect(metadata.binary_type).toBe('rust');
    expect(metadata).not.toHaveProperty('python_version');
  });

  test('is reproducible: the same binary gives byte-identical .gz and .zip', async () => {
    const first = await packageBinary(options({ outDir: join(work, 'a'), buildTime: new Date() }));
    const second = await packageBinary(
      options({ outDir: join(work, 'b'), buildTime: new Date(Date.now() + 5000) }),
    );
    for (const name of [first.files.gz, first.files.lambdaZip]) {
      expect(sha256(readFileSync(join(work, 'b', name)))).toBe(sha256(readFileSync(join(work, 'a', name))));
    }
    expect(second.metadata.sha256).toBe(first.metadata.sha256);
  });

  test('keeps other artifacts already in the output directory', async () => {
    const dir = join(work, 'dist');
    mkdirSync(dir);
    writeFileSync(join(dir, 'watchy-github-monitor.json'), '{}');
    await packageBinary(options());
    expect(readFileSync(join(dir, 'watchy-github-monitor.json'), 'utf8')).toBe('{}');
  });
});

describe('packageBinary refuses bad input and writes nothing', () => {
  const nothingWritten = () => expect(readdirSync(work).sort()).toEqual(['watchy-slack-monitor']);

  test('a binary whose ELF machine does not match the architecture', async () => {
    await expect(packageBinary(options({ architecture: OTHER_ARCH }))).rejects.toThrow(
      /is a 64-bit \S+ ELF binary, not .*it would fail on Lambda with "Exec format error"/,
    );
    nothingWritten();
  });

  test('a version that is not semver', async () => {
    await expect(packageBinary(options({ version: '1.2' }))).rejects.toThrow(
      'invalid version "1.2": expected semantic version like 1.2.3',
    );
    nothingWritten();
  });

  test('an app name with path characters', async () => {
    await expect(packageBinary(options({ app: '../../etc' }))).rejects.toThrow(
      'invalid app name "../../etc"',
    );
    nothingWritten();
  });

  test('a file that is not an ELF binary', async () => {
    writeFileSync(binary, '#!/bin/sh\nexit 0\n');
    await expect(packageBinary(options())).rejects.toThrow('is not an ELF binary');
    nothingWritten();
  });

  test('a missing binary', async () => {
    await expect(packageBinary(options({ binaryPath: join(work, 'nope') }))).rejects.toThrow(
      /cannot read binary .*nope: ENOENT/,
    );
    nothingWritten();
  });

  test('a base URL that is not http(s)', async () => {
    await expect(packageBinary(options({ baseUrl: 'file:///etc' }))).rejects.toThrow(
      'invalid base URL "file:///etc"',
    );
    nothingWritten();
  });

  test('a nuitka binary without its python version', async () => {
    await expect(packageBinary(options({ pythonVersion: undefined }))).rejects.toThrow(
      'needs its python version',
    );
    nothingWritten();
  });

  test('metadata that fails the schema (a display name over 100 characters)', async () => {
    await expect(packageBinary(options({ saasApp: 'x'.repeat(101) }))).rejects.toThrow(
      'invalid metadata: saas_app',
    );
    expect(existsSync(join(work, 'dist'))).toBe(false);
    expect(readdirSync(work).filter((n) => n.includes('partial'))).toEqual([]);
  });
});
