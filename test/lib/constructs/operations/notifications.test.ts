/**
 * The BuildNotifications construct in a stack of its own: EventBridge rules on ended builds and
 * pipeline executions, the notifier function and its permissions; cdk-nag, cfn-lint, checkov clean.
 */
import { Match } from 'aws-cdk-lib/assertions';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as sns from 'aws-cdk-lib/aws-sns';
import { NOTIFIER_ENV, NOTIFIER_METRICS_NAMESPACE } from '@core/notifications/contract';
import { BuildNotifications } from '../../../../lib/constructs/operations/notifications';
import { lintTemplate, synthLocal, type LocalSynth } from '../release/bisect-local-stack';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:watchy-notifications';
let synth: LocalSynth;

beforeAll(() => {
  synth = synthLocal((stack) => {
    new BuildNotifications(stack, 'Notifications', {
      topic: sns.Topic.fromTopicArn(stack, 'Topic', TOPIC),
      buildProjects: [
        codebuild.Project.fromProjectName(stack, 'Nuitka', 'watchy-nuitka-x86_64'),
        codebuild.Project.fromProjectName(stack, 'Tests', 'watchy-tests'),
      ],
      pipelineNamePrefix: 'Watchy-',
    });
  });
});
afterAll(() => synth.cleanup());

describe('BuildNotifications construct', () => {
  test('no unacknowledged cdk-nag findings', () => {
    expect(synth.findings).toEqual([]);
  });

  test('cfn-lint: no errors or warnings; checkov: no failed checks', () => {
    expect(lintTemplate(synth.file)).toEqual({ cfnLint: '', checkovFailed: [] });
  });

  test('ended builds of the platform projects reach the notifier', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codebuild'],
        'detail-type': ['CodeBuild Build State Change'],
        detail: {
          'build-status': ['FAILED', 'SUCCEEDED', 'STOPPED', 'FAULT', 'TIMED_OUT'],
          'project-name': ['watchy-nuitka-x86_64', 'watchy-tests'],
        },
      },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
  });

  test('ended executions of the platform pipelines (by name prefix) reach the notifier', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codepipeline'],
        'detail-type': ['CodePipeline Pipeline Execution State Change'],
        detail: {
          state: ['FAILED', 'SUCCEEDED', 'STOPPED', 'CANCELED', 'SUPERSEDED'],
          pipeline: [{ prefix: 'Watchy-' }],
        },
      },
    });
  });

  test('the notifier publishes to the topic, reads build commits and pipeline revisions, nothing more', () => {
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          [NOTIFIER_ENV.topicArn]: TOPIC,
          [NOTIFIER_ENV.metricsNamespace]: NOTIFIER_METRICS_NAMESPACE,
        }),
      },
    });
    const policies = Object.values(synth.template.findResources('AWS::IAM::Policy')) as {
      Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
    }[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      'codebuild:BatchGetBuilds',
      'codepipeline:GetPipelineExecution',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sns:Publish',
      'sqs:SendMessage',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const pipelines = statements.find((s) => s.Action === 'codepipeline:GetPipelineExecution')!;
    expect(JSON.stringify(pipelines.Resource)).toContain(':Watchy-*');
  });
});
