/**
 * The Watchy monitor Lambda: loads its verified binary at init from `BinaryDistributionUrl` and runs
 * it per invocation (see ./monitor.ts). The environment contract is in ./contract.ts.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { BinaryLoader } from '@core/loader';
import { settingsFromEnv } from '@core/monitor/contract';
import { createMonitorHandler } from './monitor';

const logger = new Logger();
const settings = settingsFromEnv(process.env);
const loader = new BinaryLoader({
  metadataUrl: settings.metadataUrl,
  destDir: settings.binaryDir,
  publicKey: settings.publicKey,
  allowUnsigned: settings.allowUnsigned,
  maxBinaryBytes: settings.maxBinaryBytes,
  warn: (message) => logger.warn(message),
});
const initial = loader.load();
initial.then(
  (result) =>
    logger.info('monitor binary ready', {
      outcome: result.outcome,
      path: result.binary.path,
      version: result.binary.metadata.version,
    }),
  (error: unknown) => logger.error('no verified monitor binary', { error: (error as Error).message }),
);

export const handler = createMonitorHandler({ loader, initial, refreshSeconds: settings.refreshSeconds });
