/**
 * The embedded default: the Watchy catalog. `npx cdk synth` with no context synthesizes this.
 */
import { STAGE_NAMES, type StageName, type WatchyConfigInput } from './schema';

export { STAGE_NAMES, type StageName };

export const DEFAULT_CONFIG: WatchyConfigInput = {
  projectName: 'Watchy',
  source: {
    repository: 'watchy-cloud/watchy-release-platform',
    releaseBranch: 'main',
    integrationBranch: 'develop',
  },
  catalog: {
    nuitkaApps: [
      { name: 'slack', displayName: 'Slack', sourcePath: 'examples/monitors/slack' },
      { name: 'github', displayName: 'GitHub', sourcePath: 'examples/monitors/github' },
      { name: 'zoom', displayName: 'Zoom', sourcePath: 'examples/monitors/zoom' },
    ],
    rustWorkspace: { sourcePath: 'examples/rust-lambdas', architectures: ['arm64'] },
    containerServices: [
      {
        name: 'status-api',
        sourcePath: 'examples/services/status-api',
        builder: 'dockerfile',
        keepTaggedImages: 10,
      },
      {
        name: 'webhook-relay',
        sourcePath: 'examples/services/webhook-relay',
        builder: 'buildpacks',
        keepTaggedImages: 1,
      },
    ],
  },
};

/** Per-stage overrides, deep-merged over the default (arrays replace). */
export const STAGE_OVERRIDES = {
  beta: {
    distribution: { noncurrentVersionExpirationDays: 14, accessLogRetentionDays: 30 },
    build: { logRetentionDays: 14 },
    consumers: { enabled: true },
  },
  gamma: {
    distribution: { noncurrentVersionExpirationDays: 30, accessLogRetentionDays: 90 },
    build: { logRetentionDays: 30 },
  },
  prod: {
    distribution: { noncurrentVersionExpirationDays: 365, accessLogRetentionDays: 730 },
    build: { logRetentionDays: 365 },
    releaseControl: { autoRollbackOnBisect: true },
  },
} as const satisfies Record<StageName, DeepPartial<WatchyConfigInput>>;

export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;
