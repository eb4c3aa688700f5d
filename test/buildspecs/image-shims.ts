/**
 * Runs buildspecs/image.yml and buildspecs/scan.yml (and rust-lambda.yml's rustup-init install)
 * with the local CodeBuild runner (core/buildspec) and, first on PATH, shims for the tools
 * that need a Docker engine, AWS or the network: `docker`, `pack`, `aws`, `curl` (and `uname` when
 * a test plays an ARM host). Each shim records its
 * arguments (one JSON array per call) so tests assert exactly what would have reached the engine,
 * ECR and the network. There is no Docker engine on these machines; everything up to those calls
 * is the real buildspec running in bash.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadBuildspec, runBuildspec, type BuildResult } from '@core/buildspec';

export const ROOT = join(__dirname, '..', '..');
export const COMMIT = '0123456789abcdef0123456789abcdef01234567';
export const REPOSITORY_URI = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/watchy/status-api';
export const PUSHED_DIGEST = `sha256:${'a'.repeat(64)}`;

/** Records a call as one JSON line: ["tool", "arg1", ...]. */
const RECORD = `printf '%s\\0' "$(basename "$0")" "$@" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.stringify(d.split("\\0").slice(0,-1))))' >> "$SHIM_LOG"`;

const SHIMS: Record<string, string> = {
  docker: `${RECORD}
case "$1" in
  login) cat > "$SHIM_DIR/login-password" ;;
  build) exit "\${SHIM_DOCKER_BUILD_EXIT:-0}" ;;
  push) touch "$SHIM_DIR/pushed" ;;
esac`,
  pack: `${RECORD}
case " $* " in *" --publish "*) touch "$SHIM_DIR/pushed" ;; esac`,
  aws: `${RECORD}
case "$*" in
  *"ecr get-login-password"*) echo "ecr-token" ;;
  *"ecr describe-images"*)
    if [ -e "$SHIM_DIR/pushed" ]; then echo "$SHIM_PUSHED_DIGEST"
    elif [ -n "\${SHIM_EXISTING_DIGEST:-}" ]; then echo "$SHIM_EXISTING_DIGEST"
    else echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation" >&2; exit 254; fi ;;
  *"ecr describe-image-scan-findings"*)
    n=$(cat "$SHIM_DIR/scan-calls" 2>/dev/null || echo 0); echo $((n + 1)) > "$SHIM_DIR/scan-calls"
    reply="$SHIM_DIR/scan-$n.json"; [ -e "$reply" ] || reply=$(ls "$SHIM_DIR"/scan-*.json | sort -V | tail -n1)
    if grep -q '^ERROR ' "$reply"; then sed 's/^ERROR //' "$reply" >&2; exit 254; fi
    cat "$reply" ;;
  *) echo "aws shim: unexpected call: $*" >&2; exit 2 ;;
esac`,
  curl: `${RECORD}
out=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && { out=$2; shift; }; shift; done
cp "$SHIM_CURL_BODY" "$out"`,
  uname: `${RECORD}
echo "\${SHIM_UNAME_M:-x86_64}"`,
};

/** The script of one shim (e.g. to pack it into a fake release tarball). */
export function shimScript(tool: string): string {
  const body = SHIMS[tool];
  if (!body) throw new Error(`no shim ${tool}`);
  return `#!/usr/bin/env bash\n${body}\n`;
}

export interface ShimRun {
  readonly result: BuildResult;
  /** Every recorded call, in order. */
  readonly calls: string[][];
  /** Calls of one tool (without the tool name). */
  callsOf(tool: string): string[][];
  readonly output: string;
  readonly dir: string;
}

export interface ShimOptions {
  /** The buildspec file in buildspecs/. */
  readonly buildspec: 'image.yml' | 'scan.yml' | 'rust-lambda.yml';
  /** Project variables (over the buildspec's own). */
  readonly variables: Record<string, string>;
  /** Tools to shim. @default docker, pack, aws, curl */
  readonly shims?: readonly string[];
  /** Extra environment of the shims (SHIM_*). @default {} */
  readonly shimEnv?: Record<string, string>;
  /** The PATH after the shims. @default process.env.PATH */
  readonly path?: string;
  /** Prepares files in the shim dir (scan replies, a pack tarball) before the run. */
  readonly prepare?: (dir: string) => void;
}

export async function runWithShims(options: ShimOptions): Promise<ShimRun> {
  const dir = mkdtempSync(join(tmpdir(), 'watchy-image-shims-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of options.shims ?? ['docker', 'pack', 'aws', 'curl']) {
    const file = join(bin, tool);
    writeFileSync(file, shimScript(tool));
    chmodSync(file, 0o755);
  }
  const log = join(dir, 'calls.jsonl');
  writeFileSync(log, '');
  options.prepare?.(dir);
  let output = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString('utf8');
      done();
    },
  });
  const result = await runBuildspec({
    spec: await loadBuildspec(join(ROOT, 'buildspecs', options.buildspec)),
    sourceDir: ROOT,
    projectName: 'image-shim-test',
    sourceVersion: COMMIT,
    projectVariables: {
      PACK_CACHE_DIR: join(dir, 'pack-cache'),
      PACK_INSTALL_DIR: join(dir, 'pack-bin'),
      ...options.variables,
    },
    baseEnv: {
      ...process.env,
      PATH: `${bin}:${options.path ?? process.env.PATH ?? ''}`,
      SHIM_DIR: dir,
      SHIM_LOG: log,
      SHIM_PUSHED_DIGEST: PUSHED_DIGEST,
      ...options.shimEnv,
    },
    output: sink,
  });
  const calls = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string[]);
  return {
    result,
    calls,
    callsOf: (tool) => calls.filter((c) => c[0] === tool).map((c) => c.slice(1)),
    output,
    dir,
  };
}

/** Installs a `pack` shim where image.yml expects the pinned pack (so its download is skipped). */
export function preinstalledPack(dir: string): void {
  const packBin = join(dir, 'pack-bin');
  mkdirSync(packBin, { recursive: true });
  const source = join(dir, 'bin', 'pack');
  if (!existsSync(source)) throw new Error('preinstalledPack: the pack shim is not in the shim set');
  writeFileSync(join(packBin, 'pack'), readFileSync(source));
  chmodSync(join(packBin, 'pack'), 0o755);
}

/** The value following `flag` in each of the args (every occurrence). */
export function flagValues(args: readonly string[], flag: string): string[] {
  const values: string[] = [];
  args.forEach((arg, i) => {
    if (arg === flag && i + 1 < args.length) values.push(args[i + 1]!);
  });
  return values;
}
