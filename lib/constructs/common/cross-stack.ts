import { Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import type { Construct } from 'constructs';

/**
 * ECR repositories of another stack, seen through explicit exports (Fn::ImportValue). The implicit
 * reference would be a weak `Fn::GetStackOutput` under this app's `defaultCrossStackReferences`
 * setting, which cfn-lint rejects inside the `Fn::Split` that derives a repository URI from its ARN.
 */
export function importedRepositories(
  scope: Construct,
  repositories: ReadonlyMap<string, ecr.IRepository>,
): Map<string, ecr.IRepository> {
  const here = Stack.of(scope);
  return new Map(
    [...repositories].map(([name, repository]) => {
      const owner = Stack.of(repository);
      if (owner === here) return [name, repository];
      return [
        name,
        ecr.Repository.fromRepositoryAttributes(scope, `Repository-${name}`, {
          repositoryArn: owner.exportValue(repository.repositoryArn),
          repositoryName: owner.exportValue(repository.repositoryName),
        }),
      ];
    }),
  );
}
