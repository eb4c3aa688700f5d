/**
 * `watchy cancel` as a process: builds are stopped on moto's CodeBuild over HTTP. Moto has no
 * StopPipelineExecution, so pipeline executions are stopped against a local HTTP endpoint that
 * speaks CodePipeline's JSON protocol and records each request.
 */
import { createServer, type Server } from 'node:http';
import {
  BatchGetBuildsCommand,
  CodeBuildClient,
  CreateProjectCommand,
  StartBuildCommand,
} from '@aws-sdk/client-codebuild';
import { startMoto, type MotoServer } from '../support/moto-server';
import { runWatchy } from './bisect-cli-process';

let moto: MotoServer;
let codebuild: CodeBuildClient;
let pipelineApi: Server;
let pipelineUrl: string;
const pipelineRequests: { target: string; body: Record<string, unknown> }[] = [];
let pipelineReply: { status: number; body: unknown } = { status: 200, body: {} };
const EXECUTION = '01234567-89ab-cdef-0123-456789abcdef';

beforeAll(async () => {
  moto = await startMoto();
  codebuild = new CodeBuildClient(moto.clientConfig);
  pipelineApi = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      pipelineRequests.push({
        target: String(request.headers['x-amz-target'] ?? ''),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'),
      });
      response.writeHead(pipelineReply.status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(pipelineReply.body));
    });
  });
  await new Promise<void>((r) => pipelineApi.listen(0, '127.0.0.1', r));
  const address = pipelineApi.address();
  pipelineUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  codebuild.destroy();
  pipelineApi.closeAllConnections();
  await new Promise((r) => pipelineApi.close(r));
  await moto.stop();
});
beforeEach(async () => {
  await moto.reset();
  pipelineRequests.length = 0;
  pipelineReply = { status: 200, body: { pipelineExecutionId: EXECUTION } };
});

async function startBuild(): Promise<string> {
  await codebuild.send(
    new CreateProjectCommand({
      name: 'watchy-nuitka-x86_64',
      source: { type: 'GITHUB', location: 'https://github.com/watchy-cloud/watchy-release-platform.git' },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: { type: 'LINUX_CONTAINER', image: 'i', computeType: 'BUILD_GENERAL1_SMALL' },
      serviceRole: 'arn:aws:iam::123456789012:role/build',
    }),
  );
  return (await codebuild.send(new StartBuildCommand({ projectName: 'watchy-nuitka-x86_64' }))).build!.id!;
}

describe('watchy cancel', () => {
  test('stops a build by id (StopBuild on moto) and prints its state', async () => {
    const id = await startBuild();
    const run = await runWatchy(['cancel', id, '--endpoint-url', moto.endpoint]);
    expect(run).toMatchObject({ code: 0, stderr: '', stdout: `${id}: STOPPED (phase COMPLETED)\n` });
    const [build] = (await codebuild.send(new BatchGetBuildsCommand({ ids: [id] }))).builds ?? [];
    expect(build?.id).toBe(id);
  });

  test('stops a build given by its ARN', async () => {
    const id = await startBuild();
    const run = await runWatchy([
      'cancel',
      `arn:aws:codebuild:us-east-1:123456789012:build/${id}`,
      '--endpoint-url',
      moto.endpoint,
    ]);
    expect(run).toMatchObject({ code: 0, stdout: `${id}: STOPPED (phase COMPLETED)\n` });
  });

  test('a build that does not exist: exit 1, one line', async () => {
    const run = await runWatchy(['cancel', 'watchy-nuitka-x86_64:0000', '--endpoint-url', moto.endpoint]);
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^watchy cancel: cannot stop build watchy-nuitka-x86_64:0000: /);
  });

  test('stops a pipeline execution and waits for running actions by default', async () => {
    const run = await runWatchy([
      'cancel',
      EXECUTION,
      '--pipeline',
      'Watchy-Release',
      '--endpoint-url',
      pipelineUrl,
    ]);
    expect(run).toMatchObject({
      code: 0,
      stdout: `Watchy-Release execution ${EXECUTION}: stopping (running actions finish first)\n`,
    });
    expect(pipelineRequests).toEqual([
      {
        target: 'CodePipeline_20150709.StopPipelineExecution',
        body: { pipelineName: 'Watchy-Release', pipelineExecutionId: EXECUTION, abandon: false },
      },
    ]);
  });

  test('--abandon abandons the running actions and records the reason', async () => {
    const run = await runWatchy([
      'cancel',
      EXECUTION,
      '--pipeline',
      'Watchy-Release',
      '--abandon',
      '--reason',
      'bad push',
      '--endpoint-url',
      pipelineUrl,
    ]);
    expect(run.code).toBe(0);
    expect(pipelineRequests[0]!.body).toEqual({
      pipelineName: 'Watchy-Release',
      pipelineExecutionId: EXECUTION,
      abandon: true,
      reason: 'bad push',
    });
  });

  test('an execution that cannot be stopped: exit 1, the service error in one line', async () => {
    pipelineReply = {
      status: 400,
      body: {
        __type: 'PipelineExecutionNotStoppableException',
        message: 'Unable to stop pipeline execution: it already finished',
      },
    };
    const run = await runWatchy([
      'cancel',
      EXECUTION,
      '--pipeline',
      'Watchy-Release',
      '--endpoint-url',
      pipelineUrl,
    ]);
    expect(run).toMatchObject({
      code: 1,
      stderr: `watchy cancel: cannot stop Watchy-Release execution ${EXECUTION}: Unable to stop pipeline execution: it already finished\n`,
    });
  });

  test.each([
    [
      'no target',
      [],
      'watchy cancel: expected one BUILD-ID, or an EXECUTION-ID with --pipeline; see watchy cancel --help\n',
    ],
    [
      'a build id with a path',
      ['../x:1'],
      'watchy cancel: invalid build id "../x:1": expected project:uuid or a build ARN\n',
    ],
    [
      'an execution id that is not a uuid',
      ['abc', '--pipeline', 'Watchy-Release'],
      'watchy cancel: invalid pipeline execution id "abc"\n',
    ],
    [
      'a pipeline name with a slash',
      [EXECUTION, '--pipeline', 'a/b'],
      'watchy cancel: invalid pipeline name "a/b"\n',
    ],
    [
      '--abandon on a build',
      ['p:1', '--abandon'],
      'watchy cancel: --abandon and --reason apply to pipeline executions (--pipeline)\n',
    ],
  ])('bad input, %s: exit 2, one line, nothing sent', async (_name, args, stderr) => {
    const run = await runWatchy(['cancel', ...args, '--endpoint-url', pipelineUrl]);
    expect(run).toMatchObject({ code: 2, stderr });
    expect(pipelineRequests).toEqual([]);
  });
});
