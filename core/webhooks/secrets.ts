/**
 * Webhook secrets from Secrets Manager, kept for a short time (SECRET_CACHE_TTL_MS) so a burst of
 * deliveries reads each secret once, and a rotated secret is picked up within the TTL.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SECRET_CACHE_TTL_MS } from './contract';

export interface SecretSource {
  /** The SecretString of the named secret; throws when it cannot be read or is empty. */
  get(name: string): Promise<string>;
}

export class CachedSecrets implements SecretSource {
  private readonly cache = new Map<string, { readonly value: Promise<string>; readonly at: number }>();

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly ttlMs = SECRET_CACHE_TTL_MS,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get(name: string): Promise<string> {
    const cached = this.cache.get(name);
    if (cached && this.now() - cached.at < this.ttlMs) return cached.value;
    const value = this.read(name);
    this.cache.set(name, { value, at: this.now() });
    // A failed read is not kept: the next delivery tries again.
    value.catch(() => {
      if (this.cache.get(name)?.value === value) this.cache.delete(name);
    });
    return value;
  }

  private async read(name: string): Promise<string> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
    if (!out.SecretString)
      throw new Error(`secret ${name} has no SecretString (an empty secret would accept any signature)`);
    return out.SecretString;
  }
}
