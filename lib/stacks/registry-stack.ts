import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type { Construct } from 'constructs';
import type { ContainerService, WatchyConfig } from '@core/config';
import { ImageRepository } from '../constructs/registry/image-repository';

export interface RegistryStackProps extends StackProps {
  readonly services: readonly ContainerService[];
  readonly registry: WatchyConfig['registry'];
  /** Repositories are named `{repositoryNamespace}/{service}`, e.g. `watchy/status-api`. */
  readonly repositoryNamespace: string;
}

/** One ECR repository per container service of the catalog. */
export class RegistryStack extends Stack {
  /** Keyed by service name. */
  readonly repositories: ReadonlyMap<string, ecr.Repository>;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    const repositories = new Map<string, ecr.Repository>();
    for (const service of props.services) {
      const { repository } = new ImageRepository(this, `${pascal(service.name)}Repository`, {
        repositoryName: `${props.repositoryNamespace}/${service.name}`,
        keepTaggedImages: service.keepTaggedImages,
        untaggedExpiryDays: props.registry.untaggedExpiryDays,
        mutableTagExclusions: service.mutableTagExclusions,
        crossAccountPullAccounts: props.registry.crossAccountPullAccounts,
      });
      repositories.set(service.name, repository);
      new CfnOutput(this, `${pascal(service.name)}RepositoryUri`, {
        description: `ECR repository of ${service.name}`,
        value: repository.repositoryUri,
      });
    }
    this.repositories = repositories;
  }
}

/** `webhook-relay` -> `WebhookRelay` (construct ids). */
function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
