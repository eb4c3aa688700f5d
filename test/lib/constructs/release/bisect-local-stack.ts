/**
 * Synthesizes release-control constructs in a stack of their own (imported bucket, topic,
 * projects, functions) with cdk-nag, and runs the pinned cfn-lint and checkov on the template.
 * Used by the bisect, notifications and dashboard construct tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { cdkJsonContext, readFindings, type NagFinding } from '../../../support/synth';

const ROOT = join(__dirname, '..', '..', '..', '..');

export interface LocalSynth {
  readonly template: Template;
  readonly findings: NagFinding[];
  readonly file: string;
  cleanup(): void;
}

export function synthLocal(build: (stack: Stack) => void): LocalSynth {
  const outdir = mkdtempSync(join(tmpdir(), 'watchy-construct-'));
  const app = new App({ outdir, context: cdkJsonContext() });
  const stack = new Stack(app, 'ConstructTest', { env: { account: '123456789012', region: 'us-east-1' } });
  build(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  try {
    app.synth();
  } catch {
    // cdk-nag findings fail synth; they are read from the report.
  }
  const file = join(outdir, 'ConstructTest.template.json');
  return {
    template: Template.fromJSON(JSON.parse(readFileSync(file, 'utf8'))),
    findings: readFindings(outdir),
    file,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** cfn-lint's parseable output (empty when clean) and checkov's failed checks. */
export function lintTemplate(file: string): { cfnLint: string; checkovFailed: string[] } {
  const lint = spawnSync(join(ROOT, '.venv', 'bin', 'cfn-lint'), ['--format', 'parseable', '--', file], {
    encoding: 'utf8',
  });
  const checkov = spawnSync(
    join(ROOT, '.venv', 'bin', 'checkov'),
    ['-f', file, '--framework', 'cloudformation', '--compact', '--quiet', '-o', 'json'],
    { encoding: 'utf8', env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', LOG_LEVEL: 'ERROR' } },
  );
  // A template with no resource checkov checks (a dashboard alone) gives a bare summary, no results.
  const report = JSON.parse(checkov.stdout) as {
    results?: { failed_checks: { check_id: string; resource: string }[] };
    failed?: number;
  };
  if (!report.results && report.failed !== 0)
    throw new Error(`checkov: unexpected output ${checkov.stdout.slice(0, 200)}`);
  return {
    cfnLint: lint.stdout.trim(),
    checkovFailed: (report.results?.failed_checks ?? []).map((c) => `${c.check_id} ${c.resource}`),
  };
}
