/** The notifier's environment and metrics, shared by the Lambda, its construct and the dashboard. */

export const NOTIFIER_ENV = {
  topicArn: 'WATCHY_NOTIFICATION_TOPIC_ARN',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

/** CloudWatch namespace of the notifier's metrics. */
export const NOTIFIER_METRICS_NAMESPACE = 'Watchy/Pipelines';
/** Count of ended pipeline executions, dimensions `service`, `pipeline`, `state`. */
export const PIPELINE_EXECUTIONS_METRIC = 'PipelineExecutions';
