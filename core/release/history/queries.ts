/**
 * Read-only views for operators: the history of one pointer, the state of every pointer, and the
 * published versions of every artifact. No signing key and no writes needed.
 */
import type { KeyObject } from 'node:crypto';
import {
  BINARIES_PREFIX,
  BINARY_TYPES,
  ARCHITECTURES,
  type ArtifactRef,
  artifactName,
} from '../../artifacts';
import { verifyMetadataSignature } from '../../signing';
import { headEntry, readHistory, type HistoryEntry } from './history';
import { readPointer } from '../store/pointer';
import type { ReleaseStore } from '../store/store';

export interface HistoryView {
  readonly artifact: string;
  /** Newest first. */
  readonly entries: readonly (HistoryEntry & { readonly bad?: string })[];
  readonly bad: Readonly<Record<string, string>>;
}

export async function releaseHistory(
  store: ReleaseStore,
  ref: ArtifactRef,
  limit: number,
): Promise<HistoryView> {
  const { history } = await readHistory(store, ref);
  const entries = [...history.entries]
    .reverse()
    .slice(0, limit)
    .map((entry) => {
      const bad = history.bad[entry.version];
      return bad ? { ...entry, bad: bad.reason } : entry;
    });
  const bad = Object.fromEntries(
    Object.entries(history.bad).map(([version, mark]) => [version, mark.reason]),
  );
  return { artifact: history.artifact, entries, bad };
}

/** Parses an artifact folder name (`slack-monitor-arm64`) back into its ref. */
export function parseArtifactName(name: string): ArtifactRef | undefined {
  for (const binaryType of BINARY_TYPES) {
    for (const architecture of ARCHITECTURES) {
      const kind = binaryType === 'nuitka' ? 'monitor' : 'lambda';
      const suffix = `-${kind}${architecture === 'x86_64' ? '' : `-${architecture}`}`;
      if (!name.endsWith(suffix)) continue;
      const ref = { app: name.slice(0, -suffix.length), binaryType, architecture };
      try {
        if (artifactName(ref) === name) return ref;
      } catch {
        // not an app name
      }
    }
  }
  return undefined;
}

export async function listArtifacts(store: ReleaseStore, app?: string): Promise<ArtifactRef[]> {
  const { prefixes } = await store.list(`${BINARIES_PREFIX}/`, '/');
  return prefixes
    .map((prefix) => parseArtifactName(prefix.slice(BINARIES_PREFIX.length + 1, -1)))
    .filter((ref): ref is ArtifactRef => ref !== undefined && (app === undefined || ref.app === app))
    .sort((a, b) => artifactName(a).localeCompare(artifactName(b)));
}

export interface ArtifactListing {
  readonly artifact: string;
  readonly versions: readonly string[];
}

/** Every artifact and its published versions (from the versioned metadata keys). */
export async function listReleases(store: ReleaseStore, app?: string): Promise<ArtifactListing[]> {
  const listings: ArtifactListing[] = [];
  for (const ref of await listArtifacts(store, app)) {
    const name = artifactName(ref);
    const folder = `${BINARIES_PREFIX}/${name}/watchy-${name}-`;
    const { keys } = await store.list(folder);
    const versions = keys
      .filter((key) => key.endsWith('.json'))
      .map((key) => key.slice(folder.length, -'.json'.length))
      .sort(compareSemver);
    listings.push({ artifact: name, versions });
  }
  return listings;
}

export interface PointerStatus {
  readonly artifact: string;
  readonly version?: string;
  readonly metadataVersion: number;
  readonly sourceRevision?: string;
  readonly buildTime?: string;
  /** `valid` / `invalid` with a public key given, `unchecked` without, `unsigned` when there is none. */
  readonly signature: 'valid' | 'invalid' | 'unsigned' | 'unchecked';
  /** True when the pointer shows the history's last entry. */
  readonly inSync: boolean;
  readonly lastAction?: string;
}

export async function pointerStatus(
  store: ReleaseStore,
  app?: string,
  publicKey?: KeyObject,
): Promise<PointerStatus[]> {
  const statuses: PointerStatus[] = [];
  for (const ref of await listArtifacts(store, app)) {
    const [pointer, { history }] = await Promise.all([readPointer(store, ref), readHistory(store, ref)]);
    const head = headEntry(history);
    const metadata = pointer.metadata;
    if (!metadata && !head) continue;
    const signature = !metadata?.signature
      ? 'unsigned'
      : !publicKey
        ? 'unchecked'
        : verifyMetadataSignature(metadata, publicKey)
          ? 'valid'
          : 'invalid';
    statuses.push({
      artifact: artifactName(ref),
      ...(metadata ? { version: metadata.version, buildTime: metadata.build_time } : {}),
      ...(metadata?.source_revision ? { sourceRevision: metadata.source_revision } : {}),
      metadataVersion: pointer.metadataVersion,
      signature,
      inSync:
        head === undefined ||
        (head.metadataVersion === pointer.metadataVersion && head.version === metadata?.version),
      ...(head ? { lastAction: head.action } : {}),
    });
  }
  return statuses;
}

/** Semver precedence (prerelease below release; build metadata ignored). */
export function compareSemver(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('+')[0]!.split(/-(.*)/s);
    return { nums: core.split('.').map(Number), pre: pre ? pre.split('.') : [] };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (!x.pre.length || !y.pre.length) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}
