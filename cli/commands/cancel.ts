/**
 * `watchy cancel`: stops a CodeBuild build (StopBuild) or a CodePipeline execution
 * (StopPipelineExecution: stop and wait for the running actions, or abandon them).
 */
import { CodeBuildClient, StopBuildCommand } from '@aws-sdk/client-codebuild';
import { CodePipelineClient, StopPipelineExecutionCommand } from '@aws-sdk/client-codepipeline';
import { errorLine } from '@core/one-line';
import { CliError, UsageError } from '../errors';
import { ENDPOINT_OPTIONS, parseCommandArgs } from '../args';
import type { Command } from '../command';

const usage = `usage: watchy cancel BUILD-ID [--endpoint-url URL] [--region REGION]
       watchy cancel EXECUTION-ID --pipeline NAME [--abandon] [--reason TEXT] [--endpoint-url URL] [--region REGION]

Stops a CodeBuild build (BUILD-ID is project:uuid, or the build's ARN), or, with --pipeline, a
pipeline execution. A stopped pipeline execution finishes its running actions first ("stop and
wait"); --abandon stops it at once and abandons them. A bisect whose step is stopped ends as
cancelled.

  --pipeline NAME     the pipeline of EXECUTION-ID
  --abandon           abandon the running actions instead of waiting for them
  --reason TEXT       recorded with the stopped pipeline execution (at most 200 characters)
  --endpoint-url URL  a CodeBuild/CodePipeline-compatible endpoint (tests, local servers)
  --region REGION     AWS region (default from the environment)
`;

const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{1,254}:[A-Za-z0-9-]{1,100}$/;
const BUILD_ARN = /^arn:aws[a-z-]*:codebuild:[a-z0-9-]+:\d{12}:build\/(.+)$/;
const EXECUTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PIPELINE_NAME = /^[A-Za-z0-9.@_-]{1,100}$/;

export const command: Command = {
  name: 'cancel',
  summary: 'stop a CodeBuild build or a pipeline execution',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        pipeline: { type: 'string' },
        abandon: { type: 'boolean' },
        reason: { type: 'string' },
        ...ENDPOINT_OPTIONS,
      },
      true,
    );
    if (positionals.length !== 1) {
      throw new UsageError(
        'expected one BUILD-ID, or an EXECUTION-ID with --pipeline; see watchy cancel --help',
      );
    }
    const target = positionals[0]!;
    const config = {
      ...(values['endpoint-url'] && { endpoint: values['endpoint-url'] }),
      ...(values.region && { region: values.region }),
    };
    if (values.pipeline !== undefined) {
      if (!PIPELINE_NAME.test(values.pipeline))
        throw new UsageError(`invalid pipeline name ${JSON.stringify(values.pipeline)}`);
      if (!EXECUTION_ID.test(target))
        throw new UsageError(`invalid pipeline execution id ${JSON.stringify(target)}`);
      if (values.reason !== undefined && values.reason.length > 200) {
        throw new UsageError('--reason is longer than 200 characters');
      }
      const client = new CodePipelineClient(config);
      try {
        await client.send(
          new StopPipelineExecutionCommand({
            pipelineName: values.pipeline,
            pipelineExecutionId: target,
            abandon: values.abandon ?? false,
            ...(values.reason && { reason: values.reason }),
          }),
        );
      } catch (error) {
        throw new CliError(`cannot stop ${values.pipeline} execution ${target}: ${errorLine(error)}`);
      } finally {
        client.destroy();
      }
      process.stdout.write(
        `${values.pipeline} execution ${target}: ${values.abandon ? 'stopped, running actions abandoned' : 'stopping (running actions finish first)'}\n`,
      );
      return 0;
    }
    if (values.abandon || values.reason !== undefined) {
      throw new UsageError('--abandon and --reason apply to pipeline executions (--pipeline)');
    }
    const id = BUILD_ARN.exec(target)?.[1] ?? target;
    if (!BUILD_ID.test(id))
      throw new UsageError(
        `invalid build id ${JSON.stringify(target)}: expected project:uuid or a build ARN`,
      );
    const client = new CodeBuildClient(config);
    try {
      const response = await client.send(new StopBuildCommand({ id }));
      const build = response.build;
      process.stdout.write(
        `${build?.id ?? id}: ${build?.buildStatus ?? 'STOPPING'} (phase ${build?.currentPhase ?? 'unknown'})\n`,
      );
      return 0;
    } catch (error) {
      throw new CliError(`cannot stop build ${id}: ${errorLine(error)}`);
    } finally {
      client.destroy();
    }
  },
};
