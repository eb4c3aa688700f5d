/**
 * Which release a requested path is: `binaries/{name}/watchy-{name}-{version}.gz` (a version) or
 * `binaries/{name}/watchy-{name}.gz` (the latest pointer), with `{name}` an artifact name of
 * core/artifacts.ts (`slack-monitor`, `backend-lambda-arm64`), which is also the service name.
 */
import {
  artifactName,
  BINARIES_PREFIX,
  isArchitecture,
  SEMVER_PATTERN,
  MAX_VERSION_LENGTH,
  APP_NAME_PATTERN,
} from '../artifacts';
import { LATEST_VERSION } from './contract';

export interface ReleaseDownload {
  readonly service: string;
  /** A semantic version, or LATEST_VERSION for the latest pointer's binary. */
  readonly version: string;
}

const ARTIFACT_NAME = /^(.+)-(monitor|lambda)(?:-([a-z0-9_]+))?$/;

/** The release a path (an S3 key or a URI path, leading `/` allowed) downloads, or undefined. */
export function releaseDownloadOf(path: string): ReleaseDownload | undefined {
  const parts = path.replace(/^\//, '').split('/');
  if (parts.length !== 3 || parts[0] !== BINARIES_PREFIX) return undefined;
  const [, name, file] = parts as [string, string, string];
  if (!isArtifactName(name)) return undefined;
  const stem = `watchy-${name}`;
  if (file === `${stem}.gz`) return { service: name, version: LATEST_VERSION };
  if (!file.startsWith(`${stem}-`) || !file.endsWith('.gz')) return undefined;
  const version = file.slice(stem.length + 1, -'.gz'.length);
  if (version.length > MAX_VERSION_LENGTH || !SEMVER_PATTERN.test(version)) return undefined;
  return { service: name, version };
}

function isArtifactName(name: string): boolean {
  const match = ARTIFACT_NAME.exec(name);
  if (!match) return false;
  const [, app, kind, arch = 'x86_64'] = match as unknown as [string, string, string, string | undefined];
  if (!APP_NAME_PATTERN.test(app) || !isArchitecture(arch)) return false;
  return (
    artifactName({ app, binaryType: kind === 'monitor' ? 'nuitka' : 'rust', architecture: arch }) === name
  );
}
