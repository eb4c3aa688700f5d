/**
 * A `Signer` backed by a KMS key (ECC_NIST_P256, SIGN_VERIFY): ECDSA_SHA_256 over the raw message,
 * returning KMS's DER signature unchanged. `keyId` is the key ARN, written into `signature.key_id`.
 *
 * MessageType RAW (KMS hashes the bytes) takes messages up to 4096 bytes; canonical metadata is
 * about 1 KB. Larger payloads are refused here rather than silently switched to DIGEST.
 */
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { KeyObject } from 'node:crypto';
import { toPublicKey, type Signer } from '../signing';

export const KMS_RAW_MESSAGE_LIMIT = 4096;

export class KmsSigner implements Signer {
  constructor(
    private readonly kms: KMSClient,
    readonly keyId: string,
  ) {}

  async sign(payload: Buffer): Promise<Buffer> {
    if (payload.length > KMS_RAW_MESSAGE_LIMIT) {
      throw new Error(
        `signing payload is ${payload.length} bytes, over KMS's ${KMS_RAW_MESSAGE_LIMIT}-byte RAW message limit`,
      );
    }
    const out = await this.kms.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: payload,
        MessageType: 'RAW',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    if (!out.Signature) throw new Error(`KMS returned no signature for ${this.keyId}`);
    return Buffer.from(out.Signature);
  }
}

/** The public half of a KMS signing key, for verifying what it signed. */
export async function kmsPublicKey(kms: KMSClient, keyId: string): Promise<KeyObject> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (!out.PublicKey) throw new Error(`KMS returned no public key for ${keyId}`);
  return toPublicKey(Buffer.from(out.PublicKey));
}
