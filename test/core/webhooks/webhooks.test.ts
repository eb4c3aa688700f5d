/**
 * `POST /api/webhooks/github` and `/gitlab` over real HTTP, against moto over HTTP: the records
 * table (DynamoDB), the webhook secrets (Secrets Manager) and the release build projects
 * (CodeBuild: moto starts builds and records their source version; it keeps no overrides, so the
 * StartBuild requests themselves are checked as built). Payloads and headers are the providers'
 * documented ones (payloads.ts).
 */
import {
  BatchGetBuildsCommand,
  CodeBuildClient,
  CreateProjectCommand,
  DeleteProjectCommand,
  ListBuildsForProjectCommand,
} from '@aws-sdk/client-codebuild';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { MAX_API_BODY_BYTES } from '@core/api/contract';
import { devVersion } from '@core/build-env';
import { loadConfig } from '@core/config';
import {
  awsWebhookDeps,
  DELIVERY_RETENTION_DAYS,
  githubWebhook,
  gitlabWebhook,
  gitHubSignature,
  parsePush,
  planPush,
  startBuildInputs,
  type WebhookDeps,
  type WebhookSettings,
} from '@core/webhooks';
import { webhookSettings } from '@core/webhooks/settings';
import { startMoto, type MotoServer } from '../../support/moto-server';
import {
  CONNECTED_REPO,
  GITHUB_REPO,
  GITLAB_REPO,
  SHA_A,
  SHA_B,
  githubHeaders,
  githubPush,
  gitlabHeaders,
  gitlabPush,
} from './payloads';
import { serveRoutes, type TestApiServer } from './webhook-server';

const TABLE = 'watchy-records';
const SECRETS = {
  mirror: { name: 'watchy/webhooks/github-mirror', value: 'It’s a Secret to Everybody' },
  connected: { name: 'watchy/webhooks/github', value: 'connected-repository-secret' },
  gitlab: { name: 'watchy/webhooks/gitlab', value: 'glpat-webhook-token-0123' },
};
const NOW = new Date('2026-12-03T17:52:20.000Z');
const GITHUB = '/api/webhooks/github';
const GITLAB = '/api/webhooks/gitlab';

const config = loadConfig({
  overrides: {
    webhooks: {
      github: [
        { repository: GITHUB_REPO, secretName: SECRETS.mirror.name },
        { repository: CONNECTED_REPO, secretName: SECRETS.connected.name },
      ],
      gitlab: [{ repository: GITLAB_REPO, secretName: SECRETS.gitlab.name, branch: 'develop' }],
    },
  },
});
const projectName = (key: string, branchClass: string) =>
  `Watchy-Build-${branchClass === 'release' ? '' : `${branchClass}-`}${key}`;
const settings: WebhookSettings = webhookSettings(config, projectName);
const projects = [...new Set(settings.builds.map((b) => b.project))];

let moto: MotoServer;
let server: TestApiServer;
let deps: WebhookDeps;
let codebuild: CodeBuildClient;
let doc: DynamoDBDocumentClient;
let secretsManager: SecretsManagerClient;

beforeAll(async () => {
  moto = await startMoto();
  codebuild = new CodeBuildClient(moto.clientConfig);
  doc = DynamoDBDocumentClient.from(new DynamoDBClient(moto.clientConfig));
  secretsManager = new SecretsManagerClient(moto.clientConfig);
  server = await serveRoutes({
    [`POST ${GITHUB}`]: (request) => githubWebhook(request, deps),
    [`POST ${GITLAB}`]: (request) => gitlabWebhook(request, deps),
  });
});
afterAll(async () => {
  await server?.close();
  for (const client of [codebuild, doc, secretsManager]) client?.destroy();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  await new DynamoDBClient(moto.clientConfig).send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  for (const secret of Object.values(SECRETS)) {
    await secretsManager.send(new CreateSecretCommand({ Name: secret.name, SecretString: secret.value }));
  }
  for (const name of projects) await createProject(name);
  deps = {
    ...awsWebhookDeps({ settings, table: TABLE, dynamodb: doc, secretsManager, codebuild }),
    clock: () => NOW,
  };
});

async function createProject(name: string): Promise<void> {
  await codebuild.send(
    new CreateProjectCommand({
      name,
      source: { type: 'GITHUB', location: `https://github.com/${CONNECTED_REPO}.git` },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: {
        type: 'ARM_CONTAINER',
        image: 'aws/codebuild/amazonlinux-aarch64-standard:3.0',
        computeType: 'BUILD_GENERAL1_LARGE',
      },
      serviceRole: 'arn:aws:iam::123456789012:role/watchy-build',
    }),
  );
}

/** Every build moto started: project and source version. */
async function startedBuilds(): Promise<{ project: string; sourceVersion: string }[]> {
  const ids: string[] = [];
  for (const name of projects) {
    ids.push(...((await codebuild.send(new ListBuildsForProjectCommand({ projectName: name }))).ids ?? []));
  }
  if (ids.length === 0) return [];
  const { builds = [] } = await codebuild.send(new BatchGetBuildsCommand({ ids }));
  return builds.map((b) => ({ project: b.projectName!, sourceVersion: b.sourceVersion! }));
}

async function items(): Promise<Record<string, unknown>[]> {
  return ((await doc.send(new ScanCommand({ TableName: TABLE }))).Items ?? []) as Record<string, unknown>[];
}

function postGitHub(payload: unknown, options: { secret?: string; event?: string; delivery?: string } = {}) {
  const body = JSON.stringify(payload);
  return server.post(GITHUB, body, githubHeaders(body, options.secret ?? SECRETS.mirror.value, options));
}

function postGitLab(
  payload: unknown,
  options: { token?: string; event?: string; idempotencyKey?: string } = {},
) {
  return server.post(
    GITLAB,
    JSON.stringify(payload),
    gitlabHeaders(options.token ?? SECRETS.gitlab.value, options),
  );
}

async function expectNothingWritten(): Promise<void> {
  expect(await startedBuilds()).toEqual([]);
  expect(await items()).toEqual([]);
}

describe('webhook pushes', () => {
  test('a GitHub push touching the trigger paths records its commits and starts the release builds of the pushed commit', async () => {
    const answer = await postGitHub(githubPush());
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      provider: 'github',
      repository: GITHUB_REPO,
      commits: 2,
      commit: SHA_A,
      version: devVersion(SHA_A, NOW),
    });
    const releaseProjects = settings.builds.filter((b) => b.branchClass === 'release').map((b) => b.project);
    expect(answer.body['started']).toHaveLength(releaseProjects.length);
    const builds = await startedBuilds();
    expect(builds.map((b) => b.project).sort()).toEqual([...releaseProjects].sort());
    expect(new Set(builds.map((b) => b.sourceVersion))).toEqual(new Set([SHA_A]));
    const stored = await items();
    expect(stored.filter((i) => String(i['pk']).startsWith('COMMIT#'))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          pk: `COMMIT#${GITHUB_REPO}`,
          sk: SHA_B,
          author: 'Ada Lovelace',
          message: 'Slack monitor: retry rate-limited calls',
          at: '2026-12-03T17:52:20.000Z',
        }),
        expect.objectContaining({ pk: `COMMIT#${GITHUB_REPO}`, sk: SHA_A, author: 'Grace Hopper' }),
      ]),
    );
    expect(stored.find((i) => i['pk'] === 'DELIVERY#github')).toMatchObject({
      sk: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      expires: Math.floor(NOW.getTime() / 1000) + DELIVERY_RETENTION_DAYS * 86_400,
    });
  });

  test('the StartBuild requests (moto keeps no overrides): the configured clone URL at the commit, release mode, one version, idempotent per delivery', () => {
    const source = settings.sources.find((s) => s.repository === GITHUB_REPO)!;
    const plan = planPush(source, parsePush('github', githubPush()), settings, NOW);
    if (plan.kind !== 'start') throw new Error(`expected a start, got ${plan.reason}`);
    const inputs = startBuildInputs({ deliveryId: 'd-1', ...plan.request });
    const slackArm = inputs.find(
      (i) =>
        i.projectName === projectName('nuitka-arm64', 'release') &&
        i.environmentVariablesOverride?.some((v) => v.value === 'slack'),
    )!;
    expect(slackArm).toMatchObject({
      sourceVersion: SHA_A,
      sourceTypeOverride: 'GITHUB',
      sourceLocationOverride: `https://github.com/${GITHUB_REPO}.git`,
    });
    expect(Object.fromEntries(slackArm.environmentVariablesOverride!.map((v) => [v.name, v.value]))).toEqual({
      WATCHY_MODE: 'release',
      WATCHY_APP: 'slack',
      WATCHY_ARCH: 'arm64',
      WATCHY_VERSION: devVersion(SHA_A, NOW),
      WATCHY_BRANCH: 'main',
      WATCHY_SOURCE_URL: `https://github.com/${GITHUB_REPO}`,
    });
    expect(startBuildInputs({ deliveryId: 'd-1', ...plan.request }).map((i) => i.idempotencyToken)).toEqual(
      inputs.map((i) => i.idempotencyToken),
    );
    expect(new Set(inputs.map((i) => i.idempotencyToken)).size).toBe(inputs.length);
  });

  test('a GitLab push to the integration branch starts the integration projects at its commit', async () => {
    const answer = await postGitLab(gitlabPush({ ref: 'refs/heads/develop' }));
    expect(answer.status).toBe(202);
    const builds = await startedBuilds();
    expect(builds.length).toBeGreaterThan(0);
    expect(
      builds.every((b) => b.project.startsWith('Watchy-Build-integration-') && b.sourceVersion === SHA_B),
    ).toBe(true);
    expect(await items()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          pk: `COMMIT#${GITLAB_REPO}`,
          sk: SHA_B,
          author: 'Jordi Mallach',
          message: 'Rust lambdas: bump lambda_runtime\n\nSee the changelog.',
        }),
        expect.objectContaining({ pk: 'DELIVERY#gitlab', sk: 'f5e5f430-f57b-4e6e-9fac-d9128cd7232f' }),
      ]),
    );
  });

  test('a GitLab push whose commit list is truncated starts the builds: its changed files are not all known', async () => {
    const answer = await postGitLab(
      gitlabPush({
        ref: 'refs/heads/develop',
        total: 25,
        commits: [{ id: SHA_A, message: 'docs', author: 'A', modified: ['README.md'] }],
      }),
    );
    expect(answer.status).toBe(202);
    expect((await startedBuilds()).length).toBeGreaterThan(0);
  });

  test('a push to the CodeConnections source records its commits and leaves the start to the pipeline trigger', async () => {
    const answer = await postGitHub(githubPush({ repository: CONNECTED_REPO }), {
      secret: SECRETS.connected.value,
    });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ started: [], reason: expect.stringContaining('CodeConnections') });
    expect(await startedBuilds()).toEqual([]);
    expect((await items()).filter((i) => i['pk'] === `COMMIT#${CONNECTED_REPO}`)).toHaveLength(2);
  });

  test('a push to another branch, a tag or a deleted branch starts nothing', async () => {
    for (const [i, payload] of [
      githubPush({ ref: 'refs/heads/feature/x' }),
      githubPush({ ref: 'refs/tags/v1.2.3' }),
      githubPush({ deleted: true, after: '0000000000000000000000000000000000000000', commits: [] }),
    ].entries()) {
      const answer = await postGitHub(payload, { delivery: `delivery-${i}` });
      expect(answer.status).toBe(202);
      expect(answer.body['started']).toEqual([]);
    }
    expect(await startedBuilds()).toEqual([]);
  });

  test('ping → 200 after the signature check, nothing written', async () => {
    const answer = await postGitHub(
      { zen: 'Design for failure.', hook_id: 292430182, repository: { full_name: GITHUB_REPO } },
      { event: 'ping' },
    );
    expect(answer).toEqual({ status: 200, body: expect.objectContaining({ pong: true }) });
    await expectNothingWritten();
  });
});

describe('webhook refusals: one per case, nothing started', () => {
  test('bad signature → 401 and nothing started', async () => {
    const signedByOther = await postGitHub(githubPush(), { secret: 'not the secret' });
    expect(signedByOther.status).toBe(401);
    expect(signedByOther.body).toEqual({
      error: expect.stringContaining('X-Hub-Signature-256'),
      check: 'X-Hub-Signature-256',
    });
    // A body changed after signing (the signature of the original, the bytes of another).
    const original = JSON.stringify(githubPush());
    const tampered = JSON.stringify(githubPush({ after: SHA_B }));
    const headers = githubHeaders(original, SECRETS.mirror.value);
    expect((await server.post(GITHUB, tampered, headers)).status).toBe(401);
    const { 'x-hub-signature-256': _, ...unsigned } = headers;
    expect((await server.post(GITHUB, original, unsigned)).status).toBe(401);
    await expectNothingWritten();
  });

  test('bad GitLab token → 401 and nothing started', async () => {
    const answer = await postGitLab(gitlabPush({ ref: 'refs/heads/develop' }), {
      token: 'glpat-webhook-token-0124',
    });
    expect(answer).toEqual({ status: 401, body: { error: expect.any(String), check: 'X-Gitlab-Token' } });
    await expectNothingWritten();
  });

  test('the same delivery id again → 200 and nothing started', async () => {
    const first = await postGitHub(githubPush());
    expect(first.status).toBe(202);
    const before = await startedBuilds();
    const again = await postGitHub(githubPush());
    expect(again).toEqual({ status: 200, body: expect.objectContaining({ duplicate: true, started: [] }) });
    expect(await startedBuilds()).toEqual(before);
    // GitLab: the Idempotency-Key of a retried event.
    expect((await postGitLab(gitlabPush({ ref: 'refs/heads/develop' }))).status).toBe(202);
    const afterGitLab = await startedBuilds();
    expect((await postGitLab(gitlabPush({ ref: 'refs/heads/develop' }))).status).toBe(200);
    expect(await startedBuilds()).toEqual(afterGitLab);
  });

  test('unknown repository → 404', async () => {
    const answer = await postGitHub(githubPush({ repository: 'someone/else' }));
    expect(answer).toEqual({
      status: 404,
      body: { error: expect.stringContaining('someone/else'), check: 'webhooks.github in the config' },
    });
    expect((await postGitLab(gitlabPush({ repository: 'other/group/project' }))).status).toBe(404);
    await expectNothingWritten();
  });

  test('body over MAX_API_BODY_BYTES → 413', async () => {
    const payload = JSON.stringify(githubPush());
    const body = payload + ' '.repeat(MAX_API_BODY_BYTES + 1 - payload.length);
    const answer = await server.post(GITHUB, body, githubHeaders(body, SECRETS.mirror.value));
    expect(answer).toEqual({
      status: 413,
      body: { error: `request body is over ${MAX_API_BODY_BYTES} bytes`, check: 'body' },
    });
    await expectNothingWritten();
  });

  test('unknown event type → 202 ignored', async () => {
    const issues = await postGitHub(
      { action: 'opened', repository: { full_name: GITHUB_REPO } },
      { event: 'issues' },
    );
    expect(issues).toEqual({
      status: 202,
      body: expect.objectContaining({ ignored: expect.stringContaining('issues') }),
    });
    const gitlabIssue = await postGitLab(
      { object_kind: 'issue', project: { path_with_namespace: GITLAB_REPO } },
      { event: 'Issue Hook' },
    );
    expect(gitlabIssue.status).toBe(202);
    await expectNothingWritten();
  });

  test('push outside trigger paths → 202 and nothing started', async () => {
    const answer = await postGitHub(
      githubPush({
        commits: [
          {
            id: SHA_B,
            message: 'Docs',
            author: 'Ada Lovelace',
            modified: ['README.md', 'docs/decisions/005-pipeline.md'],
          },
          { id: SHA_A, message: 'CDK tidy', author: 'Ada Lovelace', modified: ['lib/stacks/build-stack.ts'] },
        ],
      }),
    );
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ started: [], reason: expect.stringContaining('trigger paths') });
    expect(await startedBuilds()).toEqual([]);
    // The commits are still recorded: builds and bisect reports name them.
    expect((await items()).filter((i) => String(i['pk']).startsWith('COMMIT#'))).toHaveLength(2);
  });

  test('malformed JSON → 400', async () => {
    const body = '{"ref": "refs/heads/main", "repository": {"full_name": ';
    const answer = await server.post(GITHUB, body, githubHeaders(body, SECRETS.mirror.value));
    expect(answer).toEqual({ status: 400, body: { error: 'body is not JSON', check: 'body' } });
    await expectNothingWritten();
  });

  test('a signed push without its commit, or without a delivery id → 400', async () => {
    const { after: _, ...noAfter } = githubPush();
    const answer = await postGitHub(noAfter);
    expect(answer).toEqual({ status: 400, body: { error: expect.stringContaining('after'), check: 'body' } });
    const body = JSON.stringify(githubPush());
    const { 'x-github-delivery': __, ...headers } = githubHeaders(body, SECRETS.mirror.value);
    expect((await server.post(GITHUB, body, headers)).body).toEqual({
      error: 'no delivery id header',
      check: 'x-github-delivery',
    });
    await expectNothingWritten();
  });

  test('a webhook secret that cannot be read → 500, nothing written', async () => {
    deps = { ...deps, secrets: { get: () => Promise.reject(new Error('AccessDeniedException')) } };
    const answer = await postGitHub(githubPush());
    expect(answer).toEqual({
      status: 500,
      body: { error: expect.any(String), check: `Secrets Manager secret ${SECRETS.mirror.name}` },
    });
    await expectNothingWritten();
  });

  test('StartBuild failing → 502 and the delivery id is forgotten, so the redelivery starts the builds', async () => {
    const missing = projectName('rust-arm64', 'release');
    await codebuild.send(new DeleteProjectCommand({ name: missing }));
    const failed = await postGitHub(githubPush());
    expect(failed).toEqual({
      status: 502,
      body: {
        error: expect.stringContaining(missing),
        check: 'codebuild:StartBuild on the release projects',
      },
    });
    expect((await items()).some((i) => i['pk'] === 'DELIVERY#github')).toBe(false);
    await createProject(missing);
    const redelivered = await postGitHub(githubPush());
    expect(redelivered.status).toBe(202);
    expect((await startedBuilds()).filter((b) => b.project === missing)).toHaveLength(1);
  });
});

test('the signature is GitHub’s: its documented test vector', () => {
  // docs.github.com "Validating webhook deliveries" > "Testing the webhook payload validation".
  expect(gitHubSignature('Hello, World!', "It's a Secret to Everybody")).toBe(
    'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
  );
});
