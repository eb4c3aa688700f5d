/**
 * The loader's pure checks without a server: a metadata refusal fails the loader check its
 * MetadataError kind names (never a guess from the message), with the message unchanged, and the
 * options that cannot work are `config` errors.
 */
import { acceptMetadata, releasePolicy, type ReleasePolicy } from '@core/loader/checks';
import { LoaderError, type LoaderCheck } from '@core/loader/errors';
import {
  MAX_METADATA_BYTES,
  MetadataError,
  parseMetadataJson,
  serializeMetadata,
  type WatchyMetadata,
} from '@core/metadata';

const URL = 'https://d111111abcdef8.cloudfront.net/binaries/slack-monitor/watchy-slack-monitor.json';
const policy: ReleasePolicy = releasePolicy({ allowUnsigned: true, architecture: 'x86_64' }, URL);

const ARM64_RELEASE: WatchyMetadata = {
  version: '1.0.0',
  build_time: '2025-01-27T10:30:00Z',
  saas_app: 'Slack',
  binary_type: 'nuitka',
  binary_size: 12345678,
  sha256: 'a'.repeat(64),
  download_url: 'https://d111111abcdef8.cloudfront.net/binaries/slack-monitor/watchy-slack-monitor-1.0.0.gz',
  compression: 'gzip',
  target_architecture: 'arm64',
  target_os: 'linux',
  lambda_compatible: true,
  runtime_environment: 'amazon-linux-2023',
  python_version: '3.11',
};

function refusal(body: string): LoaderError {
  try {
    acceptMetadata(body, URL, policy);
  } catch (error) {
    if (error instanceof LoaderError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('metadata refusals fail the check their kind names', () => {
  test.each<[string, string, MetadataError['kind'], LoaderCheck]>([
    ['over the size limit', ' '.repeat(MAX_METADATA_BYTES + 1), 'size', 'metadata-size'],
    ['not JSON', '{"version": "1.1.0", ', 'json', 'metadata-json'],
    ['against the schema', JSON.stringify({ version: '1.1.0' }), 'schema', 'metadata-schema'],
  ])('%s', (_, body, kind, check) => {
    let metadataError: unknown;
    try {
      parseMetadataJson(body);
    } catch (error) {
      metadataError = error;
    }
    expect(metadataError).toBeInstanceOf(MetadataError);
    expect((metadataError as MetadataError).kind).toBe(kind);
    const failure = refusal(body);
    expect(failure.check).toBe(check);
    expect(failure.message).toBe(
      `${check} check failed for ${URL}: ${(metadataError as MetadataError).message.slice('invalid metadata: '.length)}`,
    );
  });

  test('metadata that passes the schema goes on to the next check', () => {
    expect(refusal(serializeMetadata(ARM64_RELEASE)).check).toBe('architecture');
  });
});

test('options without a key that do not allow unsigned metadata are a config error', () => {
  expect(() => releasePolicy({ architecture: 'arm64' }, URL)).toThrow(
    new LoaderError('config', URL, 'no public key given and unsigned metadata is not allowed'),
  );
});
