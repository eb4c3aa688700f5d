/**
 * The Watchy monitor Lambda's core: the binary is loaded at init (the loader call starts while the
 * module loads), and each invocation runs it with the event and returns its JSON report. Warm
 * invocations re-check the metadata at most every `refreshSeconds` (one conditional GET; nothing
 * else when unchanged), and keep the verified binary when the distribution is down or a new
 * release is refused (the loader logs why).
 */
import type { BinaryLoader, LoadResult } from '@core/loader';
import { runMonitorBinary, type RunOptions } from './run-binary';

/** Time kept back from the function's timeout to return a clear error instead of being cut off. */
export const RESPONSE_MARGIN_MS = 1_000;

export interface MonitorContext {
  getRemainingTimeInMillis(): number;
}

export interface MonitorDeps {
  readonly loader: Pick<BinaryLoader, 'load'>;
  /** The init-time load, already started. */
  readonly initial: Promise<LoadResult>;
  readonly refreshSeconds: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Options passed to runMonitorBinary (environment, report cap). */
  readonly run?: Omit<RunOptions, 'timeoutMs'>;
}

export type MonitorHandler = (event: unknown, context: MonitorContext) => Promise<unknown>;

export function createMonitorHandler(deps: MonitorDeps): MonitorHandler {
  const now = deps.now ?? Date.now;
  let pending: Promise<LoadResult> | undefined = deps.initial;
  let lastCheck = now();
  let path: string | undefined;

  const binary = async (): Promise<string> => {
    if (path && now() - lastCheck >= deps.refreshSeconds * 1000) {
      lastCheck = now();
      pending = deps.loader.load();
    }
    if (pending) {
      try {
        path = (await pending).binary.path;
      } finally {
        pending = undefined;
      }
    }
    if (!path) {
      // The init-time load failed and nothing is installed: try again on this invocation.
      lastCheck = now();
      path = (await deps.loader.load()).binary.path;
    }
    return path;
  };

  return async (event, context) => {
    let binaryPath: string;
    try {
      binaryPath = await binary();
    } catch (error) {
      // Nothing verified is installed; the next invocation tries again.
      pending = undefined;
      throw error;
    }
    const timeoutMs = Math.max(1, context.getRemainingTimeInMillis() - RESPONSE_MARGIN_MS);
    return runMonitorBinary(binaryPath, event, { ...deps.run, timeoutMs });
  };
}
