import { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Writes a checkov skip, with its reason, onto the CloudFormation resource of `construct`
 * (`Metadata.checkov.skip`), so the reason lives next to the resource it is about.
 */
export function acknowledgeCheckov(construct: IConstruct, checkId: string, reason: string): void {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`acknowledgeCheckov: ${construct.node.path} has no CloudFormation resource`);
  }
  const existing =
    (resource.getMetadata('checkov') as { skip?: { id: string; comment: string }[] } | undefined) ?? {};
  const skip = [...(existing.skip ?? []).filter((s) => s.id !== checkId), { id: checkId, comment: reason }];
  resource.addMetadata('checkov', { ...existing, skip });
}
