/**
 * The loader in a process of its own, for tmp-full.test.ts: the test runs it where /tmp is small (a
 * tmpfs in a private mount namespace) or where files cannot grow (RLIMIT_FSIZE), bundled by esbuild
 * so nothing but Node runs in there.
 *
 * argv[2] is a JSON `ChildConfig`. With `mountTmpfs`, `dir` is first mounted as a tmpfs of that many
 * bytes (the process is root in its namespace). Then `loads` times: load, print one JSON `ChildReport`
 * line, and before the next load wait for a line on stdin (the test publishes the next release).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statfsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BinaryLoader } from '@core/loader';

export interface ChildConfig {
  readonly metadataUrl: string;
  readonly publicKeyPem: string;
  readonly dir: string;
  readonly loads: number;
  /** Mount a tmpfs of this many bytes at `dir` first. @default no mount */
  readonly mountTmpfs?: number;
}

export interface ChildReport {
  readonly outcome: string;
  readonly path: string;
  readonly refused?: { readonly check: string; readonly message: string };
  /** What the installed binary prints for `--version`. */
  readonly version: string;
  /** `dir` after the load, sorted. */
  readonly files: string[];
  /** Size of the file system `dir` is on, in bytes. */
  readonly fileSystemBytes: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as ChildConfig;
  if (config.mountTmpfs !== undefined) {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${config.mountTmpfs},mode=0700`, 'tmpfs', config.dir]);
  }
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const loader = new BinaryLoader({
    metadataUrl: config.metadataUrl,
    destDir: config.dir,
    publicKey: config.publicKeyPem,
    warn: () => undefined,
  });
  try {
    for (let n = 0; n < config.loads; n += 1) {
      if (n > 0) await lines.next();
      const result = await loader.load();
      const fs = statfsSync(config.dir);
      const report: ChildReport = {
        outcome: result.outcome,
        path: result.binary.path,
        ...(result.refused && {
          refused: { check: result.refused.check, message: result.refused.message },
        }),
        version: execFileSync(result.binary.path, ['--version']).toString().trim(),
        files: readdirSync(config.dir).sort(),
        fileSystemBytes: fs.blocks * fs.bsize,
      };
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }
  } finally {
    loader.close();
  }
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`tmp-full child: ${(error as Error).message}\n`);
  process.exit(1);
});
