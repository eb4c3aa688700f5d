/**
 * The platform: config in, stacks out. Stacks only wire constructs together; each takes the typed
 * slice of config it needs and the resources of the stacks before it.
 *
 *   Distribution ─┬─> Build ──> ReleaseControl ──> Pipeline
 *   Registry ─────┘                  └──────────> Consumers
 *
 * The pipeline has a stack of its own (not inside Build) because its Publish stage invokes the
 * publish Lambda, while ReleaseControl needs the build projects (bisect builds): keeping them apart
 * avoids a dependency cycle (docs/decisions/002-stacks.md).
 */
import { Stack, Tags, type Environment } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { WatchyConfig } from './config';

export interface WatchyPlatform {
  readonly stacks: readonly Stack[];
}

export function createPlatform(scope: Construct, config: WatchyConfig): WatchyPlatform {
  const env: Environment = { account: config.account, region: config.region };
  /** Stack names: `Watchy-Distribution`, or `Watchy-Prod-Distribution` for a stage. */
  const prefix = config.stage
    ? `${config.projectName}-${config.stage[0]!.toUpperCase()}${config.stage.slice(1)}`
    : config.projectName;
  const stacks: Stack[] = [];
  void env;
  void scope;
  void prefix;

  for (const stack of stacks) Tags.of(stack).add('project', 'watchy-release-platform');
  return { stacks };
}
