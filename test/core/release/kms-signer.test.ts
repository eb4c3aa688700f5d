/**
 * The KMS signer's own checks. Its client points at a closed port: a payload it sent to KMS would
 * fail with a connection error instead of the refusal the test expects.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { KmsSigner, KMS_RAW_MESSAGE_LIMIT } from '@core/release/kms-signer';

const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000';
let kms: KMSClient;

beforeAll(() => {
  kms = new KMSClient({
    endpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
});
afterAll(() => kms.destroy());

describe('KMS signer', () => {
  test('the KMS signer refuses payloads over the RAW message limit without calling KMS', async () => {
    const signer = new KmsSigner(kms, KEY_ARN);
    await expect(signer.sign(Buffer.alloc(KMS_RAW_MESSAGE_LIMIT + 1))).rejects.toThrow(
      "signing payload is 4097 bytes, over KMS's 4096-byte RAW message limit",
    );
  });
});
