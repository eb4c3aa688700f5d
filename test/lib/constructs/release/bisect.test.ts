/**
 * The Bisect construct in a stack of its own (imported bucket, topic, projects and rollback
 * function, so every resource and finding is the construct's): the function, the list-commits
 * project, the EventBridge rule and least-privilege permissions; cdk-nag with no findings.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { BISECT_ENV } from '@core/bisect/contract';
import { CLAIM_LEASE_MS } from '@core/bisect/engine';
import { Bisect } from '../../../../lib/constructs/release/bisect';
import { nagFindingsAfter, synthPlatform } from '../../../support/synth';
import { lintTemplate, synthLocal, type LocalSynth } from './bisect-local-stack';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:watchy-notifications';
let synth: LocalSynth;
let template: Template;

beforeAll(() => {
  synth = synthLocal((stack) => {
    new Bisect(stack, 'Bisect', {
      releaseBucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'watchy-releases'),
      topic: sns.Topic.fromTopicArn(stack, 'Topic', TOPIC),
      buildProjects: [
        codebuild.Project.fromProjectName(stack, 'Nuitka', 'watchy-nuitka-x86_64'),
        codebuild.Project.fromProjectName(stack, 'Rust', 'watchy-rust-arm64'),
      ],
      source: {
        codeBuildSourceType: 'GITHUB',
        cloneUrl: 'https://github.com/watchy-cloud/watchy-release-platform.git',
        connectionArn: 'arn:aws:codeconnections:us-east-1:123456789012:connection/0123abcd',
      },
      releaseBranch: 'main',
      releasePipelineNames: ['Watchy-Release'],
      retries: 2,
      autoRollback: true,
      rollbackFunction: lambda.Function.fromFunctionName(stack, 'Rollback', 'Watchy-rollback'),
      rollbackApps: ['slack', 'github'],
      functionName: 'Watchy-bisect',
    });
  });
  template = synth.template;
});
afterAll(() => synth.cleanup());

function policyOf(
  roleMatch: string,
): { Action: string | string[]; Resource: unknown; Condition?: unknown }[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([id]) => id.includes(roleMatch))
    .flatMap(
      ([, p]) =>
        (p as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement,
    );
}

const actionsOf = (statements: { Action: string | string[] }[]) =>
  statements.flatMap((s) => [s.Action].flat());

describe('Bisect construct', () => {
  test('no unacknowledged cdk-nag findings', () => {
    expect(synth.findings).toEqual([]);
  });

  test('cfn-lint: no errors or warnings; checkov: no failed checks', () => {
    expect(lintTemplate(synth.file)).toEqual({ cfnLint: '', checkovFailed: [] });
  });

  test('the bisect function: ARM64, named, configured from the props', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'Watchy-bisect',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          [BISECT_ENV.bucket]: 'watchy-releases',
          [BISECT_ENV.projects]: '["watchy-nuitka-x86_64","watchy-rust-arm64"]',
          [BISECT_ENV.retries]: '2',
          [BISECT_ENV.autoRollback]: 'true',
          [BISECT_ENV.releaseBranch]: 'main',
          [BISECT_ENV.releasePipelines]: '["Watchy-Release"]',
          [BISECT_ENV.rollbackApps]: '["slack","github"]',
          [BISECT_ENV.rollbackFunction]: 'Watchy-rollback',
          [BISECT_ENV.topicArn]: TOPIC,
          [BISECT_ENV.listProject]: { Ref: Match.stringLikeRegexp('ListCommits') },
        }),
      },
    });
  });

  test('the function times out before a claim lease ends (a stale claim is never from a running invocation)', () => {
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Timeout: number };
    }[];
    expect(fn!.Properties.Timeout * 1000).toBeLessThan(CLAIM_LEASE_MS);
  });

  test('every ended build of the bisected projects and the list project reaches the function, with a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codebuild'],
        'detail-type': ['CodeBuild Build State Change'],
        detail: {
          'build-status': ['FAILED', 'SUCCEEDED', 'STOPPED', 'FAULT', 'TIMED_OUT'],
          'project-name': [
            'watchy-nuitka-x86_64',
            'watchy-rust-arm64',
            { Ref: Match.stringLikeRegexp('ListCommits') },
          ],
        },
      },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: Match.anyValue() },
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
        }),
      ],
    });
  });

  test('the function starts and reads builds of those projects only (no wildcard)', () => {
    const statement = policyOf('BisectFunctionRole').find((s) =>
      actionsOf([s]).includes('codebuild:StartBuild'),
    )!;
    expect(actionsOf([statement]).sort()).toEqual([
      'codebuild:BatchGetBuilds',
      'codebuild:ListBuildsForProject',
      'codebuild:StartBuild',
    ]);
    const resources = JSON.stringify(statement.Resource);
    expect(resources).toContain('project/watchy-nuitka-x86_64');
    expect(resources).toContain('project/watchy-rust-arm64');
    expect(resources).not.toContain('project/*');
  });

  test('the function writes sessions under state/bisect/ only, and can neither sign nor write releases', () => {
    const statements = policyOf('BisectFunctionRole');
    const puts = statements.filter((s) => actionsOf([s]).includes('s3:PutObject'));
    expect(puts).toHaveLength(1);
    expect(JSON.stringify(puts[0]!.Resource)).toContain('/state/bisect/*');
    const actions = actionsOf(statements);
    expect(actions.filter((a) => a.startsWith('kms:'))).toEqual([]);
    expect(actions).not.toContain('s3:DeleteObject');
    const reads = statements.filter((s) => actionsOf([s]).includes('s3:GetObject'));
    expect(JSON.stringify(reads.map((s) => s.Resource))).toContain('/binaries/*/watchy-*.json');
    const list = statements.find((s) => actionsOf([s]).includes('s3:ListBucket'))!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['state/bisect/*'] } });
  });

  test('the function may invoke the rollback function and publish to the topic', () => {
    const statements = policyOf('BisectFunctionRole');
    const invoke = statements.find((s) => actionsOf([s]).includes('lambda:InvokeFunction'))!;
    expect(JSON.stringify(invoke.Resource)).toContain('function:Watchy-rollback');
    const publish = statements.find((s) => actionsOf([s]).includes('sns:Publish'))!;
    expect(publish.Resource).toBe(TOPIC);
  });

  test('the list-commits project clones the whole repository through the connection, at any commit', () => {
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Source: Match.objectLike({
        Type: 'GITHUB',
        Location: 'https://github.com/watchy-cloud/watchy-release-platform.git',
        GitCloneDepth: 0,
        Auth: {
          Type: 'CODECONNECTIONS',
          Resource: 'arn:aws:codeconnections:us-east-1:123456789012:connection/0123abcd',
        },
        BuildSpec: Match.stringLikeRegexp(
          "git log --first-parent --reverse --format='%H%x09%an <%ae>%x09%s'",
        ),
      }),
      Environment: Match.objectLike({ Type: 'ARM_CONTAINER', ComputeType: 'BUILD_GENERAL1_SMALL' }),
      EncryptionKey: Match.anyValue(),
    });
  });

  test('the list-commits project may write commit lists and nothing else in the bucket', () => {
    const statements = policyOf('ListCommitsRole');
    const s3Statements = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('s3:')));
    expect(s3Statements).toHaveLength(1);
    expect(actionsOf(s3Statements)).toEqual(['s3:PutObject']);
    expect(JSON.stringify(s3Statements[0]!.Resource)).toContain('/state/bisect/commits/*');
  });
});

describe('Bisect, notifications and dashboard in the ReleaseControl stack (whole platform, cdk synth)', () => {
  let platform: ReturnType<typeof synthPlatform>;
  beforeAll(() => {
    platform = synthPlatform();
  });

  test('no unacknowledged cdk-nag findings anywhere in the platform', () => {
    // synthPlatform throws on a finding; nagFindingsAfter reports them instead, so the check can fail.
    expect(nagFindingsAfter(() => undefined)).toEqual([]);
  });

  test('the bisect function is named for the CLI and bisects the binary and test projects, not images', () => {
    const template = platform.template('ReleaseControl');
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { FunctionName: 'Watchy-bisect' },
    });
    const [bisect] = Object.values(functions) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    const variables = bisect!.Properties.Environment.Variables;
    expect(variables[BISECT_ENV.retries]).toBe('1');
    expect(variables[BISECT_ENV.autoRollback]).toBe('false');
    expect(variables[BISECT_ENV.releaseBranch]).toBe('main');
    const projects = JSON.stringify(variables[BISECT_ENV.projects]);
    expect(projects).toMatch(/Nuitka/i);
    expect(projects).toMatch(/Rust/i);
    expect(projects).toMatch(/Tests/i);
    expect(projects).not.toMatch(/Image|PullRequest|Scan/i);
    expect(variables[BISECT_ENV.pipelinePrefix]).toBe('Watchy-Pipeline-');
  });

  test("the bisect function may read the platform pipelines' run history (the branch of a build)", () => {
    const policies = platform.template('ReleaseControl').findResources('AWS::IAM::Policy');
    const statements = Object.entries(policies)
      .filter(([id]) => id.startsWith('BisectFunctionRole'))
      .flatMap(
        ([, p]) =>
          (
            p as {
              Properties: {
                PolicyDocument: { Statement: { Sid?: string; Action: unknown; Resource: unknown }[] };
              };
            }
          ).Properties.PolicyDocument.Statement,
      );
    const branch = statements.find((s) => s.Sid === 'BranchOfPipelineBuilds')!;
    expect([branch.Action].flat().sort()).toEqual([
      'codepipeline:ListActionExecutions',
      'codepipeline:ListPipelineExecutions',
    ]);
    expect(JSON.stringify(branch.Resource)).toContain(':Watchy-Pipeline-*');
  });

  test('the list-commits project clones through the Build stack connection', () => {
    platform.template('ReleaseControl').hasResourceProperties('AWS::CodeBuild::Project', {
      Source: Match.objectLike({
        Auth: { Type: 'CODECONNECTIONS', Resource: Match.anyValue() },
        GitCloneDepth: 0,
      }),
    });
  });

  test('the notifier watches the builds and the platform pipelines; the dashboard exists', () => {
    const template = platform.template('ReleaseControl');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.codepipeline'],
        detail: Match.objectLike({ pipeline: [{ prefix: 'Watchy-Pipeline-' }] }),
      }),
    });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'Watchy-Releases' });
    template.hasOutput('BisectFunctionName', Match.anyValue());
  });

  test('prod turns the automatic emergency rollback on', () => {
    const prod = synthPlatform({ stage: 'prod' }).template('ReleaseControl');
    prod.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'Watchy-Prod-bisect',
      Environment: { Variables: Match.objectLike({ [BISECT_ENV.autoRollback]: 'true' }) },
    });
  });
});
