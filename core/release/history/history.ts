/**
 * The release history of one latest pointer (one app, binary type and architecture), kept in S3 at
 * `state/history/{artifact name}.json` and only ever replaced with compare-and-swap.
 *
 * Every pointer move appends an entry with the next `metadata_version` BEFORE the pointer is written:
 * the history is the log, the pointer follows it. A writer that stops between the two leaves a
 * history one step ahead of the pointer; the retry of the same request (same `requestId`) finds its
 * entry and finishes the pointer write, and any later move supersedes it.
 */
import { z } from 'zod';
import { ARCHITECTURES, BINARY_TYPES, STATE_PREFIX, artifactName, type ArtifactRef } from '../../artifacts';
import { ReleaseError } from '../errors';
import type { ReleaseStore, SwapResult } from '../store/store';
import { sha256Hex } from '../store/verify';

/** Release histories live here (one document per latest pointer); bisect keeps its own state elsewhere under `state/`. */
export const HISTORY_PREFIX = `${STATE_PREFIX}/history`;

/** Oldest entries are dropped beyond this many (the document stays small; versioned keys remain). */
export const MAX_HISTORY_ENTRIES = 1000;
const MAX_HISTORY_BYTES = 4 * 1024 * 1024;

export const POINTER_ACTIONS = ['publish', 'rollback', 'emergency-rollback'] as const;
export type PointerAction = (typeof POINTER_ACTIONS)[number];

const HistoryEntrySchema = z.strictObject({
  /** The `metadata_version` the pointer got with this move. */
  metadataVersion: z.number().int().min(1),
  action: z.enum(POINTER_ACTIONS),
  /** The release the pointer points at after this move. */
  version: z.string(),
  sha256: z.string(),
  compressedSha256: z.string(),
  sourceRevision: z.string().optional(),
  buildId: z.string().optional(),
  /** Version the pointer held before (absent for the first release). */
  replaced: z.string().optional(),
  time: z.string(),
  /** Idempotency key: a retried request finds its own entry instead of moving the pointer again. */
  requestId: z.string(),
  reason: z.string().optional(),
});

const BadMarkSchema = z.strictObject({
  time: z.string(),
  reason: z.string(),
  /** The move that marked it. */
  metadataVersion: z.number().int(),
});

export const ReleaseHistorySchema = z.strictObject({
  schemaVersion: z.literal(1),
  artifact: z.string(),
  app: z.string(),
  binaryType: z.enum(BINARY_TYPES),
  architecture: z.enum(ARCHITECTURES),
  /** Oldest first; the last entry is what the pointer should show. */
  entries: z.array(HistoryEntrySchema),
  /** Versions that must not be rolled back to, with why. */
  bad: z.record(z.string(), BadMarkSchema),
});

export type HistoryEntry = z.output<typeof HistoryEntrySchema>;
export type ReleaseHistory = z.output<typeof ReleaseHistorySchema>;

export function historyKey(ref: ArtifactRef): string {
  return `${HISTORY_PREFIX}/${artifactName(ref)}.json`;
}

export function emptyHistory(ref: ArtifactRef): ReleaseHistory {
  return {
    schemaVersion: 1,
    artifact: artifactName(ref),
    app: ref.app,
    binaryType: ref.binaryType,
    architecture: ref.architecture,
    entries: [],
    bad: {},
  };
}

export interface VersionedHistory {
  readonly history: ReleaseHistory;
  /** ETag of the stored document; undefined when there is none yet. */
  readonly etag: string | undefined;
}

export async function readHistory(store: ReleaseStore, ref: ArtifactRef): Promise<VersionedHistory> {
  const key = historyKey(ref);
  const object = await store.get(key, MAX_HISTORY_BYTES);
  if (!object) return { history: emptyHistory(ref), etag: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(object.body.toString('utf8'));
  } catch {
    throw new ReleaseError('verification', `s3://${store.bucket}/${key} is not JSON`);
  }
  const result = ReleaseHistorySchema.safeParse(parsed);
  if (!result.success) {
    throw new ReleaseError(
      'verification',
      `s3://${store.bucket}/${key} is not a release history: ${result.error.issues[0]?.message}`,
    );
  }
  return { history: result.data, etag: object.etag };
}

export async function writeHistory(
  store: ReleaseStore,
  ref: ArtifactRef,
  history: ReleaseHistory,
  etag: string | undefined,
): Promise<SwapResult> {
  const trimmed = { ...history, entries: history.entries.slice(-MAX_HISTORY_ENTRIES) };
  const body = Buffer.from(`${JSON.stringify(trimmed, null, 1)}\n`, 'utf8');
  return store.putIfMatch(historyKey(ref), body, etag, {
    contentType: 'application/json',
    sha256: sha256Hex(body),
    cacheControl: 'no-store',
  });
}

export function headEntry(history: ReleaseHistory): HistoryEntry | undefined {
  return history.entries[history.entries.length - 1];
}
