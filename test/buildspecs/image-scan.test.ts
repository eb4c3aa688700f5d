import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WATCHY_APP, WATCHY_ECR_REPOSITORY_URI, WATCHY_IMAGE_DIGEST } from '@core/build-env';
import { REPOSITORY_URI, runWithShims } from './image-shims';

/**
 * buildspecs/scan.yml against an `aws` shim that answers DescribeImageScanFindings with the
 * replies a test lays out (scan-0.json, scan-1.json, ...; the last one repeats). ECR's own
 * scanning cannot run here; the buildspec's waiting and verdict logic is what runs for real.
 */
const DIGEST = `sha256:${'c'.repeat(64)}`;

function reply(status: string, counts: Record<string, number> = {}, findings: object[] = []): string {
  return JSON.stringify({
    repositoryName: 'watchy/status-api',
    imageId: { imageDigest: DIGEST },
    imageScanStatus: { status, description: status === 'FAILED' ? 'UnsupportedImageError' : 'ok' },
    imageScanFindings: { findingSeverityCounts: counts, findings },
  });
}

async function scan(replies: string[], extra: Record<string, string> = {}) {
  return runWithShims({
    buildspec: 'scan.yml',
    shims: ['aws'],
    variables: {
      [WATCHY_APP]: 'status-api',
      [WATCHY_ECR_REPOSITORY_URI]: REPOSITORY_URI,
      [WATCHY_IMAGE_DIGEST]: DIGEST,
      SCAN_POLL_SECONDS: '0',
      ...extra,
    },
    prepare: (dir) => replies.forEach((text, i) => writeFileSync(join(dir, `scan-${i}.json`), text)),
  });
}

describe('buildspecs/scan.yml (aws shim in place of ECR)', () => {
  test('a complete scan with only MEDIUM and LOW findings passes', async () => {
    const run = await scan([reply('COMPLETE', { MEDIUM: 3, LOW: 1 })]);
    expect(run.result.failure).toBeUndefined();
    expect(run.output).toContain('scan: watchy/status-api@' + DIGEST + ' passed');
    expect(run.callsOf('aws')[0]).toEqual([
      'ecr',
      'describe-image-scan-findings',
      '--region',
      'eu-west-1',
      '--repository-name',
      'watchy/status-api',
      '--image-id',
      `imageDigest=${DIGEST}`,
      '--output',
      'json',
    ]);
  });

  test('a HIGH finding fails the scan and names the finding', async () => {
    const run = await scan([
      reply('COMPLETE', { HIGH: 1, MEDIUM: 2 }, [
        { name: 'CVE-2026-0001', severity: 'HIGH', uri: 'https://nvd.example/CVE-2026-0001' },
        { name: 'CVE-2026-0002', severity: 'MEDIUM' },
      ]),
    ]);
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain('has 1 finding(s) of severity CRITICAL HIGH');
    expect(run.output).toContain('HIGH CVE-2026-0001 https://nvd.example/CVE-2026-0001');
    expect(run.output).not.toContain('CVE-2026-0002');
  });

  test('a CRITICAL finding fails the scan', async () => {
    const run = await scan([reply('COMPLETE', { CRITICAL: 2 })]);
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain('has 2 finding(s)');
  });

  test('waits while the scan has not started or is in progress, then judges the result', async () => {
    const run = await scan([
      'ERROR An error occurred (ScanNotFoundException) when calling the DescribeImageScanFindings operation',
      reply('IN_PROGRESS'),
      reply('COMPLETE', {}),
    ]);
    expect(run.result.failure).toBeUndefined();
    expect(run.callsOf('aws')).toHaveLength(3);
  });

  test('a scan that ends FAILED fails the build with its status', async () => {
    const run = await scan([reply('FAILED')]);
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain('ended with status FAILED: UnsupportedImageError');
  });

  test('no result within SCAN_WAIT_SECONDS fails the build (timeout)', async () => {
    const run = await scan([reply('IN_PROGRESS')], { SCAN_WAIT_SECONDS: '0' });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain(
      'no scan result for watchy/status-api@' + DIGEST + ' after 0s (last status IN_PROGRESS)',
    );
  });

  test('an ECR error other than a scan not found yet fails at once with the CLI message', async () => {
    const run = await scan(['ERROR An error occurred (AccessDeniedException) when calling the operation']);
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain('scan: cannot read the scan of watchy/status-api@');
    expect(run.output).toContain('AccessDeniedException');
    expect(run.callsOf('aws')).toHaveLength(1);
  });

  test('a digest that is not sha256 is refused before calling ECR', async () => {
    const run = await scan([reply('COMPLETE')], { [WATCHY_IMAGE_DIGEST]: 'latest' });
    expect(run.result.status).toBe('FAILED');
    expect(run.output).toContain("scan: WATCHY_IMAGE_DIGEST is not a sha256 digest: 'latest'");
    expect(run.calls).toEqual([]);
  });

  test('blocking severities are configurable (MEDIUM added)', async () => {
    const run = await scan([reply('COMPLETE', { MEDIUM: 1 })], {
      SCAN_BLOCKING_SEVERITIES: 'CRITICAL HIGH MEDIUM',
    });
    expect(run.result.status).toBe('FAILED');
  });
});
