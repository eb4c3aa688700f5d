/**
 * PipelineBranchResolver over HTTP against a local endpoint that speaks CodePipeline's JSON
 * protocol (moto has no ListActionExecutions), serving a run history of the release pipeline: one
 * run of main and one of develop. The requests the SDK sends are recorded and checked too.
 */
import { createServer, type Server } from 'node:http';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import type { BuildInfo } from '@core/bisect/build-runner';
import { PipelineBranchResolver } from '@core/bisect/pipeline-branch';

const MAIN_COMMIT = 'a'.repeat(40);
const DEVELOP_COMMIT = 'd'.repeat(40);
const PIPELINE = 'Watchy-Pipeline-Release1A2B3C';
let server: Server;
let client: CodePipelineClient;
const requests: { target: string; body: Record<string, unknown> }[] = [];

const executions = [
  {
    pipelineExecutionId: 'e-develop',
    startTime: 1_800_000_100,
    sourceRevisions: [{ actionName: 'Source', revisionId: DEVELOP_COMMIT }],
  },
  {
    pipelineExecutionId: 'e-main',
    startTime: 1_800_000_000,
    sourceRevisions: [{ actionName: 'Source', revisionId: MAIN_COMMIT }],
  },
];
const actions: Record<string, unknown[]> = {
  'e-main': [
    { actionName: 'tests', output: { outputVariables: { WATCHY_VERSION: '0.0.0-dev' } } },
    { actionName: 'Source', output: { outputVariables: { BranchName: 'main', CommitId: MAIN_COMMIT } } },
  ],
  'e-develop': [
    {
      actionName: 'Source',
      output: { outputVariables: { BranchName: 'develop', CommitId: DEVELOP_COMMIT } },
    },
  ],
};

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      requests.push({ target, body });
      let reply: unknown = {};
      if (target.endsWith('.ListPipelineExecutions')) reply = { pipelineExecutionSummaries: executions };
      if (target.endsWith('.ListActionExecutions')) {
        const id = (body['filter'] as { pipelineExecutionId: string }).pipelineExecutionId;
        reply = { actionExecutionDetails: actions[id] ?? [] };
      }
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  client = new CodePipelineClient({
    endpoint: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
});
afterAll(async () => {
  client.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  requests.length = 0;
});

const build = (over: Partial<BuildInfo>): BuildInfo => ({
  id: 'p:1',
  project: 'p',
  status: 'FAILED',
  complete: true,
  environment: {},
  initiator: `codepipeline/${PIPELINE}`,
  startTime: new Date(1_800_000_500 * 1000),
  ...over,
});

describe('PipelineBranchResolver (local CodePipeline endpoint: moto has no ListActionExecutions)', () => {
  test('a build of the main run gets main from the Source action of that run', async () => {
    const resolver = new PipelineBranchResolver(client, 'Watchy-Pipeline-');
    expect(await resolver.branchOf(build({ resolvedSourceVersion: MAIN_COMMIT }))).toBe('main');
    expect(requests.map((r) => r.target.split('.')[1])).toEqual([
      'ListPipelineExecutions',
      'ListActionExecutions',
    ]);
    expect(requests[0]!.body).toEqual({ pipelineName: PIPELINE, maxResults: 50 });
    expect(requests[1]!.body).toEqual({ pipelineName: PIPELINE, filter: { pipelineExecutionId: 'e-main' } });
  });

  test('a build of the develop run gets develop', async () => {
    const resolver = new PipelineBranchResolver(client, 'Watchy-Pipeline-');
    expect(await resolver.branchOf(build({ resolvedSourceVersion: DEVELOP_COMMIT }))).toBe('develop');
  });

  test('a run that started after the build is not its run', async () => {
    const resolver = new PipelineBranchResolver(client, 'Watchy-Pipeline-');
    const early = build({ resolvedSourceVersion: DEVELOP_COMMIT, startTime: new Date(1_800_000_050 * 1000) });
    expect(await resolver.branchOf(early)).toBeUndefined();
  });

  test('a commit no run built has no branch', async () => {
    const resolver = new PipelineBranchResolver(client, 'Watchy-Pipeline-');
    expect(await resolver.branchOf(build({ resolvedSourceVersion: 'e'.repeat(40) }))).toBeUndefined();
    expect(requests).toHaveLength(1);
  });

  test('builds not started by one of the platform pipelines are not looked up', async () => {
    const resolver = new PipelineBranchResolver(client, 'Watchy-Pipeline-');
    expect(
      await resolver.branchOf(build({ initiator: 'ops-user', resolvedSourceVersion: MAIN_COMMIT })),
    ).toBeUndefined();
    expect(
      await resolver.branchOf(build({ initiator: 'codepipeline/Other', resolvedSourceVersion: MAIN_COMMIT })),
    ).toBeUndefined();
    expect(requests).toEqual([]);
  });
});
