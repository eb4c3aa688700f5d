/**
 * cdk-nag acknowledgements name one finding on one construct and cover its subtree. A
 * `AwsSolutions-IAM5[Resource::*]` acknowledgement on a role would therefore also cover every later
 * wildcard statement on that role's default policy. These tests hold the platform to the narrow
 * form: each `Resource::*` acknowledgement sits on a policy of its own that holds only the actions
 * it names, so a new wildcard statement on any role is reported.
 */
import { Validations, type App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { nagFindingsAfter, type NagFinding } from '../support/synth';

// Two synths of every stack (without bundling) on a shared machine.
jest.setTimeout(300_000);

const WILDCARD = 'AwsSolutions-IAM5[Resource::*]';

/** Actions that have no resource-level permissions, each the reason of one acknowledgement. */
const NO_RESOURCE_LEVEL_ACTIONS = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'codepipeline:PutJobSuccessResult',
  'codepipeline:PutJobFailureResult',
  'ecr:GetAuthorizationToken',
  'lambda:ListFunctions',
]);

function acknowledgedIds(construct: IConstruct): string[] {
  return construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data)
    .flatMap((entry) => Object.keys(entry.data as Record<string, string>))
    .map((id) => id.replace(/^annotation::/i, ''));
}

function rolesOf(app: App): iam.Role[] {
  return app.node.findAll().filter((c): c is iam.Role => c instanceof iam.Role);
}

describe('wildcard-resource acknowledgements', () => {
  let app: App | undefined;
  let roles: string[] = [];
  let findings: NagFinding[] = [];

  beforeAll(() => {
    findings = nagFindingsAfter((tree) => {
      app = tree;
      const all = rolesOf(tree);
      roles = all.map((role) => role.node.path);
      for (const role of all) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ sid: 'Intruder', actions: ['s3:DeleteObject'], resources: ['*'] }),
        );
      }
    });
  });

  test('a new s3:DeleteObject on * added to any role of the app fails synth with a finding naming that role', () => {
    const reported = new Set(findings.filter((f) => f.rule === WILDCARD).map((f) => f.path));
    const unreported = roles.filter((role) => !reported.has(`${role}/DefaultPolicy/Resource`));
    expect(unreported).toEqual([]);
    // Every kind of role that carries a wildcard acknowledgement is among them.
    for (const kind of [
      '/Publish/Publish/Role',
      '/Rollback/Rollback/Role',
      '/Bisect/Function/Role',
      '/Bisect/ListCommits/Role',
      '/BuildNotifications/Function/Role',
      '/SigningPublicKey/Reader/Role',
      '/SlackMonitor/Monitor/Role',
      '/Projects/ImageStatusApiX8664/Project/Role',
      '/Projects/NuitkaX8664/Project/Role',
      '/Release/PublishActionRole',
      '/Release/Pipeline/Role',
      '/Release/Pipeline/Source/Source/CodePipelineActionRole',
    ]) {
      expect(roles.filter((path) => path.endsWith(kind))).toHaveLength(1);
    }
  });

  test('the app has no IAM role outside an iam.Role construct (none escapes the check above)', () => {
    const cfnRoles = app!.node
      .findAll()
      .filter((c) => (c as { cfnResourceType?: string }).cfnResourceType === 'AWS::IAM::Role');
    expect(cfnRoles.map((c) => c.node.scope!.node.path).sort()).toEqual([...roles].sort());
  });

  test('each Resource::* acknowledgement is on a policy of its own holding only actions without resource-level permissions', () => {
    const acknowledged = app!.node.findAll().filter((c) => acknowledgedIds(c).includes(WILDCARD));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const construct of acknowledged) {
      const where = construct.node.path;
      expect({ where, policy: construct instanceof iam.Policy }).toEqual({ where, policy: true });
      expect({ where, id: construct.node.id }).not.toEqual({ where, id: 'DefaultPolicy' });
      const statements = (construct as iam.Policy).document.toJSON() as {
        Statement: { Action: string | string[]; Resource: string | string[]; Effect: string }[];
      };
      for (const statement of statements.Statement) {
        const actions = [statement.Action].flat();
        expect({ where, unexpected: actions.filter((a) => !NO_RESOURCE_LEVEL_ACTIONS.has(a)) }).toEqual({
          where,
          unexpected: [],
        });
      }
    }
  });
});
