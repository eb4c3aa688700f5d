/**
 * Every synthesized template, linted by the pinned tools in .venv (tools/requirements.lock):
 * cfn-lint with zero errors and zero warnings, checkov with zero failed checks and a reason on
 * every skip, for the default config and for the prod stage. A failure prints the tools' own
 * findings (rule, file, resource, message), so whoever adds a stack sees what to fix.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NagFindingsError,
  synthPlatform,
  type CfnTemplate,
  type NagFinding,
  type SynthOptions,
  type SynthResult,
} from '../support/synth';

const ROOT = join(__dirname, '..', '..');
const CFN_LINT = join(ROOT, '.venv', 'bin', 'cfn-lint');
const CHECKOV = join(ROOT, '.venv', 'bin', 'checkov');
const TOOL_TIMEOUT_MS = 300_000;

jest.setTimeout(TOOL_TIMEOUT_MS + 60_000);

interface CfnLintMatch {
  Level: string;
  Message: string;
  Filename: string;
  Location: { Path?: (string | number)[]; Start: { LineNumber: number } };
  Rule: { Id: string };
}

interface CheckovReport {
  check_type: string;
  results: { failed_checks: CheckovFailure[] };
  summary: {
    passed: number;
    failed: number;
    skipped: number;
    parsing_errors: number;
    resource_count: number;
  };
}

interface CheckovFailure {
  check_id: string;
  check_name: string;
  resource: string;
  file_path: string;
}

function run(tool: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(tool, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: TOOL_TIMEOUT_MS,
    // checkov would otherwise try to download its guideline mappings (no network here).
    env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', LOG_LEVEL: 'ERROR' },
  });
  if (result.error) throw new Error(`${tool}: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function templateFiles(synth: SynthResult): string[] {
  return readdirSync(synth.outdir)
    .filter((f) => f.endsWith('.template.json'))
    .sort()
    .map((f) => join(synth.outdir, f));
}

function cfnLint(synth: SynthResult): string[] {
  const files = templateFiles(synth);
  expect(files.length).toBe(synth.stacks.length);
  const { status, stdout, stderr } = run(CFN_LINT, ['--format', 'json', '--', ...files]);
  let matches: CfnLintMatch[];
  try {
    matches = JSON.parse(stdout) as CfnLintMatch[];
  } catch {
    throw new Error(`cfn-lint exited ${status} without a JSON report: ${stderr.trim() || stdout.trim()}`);
  }
  if (status !== 0 && matches.length === 0) throw new Error(`cfn-lint exited ${status}: ${stderr.trim()}`);
  return matches
    .filter((m) => m.Level === 'Error' || m.Level === 'Warning')
    .map(
      (m) =>
        `${m.Level} ${m.Rule.Id} ${m.Filename.replace(`${synth.outdir}/`, '')}:${m.Location.Start.LineNumber}` +
        ` ${(m.Location.Path ?? []).join('/')}: ${m.Message}`,
    );
}

function checkov(synth: SynthResult): { failures: string[]; reports: CheckovReport[] } {
  const { status, stdout, stderr } = run(CHECKOV, [
    '-d',
    synth.outdir,
    '--framework',
    'cloudformation',
    '--compact',
    '--quiet',
    '-o',
    'json',
  ]);
  let parsed: CheckovReport | CheckovReport[];
  try {
    parsed = JSON.parse(stdout) as CheckovReport | CheckovReport[];
  } catch {
    throw new Error(
      `checkov exited ${status} without a JSON report: ${stderr.trim().split('\n').slice(-3).join(' ')}`,
    );
  }
  const reports = Array.isArray(parsed) ? parsed : [parsed];
  const failures = reports.flatMap((r) =>
    r.results.failed_checks.map((c) => `${c.check_id} ${c.file_path} ${c.resource}: ${c.check_name}`),
  );
  return { failures, reports };
}

/**
 * What `synth` made, or the unacknowledged cdk-nag findings that stopped it (synthPlatform throws
 * them as a NagFindingsError), so the cdk-nag test reports them as its own failed check.
 */
function synthesize(synth: () => SynthResult): { result?: SynthResult; findings: readonly NagFinding[] } {
  try {
    const result = synth();
    return { result, findings: result.findings };
  } catch (error) {
    if (error instanceof NagFindingsError) return { findings: error.findings };
    throw error;
  }
}

/** Every `Metadata.checkov.skip` in the templates, with its comment. */
function checkovSkips(synth: SynthResult): { where: string; id: string; comment: string }[] {
  return synth.stacks.flatMap((stack) =>
    Object.entries((stack.template as CfnTemplate).Resources ?? {}).flatMap(([logicalId, resource]) => {
      const checkovMetadata = resource.Metadata?.checkov as
        { skip?: { id?: string; comment?: string }[] } | undefined;
      return (checkovMetadata?.skip ?? []).map((s) => ({
        where: `${stack.stackName}/${logicalId}`,
        id: String(s.id ?? ''),
        comment: String(s.comment ?? ''),
      }));
    }),
  );
}

// The default config is synthesized as `cdk synth` does it; the prod stage skips esbuild bundling,
// which changes only Lambda asset hashes (test/support/synth.test.ts), not what the linters read.
describe.each<[string, SynthOptions]>([
  ['default config', {}],
  ['prod stage', { stage: 'prod', bundling: false }],
])('templates of the %s', (_name, options) => {
  let result: SynthResult | undefined;
  let findings: readonly NagFinding[] = [];
  /** The synthesized platform; the other checks need one, the cdk-nag test says why there is none. */
  const synthesized = (): SynthResult => {
    if (!result)
      throw new Error(`synth stopped at ${findings.length} cdk-nag finding(s), listed by the cdk-nag test`);
    return result;
  };

  beforeAll(() => {
    ({ result, findings } = synthesize(() => synthPlatform(options)));
  });

  test('synthesize with zero unacknowledged cdk-nag findings', () => {
    expect(findings.map((f) => `${f.rule} at ${f.path}: ${f.description}`)).toEqual([]);
    expect(synthesized().stacks.length).toBeGreaterThan(0);
  });

  test('cfn-lint: zero errors and zero warnings', () => {
    expect(cfnLint(synthesized())).toEqual([]);
  });

  test('checkov: zero failed checks over every resource', () => {
    const synth = synthesized();
    const { failures, reports } = checkov(synth);
    expect(failures).toEqual([]);
    const summary = reports.reduce(
      (sum, r) => ({
        resources: sum.resources + r.summary.resource_count,
        parsingErrors: sum.parsingErrors + r.summary.parsing_errors,
      }),
      { resources: 0, parsingErrors: 0 },
    );
    expect(summary.parsingErrors).toBe(0);
    // checkov looked at every resource of every template (a clean run over nothing means nothing).
    const resources = synth.stacks.reduce(
      (n, s) => n + Object.keys((s.template as CfnTemplate).Resources ?? {}).length,
      0,
    );
    expect(summary.resources).toBe(resources);
  });

  test('every checkov skip names a check and gives a reason', () => {
    const skips = checkovSkips(synthesized());
    // The templates do skip checks (each with its reason): none found means none were read.
    expect(skips.length).toBeGreaterThan(0);
    const bad = skips.filter((s) => !/^CKV2?_AWS_\d+$/.test(s.id) || s.comment.trim().length < 10);
    expect(bad).toEqual([]);
  });
});

describe('the linters catch what they should', () => {
  test('cdk-nag findings that stop a synth reach the cdk-nag check; other synth failures are thrown', () => {
    const finding: NagFinding = {
      rule: 'AwsSolutions-S1',
      path: 'Watchy-Distribution/Open/Resource',
      description: 'The S3 Bucket has server access logs disabled.',
    };
    expect(
      synthesize(() => {
        throw new NagFindingsError([finding]);
      }),
    ).toEqual({ findings: [finding] });
    expect(() =>
      synthesize(() => {
        throw new Error('no such stack');
      }),
    ).toThrow('no such stack');
  });

  test('cfn-lint and checkov report a deliberately broken template (so a clean run means something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-lint-'));
    writeFileSync(
      join(dir, 'Broken.template.json'),
      JSON.stringify({
        Resources: {
          OpenBucket: {
            Type: 'AWS::S3::Bucket',
            Properties: { VersioningConfiguration: { Status: 'Maybe' } },
          },
        },
      }),
    );
    const fake = { outdir: dir, stacks: [{}] } as unknown as SynthResult;
    expect(cfnLint(fake).join('\n')).toMatch(/E3030 Broken\.template\.json/);
    expect(checkov(fake).failures.join('\n')).toMatch(/CKV_AWS_18 .*AWS::S3::Bucket\.OpenBucket/);
  });
});
