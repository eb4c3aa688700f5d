/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each assertion checks the shape it reads */
/**
 * The Consumers stack, synthesized the way `npx cdk synth` does (cdk.json context, cdk-nag
 * AwsSolutions + Serverless, esbuild bundling) beside the real Distribution stack and the real
 * signing key construct, then linted with the pinned cfn-lint and checkov.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { MONITOR_ENV } from '@core/monitor/contract';
import { loadConfig, type WatchyConfig } from '@core/config';
import { ephemeralStorageFor } from '../../../lib/constructs/consumers/monitor-function';
import { SigningKey } from '../../../lib/constructs/release/signing-key';
import { ConsumersStack, DISTRIBUTION_URL_PATTERN } from '../../../lib/stacks/consumers-stack';
import { DistributionStack } from '../../../lib/stacks/distribution-stack';
import { cdkJsonContext, readFindings, type CfnTemplate } from '../../support/synth';

const ROOT = join(__dirname, '..', '..', '..');
jest.setTimeout(600_000);

interface Synth {
  outdir: string;
  json: CfnTemplate;
  template: Template;
  keyStack: Stack;
}

function synth(overrides: unknown = {}): Synth {
  const config: WatchyConfig = loadConfig({ overrides });
  const outdir = mkdtempSync(join(tmpdir(), 'watchy-consumers-'));
  const app = new App({ outdir, context: cdkJsonContext() });
  const distribution = new DistributionStack(app, 'Test-Distribution', {
    stackPrefix: 'Test',
    distribution: config.distribution,
  });
  const keyStack = new Stack(app, 'Test-ReleaseControl');
  const key = new SigningKey(keyStack, 'SigningKey', { alias: 'alias/Test-release-signing' });
  const consumers = new ConsumersStack(app, 'Test-Consumers', {
    apps: config.catalog.nuitkaApps,
    consumers: config.consumers,
    binaryDistributionUrl: distribution.binaryDistributionUrl,
    signingKey: key.key,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  try {
    app.synth();
  } finally {
    const findings = readFindings(outdir).filter((f) => f.path.startsWith('Test-Consumers/'));
    expect(findings.map((f) => `${f.rule} at ${f.path}`)).toEqual([]);
  }
  const template = Template.fromStack(consumers);
  return { outdir, json: template.toJSON() as CfnTemplate, template, keyStack };
}

let main: Synth;
beforeAll(() => {
  main = synth();
});
afterAll(() => (process.env.KEEP_SYNTH ? undefined : rmSync(main.outdir, { recursive: true, force: true })));

function resources(type: string): [string, any][] {
  return Object.entries(main.json.Resources ?? {}).filter(([, r]) => r.Type === type) as [string, any][];
}

function monitorFunctions(): [string, any][] {
  return resources('AWS::Lambda::Function').filter(([, f]) =>
    Boolean(f.Properties.Environment?.Variables?.[MONITOR_ENV.artifactName]),
  );
}

describe('Consumers stack', () => {
  test('one monitor function per catalog app, each loading its arm64 artifact on arm64', () => {
    const monitors = monitorFunctions();
    expect(
      monitors.map(([, f]) => f.Properties.Environment.Variables[MONITOR_ENV.artifactName]).sort(),
    ).toEqual(['github-monitor-arm64', 'slack-monitor-arm64', 'zoom-monitor-arm64']);
    for (const [, f] of monitors) expect(f.Properties.Architectures).toEqual(['arm64']);
  });

  test('BinaryDistributionUrl is a parameter; empty (its default) means the Distribution stack output', () => {
    const parameter = (main.json.Parameters as any).BinaryDistributionUrl;
    expect(parameter).toMatchObject({
      Type: 'String',
      Default: '',
      AllowedPattern: DISTRIBUTION_URL_PATTERN,
    });
    expect((main.json as any).Conditions.UsePlatformDistribution).toEqual({
      'Fn::Equals': [{ Ref: 'BinaryDistributionUrl' }, ''],
    });
    for (const [, f] of monitorFunctions()) {
      const url = f.Properties.Environment.Variables[MONITOR_ENV.distributionUrl];
      expect(url['Fn::If'][0]).toBe('UsePlatformDistribution');
      // A cross-stack reference to the Distribution stack's CloudFront domain.
      expect(JSON.stringify(url['Fn::If'][1])).toMatch(
        /"(Fn::ImportValue|Fn::GetStackOutput)".*Test-Distribution/,
      );
      expect(url['Fn::If'][2]).toEqual({ Ref: 'BinaryDistributionUrl' });
    }
  });

  test('the parameter pattern takes https URLs and empty, and refuses http and trailing slashes', () => {
    const pattern = new RegExp(DISTRIBUTION_URL_PATTERN);
    expect(pattern.test('')).toBe(true);
    expect(pattern.test('https://releases.watchy.cloud/binaries')).toBe(true);
    expect(pattern.test('https://d111abc.cloudfront.net/binaries')).toBe(true);
    expect(pattern.test('http://releases.watchy.cloud/binaries')).toBe(false);
    expect(pattern.test('https://releases.watchy.cloud/binaries/')).toBe(false);
  });

  test('monitors get the public key read from the signing key at deploy time', () => {
    const [resourceId, resource] = resources('Custom::WatchySigningPublicKey')[0]!;
    expect(JSON.stringify(resource.Properties.KeyId)).toMatch(
      /"(Fn::ImportValue|Fn::GetStackOutput)".*Test-ReleaseControl/,
    );
    for (const [, f] of monitorFunctions()) {
      expect(f.Properties.Environment.Variables[MONITOR_ENV.publicKey]).toEqual({
        'Fn::GetAtt': [resourceId, 'PublicKey'],
      });
      expect(f.Properties.Environment.Variables[MONITOR_ENV.allowUnsigned]).toBe('false');
    }
  });

  test('the public key reader may call only kms:GetPublicKey, on the signing key only', () => {
    const [, resource] = resources('Custom::WatchySigningPublicKey')[0]!;
    const readerArn = resource.Properties.ServiceToken['Fn::GetAtt'][0];
    const readerRole = (main.json.Resources as any)[readerArn].Properties.Role['Fn::GetAtt'][0];
    const policies = resources('AWS::IAM::Policy').filter(([, p]) =>
      p.Properties.Roles.some((r: any) => r.Ref === readerRole),
    );
    const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const kms = statements.filter((s: any) => JSON.stringify(s.Action).includes('kms:'));
    expect(kms).toEqual([
      expect.objectContaining({
        Action: 'kms:GetPublicKey',
        Effect: 'Allow',
        Resource: resource.Properties.KeyId,
      }),
    ]);
  });

  test('monitor roles have nothing but their own logs and tracing', () => {
    for (const [, f] of monitorFunctions()) {
      const role = f.Properties.Role['Fn::GetAtt'][0];
      const actions = resources('AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === role))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()))
        .sort();
      expect(actions).toEqual([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
  });

  test('/tmp is sized for the binary (installed, previous, download, unpack)', () => {
    expect(ephemeralStorageFor(256)).toBe(1088);
    expect(ephemeralStorageFor(16)).toBe(512);
    expect(ephemeralStorageFor(5000)).toBe(10240);
    for (const [, f] of monitorFunctions()) {
      expect(f.Properties.EphemeralStorage).toEqual({ Size: 1088 });
      expect(f.Properties.Environment.Variables[MONITOR_ENV.maxBinaryBytes]).toBe(String(256 * 1024 * 1024));
    }
  });

  test('monitor functions: Node 24, 512 MB, 30 s, JSON logs, active tracing', () => {
    for (const [, f] of monitorFunctions()) {
      expect(f.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        MemorySize: 512,
        Timeout: 30,
        LoggingConfig: { LogFormat: 'JSON' },
        TracingConfig: { Mode: 'Active' },
      });
    }
  });

  test('an app built only for x86_64 gets an x86_64 monitor loading the seed-named artifact', () => {
    const x86 = synth({
      catalog: {
        nuitkaApps: [
          {
            name: 'slack',
            displayName: 'Slack',
            sourcePath: 'examples/monitors/slack',
            architectures: ['x86_64'],
          },
        ],
      },
    });
    try {
      const fns = Object.values(x86.json.Resources ?? {}).filter(
        (r: any) =>
          r.Type === 'AWS::Lambda::Function' &&
          r.Properties.Environment?.Variables?.[MONITOR_ENV.artifactName],
      ) as any[];
      expect(fns).toHaveLength(1);
      expect(fns[0].Properties.Architectures).toEqual(['x86_64']);
      expect(fns[0].Properties.Environment.Variables[MONITOR_ENV.artifactName]).toBe('slack-monitor');
    } finally {
      rmSync(x86.outdir, { recursive: true, force: true });
    }
  });

  test('allowUnsigned reaches the monitors, which still verify signed metadata with the key', () => {
    const unsigned = synth({ consumers: { allowUnsigned: true } });
    try {
      const fns = Object.values(unsigned.json.Resources ?? {}).filter(
        (r: any) =>
          r.Type === 'AWS::Lambda::Function' &&
          r.Properties.Environment?.Variables?.[MONITOR_ENV.artifactName],
      ) as any[];
      for (const f of fns) {
        expect(f.Properties.Environment.Variables[MONITOR_ENV.allowUnsigned]).toBe('true');
        expect(f.Properties.Environment.Variables[MONITOR_ENV.publicKey]).toBeDefined();
      }
    } finally {
      rmSync(unsigned.outdir, { recursive: true, force: true });
    }
  });

  test('cfn-lint: no errors or warnings; checkov: no failed checks', () => {
    const file = join(main.outdir, 'Test-Consumers.template.json');
    const lint = spawnSync(join(ROOT, '.venv', 'bin', 'cfn-lint'), ['--format', 'parseable', '--', file], {
      encoding: 'utf8',
    });
    expect(lint.stdout.trim()).toBe('');
    expect(lint.status).toBe(0);
    const checkov = spawnSync(
      join(ROOT, '.venv', 'bin', 'checkov'),
      ['-f', file, '--framework', 'cloudformation', '--compact', '--quiet', '-o', 'json'],
      { encoding: 'utf8', env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', LOG_LEVEL: 'ERROR' } },
    );
    const report = JSON.parse(checkov.stdout) as {
      results: { failed_checks: { check_id: string; resource: string }[] };
    };
    expect(report.results.failed_checks.map((c) => `${c.check_id} ${c.resource}`)).toEqual([]);
  });

  test('the template keeps its shape (snapshot, asset hashes normalised)', () => {
    const text = JSON.stringify(main.json)
      .replace(/[0-9a-f]{64}/g, '<asset-hash>')
      .replace(/"Analytics":"v2:deflate64:[^"]*"/g, '"Analytics":"<analytics>"');
    expect(JSON.parse(text)).toMatchSnapshot();
  });
});
