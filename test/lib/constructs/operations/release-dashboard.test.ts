/**
 * The ReleaseDashboard construct: builds per project (AWS/CodeBuild), publishes, binary sizes and
 * pointer moves (the publish function's namespace), pipeline executions (the notifier's metric),
 * and function errors and throttles. The dashboard body is checked widget by widget.
 */
import { Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RELEASE_METRICS_NAMESPACE } from '@core/release/environment';
import { NOTIFIER_METRICS_NAMESPACE } from '@core/notifications/contract';
import { ReleaseDashboard } from '../../../../lib/constructs/operations/release-dashboard';
import { lintTemplate, synthLocal, type LocalSynth } from '../release/bisect-local-stack';

interface Widget {
  properties: { title?: string; metrics?: unknown[][]; markdown?: string };
}

let synth: LocalSynth;
let widgets: Widget[];

beforeAll(() => {
  let stack!: Stack;
  synth = synthLocal((s) => {
    stack = s;
    new ReleaseDashboard(s, 'Dashboard', {
      dashboardName: 'Watchy-Releases',
      buildProjects: new Map([
        ['nuitka-x86_64', codebuild.Project.fromProjectName(s, 'Nuitka', 'watchy-nuitka-x86_64')],
        ['rust-arm64', codebuild.Project.fromProjectName(s, 'Rust', 'watchy-rust-arm64')],
      ]),
      functions: new Map([
        ['publish', lambda.Function.fromFunctionName(s, 'Publish', 'Watchy-publish')],
        ['bisect', lambda.Function.fromFunctionName(s, 'Bisect', 'Watchy-bisect')],
      ]),
    });
  });
  const dashboard = Object.values(synth.template.findResources('AWS::CloudWatch::Dashboard'))[0] as {
    Properties: { DashboardBody: unknown };
  };
  const body = stack.resolve(dashboard.Properties.DashboardBody) as
    { 'Fn::Join': [string, unknown[]] } | string;
  const text =
    typeof body === 'string'
      ? body
      : body['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  widgets = (JSON.parse(text) as { widgets: Widget[] }).widgets;
});
afterAll(() => synth.cleanup());

const byTitle = (title: string) => widgets.find((w) => w.properties.title === title)!;
const expressionOf = (title: string) =>
  (byTitle(title).properties.metrics![0]![0] as { expression: string }).expression;

describe('ReleaseDashboard construct', () => {
  test('no unacknowledged cdk-nag findings', () => {
    expect(synth.findings).toEqual([]);
  });

  test('cfn-lint: no errors or warnings; checkov: no failed checks', () => {
    expect(lintTemplate(synth.file)).toEqual({ cfnLint: '', checkovFailed: [] });
  });

  test('succeeded and failed builds and durations, per project, from AWS/CodeBuild', () => {
    for (const [title, metric] of [
      ['Succeeded builds', 'SucceededBuilds'],
      ['Failed builds', 'FailedBuilds'],
      ['Build duration (average, seconds)', 'Duration'],
    ] as const) {
      const metrics = byTitle(title).properties.metrics!;
      expect(metrics.map((m) => m.slice(0, 4))).toEqual([
        ['AWS/CodeBuild', metric, 'ProjectName', 'watchy-nuitka-x86_64'],
        ['AWS/CodeBuild', metric, 'ProjectName', 'watchy-rust-arm64'],
      ]);
    }
  });

  test('publishes, binary size and pointer moves are searched in the publish function namespace', () => {
    expect(expressionOf('Publishes per artifact')).toBe(
      `SEARCH('{${RELEASE_METRICS_NAMESPACE},artifact,service} MetricName="Publishes"', 'Sum', 3600)`,
    );
    expect(expressionOf('Binary size per artifact (bytes)')).toBe(
      `SEARCH('{${RELEASE_METRICS_NAMESPACE},artifact,service} MetricName="BinarySize"', 'Maximum', 3600)`,
    );
    expect(expressionOf('Pointer moves (promotions and rollbacks)')).toBe(
      `SEARCH('{${RELEASE_METRICS_NAMESPACE},action,artifact,service} MetricName="PointerMoves"', 'Sum', 3600)`,
    );
  });

  test('pipeline executions by outcome come from the notifier metric', () => {
    expect(expressionOf('Pipeline executions by outcome')).toBe(
      `SEARCH('{${NOTIFIER_METRICS_NAMESPACE},pipeline,service,state} MetricName="PipelineExecutions"', 'Sum', 3600)`,
    );
  });

  test('errors and throttles of every function', () => {
    expect(byTitle('Function errors').properties.metrics!.map((m) => m.slice(0, 4))).toEqual([
      ['AWS/Lambda', 'Errors', 'FunctionName', 'Watchy-publish'],
      ['AWS/Lambda', 'Errors', 'FunctionName', 'Watchy-bisect'],
    ]);
    expect(byTitle('Function throttles').properties.metrics!.map((m) => m[1])).toEqual([
      'Throttles',
      'Throttles',
    ]);
  });
});
