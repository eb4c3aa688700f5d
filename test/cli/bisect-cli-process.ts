/** Runs the `watchy` CLI as a process (tsx), with dummy AWS credentials, for the CLI tests. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** The npm bin shim, as `npx watchy` runs it (it registers tsx with the project's tsconfig). */
const WATCHY = join(__dirname, '..', '..', 'bin', 'watchy.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function runWatchy(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [WATCHY, ...args],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          // The SDK's notice that Node 20 support ends in 2027 is not ours to test.
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
