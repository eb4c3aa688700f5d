import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateValidator, VALIDATOR_PATH } from '../../tools/gen-metadata-validator';
import { metadataProblem, parseMetadataJson, signingPayload, type WatchyMetadata } from '@core/metadata';
import { LocalKeySigner, signMetadata, toPublicKey, verifyMetadataSignature } from '@core/signing';

export const SEED_EXAMPLE: WatchyMetadata = {
  version: '1.0.0',
  build_time: '2025-01-27T10:30:00Z',
  saas_app: 'Slack',
  binary_type: 'nuitka',
  binary_size: 12345678,
  sha256: 'a'.repeat(64),
  download_url: 'https://releases.watchy.cloud/binaries/slack-monitor/watchy-slack-monitor-1.0.0.gz',
  compression: 'gzip',
  target_architecture: 'x86_64',
  target_os: 'linux',
  lambda_compatible: true,
  runtime_environment: 'amazon-linux-2023',
  python_version: '3.11',
};

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    publicKey: toPublicKey(publicKey.export({ type: 'spki', format: 'pem' })),
  };
}

describe('metadata schema', () => {
  test('the generated validator is up to date with the schema', () => {
    expect(readFileSync(VALIDATOR_PATH, 'utf8')).toBe(generateValidator());
  });
  test("the seed's example validates unchanged", () => {
    expect(metadataProblem(SEED_EXAMPLE)).toBeUndefined();
  });
  test('the JSON Schema in the repo is the one the validator embeds', () => {
    const schema = JSON.parse(
      readFileSync(join(__dirname, '../../core/metadata/watchy-metadata.schema.json'), 'utf8'),
    );
    expect(schema.required).toContain('sha256');
  });
  test('nuitka metadata without python_version is refused', () => {
    const { python_version: _p, ...rest } = SEED_EXAMPLE;
    expect(metadataProblem(rest)).toBe('python_version: required field is missing');
  });
  test('a non-hex sha256 names the field', () => {
    expect(metadataProblem({ ...SEED_EXAMPLE, sha256: 'xyz' })).toBe(
      'sha256: must match pattern "^[0-9a-f]{64}$"',
    );
  });
  test('an unknown architecture names the allowed values', () => {
    expect(metadataProblem({ ...SEED_EXAMPLE, target_architecture: 'mips' })).toBe(
      'target_architecture: must be equal to one of the allowed values ["x86_64","arm64"]',
    );
  });
  test('oversized metadata is refused before parsing', () => {
    expect(() => parseMetadataJson(' '.repeat(70_000))).toThrow('over the 65536-byte limit');
  });
  test('malformed JSON is refused with a clear error', () => {
    expect(() => parseMetadataJson('{"version":')).toThrow(/^invalid metadata: not JSON/);
  });
});

describe('metadata signatures (ES256 over RFC 8785 canonical JSON)', () => {
  test('signing payload is canonical: key order does not matter and signature is excluded', () => {
    const reordered = Object.fromEntries(Object.entries(SEED_EXAMPLE).reverse()) as unknown as WatchyMetadata;
    expect(signingPayload(reordered).equals(signingPayload(SEED_EXAMPLE))).toBe(true);
    expect(signingPayload(SEED_EXAMPLE).toString()).toMatch(
      /^\{"binary_size":12345678,"binary_type":"nuitka",/,
    );
  });
  test('a signed document verifies, validates, and fails after any edit', async () => {
    const { privatePem, publicKey } = keyPair();
    const signed = await signMetadata(SEED_EXAMPLE, new LocalKeySigner(privatePem, 'test-key'));
    expect(metadataProblem(signed)).toBeUndefined();
    expect(signed.signature).toMatchObject({ alg: 'ES256', key_id: 'test-key' });
    expect(verifyMetadataSignature(signed, publicKey)).toBe(true);
    expect(verifyMetadataSignature({ ...signed, binary_size: signed.binary_size + 1 }, publicKey)).toBe(
      false,
    );
  });
  test('a signature by another key does not verify', async () => {
    const ours = keyPair();
    const theirs = keyPair();
    const signed = await signMetadata(SEED_EXAMPLE, new LocalKeySigner(theirs.privatePem, 'other'));
    expect(verifyMetadataSignature(signed, ours.publicKey)).toBe(false);
  });
  test('unsigned metadata does not verify', () => {
    expect(verifyMetadataSignature(SEED_EXAMPLE, keyPair().publicKey)).toBe(false);
  });
  test('a non-P-256 key is refused as a signer', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expect(() => new LocalKeySigner(privateKey.export({ type: 'pkcs8', format: 'pem' }), 'k')).toThrow(
      'signing key must be an ECDSA P-256',
    );
  });
});
