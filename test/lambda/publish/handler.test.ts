/**
 * The publish Lambda's adapter over moto: CodePipeline jobs, direct invocations and forwarded
 * pointer operations. CodePipeline job results go to an in-process recorder behind the JobReporter
 * interface, because moto implements no PutJobSuccessResult/PutJobFailureResult.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { handlePublishEvent, type JobReporter, type PublishHandlerDeps } from '../../../lambda/publish/index';
import { PowertoolsReleaseTelemetry } from '../../../lambda/core/release/telemetry';
import { startMoto, type MotoServer } from '../../support/moto-server';
import {
  closeReleaseWorld,
  packageAndStage,
  releaseWorld,
  SETTINGS,
  type ReleaseWorld,
} from '../core/release/fixtures';

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
let jobs: RecordingJobReporter;
let emf: string[];
let deps: PublishHandlerDeps;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
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
    jobs,
  };
});
afterEach(() => {
  jest.restoreAllMocks();
  delete process.env.POWERTOOLS_DEV;
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});
afterAll(async () => {
  await closeReleaseWorld(world, moto);
});

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
  test('CodePipeline job (recorded job results: moto has no PutJob* APIs): success with a one-line summary', async () => {
    const requestKey = await packageAndStage(world, { version: '6.0.0' }, 'AROATEST:AWSCodeBuild-h1');
    const result = await handlePublishEvent(deps, job('job-1', { requestKey, branch: 'main' }));
    expect(result).toEqual({ jobId: 'job-1' });
    expect(jobs.calls).toEqual([
      {
        kind: 'success',
        jobId: 'job-1',
        text: 'slack-monitor 6.0.0: created, promoted (metadata_version 1)',
      },
    ]);
  });

  test('CodePipeline job with a refused request: PutJobFailureResult with the one-line reason, no throw', async () => {
    const result = await handlePublishEvent(
      deps,
      job('job-2', { requestKey: 'staging/x/../publish-request.json', branch: 'main' }),
    );
    expect(result).toMatchObject({ jobId: 'job-2' });
    expect(jobs.calls).toHaveLength(1);
    expect(jobs.calls[0]).toMatchObject({ kind: 'failure', jobId: 'job-2' });
    expect(jobs.calls[0]!.text).toMatch(
      /^invalid publish invocation: requestKey: expected a key under staging\//,
    );
  });

  test('CodePipeline job whose UserParameters are not JSON fails the job', async () => {
    await handlePublishEvent(deps, job('job-3', '{oops'));
    expect(jobs.calls).toEqual([
      { kind: 'failure', jobId: 'job-3', text: 'UserParameters are not JSON: {oops' },
    ]);
  });

  test('direct invocation returns the outcome and emits Publishes and BinarySize metrics', async () => {
    const requestKey = await packageAndStage(world, { version: '6.1.0' }, 'AROATEST:AWSCodeBuild-h2');
    const outcome = await handlePublishEvent(deps, { requestKey, branch: 'develop' });
    expect(outcome).toMatchObject({
      results: [{ version: '6.1.0', versioned: 'created', pointer: 'not-promoted' }],
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

  test('direct invocation with a bad event throws one line', async () => {
    await expect(handlePublishEvent(deps, { requestKey: 42, branch: 'main' })).rejects.toThrow(
      /^invalid publish invocation: requestKey: .*expected string/i,
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
