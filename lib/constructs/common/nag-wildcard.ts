import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges `AwsSolutions-IAM5[Resource::…]` for one wildcard resource (e.g. `bucket.arnForObjects('binaries/*')`)
 * on `scope`, with its reason.
 *
 * The finding names the resource as cdk-nag renders it, which for a bucket of another stack is the
 * cross-stack reference CDK creates while preparing the app (after every construct exists). So the
 * id is computed in a validation hook, which runs after references are resolved and before cdk-nag,
 * from the same rendering cdk-nag uses: the acknowledgement names the exact finding, and it moves
 * with the bucket when the bucket moves.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  scope.node.addValidation({
    validate: () => {
      const rendered = flattenCfnReference(Stack.of(scope).resolve(resource));
      Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
      return [];
    },
  });
}
