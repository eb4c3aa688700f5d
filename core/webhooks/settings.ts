/**
 * The webhook settings of a config (pure, run at synth by the infra): which configured repository
 * is the CodeConnections source (its pushes are built by the pipeline's own trigger) and which are
 * not (their pushes start the release CodeBuild projects), the catalog's trigger patterns, and the
 * release builds a push starts. Project names come from the caller (tokens at synth).
 */
import type { Architecture } from '../artifacts';
import type { BranchClass } from '../build-env';
import type { WatchyConfig } from '../config/schema';
import { triggerFilePaths } from '../trigger-paths';
import {
  WEBHOOK_PROVIDERS,
  type WebhookBuild,
  type WebhookProvider,
  type WebhookSettings,
  type WebhookSource,
} from './contract';

/** WATCHY_APP of the Rust workspace build (the build projects' `RUST_APP`). */
const RUST_APP = 'rust';

/** A binary release build of the catalog, by the Build stack's project key (`nuitka-x86_64`, `rust-arm64`). */
export interface WebhookBuildTarget {
  readonly projectKey: string;
  readonly app: string;
  readonly architecture: Architecture;
}

/**
 * The binary builds a push starts: every Nuitka app × architecture and the Rust workspace per
 * architecture, as the pipeline's Build stage runs them. Image builds are left to the pipeline,
 * whose Scan stage gates them.
 */
export function webhookBuildTargets(catalog: WatchyConfig['catalog']): WebhookBuildTarget[] {
  return [
    ...catalog.nuitkaApps.flatMap((app) =>
      app.architectures.map((architecture) => ({
        projectKey: `nuitka-${architecture}`,
        app: app.name,
        architecture,
      })),
    ),
    ...(catalog.rustWorkspace?.architectures ?? []).map((architecture) => ({
      projectKey: `rust-${architecture}`,
      app: RUST_APP,
      architecture,
    })),
  ];
}

/** The catalog's trigger patterns: the same `triggerFilePaths` the release pipeline's push filter uses. */
export function catalogTriggerPaths(catalog: WatchyConfig['catalog']): string[] {
  return triggerFilePaths([
    ...catalog.nuitkaApps.map((a) => a.sourcePath),
    ...(catalog.rustWorkspace ? [catalog.rustWorkspace.sourcePath] : []),
    ...catalog.containerServices.map((s) => s.sourcePath),
  ]);
}

const CONNECTION_PROVIDERS: Record<WebhookProvider, readonly WatchyConfig['source']['provider'][]> = {
  github: ['GitHub', 'GitHubEnterpriseServer'],
  gitlab: ['GitLab'],
};
const PUBLIC_HOSTS: Record<WebhookProvider, string> = { github: 'github.com', gitlab: 'gitlab.com' };

/** True when this repository is the one the pipelines read through CodeConnections. */
export function isConnectedSource(
  source: WatchyConfig['source'],
  provider: WebhookProvider,
  repository: string,
): boolean {
  return (
    CONNECTION_PROVIDERS[provider].includes(source.provider) &&
    source.repository.toLowerCase() === repository.toLowerCase()
  );
}

/**
 * The settings of `config.webhooks` (no section: no sources). `projectName(key, branchClass)`
 * names the class's CodeBuild project of a Build stack key.
 */
export function webhookSettings(
  config: Pick<WatchyConfig, 'source' | 'catalog' | 'webhooks'>,
  projectName: (projectKey: string, branchClass: BranchClass) => string,
): WebhookSettings {
  const sources: WebhookSource[] = [];
  for (const provider of WEBHOOK_PROVIDERS) {
    for (const entry of config.webhooks?.[provider] ?? []) {
      const branch = entry.branch ?? config.source.releaseBranch;
      const branchClass: BranchClass = branch === config.source.releaseBranch ? 'release' : 'integration';
      const cloneUrl = entry.cloneUrl ?? `https://${PUBLIC_HOSTS[provider]}/${entry.repository}.git`;
      const host = new URL(cloneUrl).hostname.toLowerCase();
      const sourceType =
        provider === 'github'
          ? host === PUBLIC_HOSTS.github
            ? ('GITHUB' as const)
            : ('GITHUB_ENTERPRISE' as const)
          : host === PUBLIC_HOSTS.gitlab
            ? ('GITLAB' as const)
            : ('GITLAB_SELF_MANAGED' as const);
      sources.push({
        provider,
        repository: entry.repository,
        secretName: entry.secretName,
        branch,
        start: isConnectedSource(config.source, provider, entry.repository)
          ? { kind: 'pipeline-trigger' }
          : { kind: 'codebuild', branchClass, sourceType, cloneUrl },
      });
    }
  }
  const classes = new Set(
    sources.flatMap((s) => (s.start.kind === 'codebuild' ? [s.start.branchClass] : [])),
  );
  const targets = webhookBuildTargets(config.catalog);
  const builds: WebhookBuild[] = [...classes].sort().flatMap((branchClass) =>
    targets.map((t) => ({
      branchClass,
      project: projectName(t.projectKey, branchClass),
      app: t.app,
      architecture: t.architecture,
    })),
  );
  return { sources, triggerPaths: catalogTriggerPaths(config.catalog), builds };
}
