/**
 * CloudFormation custom resource `Custom::WatchySigningPublicKey`: reads the release signing key's
 * public key with KMS GetPublicKey at deploy time and returns it as `PublicKey` (base64 DER SPKI),
 * which the Consumers stack passes to every monitor Lambda. (AwsCustomResource cannot do this: it
 * decodes binary response fields as UTF-8 text.)
 *
 * The response protocol is the plain one: a PUT of the result to the pre-signed `ResponseURL`.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { toPublicKey } from '@core/signing';

export interface PublicKeyResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: { readonly KeyId?: string };
}

export interface ResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: { readonly PublicKey: string; readonly KeySpec: string };
}

/** The pure core: what to answer CloudFormation. */
export async function publicKeyResponse(
  event: PublicKeyResourceEvent,
  kms: Pick<KMSClient, 'send'>,
): Promise<ResourceResponse> {
  const keyId = event.ResourceProperties.KeyId ?? '';
  const base = {
    PhysicalResourceId: event.PhysicalResourceId ?? (keyId || event.LogicalResourceId),
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  if (event.RequestType === 'Delete') return { ...base, Status: 'SUCCESS' };
  try {
    if (!keyId) throw new Error('property KeyId is required');
    const key = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    // KeySpec replaced CustomerMasterKeySpec; older endpoints (and moto) return only the latter.
    const spec = key.KeySpec ?? key.CustomerMasterKeySpec;
    if (spec !== 'ECC_NIST_P256' || key.KeyUsage !== 'SIGN_VERIFY' || !key.PublicKey) {
      throw new Error(
        `key ${keyId} is ${spec}/${key.KeyUsage}; release signing needs ECC_NIST_P256/SIGN_VERIFY`,
      );
    }
    const der = Buffer.from(key.PublicKey);
    toPublicKey(der); // throws unless it is a P-256 SPKI public key
    return {
      ...base,
      PhysicalResourceId: keyId,
      Status: 'SUCCESS',
      Data: { PublicKey: der.toString('base64'), KeySpec: spec },
    };
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0] ?? 'failed';
    return { ...base, Status: 'FAILED', Reason: `GetPublicKey failed: ${reason}`.slice(0, 1000) };
  }
}

/**
 * PUTs the response to the pre-signed S3 URL (an empty content type, as the signature expects).
 * CloudFormation's URLs are https; http is accepted for a local endpoint.
 */
export function sendResponse(url: string, response: ResourceResponse): Promise<void> {
  const body = JSON.stringify(response);
  const request = url.startsWith('http:') ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'PUT',
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
      timeout: 10_000,
    });
    req.on('response', (res) => {
      res.resume();
      if ((res.statusCode ?? 0) >= 300) reject(new Error(`ResponseURL answered HTTP ${res.statusCode}`));
      else res.on('end', resolve);
    });
    req.on('timeout', () => req.destroy(new Error('ResponseURL timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const kms = new KMSClient({});

export async function handler(event: PublicKeyResourceEvent): Promise<void> {
  await sendResponse(event.ResponseURL, await publicKeyResponse(event, kms));
}
