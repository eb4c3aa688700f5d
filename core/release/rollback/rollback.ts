/**
 * Rollbacks move the latest pointer back to an older release by publishing a NEW, higher
 * `metadata_version` (signed) whose fields are the old release's: consumers never accept a lower
 * metadata_version, so going back is a step forward for them.
 *
 *   emergency rollback: to the newest release in the history before the current one that is not
 *                       marked bad and whose artifact still verifies; the current one is marked bad.
 *   rollback to version: to that version, which must be published and verify; the current one is
 *                        marked bad.
 *
 * Both refuse to point at anything missing or not matching its hashes. When the good release's
 * artifact is gone and `rebuild` is set, the outcome asks for a rebuild of its commit instead.
 *
 * Both say what they roll back FROM (the release the caller saw) and apply only while the pointer
 * (the history's head) still shows it, inside the compare-and-swap round: concurrent operators never
 * compound. When another move left `from` first, the history says which request did it: a rollback
 * that already did what this one asks is the answer (`unchanged`, "already rolled back from 1.2.0 to
 * 1.1.0 by <request>"); anything else (a promotion, a rollback elsewhere) is refused with one line.
 */
import { randomUUID } from 'node:crypto';
import { artifactName, type ArtifactRef } from '../../artifacts';
import type { ReleaseDeps } from '../deps';
import { ReleaseError } from '../errors';
import type { HistoryEntry, ReleaseHistory } from '../history/history';
import {
  parsePointerOperation,
  refOf,
  type EmergencyRollbackRequest,
  type RollbackToVersionRequest,
} from './operations';
import {
  movePointer,
  type MoveOutcome,
  type MovePlan,
  type PointerState,
  type PointerTarget,
} from '../store/pointer';
import { loadVersionedMetadata, loadVersionedTarget } from '../store/targets';

/** One move of the history, as a result names it. */
export interface MoveSummary {
  readonly action: HistoryEntry['action'];
  /** The version the pointer held before. */
  readonly from?: string;
  readonly to: string;
  readonly requestId: string;
  readonly metadataVersion: number;
  readonly time: string;
}

export type RollbackResult =
  | {
      readonly outcome: 'rolled-back' | 'already-done';
      readonly artifact: string;
      readonly from?: string;
      readonly to: string;
      readonly metadataVersion: number;
      /** A newer move landed first; the history has this move, the pointer shows the newer one. */
      readonly superseded?: boolean;
      /** When superseded: the move right after this one (the history's serial order). */
      readonly next?: MoveSummary;
      /** What happened, in one line (the CLI prints it). */
      readonly detail: string;
    }
  | {
      readonly outcome: 'unchanged';
      readonly artifact: string;
      readonly detail: string;
      /** Another request's rollback that already did what this one asks. */
      readonly by?: MoveSummary;
    }
  | {
      readonly outcome: 'rebuild-needed';
      readonly artifact: string;
      readonly version: string;
      readonly sourceRevision: string;
      readonly detail: string;
    };

/** Runs either rollback from a parsed or raw request (what the publish Lambda does when forwarded one). */
export async function runPointerOperation(deps: ReleaseDeps, raw: unknown): Promise<RollbackResult> {
  const request = parsePointerOperation(raw);
  return request.action === 'rollback' ? rollbackToVersion(deps, request) : emergencyRollback(deps, request);
}

export async function emergencyRollback(
  deps: ReleaseDeps,
  request: Omit<EmergencyRollbackRequest, 'action'>,
): Promise<RollbackResult> {
  const ref = refOf(request);
  const targets = new TargetCache(deps, ref);
  const outcome = await movePointer(
    deps,
    ref,
    request.requestId ?? randomUUID(),
    async (history, pointer): Promise<MovePlan> => {
      const current = currentVersion(history, pointer);
      if (current !== request.from) return elsewhere(ref, history, current, request.from);
      const reason = request.reason ?? 'emergency rollback';
      let missing: { entry: HistoryEntry; detail: string } | undefined;
      for (const entry of goodCandidates(history, current)) {
        const loaded = await targets.load(entry.version);
        if ('target' in loaded) {
          return {
            kind: 'move',
            target: loaded.target,
            entry: entryFor('emergency-rollback', loaded.target, reason),
            markBad: { version: current, reason },
          };
        }
        missing ??= { entry, detail: loaded.detail };
        if (request.rebuild && entry.sourceRevision) {
          return {
            kind: 'rebuild',
            version: entry.version,
            sourceRevision: entry.sourceRevision,
            reason: `the artifact of ${entry.version} is gone: ${loaded.detail}`,
          };
        }
      }
      const why = missing ? `; ${missing.entry.version} fails: ${missing.detail}` : '';
      throw new ReleaseError(
        'not-found',
        `no earlier good release of ${artifactName(ref)} with intact artifacts in the history (current ${current})${why}`,
      );
    },
    (entry) => loadVersionedTarget(deps.store, ref, entry.version),
  );
  return describe(ref, outcome);
}

export async function rollbackToVersion(
  deps: ReleaseDeps,
  request: Omit<RollbackToVersionRequest, 'action'>,
): Promise<RollbackResult> {
  const ref = refOf(request);
  const targets = new TargetCache(deps, ref);
  const outcome = await movePointer(
    deps,
    ref,
    request.requestId ?? randomUUID(),
    async (history, pointer): Promise<MovePlan> => {
      const current = currentVersion(history, pointer);
      if (current !== request.from) return elsewhere(ref, history, current, request.from, request.version);
      if (current === request.version)
        return { kind: 'noop', reason: `the latest pointer is already at ${request.version}` };
      const bad = history.bad[request.version];
      if (bad) {
        throw new ReleaseError(
          'conflict',
          `version ${request.version} of ${artifactName(ref)} is marked bad (${bad.reason}); refusing to roll back to it`,
        );
      }
      const loaded = await targets.load(request.version);
      if (!('target' in loaded)) {
        const sourceRevision = loaded.sourceRevision ?? findRevision(history, request.version);
        if (request.rebuild && sourceRevision) {
          return { kind: 'rebuild', version: request.version, sourceRevision, reason: loaded.detail };
        }
        throw new ReleaseError(loaded.kind, loaded.detail);
      }
      const reason = request.reason ?? `rollback to ${request.version}`;
      return {
        kind: 'move',
        target: loaded.target,
        entry: entryFor('rollback', loaded.target, reason),
        markBad: { version: current, reason },
      };
    },
    (entry) => loadVersionedTarget(deps.store, ref, entry.version),
  );
  return describe(ref, outcome);
}

/**
 * The plan when the pointer no longer shows `from`: the move that left it decides. A rollback (either
 * kind, so `from` is marked bad) that went where this one goes (`to`; anywhere for an emergency
 * rollback) already did this request's work: a no-op that names it. Anything else is refused.
 */
function elsewhere(
  ref: ArtifactRef,
  history: ReleaseHistory,
  current: string | undefined,
  from: string,
  to?: string,
): MovePlan {
  const artifact = artifactName(ref);
  if (current === undefined) throw new ReleaseError('not-found', `nothing has been promoted for ${artifact}`);
  const left = movedAwayFrom(history, from);
  if (!left) {
    throw new ReleaseError(
      'conflict',
      `refusing to roll back ${artifact} from ${from}: it shows ${current}, and ${from} is not in its history; nothing changed`,
    );
  }
  const now = current === left.version ? '' : `; it has since moved on to ${current}`;
  if (left.action !== 'publish' && (to === undefined || left.version === to)) {
    return {
      kind: 'noop',
      reason: `already rolled back from ${from} to ${left.version} by ${left.requestId}${now}`,
      settle: left,
    };
  }
  throw new ReleaseError(
    'conflict',
    `refusing to roll back ${artifact} from ${from}: ${left.action} by ${left.requestId} moved it to ${left.version} (metadata_version ${left.metadataVersion})${now}; nothing changed`,
  );
}

/** The move that last took the pointer away from `version` (the entry after its last entry). */
function movedAwayFrom(history: ReleaseHistory, version: string): HistoryEntry | undefined {
  const entries = history.entries;
  for (let i = entries.length - 2; i >= 0; i--) {
    if (entries[i]!.version === version) return entries[i + 1];
  }
  return undefined;
}

function summary(entry: HistoryEntry): MoveSummary {
  return {
    action: entry.action,
    ...(entry.replaced === undefined ? {} : { from: entry.replaced }),
    to: entry.version,
    requestId: entry.requestId,
    metadataVersion: entry.metadataVersion,
    time: entry.time,
  };
}

function describe(ref: ArtifactRef, outcome: MoveOutcome): RollbackResult {
  const artifact = artifactName(ref);
  switch (outcome.kind) {
    case 'moved':
    case 'retry': {
      const { entry } = outcome;
      const move = `${artifact} from ${entry.replaced ?? 'nothing'} to ${entry.version} (metadata_version ${entry.metadataVersion})`;
      const next = outcome.kind === 'moved' ? outcome.next : undefined;
      const detail =
        outcome.kind === 'retry'
          ? `request ${entry.requestId} already rolled back ${move}`
          : `rolled back ${move}${entry.replaced === undefined ? '' : `; ${entry.replaced} marked bad`}${
              next
                ? `; then ${next.action} by ${next.requestId} moved it to ${next.version} (metadata_version ${next.metadataVersion})`
                : ''
            }`;
      return {
        outcome: outcome.kind === 'moved' ? 'rolled-back' : 'already-done',
        artifact,
        ...(entry.replaced === undefined ? {} : { from: entry.replaced }),
        to: entry.version,
        metadataVersion: entry.metadataVersion,
        ...(outcome.kind === 'moved' && outcome.superseded ? { superseded: true } : {}),
        ...(next ? { next: summary(next) } : {}),
        detail,
      };
    }
    case 'noop':
      return {
        outcome: 'unchanged',
        artifact,
        detail: outcome.reason,
        ...(outcome.settle ? { by: summary(outcome.settle) } : {}),
      };
    case 'rebuild':
      return {
        outcome: 'rebuild-needed',
        artifact,
        version: outcome.version,
        sourceRevision: outcome.sourceRevision,
        detail: outcome.reason,
      };
  }
}

/**
 * What the pointer shows, or is about to show: the history leads (a move appends its entry before it
 * writes the pointer), so its last entry wins over a pointer that has not caught up yet. A pointer
 * with no history at all (published before release control) counts as it is.
 */
function currentVersion(history: ReleaseHistory, pointer: PointerState): string | undefined {
  return history.entries[history.entries.length - 1]?.version ?? pointer.metadata?.version;
}

/** Newest first, one entry per version, skipping the current version and versions marked bad. */
function goodCandidates(history: ReleaseHistory, current: string): HistoryEntry[] {
  const seen = new Set<string>([current]);
  const candidates: HistoryEntry[] = [];
  for (const entry of [...history.entries].reverse()) {
    if (seen.has(entry.version) || history.bad[entry.version]) continue;
    seen.add(entry.version);
    candidates.push(entry);
  }
  return candidates;
}

function findRevision(history: ReleaseHistory, version: string): string | undefined {
  return [...history.entries].reverse().find((e) => e.version === version && e.sourceRevision)
    ?.sourceRevision;
}

function entryFor(action: 'rollback' | 'emergency-rollback', target: PointerTarget, reason: string) {
  return {
    action,
    version: target.metadata.version,
    sha256: target.metadata.sha256,
    compressedSha256: target.metadata.compressed_sha256 ?? '',
    ...(target.metadata.source_revision ? { sourceRevision: target.metadata.source_revision } : {}),
    ...(target.metadata.build_id ? { buildId: target.metadata.build_id } : {}),
    reason,
  };
}

type Loaded =
  | { readonly target: PointerTarget }
  | {
      readonly kind: 'not-found' | 'verification';
      readonly detail: string;
      readonly sourceRevision?: string;
    };

/** Verifies each candidate version once per request, however many compare-and-swap rounds it takes. */
class TargetCache {
  private readonly loaded = new Map<string, Promise<Loaded>>();
  constructor(
    private readonly deps: ReleaseDeps,
    private readonly ref: ArtifactRef,
  ) {}

  load(version: string): Promise<Loaded> {
    let promise = this.loaded.get(version);
    if (!promise) {
      promise = this.tryLoad(version);
      this.loaded.set(version, promise);
    }
    return promise;
  }

  private async tryLoad(version: string): Promise<Loaded> {
    try {
      return { target: await loadVersionedTarget(this.deps.store, this.ref, version) };
    } catch (error) {
      if (!(error instanceof ReleaseError) || (error.kind !== 'not-found' && error.kind !== 'verification'))
        throw error;
      const sourceRevision = await loadVersionedMetadata(this.deps.store, this.ref, version).then(
        (m) => m.source_revision,
        () => undefined,
      );
      return { kind: error.kind, detail: error.message, ...(sourceRevision ? { sourceRevision } : {}) };
    }
  }
}
