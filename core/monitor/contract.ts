/**
 * The monitor Lambda's environment contract: written by lib/constructs/consumers/monitor-function.ts, read by
 * the handler. Defined once here and imported by both.
 */
import { LoaderError } from '../loader/errors';

export const MONITOR_ENV = {
  /** `BinaryDistributionUrl`, e.g. `https://d111.cloudfront.net/binaries`. */
  distributionUrl: 'WATCHY_BINARY_DISTRIBUTION_URL',
  /** `slack-monitor` (x86_64) or `slack-monitor-arm64` (core/artifacts.ts). */
  artifactName: 'WATCHY_ARTIFACT_NAME',
  /** Base64 DER (SPKI) of the release signing key's public key, from KMS GetPublicKey at deploy time. */
  publicKey: 'WATCHY_PUBLIC_KEY',
  /** `true` accepts unsigned (seed-format) metadata. */
  allowUnsigned: 'WATCHY_ALLOW_UNSIGNED',
  /** Releases with a larger `binary_size` are refused: /tmp was sized for this. */
  maxBinaryBytes: 'WATCHY_MAX_BINARY_BYTES',
  /** Where verified binaries are kept. */
  binaryDir: 'WATCHY_BINARY_DIR',
  /** Warm invocations re-check the metadata (one conditional GET) at most this often. */
  refreshSeconds: 'WATCHY_REFRESH_SECONDS',
} as const;

export interface MonitorSettings {
  readonly metadataUrl: string;
  readonly publicKey?: string | Buffer;
  readonly allowUnsigned: boolean;
  readonly maxBinaryBytes?: number;
  readonly binaryDir: string;
  readonly refreshSeconds: number;
}

/** Defaults for what the construct does not set. */
export const DEFAULT_BINARY_DIR = '/tmp/watchy';
/** The latest pointers' CloudFront TTL is at most 60 s, so re-checking more often gains nothing. */
export const DEFAULT_REFRESH_SECONDS = 60;

/** `{BinaryDistributionUrl}/{name}/watchy-{name}.json` */
export function metadataUrlFor(distributionUrl: string, artifactName: string): string {
  return `${distributionUrl.replace(/\/+$/, '')}/${artifactName}/watchy-${artifactName}.json`;
}

/** Reads and checks the environment; a missing or malformed variable is one clear error. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): MonitorSettings {
  const get = (name: string): string => {
    const value = env[name];
    if (!value) throw new LoaderError('config', name, `environment variable ${name} is not set`);
    return value;
  };
  const distributionUrl = get(MONITOR_ENV.distributionUrl);
  if (!/^https?:\/\/[^\s/]+/.test(distributionUrl)) {
    throw new LoaderError('config', distributionUrl, `${MONITOR_ENV.distributionUrl} is not an http(s) URL`);
  }
  const allowUnsigned = env[MONITOR_ENV.allowUnsigned] === 'true';
  const key = env[MONITOR_ENV.publicKey];
  const number = (name: string, fallback?: number): number | undefined => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    if (!/^\d{1,15}$/.test(value)) throw new LoaderError('config', name, `${name} must be a whole number`);
    return Number(value);
  };
  return {
    metadataUrl: metadataUrlFor(distributionUrl, get(MONITOR_ENV.artifactName)),
    publicKey: key ? Buffer.from(key, 'base64') : undefined,
    allowUnsigned,
    maxBinaryBytes: number(MONITOR_ENV.maxBinaryBytes),
    binaryDir: env[MONITOR_ENV.binaryDir] || DEFAULT_BINARY_DIR,
    refreshSeconds: number(MONITOR_ENV.refreshSeconds, DEFAULT_REFRESH_SECONDS)!,
  };
}
