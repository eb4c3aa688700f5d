/**
 * Build benchmark: cold against warm builds of the slack monitor (buildspecs/nuitka.yml) and of the
 * Rust workspace (buildspecs/rust-lambda.yml), run by `watchy build` in throwaway checkouts, and
 * the binary sizes, including what the tuned release profile saves over Cargo's stock settings.
 *
 *   npm run bench -- builds
 *
 * Cold: an empty cache directory (WATCHY_CACHE_DIR: Nuitka cache, ccache, pip, installed
 * requirements, Cargo target directory). Warm: the same build again with the cache it left, as
 * CodeBuild's cache gives the next build. The Cargo registry (~/.cargo) is shared by both: it is
 * downloaded once per machine and cached on CodeBuild too. Ratios are warm / cold, measured in
 * this run; goals: Nuitka <= 0.35, Rust <= 0.2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCheckout, ROOT, type Checkout } from '../examples/checkout';

const ARCH = process.arch === 'arm64' ? 'arm64' : 'x86_64';
/** The npm bin shim, as `npx watchy` runs it (it registers tsx with the project's tsconfig). */
const WATCHY = join(ROOT, 'bin', 'watchy.js');

function build(checkout: Checkout, cache: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const run = spawnSync(
    process.execPath,
    [WATCHY, 'build', ...args, '--source-dir', checkout.dir, '--artifacts-dir', checkout.path('.artifacts')],
    {
      cwd: checkout.dir,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      env: {
        ...process.env,
        WATCHY_CACHE_DIR: cache,
        TMPDIR: checkout.dir,
        WATCHY_RELEASE_BUCKET: '',
      },
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (run.status !== 0) {
    throw new Error(`watchy build ${args.join(' ')} failed:\n${run.stdout.slice(-4000)}\n${run.stderr}`);
  }
  return seconds;
}

const fmt = (seconds: number) => `${seconds.toFixed(1)} s`;
const ratio = (a: number, b: number) => (a / b).toFixed(2);
const verdict = (value: number, goal: number) => (value <= goal ? `meets <= ${goal}` : `MISSES <= ${goal}`);

function nuitka(): void {
  const checkout = makeCheckout('watchy-bench-nuitka-');
  const cache = mkdtempSync(join(tmpdir(), 'watchy-bench-cache-'));
  try {
    const args = ['nuitka', '--app', 'slack', '--version', '1.0.0', '--arch', ARCH];
    const cold = build(checkout, cache, args);
    const warm = build(checkout, cache, args);
    const dist = checkout.path('dist', `slack-${ARCH}`);
    const size = (name: string) => statSync(join(dist, name)).size;
    const raw = readdirSync(dist).find((n) => /-1\.0\.0$/.test(n)) as string;
    console.log(`nuitka slack (${ARCH}): cold ${fmt(cold)}, warm ${fmt(warm)}`);
    console.log(`  warm/cold ${ratio(warm, cold)}x (${verdict(warm / cold, 0.35)})`);
    console.log(`  binary ${size(raw)} bytes, .gz ${size(`${raw}.gz`)} bytes`);
  } finally {
    checkout.remove();
    rmSync(cache, { recursive: true, force: true });
  }
}

function rust(): void {
  const checkout = makeCheckout('watchy-bench-rust-');
  const cache = mkdtempSync(join(tmpdir(), 'watchy-bench-cache-'));
  try {
    const args = ['rust', '--version', '1.0.0', '--arch', ARCH];
    // `--clean` runs `cargo clean --release` first: the cold build is cold even on a reused cache.
    const cold = build(checkout, cache, [...args, '--clean']);
    const warm = build(checkout, cache, args);
    // An edit to one handler: the library crate and every binary relink (fat LTO).
    const lib = checkout.path('examples', 'rust-lambdas', 'src', 'lib.rs');
    const later = new Date(Date.now() + 2000);
    utimesSync(lib, later, later);
    const edited = build(checkout, cache, args);
    console.log(
      `rust workspace (${ARCH}): cold ${fmt(cold)}, warm ${fmt(warm)}, warm after touching src/lib.rs ${fmt(edited)}`,
    );
    console.log(
      `  warm/cold ${ratio(warm, cold)}x (${verdict(warm / cold, 0.2)}); after an edit ${ratio(edited, cold)}x`,
    );

    const lambdaDir = checkout.path('examples', 'rust-lambdas', 'target', 'lambda');
    const bins = readdirSync(lambdaDir).sort();
    const manifest = checkout.path('examples', 'rust-lambdas', 'Cargo.toml');
    const started = process.hrtime.bigint();
    execFileSync(
      'cargo',
      ['build', '--profile', 'release-untuned', '--locked', '--manifest-path', manifest],
      {
        env: { ...process.env, CARGO_TARGET_DIR: join(cache, 'cargo-target') },
        stdio: 'ignore',
      },
    );
    const untunedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    let tunedTotal = 0;
    let untunedTotal = 0;
    console.log(
      `  release profile (strip, fat LTO, 1 codegen unit, panic=abort) vs Cargo's stock release (built in ${fmt(untunedSeconds)}):`,
    );
    for (const bin of bins) {
      const tuned = statSync(join(lambdaDir, bin, 'bootstrap')).size;
      const untuned = statSync(join(cache, 'cargo-target', 'release-untuned', bin)).size;
      tunedTotal += tuned;
      untunedTotal += untuned;
      console.log(
        `    ${bin.padEnd(14)} ${String(tuned).padStart(9)} bytes vs ${String(untuned).padStart(9)} bytes (${ratio(tuned, untuned)}x)`,
      );
    }
    console.log(
      `    total ${tunedTotal} vs ${untunedTotal} bytes: saves ${untunedTotal - tunedTotal} bytes (${((1 - tunedTotal / untunedTotal) * 100).toFixed(0)}%)`,
    );
  } finally {
    checkout.remove();
    rmSync(cache, { recursive: true, force: true });
  }
}

nuitka();
rust();
