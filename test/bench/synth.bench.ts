/**
 * `npm run bench -- synth`: how long `npx cdk synth` of the whole platform takes against the
 * smallest CDK app run the same way (one S3 bucket; test/bench/fixtures/one-bucket-app.ts).
 *
 * Both run through the real CLI (`node_modules/.bin/cdk synth --no-notices --quiet -o <tmp>`, the
 * platform from cdk.json, the baseline with `--app`), alternating so both see the same machine
 * load; the report is the ratio of medians (goal: at most 1.5x), wall-clock and CPU (the CPU time
 * of the whole process tree, steadier on a shared machine). A breakdown of the platform's own
 * process (module loading, construct tree with esbuild bundling, synth with cdk-nag; each measured
 * with and without cdk-nag and bundling) and the cost of `npx` per Lambda show where the time goes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = join(__dirname, '..', '..');
const CDK = join(ROOT, 'node_modules', '.bin', 'cdk');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const BASELINE_APP = 'npx tsx test/bench/fixtures/one-bucket-app.ts';
const PHASES = join(__dirname, 'fixtures', 'synth-phases.ts');
const RUNS = Number(process.env.SYNTH_BENCH_RUNS ?? 5);
const PHASE_RUNS = Number(process.env.SYNTH_BENCH_PHASE_RUNS ?? 3);
const GOAL = 1.5;

const env = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** GNU time reports the CPU time of the whole process tree (CLI, npx, tsx, the app, esbuild). */
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface Sample {
  /** Wall-clock milliseconds. */
  readonly wall: number;
  /** User + system CPU milliseconds of the process tree (undefined without GNU time). */
  readonly cpu?: number;
}

function cdkSynth(extraArgs: string[]): Sample {
  const outdir = mkdtempSync(join(tmpdir(), 'watchy-bench-synth-'));
  const timeFile = join(outdir, '..', `${outdir.split('/').pop()}.time`);
  try {
    const args = ['synth', '--no-notices', '--quiet', '-o', outdir, ...extraArgs];
    const start = performance.now();
    const result = GNU_TIME
      ? spawnSync(GNU_TIME, ['-f', '%U %S', '-o', timeFile, CDK, ...args], {
          cwd: ROOT,
          env,
          encoding: 'utf8',
        })
      : spawnSync(CDK, args, { cwd: ROOT, env, encoding: 'utf8' });
    const wall = performance.now() - start;
    if (result.status !== 0) {
      throw new Error(
        `cdk synth ${extraArgs.join(' ')} failed (exit ${result.status}): ${result.stderr.trim()}`,
      );
    }
    if (!GNU_TIME) return { wall };
    return { wall, cpu: cpuSeconds(timeFile) * 1000 };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(timeFile, { force: true });
  }
}

type Phases = Record<'nodeFunctions' | 'loadCdk' | 'loadPlatform' | 'config' | 'construct' | 'synth', number>;

/** Phase timings (wall) of one fresh process, plus the CPU time of its whole tree (esbuild included). */
function phases(flags: string[]): Phases & { cpu?: number } {
  const outdir = mkdtempSync(join(tmpdir(), 'watchy-bench-phases-'));
  const timeFile = `${outdir}.time`;
  try {
    const args = [PHASES, outdir, ...flags];
    const result = GNU_TIME
      ? spawnSync(GNU_TIME, ['-f', '%U %S', '-o', timeFile, TSX, ...args], {
          cwd: ROOT,
          env,
          encoding: 'utf8',
        })
      : spawnSync(TSX, args, { cwd: ROOT, env, encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(`synth-phases ${flags.join(' ')} failed: ${result.stderr.trim()}`);
    const timings = JSON.parse(result.stdout.trim().split('\n').pop()!) as Phases;
    return GNU_TIME ? { ...timings, cpu: cpuSeconds(timeFile) * 1000 } : timings;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(timeFile, { force: true });
  }
}

/** User + system seconds from a GNU time `-f '%U %S'` file. */
function cpuSeconds(timeFile: string): number {
  const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return (user ?? NaN) + (system ?? NaN);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pad = (text: string, width: number) => text.padEnd(width);

// One untimed run of each warms the file cache and npx's resolution.
cdkSynth([]);
cdkSynth(['--app', BASELINE_APP]);

const platform: Sample[] = [];
const baseline: Sample[] = [];
for (let i = 0; i < RUNS; i += 1) {
  platform.push(cdkSynth([]));
  baseline.push(cdkSynth(['--app', BASELINE_APP]));
}
const wallRatio = median(platform.map((s) => s.wall)) / median(baseline.map((s) => s.wall));

console.log(`cdk synth, ${RUNS} alternating runs each (medians; wall range)`);
console.log(`  ${pad('app', 54)}${pad('wall', 10)}${pad('cpu', 10)}wall range`);
for (const [name, runs] of [
  ['platform (cdk.json: every stack, cdk-nag, bundling)', platform],
  ['baseline (one S3 bucket, same CLI, npx and tsx)', baseline],
] as const) {
  const walls = runs.map((s) => s.wall);
  const cpu = runs.every((s) => s.cpu !== undefined) ? seconds(median(runs.map((s) => s.cpu!))) : 'n/a';
  console.log(
    `  ${pad(name, 54)}${pad(seconds(median(walls)), 10)}${pad(cpu, 10)}${seconds(Math.min(...walls))}-${seconds(Math.max(...walls))}`,
  );
}
console.log(
  `  ratio platform/baseline, wall: ${wallRatio.toFixed(2)}x (goal <= ${GOAL}x: ${wallRatio <= GOAL ? 'met' : 'NOT met'})`,
);
if (platform.every((s) => s.cpu !== undefined)) {
  const cpuRatio = median(platform.map((s) => s.cpu!)) / median(baseline.map((s) => s.cpu!));
  console.log(
    `  ratio platform/baseline, cpu:  ${cpuRatio.toFixed(2)}x (less sensitive to other load on the machine)`,
  );
}

const modes = [
  ['full (nag + bundling)', []],
  ['without cdk-nag', ['--no-nag']],
  ['without bundling', ['--no-bundling']],
] as const;
const samples = new Map<string, (Phases & { cpu?: number })[]>(modes.map(([name]) => [name, []]));
for (let i = 0; i < PHASE_RUNS; i += 1) {
  for (const [name, flags] of modes) samples.get(name)!.push(phases([...flags]));
}
console.log(`\nwhere the platform's process spends its time (${PHASE_RUNS} runs each, medians)`);
console.log(
  '  (esbuild bundling happens while constructing: NodejsFunction stages its asset in its constructor;',
);
console.log('   cdk-nag runs in app.synth())');
const columns: [string, (r: Phases) => number][] = [
  ['load modules', (r) => r.loadCdk + r.loadPlatform],
  ['construct', (r) => r.config + r.construct],
  ['app.synth()', (r) => r.synth],
  ['total', (r) => r.loadCdk + r.loadPlatform + r.config + r.construct + r.synth],
];
console.log(`  ${pad('mode', 24)}${columns.map(([title]) => pad(title, 14)).join('')}`);
for (const [name] of modes) {
  const runs = samples.get(name)!;
  console.log(`  ${pad(name, 24)}${columns.map(([, f]) => pad(seconds(median(runs.map(f))), 14)).join('')}`);
}
const work = (name: string) => median(samples.get(name)!.map((r) => r.config + r.construct + r.synth));
const full = work('full (nag + bundling)');
console.log(
  `  wall, of ${seconds(full)} construct + synth: cdk-nag ~${seconds(full - work('without cdk-nag'))}, ` +
    `esbuild bundling ~${seconds(full - work('without bundling'))}`,
);
if ([...samples.values()].every((runs) => runs.every((r) => r.cpu !== undefined))) {
  const cpu = (name: string) => median(samples.get(name)!.map((r) => r.cpu!));
  const cpuFull = cpu('full (nag + bundling)');
  console.log(
    `  cpu of the whole process tree: full ${seconds(cpuFull)}; cdk-nag ~${seconds(cpuFull - cpu('without cdk-nag'))}, ` +
      `esbuild bundling (npx + esbuild) ~${seconds(cpuFull - cpu('without bundling'))}`,
  );
}
console.log(
  `  the CLI, npx and tsx start-up are in the baseline too (${seconds(median(baseline.map((s) => s.wall)))} wall).`,
);

// NodejsFunction runs the project's esbuild through `npx --no-install esbuild` (aws-cdk-lib's
// PackageManager.runBinCommand), one process per Node Lambda: measure what npx adds to each.
const esbuildVersion = (command: string, args: string[]) => {
  const start = performance.now();
  const result = spawnSync(command, [...args, '--version'], { cwd: ROOT, env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} --version failed: ${result.stderr}`);
  return performance.now() - start;
};
const viaNpx: number[] = [];
const direct: number[] = [];
for (let i = 0; i < PHASE_RUNS; i += 1) {
  viaNpx.push(esbuildVersion('npx', ['--no-install', 'esbuild']));
  direct.push(esbuildVersion(join(ROOT, 'node_modules', '.bin', 'esbuild'), []));
}
const lambdas = samples.get('full (nag + bundling)')![0]!.nodeFunctions;
console.log(
  `  bundling: ${lambdas} Node Lambda(s), each bundled by its own \`npx --no-install esbuild\`; ` +
    `npx start-up ${seconds(median(viaNpx))} vs ${seconds(median(direct))} for esbuild directly ` +
    `(~${seconds(lambdas * (median(viaNpx) - median(direct)))} of npx per synth).`,
);
