/**
 * The deploy-time public key custom resource against KMS in moto (server mode, real HTTP), and its
 * CloudFormation response PUT against a real HTTP server on 127.0.0.1.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { signingPayload, type WatchyMetadata } from '@core/metadata';
import { toPublicKey, verifyMetadataSignature } from '@core/signing';
import {
  publicKeyResponse,
  sendResponse,
  type PublicKeyResourceEvent,
} from '../../../lambda/monitor/public-key';
import { startMoto, type MotoServer } from '../../support/moto-server';

let moto: MotoServer;
let kms: KMSClient;

beforeAll(async () => {
  moto = await startMoto();
  kms = new KMSClient(moto.clientConfig);
});

afterAll(async () => {
  kms.destroy();
  await moto.stop();
});

function event(type: PublicKeyResourceEvent['RequestType'], keyId?: string): PublicKeyResourceEvent {
  return {
    RequestType: type,
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Watchy-Consumers/1',
    RequestId: 'req-1',
    LogicalResourceId: 'SigningPublicKey',
    ...(type === 'Create' ? {} : { PhysicalResourceId: keyId ?? 'old' }),
    ResourceProperties: keyId === undefined ? {} : { KeyId: keyId },
  };
}

const METADATA: WatchyMetadata = {
  version: '1.0.0',
  build_time: '2026-11-22T05:00:00Z',
  saas_app: 'Slack',
  binary_type: 'nuitka',
  binary_size: 10,
  sha256: 'a'.repeat(64),
  download_url: 'https://releases.example/binaries/slack-monitor/watchy-slack-monitor-1.0.0.gz',
  compression: 'gzip',
  target_architecture: 'arm64',
  target_os: 'linux',
  lambda_compatible: true,
  runtime_environment: 'amazon-linux-2023',
  python_version: '3.11',
  metadata_version: 1,
};

describe('signing public key custom resource', () => {
  test('returns the KMS key as base64 DER that verifies metadata signed by KMS', async () => {
    const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    const arn = key.KeyMetadata!.Arn!;
    const response = await publicKeyResponse(event('Create', arn), kms);
    expect(response.Reason).toBeUndefined();
    expect(response).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: arn,
      Data: { KeySpec: 'ECC_NIST_P256' },
    });
    const signed = await kms.send(
      new SignCommand({
        KeyId: arn,
        Message: signingPayload(METADATA),
        MessageType: 'RAW',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    const metadata: WatchyMetadata = {
      ...METADATA,
      signature: { alg: 'ES256', key_id: arn, value: Buffer.from(signed.Signature!).toString('base64') },
    };
    const publicKey = toPublicKey(Buffer.from(response.Data!.PublicKey, 'base64'));
    expect(verifyMetadataSignature(metadata, publicKey)).toBe(true);
    expect(verifyMetadataSignature({ ...metadata, version: '1.0.1' }, publicKey)).toBe(false);
  });

  test('a key that is not ECC_NIST_P256/SIGN_VERIFY fails the deployment with the reason', async () => {
    const key = await kms.send(new CreateKeyCommand({}));
    const arn = key.KeyMetadata!.Arn!;
    const response = await publicKeyResponse(event('Update', arn), kms);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toMatch(/^GetPublicKey failed: .*/);
    expect(response.Data).toBeUndefined();
  });

  test('a missing KeyId fails with a clear reason', async () => {
    const response = await publicKeyResponse(event('Create'), kms);
    expect(response).toMatchObject({
      Status: 'FAILED',
      Reason: 'GetPublicKey failed: property KeyId is required',
    });
  });

  test('delete succeeds without calling KMS', async () => {
    const response = await publicKeyResponse(event('Delete', 'arn:aws:kms:us-east-1:123456789012:key/gone'), {
      send: () => Promise.reject(new Error('KMS must not be called')),
    });
    expect(response).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'arn:aws:kms:us-east-1:123456789012:key/gone',
    });
  });

  test('the response is PUT as JSON with an empty content type (what the pre-signed URL expects)', async () => {
    const received: { method?: string; type?: string; body: string } = { body: '' };
    const server = createServer((request, response) => {
      received.method = request.method;
      received.type = request.headers['content-type'];
      request.on('data', (chunk: Buffer) => (received.body += chunk.toString()));
      request.on('end', () => response.writeHead(200).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const body = await publicKeyResponse(event('Delete', 'k'), kms);
      await sendResponse(`http://127.0.0.1:${port}/presigned?X-Amz-Signature=abc`, body);
      expect(received.method).toBe('PUT');
      expect(received.type).toBe('');
      expect(JSON.parse(received.body)).toEqual(body);
    } finally {
      server.close();
    }
  });
});
