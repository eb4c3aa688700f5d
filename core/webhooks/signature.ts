/**
 * Webhook authentication, each provider by its own scheme, compared in constant time.
 *
 * GitHub: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body under the webhook
 * secret ("Validating webhook deliveries" in GitHub's docs). GitLab: `X-Gitlab-Token`, the secret
 * token itself ("Webhooks" in GitLab's docs). Neither ever compares strings with `===`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const GITHUB_SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** True when `header` is the HMAC-SHA256 of `rawBody` under `secret`. */
export function verifyGitHubSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (!secret) return false;
  const match = GITHUB_SIGNATURE.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!, 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return timingSafeEqual(given, expected);
}

/** `sha256=<hex>` of `rawBody` under `secret` (what GitHub sends; tests sign with it). */
export function gitHubSignature(rawBody: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/**
 * True when `header` equals `secret`. Both are hashed first, so the comparison takes the same time
 * whatever the lengths (timingSafeEqual needs equal lengths, and a length check would leak one).
 */
export function verifyGitLabToken(header: string | undefined, secret: string): boolean {
  if (!secret || header === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(header), digest(secret));
}
