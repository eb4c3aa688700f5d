/**
 * Rebuilds: when the artifact of the release a rollback wants is gone, a CodeBuild build of its commit
 * (`sourceVersion`) in release mode makes it again. The rebuilt artifact gets a version of its own
 * (`{version}-rebuild.{UTC stamp}`): the old version's immutable keys may still hold its metadata,
 * and a new build's bytes would not match them.
 */
import { StartBuildCommand, type CodeBuildClient } from '@aws-sdk/client-codebuild';
import { z } from 'zod';
import { WATCHY_APP, WATCHY_BRANCH, WATCHY_MODE, WATCHY_VERSION } from '../../build-env';
import { ARCHITECTURES, BINARY_TYPES, type ArtifactRef } from '../../artifacts';
import { describeZodIssue } from '../../zod-issue';
import { RELEASE_ENV } from '../environment';
import { ReleaseError } from '../errors';

export interface RebuildRequest {
  readonly ref: ArtifactRef;
  readonly version: string;
  readonly sourceRevision: string;
}

export interface StartedRebuild {
  readonly buildId: string;
  readonly project: string;
  readonly version: string;
  readonly sourceRevision: string;
}

/** `nuitka-x86_64` etc. (the build stack's project keys): which project builds an artifact of that type and architecture. */
export function rebuildProjectKey(ref: Pick<ArtifactRef, 'binaryType' | 'architecture'>): string {
  return `${ref.binaryType}-${ref.architecture}`;
}

/**
 * WATCHY_REBUILD_PROJECTS (RELEASE_ENV.rebuildProjects): `rebuildProjectKey` -> CodeBuild project
 * name, for the keys that have a project (a deployment may build only some types or architectures).
 */
export const RebuildProjectsSchema = z.strictObject(
  Object.fromEntries(
    BINARY_TYPES.flatMap((binaryType) =>
      ARCHITECTURES.map((architecture) => [
        rebuildProjectKey({ binaryType, architecture }),
        z.string().min(1).optional(),
      ]),
    ),
  ),
);

/** Parses the JSON of WATCHY_REBUILD_PROJECTS; throws one line naming the variable and the problem. */
export function parseRebuildProjects(
  text: string,
  name: string = RELEASE_ENV.rebuildProjects,
): Readonly<Record<string, string>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const result = RebuildProjectsSchema.safeParse(value);
  if (!result.success) throw new Error(`${name}: ${describeZodIssue(result.error.issues[0], value)}`);
  const projects: Record<string, string> = {};
  for (const [key, project] of Object.entries(result.data)) if (project) projects[key] = project;
  return projects;
}

export function rebuildVersion(version: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, '')
    .replace(/[-:T]/g, '');
  return `${version.split('+')[0]}${version.includes('-') ? '.' : '-'}rebuild.${stamp}`;
}

export class CodeBuildRebuilder {
  constructor(
    private readonly codebuild: CodeBuildClient,
    /** `rebuildProjectKey` -> CodeBuild project name. */
    private readonly projects: Readonly<Record<string, string>>,
    private readonly clock: () => Date = () => new Date(),
    /**
     * Recorded as the rebuild's WATCHY_BRANCH: a rebuild remakes a release, so it is of the release
     * branch (the publisher accepts it as such only for a commit that was released). @default unset
     */
    private readonly releaseBranch?: string,
  ) {}

  async start(request: RebuildRequest): Promise<StartedRebuild> {
    const key = rebuildProjectKey(request.ref);
    const project = this.projects[key];
    if (!project)
      throw new ReleaseError('not-found', `no build project for ${key} to rebuild ${request.version} with`);
    const version = rebuildVersion(request.version, this.clock());
    const out = await this.codebuild.send(
      new StartBuildCommand({
        projectName: project,
        sourceVersion: request.sourceRevision,
        environmentVariablesOverride: [
          { name: WATCHY_MODE, value: 'release', type: 'PLAINTEXT' },
          // A Nuitka project builds one app; the Rust project builds the whole workspace.
          {
            name: WATCHY_APP,
            value: request.ref.binaryType === 'rust' ? 'rust' : request.ref.app,
            type: 'PLAINTEXT',
          },
          { name: WATCHY_VERSION, value: version, type: 'PLAINTEXT' },
          ...(this.releaseBranch
            ? [{ name: WATCHY_BRANCH, value: this.releaseBranch, type: 'PLAINTEXT' as const }]
            : []),
        ],
      }),
    );
    const buildId = out.build?.id;
    if (!buildId) throw new Error(`CodeBuild started no build of ${project}`);
    return { buildId, project, version, sourceRevision: request.sourceRevision };
  }
}
