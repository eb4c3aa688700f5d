/** Webhook secrets from Secrets Manager (moto over HTTP), kept for the TTL and read again after it. */
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CachedSecrets, SECRET_CACHE_TTL_MS } from '@core/webhooks';
import { startMoto, type MotoServer } from '../../support/moto-server';

let moto: MotoServer;
let client: SecretsManagerClient;
beforeAll(async () => {
  moto = await startMoto();
  client = new SecretsManagerClient(moto.clientConfig);
});
afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

test('a secret is read once per TTL: a rotated value is served after the TTL, not before', async () => {
  await client.send(new CreateSecretCommand({ Name: 'watchy/webhooks/github', SecretString: 'first' }));
  let now = 1_000_000;
  const secrets = new CachedSecrets(client, SECRET_CACHE_TTL_MS, () => now);
  expect(await secrets.get('watchy/webhooks/github')).toBe('first');
  await client.send(
    new PutSecretValueCommand({ SecretId: 'watchy/webhooks/github', SecretString: 'second' }),
  );
  now += SECRET_CACHE_TTL_MS - 1;
  expect(await secrets.get('watchy/webhooks/github')).toBe('first');
  now += 1;
  expect(await secrets.get('watchy/webhooks/github')).toBe('second');
});

test('a missing secret fails, and is not cached: the next delivery reads it again', async () => {
  const secrets = new CachedSecrets(client, SECRET_CACHE_TTL_MS, () => 0);
  await expect(secrets.get('watchy/webhooks/missing')).rejects.toThrow();
  await client.send(new CreateSecretCommand({ Name: 'watchy/webhooks/missing', SecretString: 'now here' }));
  expect(await secrets.get('watchy/webhooks/missing')).toBe('now here');
});
