import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { RELEASE_METRICS_NAMESPACE } from '@core/release/environment';
import { NOTIFIER_METRICS_NAMESPACE, PIPELINE_EXECUTIONS_METRIC } from '@core/notifications/contract';

export interface ReleaseDashboardProps {
  /** Build projects, by the label shown on the dashboard (`nuitka-x86_64`, ...). */
  readonly buildProjects: ReadonlyMap<string, codebuild.IProject>;
  /** Lambda functions, by label (`publish`, `rollback`, `bisect`, `notifier`). */
  readonly functions: ReadonlyMap<string, lambda.IFunction>;
  /** Dashboard name. @default generated */
  readonly dashboardName?: string;
  /** Period of the counts. @default Duration.hours(1) */
  readonly period?: Duration;
  /** Namespace of the publish function's metrics. @default RELEASE_METRICS_NAMESPACE ('Watchy/Releases') */
  readonly releaseMetricsNamespace?: string;
}

/**
 * The release dashboard: build successes, failures and durations per project (AWS/CodeBuild),
 * publishes, binary sizes and pointer moves (the publish function's Powertools metrics), pipeline
 * executions by outcome (the notifier's metric), and errors and throttles of every function.
 *
 * Release and pipeline metrics carry dimension values known only at run time (artifact, pipeline),
 * so their widgets use SEARCH expressions instead of a fixed list of metrics.
 */
export class ReleaseDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ReleaseDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.hours(1);
    const seconds = period.toSeconds();
    const releases = props.releaseMetricsNamespace ?? RELEASE_METRICS_NAMESPACE;
    const search = (namespace: string, dimensions: string[], metric: string, stat: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${[namespace, ...dimensions].join(',')}} MetricName="${metric}"', '${stat}', ${seconds})`,
        label,
        period,
        usingMetrics: {},
      });
    const projects = [...props.buildProjects.entries()];
    const functions = [...props.functions.entries()];

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(props.dashboardName && { dashboardName: props.dashboardName }),
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '# Watchy releases\nBuilds per project, releases published and rolled back, pipeline runs, and the health of the release functions. `watchy bisect status` shows running bisects.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Succeeded builds',
        left: projects.map(([label, p]) => p.metricSucceededBuilds({ label, period, statistic: 'Sum' })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Failed builds',
        left: projects.map(([label, p]) => p.metricFailedBuilds({ label, period, statistic: 'Sum' })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Build duration (average, seconds)',
        left: projects.map(([label, p]) => p.metricDuration({ label, period, statistic: 'Average' })),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Publishes per artifact',
        left: [search(releases, ['artifact', 'service'], 'Publishes', 'Sum', '')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Binary size per artifact (bytes)',
        left: [search(releases, ['artifact', 'service'], 'BinarySize', 'Maximum', '')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Pointer moves (promotions and rollbacks)',
        left: [search(releases, ['action', 'artifact', 'service'], 'PointerMoves', 'Sum', '')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Pipeline executions by outcome',
        left: [
          search(
            NOTIFIER_METRICS_NAMESPACE,
            ['pipeline', 'service', 'state'],
            PIPELINE_EXECUTIONS_METRIC,
            'Sum',
            '',
          ),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function errors',
        left: functions.map(([label, fn]) => fn.metricErrors({ label, period, statistic: 'Sum' })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function throttles',
        left: functions.map(([label, fn]) => fn.metricThrottles({ label, period, statistic: 'Sum' })),
        width: 8,
      }),
    );
  }
}
