/**
 * The release operator core: history, status and list answered from the store (read-only),
 * rollbacks run where the signing key is, and a rebuild started when the good release's artifact
 * is gone. The rollback Lambda and the CLI (`--endpoint-url`) both call `handleOperatorRequest`.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { parseOperatorRequest, refOf, type OperatorRequest } from './operations';
import { listReleases, pointerStatus, releaseHistory } from '../history/queries';
import type { RebuildRequest, StartedRebuild } from './rebuild';
import type { RollbackResult } from './rollback';
import type { ReleaseStore } from '../store/store';

export interface RollbackHandlerDeps {
  readonly store: ReleaseStore;
  /** Runs a pointer operation where the signing key is (the publish function, or in-process). */
  readonly movePointer: (
    request: Extract<OperatorRequest, { action: 'rollback' | 'emergency-rollback' }>,
  ) => Promise<RollbackResult>;
  readonly rebuilder: { start(request: RebuildRequest): Promise<StartedRebuild> };
  /** The signing key's public half: `status` verifies each pointer's signature with it. @default none (unchecked) */
  readonly publicKey?: () => Promise<KeyObject>;
  readonly logger?: Pick<Logger, 'info'>;
}

export type OperatorResult =
  | RollbackResult
  | {
      readonly outcome: 'rebuild-started';
      readonly artifact: string;
      readonly rebuild: StartedRebuild;
      readonly detail: string;
    }
  | Awaited<ReturnType<typeof releaseHistory>>
  | { readonly pointers: Awaited<ReturnType<typeof pointerStatus>> }
  | { readonly artifacts: Awaited<ReturnType<typeof listReleases>> };

/** The same function the rollback Lambda and the CLI (with `--endpoint-url`) call. */
export async function handleOperatorRequest(
  deps: RollbackHandlerDeps,
  event: unknown,
): Promise<OperatorResult> {
  const request = parseOperatorRequest(event);
  switch (request.action) {
    case 'history':
      return releaseHistory(deps.store, refOf(request), request.limit);
    case 'status':
      return { pointers: await pointerStatus(deps.store, request.app, await deps.publicKey?.()) };
    case 'list':
      return { artifacts: await listReleases(deps.store, request.app) };
    default: {
      const result = await deps.movePointer(request);
      deps.logger?.info('rollback', { request, result });
      if (result.outcome !== 'rebuild-needed') return result;
      const rebuild = await deps.rebuilder.start({
        ref: refOf(request),
        version: result.version,
        sourceRevision: result.sourceRevision,
      });
      deps.logger?.info('rebuild started', { rebuild });
      return { outcome: 'rebuild-started', artifact: result.artifact, rebuild, detail: result.detail };
    }
  }
}
