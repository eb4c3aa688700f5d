/**
 * ES256 signatures over release metadata: `signature = {alg: "ES256", key_id, value}` where `value`
 * is the base64 DER ECDSA P-256/SHA-256 signature of `signingPayload(metadata)`.
 *
 * A `Signer` is anything that signs bytes with a P-256 key and returns DER: a KMS key in AWS
 * (`ECDSA_SHA_256`, message type RAW) or a local PEM key for tests and offline runs.
 * Node built-ins only: the consumer loader verifies with this module.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { signingPayload, type MetadataSignature, type WatchyMetadata } from './metadata';

export interface Signer {
  /** Written into `signature.key_id`. */
  readonly keyId: string;
  /** Returns the DER-encoded ECDSA P-256 signature of SHA-256(payload). */
  sign(payload: Buffer): Promise<Buffer>;
}

export class LocalKeySigner implements Signer {
  private readonly key: KeyObject;

  constructor(
    privateKeyPem: string | Buffer,
    readonly keyId: string,
  ) {
    this.key = createPrivateKey(privateKeyPem);
    if (this.key.asymmetricKeyType !== 'ec' || this.key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error('signing key must be an ECDSA P-256 (prime256v1) private key');
    }
  }

  async sign(payload: Buffer): Promise<Buffer> {
    return sign('sha256', payload, { key: this.key, dsaEncoding: 'der' });
  }
}

/** Returns a copy of `metadata` with a fresh signature (any old signature is replaced). */
export async function signMetadata(metadata: WatchyMetadata, signer: Signer): Promise<WatchyMetadata> {
  const { signature: _old, ...unsigned } = metadata;
  const der = await signer.sign(signingPayload(unsigned));
  const signature: MetadataSignature = { alg: 'ES256', key_id: signer.keyId, value: der.toString('base64') };
  return { ...unsigned, signature };
}

/** Accepts a PEM (SPKI) string/Buffer, a DER SPKI Buffer (as KMS GetPublicKey returns), or a KeyObject. */
export function toPublicKey(key: string | Buffer | KeyObject): KeyObject {
  if (typeof key === 'object' && 'asymmetricKeyType' in key) return key;
  const text = key.toString();
  const publicKey = text.includes('-----BEGIN')
    ? createPublicKey(text)
    : createPublicKey({ key: key as Buffer, format: 'der', type: 'spki' });
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('verification key must be an ECDSA P-256 public key');
  }
  return publicKey;
}

/** True only when `metadata.signature` is a valid ES256 signature by `publicKey`. */
export function verifyMetadataSignature(metadata: WatchyMetadata, publicKey: KeyObject): boolean {
  const signature = metadata.signature;
  if (!signature || signature.alg !== 'ES256') return false;
  const der = Buffer.from(signature.value, 'base64');
  try {
    return verify('sha256', signingPayload(metadata), { key: publicKey, dsaEncoding: 'der' }, der);
  } catch {
    return false;
  }
}
