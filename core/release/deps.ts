/**
 * What the release cores are given instead of creating: the store, the signer, the CDN invalidator,
 * telemetry and a clock. Lambdas pass AWS-backed ones; the CLI passes the same with an endpoint URL;
 * tests pass them pointed at moto.
 */
import type { Signer } from '../signing';
import type { ArtifactRef } from '../artifacts';
import type { PointerAction } from './history/history';
import type { ReleaseStore } from './store/store';

/** Drops cached copies of the latest pointers (CloudFront in AWS). */
export interface Invalidator {
  invalidate(paths: readonly string[]): Promise<void>;
}

/** Metrics of releases (Powertools Metrics in the Lambdas). */
export interface ReleaseTelemetry {
  published(event: {
    readonly ref: ArtifactRef;
    readonly version: string;
    readonly created: boolean;
    readonly binarySize: number;
    readonly compressedSize: number;
  }): void;
  pointerMoved(event: {
    readonly ref: ArtifactRef;
    readonly action: PointerAction;
    readonly version: string;
    readonly metadataVersion: number;
  }): void;
}

export interface ReleaseDeps {
  readonly store: ReleaseStore;
  readonly signer: Signer;
  /** @default none (no CDN in front of the store) */
  readonly invalidator?: Invalidator;
  /** @default none */
  readonly telemetry?: ReleaseTelemetry;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}
