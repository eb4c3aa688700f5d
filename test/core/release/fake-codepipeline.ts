/**
 * A local endpoint that speaks CodePipeline's JSON protocol for the two reads the publisher makes,
 * ListActionExecutions (filtered by run) and ListPipelineExecutions, over a run history the test
 * writes. It exists because moto implements neither; the publisher's real `CodePipelineRuns` and
 * the SDK talk to it over HTTP as they would to CodePipeline. Requests are recorded.
 */
import { createServer, type Server } from 'node:http';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';

export interface FakeAction {
  readonly name: string;
  /** @default 'Succeeded' */
  readonly status?: string;
  readonly externalExecutionId?: string;
  readonly outputVariables?: Record<string, string>;
  /** @default the run's start time plus the action's position, in seconds */
  readonly startTime?: number;
}

export interface FakeRun {
  readonly id: string;
  /** Epoch seconds. */
  readonly startTime: number;
  readonly commit: string;
  readonly actions: readonly FakeAction[];
}

export class FakeCodePipeline {
  /** Runs by pipeline name, any order. */
  readonly runs = new Map<string, FakeRun[]>();
  readonly requests: { target: string; body: Record<string, unknown> }[] = [];
  private server: Server | undefined;
  private endpoint = '';

  /** Adds a run whose Source action says `branch` at `commit`, then `actions`. */
  addRun(
    pipeline: string,
    run: { id: string; startTime: number; branch: string; commit: string; actions: FakeAction[] },
  ): void {
    const source: FakeAction = {
      name: 'Source',
      outputVariables: { BranchName: run.branch, CommitId: run.commit },
    };
    const runs = this.runs.get(pipeline) ?? [];
    runs.push({
      id: run.id,
      startTime: run.startTime,
      commit: run.commit,
      actions: [source, ...run.actions],
    });
    this.runs.set(pipeline, runs);
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const target = String(request.headers['x-amz-target'] ?? '');
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        this.requests.push({ target, body });
        const runs = this.runs.get(String(body['pipelineName']));
        const reply = (status: number, value: unknown) => {
          response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
          response.end(JSON.stringify(value));
        };
        if (!runs) {
          reply(400, {
            __type: 'PipelineNotFoundException',
            message: `Account does not have a pipeline with name '${String(body['pipelineName'])}'`,
          });
          return;
        }
        if (target.endsWith('.ListPipelineExecutions')) {
          const newest = [...runs].sort((a, b) => b.startTime - a.startTime);
          reply(200, {
            pipelineExecutionSummaries: newest.slice(0, Number(body['maxResults'] ?? 100)).map((run) => ({
              pipelineExecutionId: run.id,
              status: 'InProgress',
              startTime: run.startTime,
              sourceRevisions: [{ actionName: 'Source', revisionId: run.commit }],
            })),
          });
          return;
        }
        if (target.endsWith('.ListActionExecutions')) {
          const id = (body['filter'] as { pipelineExecutionId?: string } | undefined)?.pipelineExecutionId;
          const run = runs.find((r) => r.id === id);
          if (!run) {
            reply(400, { __type: 'PipelineExecutionNotFoundException', message: `no execution ${id}` });
            return;
          }
          reply(200, {
            actionExecutionDetails: run.actions.map((action, i) => ({
              pipelineExecutionId: run.id,
              actionExecutionId: `${run.id}-${i}`,
              actionName: action.name,
              startTime: action.startTime ?? run.startTime + i,
              status: action.status ?? 'Succeeded',
              output: {
                ...(action.externalExecutionId
                  ? { executionResult: { externalExecutionId: action.externalExecutionId } }
                  : {}),
                outputVariables: action.outputVariables ?? {},
              },
            })),
          });
          return;
        }
        reply(400, { __type: 'UnknownOperationException', message: target });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  client(): CodePipelineClient {
    return new CodePipelineClient({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }
}
