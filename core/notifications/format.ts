/**
 * Turns EventBridge events into one clear message each: CodeBuild "Build State Change" and
 * CodePipeline "Pipeline Execution State Change" (failed, succeeded, stopped), naming the project or
 * pipeline, the commit, what failed and a link to the logs.
 */
import { z } from 'zod';
import { SESSION_VARIABLE } from '../bisect/contract';
import { WATCHY_APP, WATCHY_ARCH, WATCHY_MODE } from '../build-env';
import { oneLine } from '../one-line';

const environmentVariable = z.object({
  name: z.string(),
  value: z.string().optional(),
  type: z.string().optional(),
});

export const BuildStateChangeSchema = z.object({
  source: z.literal('aws.codebuild'),
  'detail-type': z.literal('CodeBuild Build State Change'),
  region: z.string().regex(/^[a-z0-9-]{1,30}$/),
  account: z.string().regex(/^\d{12}$/),
  time: z.string().optional(),
  detail: z.object({
    'build-status': z.string().max(40),
    'project-name': z.string().min(1).max(255),
    'build-id': z.string().min(1).max(1000),
    'current-phase': z.string().max(100).optional(),
    'additional-information': z
      .object({
        'source-version': z.string().max(1000).optional(),
        initiator: z.string().max(1000).optional(),
        environment: z
          .object({ 'environment-variables': z.array(environmentVariable).optional() })
          .partial()
          .optional(),
        logs: z
          .object({ 'deep-link': z.string().max(2000).optional() })
          .partial()
          .optional(),
        phases: z
          .array(
            z.object({
              'phase-type': z.string().optional(),
              'phase-status': z.string().optional(),
              'phase-context': z.array(z.string()).optional(),
            }),
          )
          .optional(),
      })
      .partial()
      .optional(),
  }),
});

export const PipelineStateChangeSchema = z.object({
  source: z.literal('aws.codepipeline'),
  'detail-type': z.literal('CodePipeline Pipeline Execution State Change'),
  region: z.string().regex(/^[a-z0-9-]{1,30}$/),
  account: z.string().regex(/^\d{12}$/),
  time: z.string().optional(),
  detail: z.object({
    pipeline: z.string().min(1).max(100),
    'execution-id': z.string().min(1).max(200),
    state: z.string().max(40),
    'execution-trigger': z
      .object({ 'trigger-type': z.string().optional(), 'trigger-detail': z.string().optional() })
      .optional(),
  }),
});

export const NotifierEventSchema = z.union([BuildStateChangeSchema, PipelineStateChangeSchema]);
export type BuildStateChange = z.output<typeof BuildStateChangeSchema>;
export type PipelineStateChange = z.output<typeof PipelineStateChangeSchema>;
export type NotifierEvent = z.output<typeof NotifierEventSchema>;

/** Pipeline states that end a run and are worth a message (build end states: BUILD_END_STATES, build-env.ts). */
export const PIPELINE_END_STATES = ['FAILED', 'SUCCEEDED', 'STOPPED', 'CANCELED', 'SUPERSEDED'] as const;

export interface Message {
  readonly subject: string;
  readonly message: string;
}

export class NotifierEventError extends Error {
  override readonly name = 'NotifierEventError';
}

export function parseNotifierEvent(raw: unknown): NotifierEvent {
  const parsed = NotifierEventSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const kind =
    typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['detail-type'] : undefined;
  throw new NotifierEventError(
    `invalid ${typeof kind === 'string' ? JSON.stringify(kind) : 'notifier'} event: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown'}`,
  );
}

const COMMIT = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

/** The commit named in a build event, when the event has one. */
export function commitOfBuildEvent(event: BuildStateChange): string | undefined {
  const version = event.detail['additional-information']?.['source-version'];
  return version && COMMIT.test(version) ? version : undefined;
}

/** Bisect steps and commit listings report through the bisect's own end-of-session message. */
export function isBisectBuild(event: BuildStateChange): boolean {
  return variables(event).has(SESSION_VARIABLE);
}

export function formatBuildEvent(event: BuildStateChange, commit?: string): Message {
  const d = event.detail;
  const status = d['build-status'];
  const vars = variables(event);
  const app = vars.get(WATCHY_APP);
  const arch = vars.get(WATCHY_ARCH);
  const mode = vars.get(WATCHY_MODE);
  const buildId = d['build-id'].includes(':build/') ? d['build-id'].split(':build/')[1]! : d['build-id'];
  const failedPhase = d['additional-information']?.phases?.find(
    (p) => p['phase-status'] && !['SUCCEEDED', 'IN_PROGRESS'].includes(p['phase-status']),
  );
  const what = [app, arch].filter(Boolean).join(' ');
  const link =
    d['additional-information']?.logs?.['deep-link'] ??
    `https://${event.region}.console.aws.amazon.com/codesuite/codebuild/${event.account}/projects/${encodeURIComponent(d['project-name'])}/build/${encodeURIComponent(buildId)}/log?region=${event.region}`;
  const lines = [
    `Build ${status}: ${d['project-name']}${what ? ` (${what})` : ''}`,
    `project: ${d['project-name']}`,
    `build:   ${buildId}`,
    `commit:  ${commit ?? 'unknown'}`,
    ...(mode ? [`mode:    ${mode}`] : []),
    ...(failedPhase
      ? [
          `failed:  ${failedPhase['phase-type'] ?? 'unknown phase'} ${failedPhase['phase-status']}${
            failedPhase['phase-context']?.length
              ? `: ${failedPhase['phase-context'].join('; ').slice(0, 500)}`
              : ''
          }`,
        ]
      : []),
    ...(d['additional-information']?.initiator ? [`by:      ${d['additional-information'].initiator}`] : []),
    `logs:    ${link}`,
    ...(event.time ? [`time:    ${event.time}`] : []),
  ];
  return {
    subject: subjectLine(
      `${status}: build ${d['project-name']}${what ? ` ${what}` : ''}${commit ? ` at ${commit.slice(0, 12)}` : ''}`,
    ),
    message: lines.join('\n'),
  };
}

export interface PipelineRevision {
  readonly revisionId?: string;
  readonly summary?: string;
}

export function formatPipelineEvent(event: PipelineStateChange, revision?: PipelineRevision): Message {
  const d = event.detail;
  const link = `https://${event.region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${encodeURIComponent(d.pipeline)}/executions/${encodeURIComponent(d['execution-id'])}/timeline?region=${event.region}`;
  const trigger = d['execution-trigger'];
  const lines = [
    `Pipeline ${d.state}: ${d.pipeline}`,
    `pipeline:  ${d.pipeline}`,
    `execution: ${d['execution-id']}`,
    `commit:    ${revision?.revisionId ?? 'unknown'}${revision?.summary ? ` (${oneLine(revision.summary).slice(0, 200)})` : ''}`,
    ...(trigger?.['trigger-type']
      ? [
          `trigger:   ${trigger['trigger-type']}${trigger['trigger-detail'] ? ` ${trigger['trigger-detail']}` : ''}`,
        ]
      : []),
    `link:      ${link}`,
    ...(event.time ? [`time:      ${event.time}`] : []),
  ];
  const commit =
    revision?.revisionId && COMMIT.test(revision.revisionId) ? ` at ${revision.revisionId.slice(0, 12)}` : '';
  return { subject: subjectLine(`${d.state}: pipeline ${d.pipeline}${commit}`), message: lines.join('\n') };
}

/** SNS subjects: printable ASCII, one line, at most 100 characters. */
export function subjectLine(text: string): string {
  const ascii = oneLine(text)
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return (ascii || 'Watchy notification').slice(0, 100);
}

function variables(event: BuildStateChange): Map<string, string> {
  const list = event.detail['additional-information']?.environment?.['environment-variables'] ?? [];
  return new Map(
    list
      .filter((v) => v.type !== 'SECRETS_MANAGER' && v.type !== 'PARAMETER_STORE')
      .map((v) => [v.name, v.value ?? '']),
  );
}
