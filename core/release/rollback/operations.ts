/**
 * Operator requests: what the rollback Lambda accepts (from the CLI, bisect and operators), what it
 * forwards to the publish Lambda for the signed pointer write, and what the CLI runs in-process with
 * `--endpoint-url`. One schema for all of them.
 */
import { z } from 'zod';
import { ARCHITECTURES, AppNameSchema, BINARY_TYPES, VersionSchema, type ArtifactRef } from '../../artifacts';
import { parseWith } from '../publish/request';

const target = {
  app: AppNameSchema,
  /** @default 'x86_64' */
  architecture: z.enum(ARCHITECTURES).default('x86_64'),
  /** @default 'nuitka' */
  binaryType: z.enum(BINARY_TYPES).default('nuitka'),
};
const semver = VersionSchema;
const write = {
  /**
   * The release the caller saw on the pointer and means to roll back from (`watchy status` when the
   * command starts). The move applies only while the pointer still shows it; when another move got
   * there first, a rollback that already left it is this one's answer and anything else is refused.
   * Required: without it two operators (or an operator and a bisect) compound each other's rollback.
   */
  from: semver,
  /** Idempotency key: the same id again returns the first result and moves nothing. */
  requestId: z
    .string()
    .regex(/^[A-Za-z0-9._:@/-]{1,200}$/)
    .optional(),
  /** Why; recorded in the history next to the bad version. */
  reason: z.string().min(1).max(500).optional(),
  /** When the good release's artifact is gone, start a rebuild of its commit instead of failing. @default false */
  rebuild: z.boolean().default(false),
};

export const EmergencyRollbackSchema = z.strictObject({
  action: z.literal('emergency-rollback'),
  ...target,
  ...write,
});
export const RollbackToVersionSchema = z.strictObject({
  action: z.literal('rollback'),
  ...target,
  ...write,
  version: semver,
});
export const HistoryQuerySchema = z.strictObject({
  action: z.literal('history'),
  ...target,
  /** @default 20 */
  limit: z.number().int().min(1).max(1000).default(20),
});
export const StatusQuerySchema = z.strictObject({
  action: z.literal('status'),
  /** Only this app's pointers. @default every pointer in the bucket */
  app: target.app.optional(),
});
export const ListQuerySchema = z.strictObject({
  action: z.literal('list'),
  /** Only this app's artifacts. @default every artifact in the bucket */
  app: target.app.optional(),
});

/** Pointer writes: run by the publish function, the only holder of the signing key. */
export const PointerOperationSchema = z.discriminatedUnion('action', [
  EmergencyRollbackSchema,
  RollbackToVersionSchema,
]);
export const OperatorRequestSchema = z.discriminatedUnion('action', [
  EmergencyRollbackSchema,
  RollbackToVersionSchema,
  HistoryQuerySchema,
  StatusQuerySchema,
  ListQuerySchema,
]);

export type EmergencyRollbackRequest = z.output<typeof EmergencyRollbackSchema>;
export type RollbackToVersionRequest = z.output<typeof RollbackToVersionSchema>;
export type PointerOperation = z.output<typeof PointerOperationSchema>;
export type OperatorRequest = z.output<typeof OperatorRequestSchema>;
export type OperatorRequestInput = z.input<typeof OperatorRequestSchema>;

export function parseOperatorRequest(value: unknown): OperatorRequest {
  return parseWith(OperatorRequestSchema, value, 'request');
}

export function parsePointerOperation(value: unknown): PointerOperation {
  return parseWith(PointerOperationSchema, value, 'rollback request');
}

export function refOf(request: {
  app: string;
  architecture: ArtifactRef['architecture'];
  binaryType: ArtifactRef['binaryType'];
}): ArtifactRef {
  return { app: request.app, architecture: request.architecture, binaryType: request.binaryType };
}
