/**
 * Moving a latest pointer, shared by promotion and both rollbacks:
 *
 *   1. read the history (ETag) and the pointer; a request already in the history is a retry;
 *   2. ask the caller's plan what to do, given both (move to a verified target, nothing, or rebuild);
 *   3. append the entry with metadata_version = max(history head, pointer) + 1, compare-and-swap;
 *      on a lost race start again from 1;
 *   4. write the latest `.gz` and then the signed latest metadata, each with compare-and-swap and only
 *      while what is there has a lower metadata_version (a newer move has already superseded us
 *      otherwise), then invalidate the pointer paths.
 *
 * So metadata_version only grows, concurrent writers never overwrite each other, and once every
 * writer has finished the pointer shows the history's last entry.
 */
import {
  MAX_METADATA_BYTES,
  parseMetadataJson,
  serializeMetadata,
  type WatchyMetadata,
} from '../../metadata';
import { signMetadata } from '../../signing';
import { pointerKeys, type ArtifactRef } from '../../artifacts';
import type { ReleaseDeps } from '../deps';
import { ReleaseError } from '../errors';
import {
  headEntry,
  readHistory,
  writeHistory,
  type HistoryEntry,
  type ReleaseHistory,
} from '../history/history';
import type { ReleaseStore } from './store';
import { sha256Hex } from './verify';

/** Compare-and-swap attempts before a move gives up with a `contention` error. */
export const MAX_CAS_ATTEMPTS = 100;
/** Cache-Control of the latest pointers; CloudFront's short-TTL behaviour and invalidations do the rest. */
export const POINTER_CACHE_CONTROL = 'public, max-age=60';
/** Cache-Control of versioned objects: written once, never changed. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** User metadata on the latest `.gz`: the metadata_version it belongs to. */
export const GZ_VERSION_METADATA = 'metadata-version';
/**
 * How much of a latest pointer is read: more than MAX_METADATA_BYTES on purpose. A pointer over the
 * metadata limit (altered in the bucket by hand, or by anything but a move) still reads, fails
 * parseMetadataJson and counts as unreadable (metadata_version 0, its ETag known), so the next move
 * replaces it by compare-and-swap instead of every move failing on its size. Four times the limit
 * is room for any such pointer while still bounding what a hostile object costs a Lambda's memory;
 * a larger one fails the move (`verification`) for someone to look at.
 */
export const POINTER_READ_MAX_BYTES = 4 * MAX_METADATA_BYTES;

export interface PointerState {
  /** Parsed latest metadata; undefined when absent or unreadable. */
  readonly metadata?: WatchyMetadata;
  readonly etag?: string;
  /** `metadata_version` of the latest metadata (0 when absent). */
  readonly metadataVersion: number;
}

/** A verified release to point at: its versioned metadata (no metadata_version) and its `.gz`. */
export interface PointerTarget {
  readonly metadata: WatchyMetadata;
  readonly gz: Buffer;
}

export type MovePlan =
  | {
      readonly kind: 'move';
      readonly target: PointerTarget;
      readonly entry: Omit<HistoryEntry, 'metadataVersion' | 'time' | 'requestId' | 'replaced'>;
      /** Marks the version the pointer held as bad, with this reason. */
      readonly markBad?: { readonly version: string; readonly reason: string };
    }
  | {
      readonly kind: 'noop';
      readonly reason: string;
      /**
       * Another request's move that already did what this one asks: when it is the history's head
       * and the pointer has not caught up (its writer stopped between the two), finish its write.
       */
      readonly settle?: HistoryEntry;
    }
  | {
      readonly kind: 'rebuild';
      readonly version: string;
      readonly sourceRevision: string;
      readonly reason: string;
    };

export type MoveOutcome =
  | {
      readonly kind: 'moved';
      readonly entry: HistoryEntry;
      readonly superseded: boolean;
      /** When superseded: the move that came right after this one in the history. */
      readonly next?: HistoryEntry;
    }
  | { readonly kind: 'retry'; readonly entry: HistoryEntry }
  | { readonly kind: 'noop'; readonly reason: string; readonly settle?: HistoryEntry }
  | {
      readonly kind: 'rebuild';
      readonly version: string;
      readonly sourceRevision: string;
      readonly reason: string;
    };

export async function readPointer(store: ReleaseStore, ref: ArtifactRef): Promise<PointerState> {
  const object = await store.get(pointerKeys(ref).latestMetadata, POINTER_READ_MAX_BYTES);
  if (!object) return { metadataVersion: 0 };
  try {
    const metadata = parseMetadataJson(object.body);
    return { metadata, etag: object.etag, metadataVersion: metadata.metadata_version ?? 0 };
  } catch {
    return { etag: object.etag, metadataVersion: 0 };
  }
}

export async function movePointer(
  deps: ReleaseDeps,
  ref: ArtifactRef,
  requestId: string,
  plan: (history: ReleaseHistory, pointer: PointerState) => Promise<MovePlan>,
  /** Loads the target of an entry found in the history (a retry that may need to finish its write). */
  loadTarget: (entry: HistoryEntry) => Promise<PointerTarget>,
): Promise<MoveOutcome> {
  const now = deps.clock ?? (() => new Date());
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const { history, etag } = await readHistory(deps.store, ref);
    const existing = history.entries.find((e) => e.requestId === requestId);
    if (existing) {
      const pointer = await readPointer(deps.store, ref);
      if (pointer.metadataVersion < existing.metadataVersion && headEntry(history) === existing) {
        await writeLatest(deps, ref, await loadTarget(existing), existing);
      }
      return { kind: 'retry', entry: existing };
    }
    const pointer = await readPointer(deps.store, ref);
    const decision = await plan(history, pointer);
    if (decision.kind === 'noop') {
      const settle = decision.settle;
      if (settle && headEntry(history) === settle && pointer.metadataVersion < settle.metadataVersion) {
        await writeLatest(deps, ref, await loadTarget(settle), settle);
      }
      return decision;
    }
    if (decision.kind === 'rebuild') return decision;
    const metadataVersion = Math.max(headEntry(history)?.metadataVersion ?? 0, pointer.metadataVersion) + 1;
    const time = now().toISOString();
    const replaced = headEntry(history)?.version ?? pointer.metadata?.version;
    const entry: HistoryEntry = {
      ...decision.entry,
      metadataVersion,
      time,
      requestId,
      ...(replaced === undefined ? {} : { replaced }),
    };
    const bad = { ...history.bad };
    if (decision.markBad) {
      bad[decision.markBad.version] = { time, reason: decision.markBad.reason, metadataVersion };
    }
    const written = await writeHistory(
      deps.store,
      ref,
      { ...history, entries: [...history.entries, entry], bad },
      etag,
    );
    if (written === 'conflict') continue;
    const superseded = !(await writeLatest(deps, ref, decision.target, entry));
    deps.telemetry?.pointerMoved({ ref, action: entry.action, version: entry.version, metadataVersion });
    if (!superseded) return { kind: 'moved', entry, superseded };
    // Whoever wrote a higher metadata_version first has its entry right after this one.
    const after = (await readHistory(deps.store, ref)).history.entries;
    const at = after.findIndex((e) => e.requestId === requestId);
    const next = at < 0 ? undefined : after[at + 1];
    return { kind: 'moved', entry, superseded, ...(next ? { next } : {}) };
  }
  throw new ReleaseError(
    'contention',
    `gave up moving ${pointerKeys(ref).latestMetadata} after ${MAX_CAS_ATTEMPTS} compare-and-swap conflicts`,
  );
}

/**
 * Writes the latest `.gz` and metadata for `entry` unless a newer move got there first.
 * Returns false when superseded (nothing left to write).
 */
async function writeLatest(
  deps: ReleaseDeps,
  ref: ArtifactRef,
  target: PointerTarget,
  entry: HistoryEntry,
): Promise<boolean> {
  const keys = pointerKeys(ref);
  const { store } = deps;
  const mv = entry.metadataVersion;
  const signed = await signMetadata({ ...target.metadata, metadata_version: mv }, deps.signer);
  const metadataBody = Buffer.from(serializeMetadata(signed), 'utf8');
  const gzSha256 = sha256Hex(target.gz);

  let wrote = false;
  for (let attempt = 0; ; attempt++) {
    if (attempt >= MAX_CAS_ATTEMPTS)
      throw new ReleaseError('contention', `gave up writing ${keys.latestBinary}`);
    if (attempt > 0) await backoff(attempt);
    const info = await store.head(keys.latestBinary);
    const current = Number(info?.metadata[GZ_VERSION_METADATA] ?? 0);
    if (current >= mv) break;
    const result = await store.putIfMatch(keys.latestBinary, target.gz, info?.etag, {
      contentType: 'application/gzip',
      sha256: gzSha256,
      cacheControl: POINTER_CACHE_CONTROL,
      metadata: { [GZ_VERSION_METADATA]: String(mv), version: entry.version },
    });
    if (result === 'written') {
      wrote = true;
      break;
    }
  }
  for (let attempt = 0; ; attempt++) {
    if (attempt >= MAX_CAS_ATTEMPTS)
      throw new ReleaseError('contention', `gave up writing ${keys.latestMetadata}`);
    if (attempt > 0) await backoff(attempt);
    const pointer = await readPointer(store, ref);
    if (pointer.metadataVersion >= mv) break;
    const result = await store.putIfMatch(keys.latestMetadata, metadataBody, pointer.etag, {
      contentType: 'application/json',
      sha256: sha256Hex(metadataBody),
      cacheControl: POINTER_CACHE_CONTROL,
    });
    if (result === 'written') {
      wrote = true;
      break;
    }
  }
  if (wrote) await deps.invalidator?.invalidate([`/${keys.latestMetadata}`, `/${keys.latestBinary}`]);
  return wrote;
}

/** Exponential backoff with full jitter, capped at 200 ms. */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(200, 5 * 2 ** Math.min(attempt, 6));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
