/**
 * The publish Lambda's adapter over moto: CodePipeline jobs, direct invocations and forwarded
 * pointer operations. CodePipeline job results go to an in-process recorder behind the JobReporter
 * interface, because moto implements no PutJobSuccessResult/PutJobFailureResult; the pipeline's run
 * history comes from the local CodePipeline endpoint (moto has no ListActionExecutions); builds are
 * moto's.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { handlePublishEvent, type JobReporter, type PublishHandlerDeps } from '../../../lambda/publish/index';
import { PowertoolsReleaseTelemetry } from '@core/release/telemetry';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { closeReleaseWorld, releaseWorld, SETTINGS, type ReleaseWorld } from '../../core/release/fixtures';
import {
  addRun,
  BUILD_ACTION,
  INTEGRATION_PROJECT,
  MAIN_COMMIT,
  prefixOf,
  releasedKeys,
  stageAsBuild,
  startBuild,
  trustWorld,
  type TrustWorld,
} from '../../core/release/trusted-fixtures';

class RecordingJobReporter implements JobReporter {
  readonly calls: { kind: 'success' | 'failure'; jobId: string; text: string }[] = [];
  async succeed(jobId: string, summary: string) {
    this.calls.push({ kind: 'success', jobId, text: summary });
  }
  async fail(jobId: string, message: string) {
    this.calls.push({ kind: 'failure', jobId, text: message });
  }
}

let moto: MotoServer;
let world: ReleaseWorld;
let tw: TrustWorld;
let jobs: RecordingJobReporter;
let emf: string[];
let deps: PublishHandlerDeps;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
  tw = await trustWorld(moto);
});
beforeEach(() => {
  jobs = new RecordingJobReporter();
  emf = [];
  // With POWERTOOLS_DEV, Metrics writes its EMF documents through the global console (and with
  // POWERTOOLS_METRICS_DISABLED=false it still writes them).
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  jest
    .spyOn(console, 'log')
    .mockImplementation((...args: unknown[]) => void emf.push(args.map(String).join(' ')));
  const metrics = new Metrics({ namespace: 'Watchy/Releases', serviceName: 'publish' });
  deps = {
    release: { ...world.deps, telemetry: new PowertoolsReleaseTelemetry(metrics) },
    settings: SETTINGS,
    trust: tw.trust,
    jobs,
  };
});
afterEach(() => {
  jest.restoreAllMocks();
  delete process.env.POWERTOOLS_DEV;
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});
afterAll(async () => {
  await tw?.close();
  await closeReleaseWorld(world, moto);
});

const released = (): Promise<string[]> => releasedKeys(world);

const job = (id: string, parameters: unknown) => ({
  'CodePipeline.job': {
    id,
    data: {
      actionConfiguration: {
        configuration: {
          UserParameters: typeof parameters === 'string' ? parameters : JSON.stringify(parameters),
        },
      },
    },
  },
});

describe('publish handler', () => {
  test('CodePipeline job (recorded job results: moto has no PutJob* APIs): the run’s build is published, one-line summary', async () => {
    const buildId = await startBuild(tw, MAIN_COMMIT);
    const requestKey = await stageAsBuild(
      world,
      buildId,
      { version: '6.0.0', sourceRevision: MAIN_COMMIT },
      'main',
    );
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId, requestKey });
    const result = await handlePublishEvent(
      deps,
      job('job-1', { pipelineExecutionId: run, buildAction: BUILD_ACTION, pipeline: 'release' }),
    );
    expect(result).toEqual({ jobId: 'job-1' });
    expect(jobs.calls).toEqual([
      {
        kind: 'success',
        jobId: 'job-1',
        text: 'slack-monitor 6.0.0: created, promoted (metadata_version 1)',
      },
    ]);
  });

  test('CodePipeline job whose build names another build’s request: PutJobFailureResult with the one-line reason, nothing written', async () => {
    const other = await startBuild(tw, 'refs/heads/develop');
    const otherKey = await stageAsBuild(world, other, { version: '6.0.1' }, 'develop');
    const buildId = await startBuild(tw, MAIN_COMMIT);
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId, requestKey: otherKey });
    const before = await released();
    const result = await handlePublishEvent(
      deps,
      job('job-2', { pipelineExecutionId: run, buildAction: BUILD_ACTION, pipeline: 'release' }),
    );
    const reason = `${otherKey} is outside the staging prefix of build ${buildId} (${prefixOf(buildId)}); nothing was published`;
    expect(result).toEqual({ jobId: 'job-2', failed: reason });
    expect(jobs.calls).toEqual([{ kind: 'failure', jobId: 'job-2', text: reason }]);
    expect(await released()).toEqual(before);
  });

  test('CodePipeline job with the old UserParameters (the build’s request key and a branch) is refused', async () => {
    const before = await released();
    await handlePublishEvent(
      deps,
      job('job-3', {
        requestKey: 'staging/AROATEST:AWSCodeBuild-1/slack-monitor/6.0.0/publish-request.json',
        branch: 'main',
      }),
    );
    expect(jobs.calls).toHaveLength(1);
    expect(jobs.calls[0]).toMatchObject({ kind: 'failure', jobId: 'job-3' });
    expect(jobs.calls[0]!.text).toBe(
      'invalid Publish action UserParameters: pipelineExecutionId: required field is missing',
    );
    expect(await released()).toEqual(before);
  });

  test('CodePipeline job whose UserParameters are not JSON fails the job', async () => {
    await handlePublishEvent(deps, job('job-4', '{oops'));
    expect(jobs.calls).toEqual([
      { kind: 'failure', jobId: 'job-4', text: 'UserParameters are not JSON: {oops' },
    ]);
  });

  test('direct invocation by build id returns the outcome and emits Publishes and BinarySize metrics', async () => {
    const buildId = await startBuild(tw, 'refs/heads/develop', INTEGRATION_PROJECT);
    await stageAsBuild(world, buildId, { version: '6.1.0' }, 'develop');
    const outcome = await handlePublishEvent(deps, { buildId });
    expect(outcome).toMatchObject({
      results: [{ version: '6.1.0', branch: 'develop', versioned: 'created', pointer: 'not-promoted' }],
    });
    const documents = emf.map((line) => JSON.parse(line) as Record<string, unknown>);
    const names = documents.flatMap((d) =>
      (d._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]!.Metrics.map(
        (m) => m.Name,
      ),
    );
    expect(names).toEqual(expect.arrayContaining(['Publishes', 'BinarySize', 'CompressedSize']));
    const size = documents.find((d) => 'BinarySize' in d)!;
    expect(size).toMatchObject({ artifact: 'slack-monitor' });
    expect(size.BinarySize).toBeGreaterThan(1000);
    expect(jobs.calls).toEqual([]);
  });

  test('a direct invocation naming a key and a branch (a develop build’s request as main) is refused, nothing written', async () => {
    const buildId = await startBuild(tw, 'refs/heads/develop');
    const requestKey = await stageAsBuild(world, buildId, { version: '6.2.0' }, 'develop');
    const before = await released();
    await expect(handlePublishEvent(deps, { requestKey, branch: 'main' })).rejects.toThrow(
      /^invalid publish invocation: name the build \(buildId\), not a branch: the publisher takes the branch from the pipeline or CodeBuild$/,
    );
    expect(await released()).toEqual(before);
  });

  test('direct invocation with a bad event throws one line', async () => {
    await expect(handlePublishEvent(deps, { buildId: 42 })).rejects.toThrow(
      /^invalid publish invocation: buildId: .*expected string/i,
    );
  });

  test('a forwarded pointer operation runs the rollback core here, where the key is', async () => {
    const result = await handlePublishEvent(deps, {
      action: 'rollback',
      app: 'slack',
      version: '6.1.0',
      from: '6.0.0',
      requestId: 'fwd-1',
    });
    expect(result).toMatchObject({ outcome: 'rolled-back', from: '6.0.0', to: '6.1.0', metadataVersion: 2 });
  });
});
