/**
 * The automatic emergency rollback at the end of a bisect. A failing build publishes nothing, so the
 * live release is usually older than the first bad commit and must stay: the rollback runs only when
 * the latest pointer's `source_revision` is the first bad commit or one after it. The rollback
 * itself is part 1's emergency rollback, run by the rollback function (the one holder of the path to
 * the signing key); `requestId` makes a repeated end of the same session a no-op, and `from` (the
 * release this function judged live) makes it one step back at most: when an operator rolled that
 * release back first it is a no-op naming them, and when a newer release was promoted meanwhile it
 * is refused (this bisect judged the older one), never a rollback of something it did not look at.
 */
import { GetObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { isArchitecture, pointerKeys, type ArtifactRef } from '@core/artifacts';
import { APP_VARIABLE, ARCH_VARIABLE } from '@core/bisect/contract';
import type { BisectSession } from '@core/bisect/session';
import type { RollbackResult } from '@core/release/rollback/rollback';

export interface BisectRollbackDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Nuitka apps with release pointers (catalog names). @default any app: its latest pointer decides */
  readonly apps?: readonly string[];
  /** Emergency rollback of one pointer (invokes the rollback function in AWS). */
  readonly emergencyRollback: (request: {
    app: string;
    architecture: ArtifactRef['architecture'];
    binaryType: ArtifactRef['binaryType'];
    /** The live version this bisect judged: the rollback applies only while the pointer shows it. */
    from: string;
    requestId: string;
    reason: string;
  }) => Promise<RollbackResult | { rebuild: unknown }>;
}

export async function rollbackIfLive(deps: BisectRollbackDeps, session: BisectSession): Promise<string> {
  const result = session.result;
  if (!result) return 'skipped: the bisect found no commit';
  const app = session.environment[APP_VARIABLE];
  const arch = session.environment[ARCH_VARIABLE] ?? 'x86_64';
  if (!app || (deps.apps && !deps.apps.includes(app)) || !isArchitecture(arch)) {
    return `skipped: ${app ?? 'the build'} has no release pointer`;
  }
  const ref: ArtifactRef = { app, architecture: arch, binaryType: 'nuitka' };
  const live = await liveRevision(deps, ref);
  if (!live) return `skipped: nothing is promoted for ${app} ${arch}`;
  if (live.version === undefined) return `skipped: the latest pointer of ${app} ${arch} names no version`;
  const bad = new Set((session.commits ?? []).slice(result.index).map((c) => c.sha));
  if (!live.revision || !bad.has(live.revision)) {
    return `skipped: the live release ${live.version} (${(live.revision ?? 'unknown commit').slice(0, 12)}) predates the first bad commit`;
  }
  const outcome = await deps.emergencyRollback({
    ...ref,
    from: live.version,
    requestId: `bisect-${session.id}`,
    reason: `bisect ${session.id}: first bad commit ${result.commit.sha}`,
  });
  if ('outcome' in outcome) {
    switch (outcome.outcome) {
      case 'rolled-back':
      case 'already-done':
        return `${outcome.artifact} rolled back from ${outcome.from ?? live.version} to ${outcome.to} (metadata_version ${outcome.metadataVersion})`;
      case 'unchanged':
        return `${outcome.artifact} unchanged: ${outcome.detail}`;
      case 'rebuild-needed':
        return `${outcome.artifact}: rebuild of ${outcome.version} (${outcome.sourceRevision.slice(0, 12)}) needed: ${outcome.detail}`;
    }
  }
  return `${app} ${arch}: a rebuild was started`;
}

async function liveRevision(
  deps: BisectRollbackDeps,
  ref: ArtifactRef,
): Promise<{ version?: string; revision?: string } | undefined> {
  try {
    const response = await deps.s3.send(
      new GetObjectCommand({ Bucket: deps.bucket, Key: pointerKeys(ref).latestMetadata }),
    );
    const metadata = JSON.parse(await response.Body!.transformToString('utf8')) as {
      version?: unknown;
      source_revision?: unknown;
    };
    return {
      ...(typeof metadata.version === 'string' && { version: metadata.version }),
      ...(typeof metadata.source_revision === 'string' && { revision: metadata.source_revision }),
    };
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return undefined;
    throw error;
  }
}
