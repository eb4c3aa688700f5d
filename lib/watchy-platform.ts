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
import type { WatchyConfig } from '@core/config';
import { BuildStack } from './stacks/build-stack';
import { ConsumersStack } from './stacks/consumers-stack';
import { DistributionStack } from './stacks/distribution-stack';
import { PipelineStack } from './stacks/pipeline-stack';
import { RegistryStack } from './stacks/registry-stack';
import { ReleaseControlStack } from './stacks/release-control-stack';

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

  const distribution = new DistributionStack(scope, `${prefix}-Distribution`, {
    env,
    description: 'Watchy release bucket and CloudFront distribution of binaries/',
    stackPrefix: prefix,
    distribution: config.distribution,
  });
  const registry = new RegistryStack(scope, `${prefix}-Registry`, {
    env,
    description: 'Watchy ECR repositories of the container services',
    services: config.catalog.containerServices,
    registry: config.registry,
    repositoryNamespace: prefix.toLowerCase(),
  });
  stacks.push(distribution, registry);

  const build = new BuildStack(scope, `${prefix}-Build`, {
    env,
    description: 'Watchy CodeBuild projects (Nuitka, Rust, images, tests, scans) on Amazon Linux 2023',
    catalog: config.catalog,
    build: config.build,
    source: config.source,
    accessLogRetentionDays: config.distribution.accessLogRetentionDays,
    releaseBucket: distribution.releaseBucket,
    binaryDistributionUrl: distribution.binaryDistributionUrl,
    repositories: registry.repositories,
  });
  stacks.push(build);

  const releaseControl = new ReleaseControlStack(scope, `${prefix}-ReleaseControl`, {
    env,
    description: 'Watchy release control: signing key, publish and rollback functions, notifications',
    stackPrefix: prefix,
    source: config.source,
    releaseControl: config.releaseControl,
    releaseBucket: distribution.releaseBucket,
    distribution: distribution.distribution,
    binaryDistributionUrl: distribution.binaryDistributionUrl,
    buildProjects: [...build.projects.values()],
    rebuildProjects: build.rebuildProjects,
    publishingProjects: build.publishingProjects,
    // Bisect lists commits through the repository connection.
    repository: build.source,
    bisectProjects: build.bisectProjects,
  });
  stacks.push(releaseControl);

  const pipeline = new PipelineStack(scope, `${prefix}-Pipeline`, {
    env,
    description: 'Watchy release pipeline (pushes, manual versioned runs) and pull-request test pipeline',
    catalog: config.catalog,
    source: config.source,
    connection: build.source,
    projects: build.projects,
    targets: build.targets,
    repositories: registry.repositories,
    artifactBucket: build.artifactBucket,
    publishFunction: releaseControl.publishFunction,
    pipelineNames: releaseControl.pipelineNames,
  });
  stacks.push(pipeline);

  if (config.consumers.enabled) {
    const consumers = new ConsumersStack(scope, `${prefix}-Consumers`, {
      env,
      description:
        'Watchy example consumers: a monitor Lambda per app, loading its verified binary at cold start',
      apps: config.catalog.nuitkaApps,
      consumers: config.consumers,
      binaryDistributionUrl: distribution.binaryDistributionUrl,
      signingKey: releaseControl.signingKey.key,
    });
    stacks.push(consumers);
  }

  for (const stack of stacks) Tags.of(stack).add('project', 'watchy-release-platform');
  return { stacks };
}
