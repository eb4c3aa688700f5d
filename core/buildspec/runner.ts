/**
 * Runs a CodeBuild buildspec (version 0.2) on this machine, with CodeBuild's semantics:
 *
 * - Phases run in order: install, pre_build, build, post_build, then the artifacts upload.
 *   A failure in install or pre_build ends the build (straight to finalizing); a failure in build
 *   still runs post_build (with CODEBUILD_BUILD_SUCCEEDING=0); the artifacts are attempted after
 *   build and post_build, even when build failed.
 * - Within a phase, commands run one by one until one fails; `finally` commands run after the
 *   phase's commands whether they failed or not. `on-failure: CONTINUE` goes on to the next phase
 *   as if the phase had passed, but the build still ends FAILED.
 * - Each command runs in the buildspec's shell; exported variables and the working directory
 *   carry over to later commands and phases (CodeBuild runs them in one shell session), so
 *   `export X=...` in pre_build is seen in build. Shell functions and `set` options do not.
 * - Environment, lowest precedence first: this process's environment (the "image"), the
 *   buildspec's env.variables, the project's variables, the start-build overrides; plus the
 *   CODEBUILD_* variables a buildspec relies on (CODEBUILD_SRC_DIR, CODEBUILD_BUILD_ID,
 *   CODEBUILD_RESOLVED_SOURCE_VERSION, CODEBUILD_BUILD_SUCCEEDING, ...).
 * - env.exported-variables are read from the environment at the end of the build and returned.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { collectArtifacts, type CollectedArtifacts } from './artifacts';
import { PHASES, type Buildspec, type PhaseName } from './spec';

export type PhaseStatus = 'SUCCEEDED' | 'FAILED' | 'SKIPPED';

export interface PhaseResult {
  readonly phase: PhaseName | 'upload_artifacts';
  readonly status: PhaseStatus;
  readonly durationMs: number;
  /** `COMMAND_EXECUTION_ERROR: ...` naming the command, its exit status and its last output line. */
  readonly failure?: string;
}

export interface BuildResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly buildId: string;
  readonly phases: readonly PhaseResult[];
  /** The first failure of the build, one line. */
  readonly failure?: string;
  /** env.exported-variables with their final values (unset ones are absent). */
  readonly exported: Readonly<Record<string, string>>;
  readonly artifacts?: CollectedArtifacts;
}

export interface RunBuildspecOptions {
  readonly spec: Buildspec;
  /** Becomes CODEBUILD_SRC_DIR and the first command's working directory. */
  readonly sourceDir: string;
  /** Used in CODEBUILD_BUILD_ID (`<project>:<uuid>`) and as the default artifact name. */
  readonly projectName: string;
  /** The project's environment variables (over the buildspec's). @default {} */
  readonly projectVariables?: Readonly<Record<string, string>>;
  /** Start-build overrides (over everything). @default {} */
  readonly overrides?: Readonly<Record<string, string>>;
  /** The image's environment. @default process.env */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Where the artifacts section copies files (`<dir>/<artifact name>/`). @default no copy */
  readonly artifactsDir?: string;
  /** Receives progress lines and every command's output. @default process.stdout */
  readonly output?: Writable;
  /** Commit for CODEBUILD_RESOLVED_SOURCE_VERSION. @default none */
  readonly sourceVersion?: string;
}

/** Runs one command with the buildspec's shell and returns the environment and cwd it left. */
const WRAPPER = [
  '__watchy_env=$1 __watchy_cwd=$2 __watchy_cmd=$3',
  'shift 3',
  'trap \'__watchy_rc=$?; env -0 > "$__watchy_env"; pwd -P > "$__watchy_cwd"; exit $__watchy_rc\' EXIT',
  'eval "$__watchy_cmd"',
].join('\n');

/** Variables the shell manages itself: never carried from one command to the next. */
const SHELL_OWNED = new Set(['_', 'SHLVL', 'PWD', 'OLDPWD']);

function firstLine(command: string): string {
  const lines = command.trim().split('\n');
  const line = lines.find((l) => l.trim() && !/^\s*(#|set -)/.test(l)) ?? lines[0] ?? '';
  const short = line.trim().length > 100 ? `${line.trim().slice(0, 100)}…` : line.trim();
  return lines.length > 1 ? `${short} …` : short;
}

interface ShellState {
  env: Record<string, string>;
  cwd: string;
}

class CommandRunner {
  private tail = '';

  constructor(
    private readonly shell: 'bash' | 'sh',
    private readonly scratch: string,
    private readonly output: Writable,
  ) {}

  /** Runs `command`; updates `state` in place; returns the exit status and its last output line. */
  async run(command: string, state: ShellState): Promise<{ code: number; lastLine: string }> {
    const envFile = join(this.scratch, `env-${randomUUID()}`);
    const cwdFile = join(this.scratch, `cwd-${randomUUID()}`);
    this.tail = '';
    const child = spawn(this.shell, ['-c', WRAPPER, 'watchy-build', envFile, cwdFile, command], {
      cwd: state.cwd,
      env: state.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const forward = (chunk: Buffer) => {
      this.output.write(chunk);
      this.tail = (this.tail + chunk.toString('utf8')).slice(-4096);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    const code = await new Promise<number>((resolveCode) => {
      child.on('error', () => resolveCode(127));
      child.on('close', (status, signal) => resolveCode(status ?? (signal ? 128 : 1)));
    });
    const [envText, cwdText] = await Promise.all([
      readFile(envFile, 'utf8').catch(() => undefined),
      readFile(cwdFile, 'utf8').catch(() => undefined),
    ]);
    await Promise.all([rm(envFile, { force: true }), rm(cwdFile, { force: true })]);
    if (envText !== undefined) {
      const env: Record<string, string> = {};
      for (const entry of envText.split('\0')) {
        const eq = entry.indexOf('=');
        if (eq > 0 && !SHELL_OWNED.has(entry.slice(0, eq))) env[entry.slice(0, eq)] = entry.slice(eq + 1);
      }
      state.env = env;
    }
    if (cwdText?.trim()) state.cwd = cwdText.trim();
    const lastLine =
      this.tail
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .pop() ?? '';
    return { code, lastLine };
  }
}

export function buildEnvironment(options: RunBuildspecOptions, buildId: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.baseEnv ?? process.env)) {
    if (value !== undefined) env[key] = value;
  }
  Object.assign(env, options.spec.env.variables, options.projectVariables ?? {}, options.overrides ?? {});
  const sourceDir = resolve(options.sourceDir);
  const [project, uuid] = buildId.split(':');
  Object.assign(env, {
    CODEBUILD_SRC_DIR: sourceDir,
    CODEBUILD_BUILD_ID: buildId,
    CODEBUILD_BUILD_ARN: `arn:aws:codebuild:local:000000000000:build/${buildId}`,
    CODEBUILD_BUILD_NUMBER: '1',
    CODEBUILD_BUILD_IMAGE: 'local',
    CODEBUILD_INITIATOR: `watchy-build/${project ?? 'local'}`,
    CODEBUILD_START_TIME: String(Date.now()),
    CODEBUILD_BUILD_SUCCEEDING: '1',
    CODEBUILD_LOG_PATH: uuid ?? buildId,
    CODEBUILD_SOURCE_VERSION: options.sourceVersion ?? '',
    CODEBUILD_RESOLVED_SOURCE_VERSION: options.sourceVersion ?? '',
  });
  return env;
}

export async function runBuildspec(options: RunBuildspecOptions): Promise<BuildResult> {
  const output = options.output ?? process.stdout;
  const log = (line: string) => output.write(`[watchy build] ${line}\n`);
  const buildId = `${options.projectName}:${randomUUID()}`;
  const { spec } = options;
  const scratch = await mkdtemp(join(tmpdir(), 'watchy-build-'));
  const runner = new CommandRunner(spec.env.shell, scratch, output);
  const state: ShellState = { env: buildEnvironment(options, buildId), cwd: resolve(options.sourceDir) };
  const phases: PhaseResult[] = [];
  let failure: string | undefined;
  let succeeding = true;
  log(`build ${buildId} in ${state.cwd}`);

  const fail = (message: string) => {
    failure ??= message;
    succeeding = false;
    state.env['CODEBUILD_BUILD_SUCCEEDING'] = '0';
  };

  try {
    let stop = false;
    for (const name of PHASES) {
      const phase = spec.phases[name];
      const upper = name.toUpperCase();
      // install/pre_build failures end the build; build failures still run post_build.
      if (stop || !phase) {
        phases.push({ phase: name, status: 'SKIPPED', durationMs: 0 });
        if (phase) log(`== ${upper}: skipped`);
        continue;
      }
      const started = Date.now();
      log(`== ${upper} (${phase.commands.length} command${phase.commands.length === 1 ? '' : 's'})`);
      let phaseFailure: string | undefined;
      for (const command of phase.commands) {
        log(`Running command ${firstLine(command)}`);
        const { code, lastLine } = await runner.run(command, state);
        if (code !== 0) {
          phaseFailure =
            `COMMAND_EXECUTION_ERROR in ${upper}: ${firstLine(command)} exited with status ${code}` +
            (lastLine ? `: ${lastLine}` : '');
          break;
        }
      }
      for (const command of phase.finally ?? []) {
        log(`Running finally command ${firstLine(command)}`);
        const { code, lastLine } = await runner.run(command, state);
        if (code !== 0 && !phaseFailure) {
          phaseFailure =
            `COMMAND_EXECUTION_ERROR in ${upper} (finally): ${firstLine(command)} exited with status ${code}` +
            (lastLine ? `: ${lastLine}` : '');
        }
      }
      const durationMs = Date.now() - started;
      if (phaseFailure) {
        log(`== ${upper} FAILED after ${(durationMs / 1000).toFixed(1)} s: ${phaseFailure}`);
        phases.push({ phase: name, status: 'FAILED', durationMs, failure: phaseFailure });
        fail(phaseFailure);
        if (phase['on-failure'] === 'ABORT' && (name === 'install' || name === 'pre_build')) stop = true;
      } else {
        log(`== ${upper} succeeded in ${(durationMs / 1000).toFixed(1)} s`);
        phases.push({ phase: name, status: 'SUCCEEDED', durationMs });
      }
    }

    let artifacts: CollectedArtifacts | undefined;
    if (spec.artifacts && options.artifactsDir && !stop) {
      const started = Date.now();
      try {
        artifacts = await collectArtifacts(
          spec.artifacts,
          options.sourceDir,
          options.artifactsDir,
          options.projectName,
          state.env,
        );
        log(`== UPLOAD_ARTIFACTS: ${artifacts.files.length} file(s) to ${artifacts.dir}`);
        phases.push({ phase: 'upload_artifacts', status: 'SUCCEEDED', durationMs: Date.now() - started });
      } catch (error) {
        const message = `UPLOAD_ARTIFACTS: ${(error as Error).message}`;
        log(`== ${message}`);
        phases.push({
          phase: 'upload_artifacts',
          status: 'FAILED',
          durationMs: Date.now() - started,
          failure: message,
        });
        fail(message);
      }
    }

    const exported: Record<string, string> = {};
    for (const name of spec.env['exported-variables']) {
      const value = state.env[name];
      if (value !== undefined) exported[name] = value;
    }
    for (const [name, value] of Object.entries(exported)) log(`exported ${name}=${value}`);
    log(`build ${succeeding ? 'SUCCEEDED' : 'FAILED'}`);
    return {
      status: succeeding ? 'SUCCEEDED' : 'FAILED',
      buildId,
      phases,
      ...(failure ? { failure } : {}),
      exported,
      ...(artifacts ? { artifacts } : {}),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
