import { Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NODE_MAJOR_VERSION } from '../../lambda/core/versions';

export interface WatchyFunctionProps {
  /** Path of the handler file (`lambda/<name>/index.ts`). */
  readonly entry: string;
  /** Human description shown in the console. */
  readonly description: string;
  /** Environment variables, merged over the house defaults. @default {} */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** Log retention. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** Reserved concurrency. @default none (account pool) */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Instruction set of the function. Bundles are plain JavaScript, so this only matters where the
   * function runs native code of one architecture (the monitors exec their binary). @default ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /** /tmp size in MiB. @default 512 */
  readonly ephemeralStorageMiB?: number;
  /**
   * How the function is invoked. `async` (EventBridge, SNS, S3 events) gets an encrypted dead-letter
   * queue; `sync` names its caller, which receives every error itself.
   */
  readonly invocation: { readonly kind: 'async' } | { readonly kind: 'sync'; readonly caller: string };
}

/** The Lambda runtime for every Node function; matches NODE_MAJOR_VERSION used by builds and bundling. */
export const NODE_RUNTIME = new lambda.Runtime(`nodejs${NODE_MAJOR_VERSION}.x`, lambda.RuntimeFamily.NODEJS, {
  supportsInlineCode: true,
});

/**
 * The house Node Lambda: esbuild bundle, ARM64, JSON logs, active tracing, its own log group
 * with retention, and its own role whose only built-in permission is writing to that log group.
 */
export class WatchyFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** Failed asynchronous invocations land here (only for `invocation.kind === 'async'`). */
  readonly deadLetterQueue?: sqs.Queue;

  constructor(scope: Construct, id: string, props: WatchyFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${Stack.of(this).stackName}/${id}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn, `${this.logGroup.logGroupArn}:log-stream:*`],
      }),
    );
    if (props.invocation.kind === 'async') {
      this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(this.deadLetterQueue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter queue of the function.',
      });
      Validations.of(this.deadLetterQueue).acknowledge({
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'A dead-letter queue is the end of the line; its messages are inspected by operators.',
      });
    }
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      deadLetterQueue: this.deadLetterQueue,
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: NODE_RUNTIME,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMiB ?? 512),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: id,
        ...props.environment,
      },
      bundling: {
        target: `node${NODE_MAJOR_VERSION}`,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        format: nodejs.OutputFormat.CJS,
        // Bundle the AWS SDK too: the versions in package-lock.json are the versions that run.
        externalModules: [],
      },
    });
    if (props.invocation.kind === 'sync') {
      Validations.of(this.function).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason: `Invoked synchronously by ${props.invocation.caller}, which receives and reports every error.`,
      });
    }
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (active tracing).',
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.logGroup.node.defaultChild as logs.CfnLogGroup)}.Arn>:log-stream:*]`,
      reason:
        "Log streams are created at run time with generated names inside this function's own log group.",
    });
  }
}
