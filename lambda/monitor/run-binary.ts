/**
 * Runs a monitor binary the way the monitors' contract says (examples/monitors): the JSON event on
 * stdin, a JSON report on stdout, exit 2 for a bad event. Each failure is an error with one line
 * that says what happened: timed out, bad event, crashed (exit code or signal and the last stderr
 * line), printed no JSON, or could not be executed at all (e.g. "Exec format error").
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { ElfError, parseElfHeader } from '@core/elf';
import { hostArchitecture } from '@core/loader';

/** Lambda's synchronous response limit: a bigger report could not be returned anyway. */
export const MAX_REPORT_BYTES = 6 * 1024 * 1024;
const STDERR_TAIL_BYTES = 4096;

export class MonitorTimeoutError extends Error {
  override readonly name = 'MonitorTimeoutError';
}
/** Exit code 2: the monitor refused the event (the caller's fault). */
export class BadEventError extends Error {
  override readonly name = 'BadEventError';
}
export class MonitorBinaryError extends Error {
  override readonly name = 'MonitorBinaryError';
}

export interface RunOptions {
  /** The binary is killed (SIGKILL) after this long. */
  readonly timeoutMs: number;
  /** @default MAX_REPORT_BYTES */
  readonly maxReportBytes?: number;
  /** The binary's whole environment. @default minimalEnvironment() */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The binary gets no AWS credentials: monitors turn an event into a report and need nothing from
 * the function's role. HOME and TMPDIR point at /tmp, the only writable place in Lambda.
 */
export function minimalEnvironment(source: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: '/tmp',
    TMPDIR: '/tmp',
    TZ: 'UTC',
    ...(source.AWS_REGION ? { AWS_REGION: source.AWS_REGION } : {}),
  };
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(0, 500);
}

/** Binaries already found runnable on this machine (checked once per path). */
const runnable = new Set<string>();

/**
 * Refuses what the kernel would not run: anything but a `#!` script or an ELF executable for this
 * machine. (Without this, exec's fallback hands such a file to /bin/sh, whose syntax error exits 2
 * and would read as "bad event".)
 */
export function assertRunnable(path: string): void {
  if (runnable.has(path)) return;
  const head = Buffer.alloc(20);
  let length = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      length = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new MonitorBinaryError(
      `cannot run monitor binary ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  if (head.subarray(0, 2).toString('latin1') !== '#!') {
    try {
      const elf = parseElfHeader(head.subarray(0, length), path);
      const host = hostArchitecture();
      if (elf.architecture !== host) {
        throw new MonitorBinaryError(
          `cannot run monitor binary ${path}: Exec format error (an ELF ${elf.machineName} binary on ${host ?? process.arch})`,
        );
      }
    } catch (error) {
      if (error instanceof ElfError) {
        throw new MonitorBinaryError(
          `cannot run monitor binary ${path}: Exec format error (${error.message})`,
        );
      }
      throw error;
    }
  }
  runnable.add(path);
}

export function runMonitorBinary(path: string, event: unknown, options: RunOptions): Promise<unknown> {
  const maxReport = options.maxReportBytes ?? MAX_REPORT_BYTES;
  try {
    assertRunnable(path);
  } catch (error) {
    return Promise.reject(error);
  }
  const input = JSON.stringify(event ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? minimalEnvironment(),
      cwd: '/tmp',
      // Its own process group, so a timeout kills whatever it started too (Nuitka onefile
      // binaries run their payload as a child process).
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let failure: Error | undefined;
    const stop = (error: Error) => {
      failure ??= error;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(
      () =>
        stop(
          new MonitorTimeoutError(`monitor binary timed out after ${options.timeoutMs} ms and was killed`),
        ),
      options.timeoutMs,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxReport) {
        stop(new MonitorBinaryError(`monitor binary printed more than ${maxReport} bytes`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    // A binary that exits without reading its input closes the pipe: not an error in itself.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new MonitorBinaryError(
          `cannot run monitor binary ${path}: ${error.code ?? ''} ${error.message}`.trim(),
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      const tail = lastLine(stderr);
      if (code === 2)
        return reject(new BadEventError(`monitor rejected the event (exit 2): ${tail || 'no message'}`));
      if (code !== 0) {
        const how = signal ? `was killed by ${signal}` : `failed with exit code ${code}`;
        return reject(new MonitorBinaryError(`monitor binary ${how}${tail ? `: ${tail}` : ''}`));
      }
      const text = Buffer.concat(stdout).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(
          new MonitorBinaryError(
            `monitor binary exited 0 but printed no JSON report: ${lastLine(text) || 'empty output'}`,
          ),
        );
      }
    });
  });
}
