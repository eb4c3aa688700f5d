/**
 * Synthesizes the whole platform the way `npx cdk synth` does (cdk.json context and feature flags,
 * cdk-nag AwsSolutions + Serverless, esbuild bundling), for template tests.
 *
 *   const synth = synthPlatform();                                   // default config, cached
 *   const template = synth.template('Distribution');                 // or 'Watchy-Distribution'
 *   // an unacknowledged cdk-nag finding: synthPlatform throws a NagFindingsError (its .findings)
 *   synthPlatform({ overrides: { distribution: { domainName: ... } } });
 *   synthPlatform({ stage: 'prod' });
 *   synthPlatform({ overrides: ..., bundling: false });              // a config variant, no esbuild
 *   nagFindingsAfter((app) => ...);                                  // findings after editing the tree
 *
 * An unacknowledged cdk-nag finding makes synthPlatform throw a NagFindingsError listing every finding
 * (rule id, construct path, description), read from the assembly's validation-report.json.
 *
 * Caching: jest gives every test file a fresh module registry, so a module-level memo alone would
 * synthesize once per file. The assembly is therefore also kept on disk, keyed by the jest worker's
 * process id, the options and a fingerprint of the sources (path, size and mtime of every file under
 * bin/, lib/, lambda/ and buildspecs/, plus cdk.json and package-lock.json), so each worker
 * synthesizes each configuration once per `jest` run, later test files load the same cloud
 * assembly, and a worker kept alive by `jest --watch` synthesizes again after an edit. Directories
 * of finished processes are removed.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadConfig, type WatchyConfig } from '@core/config';
import { createPlatform } from '../../lib/watchy-platform';

const ROOT = join(__dirname, '..', '..');
const CACHE_PREFIX = 'watchy-synth-';

export interface SynthOptions {
  /** Deep-merged over the default config (and stage) last. @default none */
  readonly overrides?: unknown;
  /** One of beta, gamma, prod (as `-c stage=`). @default none */
  readonly stage?: string;
  /**
   * Bundle the Node Lambdas with esbuild, as `cdk synth` does. `false` skips it
   * (`aws:cdk:bundling-stacks: []`): templates are the same except the Lambda code asset hashes, so
   * tests of stacks without Lambdas (or of config variants) can save the bundling time. @default true
   */
  readonly bundling?: boolean;
}

/** One unacknowledged cdk-nag finding. */
export interface NagFinding {
  /** e.g. `AwsSolutions-S1` or `AwsSolutions-IAM5[Resource::*]`. */
  readonly rule: string;
  /** Construct path, e.g. `Watchy-Distribution/Releases/Bucket/Resource`. */
  readonly path: string;
  readonly description: string;
}

export interface SynthResult {
  readonly config: WatchyConfig;
  readonly assembly: cxapi.CloudAssembly;
  /** The cloud assembly directory (templates, assets, validation-report.json). */
  readonly outdir: string;
  readonly stacks: readonly cxapi.CloudFormationStackArtifact[];
  /** Unacknowledged cdk-nag findings; always empty when synthPlatform returns. */
  readonly findings: readonly NagFinding[];
  /** A stack's template by full name (`Watchy-Distribution`) or by suffix (`Distribution`). */
  template(stackName: string): Template;
  /** The raw template JSON of a stack, same lookup as `template`. */
  templateJson(stackName: string): CfnTemplate;
}

export interface CfnTemplate {
  Resources?: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
  Outputs?: Record<string, { Value: unknown; Description?: string; Export?: unknown }>;
  Parameters?: Record<string, unknown>;
  [section: string]: unknown;
}

export class NagFindingsError extends Error {
  override readonly name = 'NagFindingsError';
  constructor(readonly findings: readonly NagFinding[]) {
    super(
      `cdk-nag: ${findings.length} unacknowledged finding(s):\n` +
        findings.map((f) => `  ${f.rule} at ${f.path}: ${f.description}`).join('\n'),
    );
  }
}

/** Results, and failures too: a broken synth is reported by every test that needs it, not retried by each. */
const memo = new Map<string, SynthResult | Error>();

export function synthPlatform(options: SynthOptions = {}): SynthResult {
  const key = cacheKey(options);
  const cached = memo.get(key);
  if (cached instanceof Error) throw cached;
  if (cached) return cached;
  try {
    const config = loadConfig({ stage: options.stage, overrides: options.overrides });
    const outdir = join(workerCacheRoot(), key);
    const marker = join(outdir, 'watchy-synth-complete.json');
    if (!existsSync(marker)) {
      rmSync(outdir, { recursive: true, force: true });
      synthesizeInto(outdir, config, options.bundling ?? true);
      writeFileSync(marker, JSON.stringify({ options }));
    }
    const result = loadResult(outdir, config);
    memo.set(key, result);
    return result;
  } catch (error) {
    memo.set(key, error as Error);
    throw error;
  }
}

/**
 * The context `npx cdk synth` gives the app: cdk.json's feature flags plus what the CLI itself sets
 * (path and asset metadata, version reporting), so templates here equal the CLI's byte for byte.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return {
    ...cdkJson.context,
    'aws:cdk:enable-path-metadata': true,
    'aws:cdk:enable-asset-metadata': true,
    'aws:cdk:version-reporting': true,
  };
}

function synthesizeInto(outdir: string, config: WatchyConfig, bundling: boolean): void {
  mkdirSync(outdir, { recursive: true });
  const context = { ...cdkJsonContext(), ...(bundling ? {} : { 'aws:cdk:bundling-stacks': [] }) };
  const app = new App({ outdir, context });
  createPlatform(app, config);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  try {
    app.synth();
  } catch (error) {
    // The message is "Validation failed..." on a terminal and the formatted report elsewhere;
    // either way the report file says what failed.
    const findings = readFindings(outdir);
    if (findings.length > 0) throw new NagFindingsError(findings);
    throw error;
  }
  const findings = readFindings(outdir);
  if (findings.length > 0) throw new NagFindingsError(findings);
}

/**
 * Synthesizes the platform (no bundling, no cache) after `change` has edited the construct tree, and
 * returns the unacknowledged cdk-nag findings instead of throwing them: for tests that show a
 * change is reported. Any other synth failure is thrown.
 */
export function nagFindingsAfter(
  change: (app: App) => void,
  options: Pick<SynthOptions, 'overrides' | 'stage'> = {},
): NagFinding[] {
  const outdir = mkdtempSync(join(tmpdir(), 'watchy-nag-'));
  try {
    const app = new App({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    createPlatform(app, loadConfig({ stage: options.stage, overrides: options.overrides }));
    change(app);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    try {
      app.synth();
    } catch (error) {
      if (readFindings(outdir).length === 0) throw error;
    }
    return readFindings(outdir);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function loadResult(outdir: string, config: WatchyConfig): SynthResult {
  const assembly = new cxapi.CloudAssembly(outdir);
  const stacks = assembly.stacks;
  const find = (stackName: string): cxapi.CloudFormationStackArtifact => {
    const stack =
      stacks.find((s) => s.stackName === stackName) ??
      stacks.find((s) => s.stackName.endsWith(`-${stackName}`));
    if (!stack) {
      throw new Error(
        `synth: no stack ${stackName}; stacks are ${stacks.map((s) => s.stackName).join(', ')}`,
      );
    }
    return stack;
  };
  const templates = new Map<string, Template>();
  return {
    config,
    assembly,
    outdir,
    stacks,
    findings: readFindings(outdir),
    templateJson: (stackName) => find(stackName).template as CfnTemplate,
    template: (stackName) => {
      const name = find(stackName).stackName;
      let template = templates.get(name);
      if (!template) {
        template = Template.fromJSON(find(name).template as Record<string, unknown>);
        templates.set(name, template);
      }
      return template;
    },
  };
}

interface ValidationReport {
  pluginReports?: {
    pluginName: string;
    violations?: {
      ruleName: string;
      description: string;
      violatingConstructs: { constructPath: string }[];
    }[];
  }[];
}

/** Every violation in `<outdir>/validation-report.json` (none when the file is absent). */
export function readFindings(outdir: string): NagFinding[] {
  const file = join(outdir, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as ValidationReport;
  return (report.pluginReports ?? []).flatMap((plugin) =>
    (plugin.violations ?? []).flatMap((violation) =>
      violation.violatingConstructs.map((c) => ({
        rule: violation.ruleName,
        path: c.constructPath,
        description: violation.description,
      })),
    ),
  );
}

/** Asset hashes and the analytics blob replaced by stable placeholders, for snapshots. */
export function normalisedTemplate(template: unknown): unknown {
  const json = JSON.stringify(template)
    .replace(/[0-9a-f]{64}/g, '<asset-hash>')
    .replace(/"Analytics":"v2:deflate64:[^"]*"/g, '"Analytics":"<analytics>"');
  return JSON.parse(json) as unknown;
}

function cacheKey(options: SynthOptions): string {
  const text = JSON.stringify({
    stage: options.stage ?? null,
    overrides: options.overrides ?? null,
    bundling: options.bundling ?? true,
    sources: sourceFingerprint(),
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

const FINGERPRINTED_DIRS = ['bin', 'lib', 'lambda', 'buildspecs'];
const FINGERPRINTED_FILES = ['cdk.json', 'package-lock.json'];

/** Path, size and mtime of every source the synthesized templates depend on. */
function sourceFingerprint(): string {
  const hash = createHash('sha256');
  const add = (path: string) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        if (entry !== 'node_modules') add(join(path, entry));
      }
    } else {
      hash.update(`${path}\0${stat.size}\0${stat.mtimeMs}\n`);
    }
  };
  for (const name of [...FINGERPRINTED_DIRS, ...FINGERPRINTED_FILES]) add(join(ROOT, name));
  return hash.digest('hex');
}

let root: string | undefined;

/**
 * `$TMPDIR/watchy-synth-<pid>-<ppid>`: one per jest worker process. Directories of processes that
 * have exited are removed, and so is one left by an earlier process that had this pid (its parent
 * differs), so a reused pid never sees another run's templates.
 */
function workerCacheRoot(): string {
  if (root) return root;
  const own = `${CACHE_PREFIX}${process.pid}-${process.ppid}`;
  for (const entry of readdirSync(tmpdir())) {
    const match = new RegExp(`^${CACHE_PREFIX}(\\d+)-(\\d+)$`).exec(entry);
    if (!match || entry === own) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || !isAlive(pid)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  root = join(tmpdir(), own);
  mkdirSync(root, { recursive: true });
  return root;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
