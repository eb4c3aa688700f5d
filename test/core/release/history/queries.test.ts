/** The pure release-history queries: artifact folder names and semver precedence. */
import { compareSemver, parseArtifactName } from '@core/release/history/queries';

describe('history queries', () => {
  test('artifact folder names parse back to their refs, and nothing else does', () => {
    expect(parseArtifactName('slack-monitor')).toEqual({
      app: 'slack',
      binaryType: 'nuitka',
      architecture: 'x86_64',
    });
    expect(parseArtifactName('slack-monitor-arm64')).toEqual({
      app: 'slack',
      binaryType: 'nuitka',
      architecture: 'arm64',
    });
    expect(parseArtifactName('ws-connect-lambda-arm64')).toEqual({
      app: 'ws-connect',
      binaryType: 'rust',
      architecture: 'arm64',
    });
    expect(parseArtifactName('-monitor')).toBeUndefined();
    expect(parseArtifactName('slack')).toBeUndefined();
  });

  test('semver precedence: prereleases below their release, numeric identifiers numerically', () => {
    const sorted = [
      '1.10.0',
      '1.2.0',
      '1.2.0-rc.10',
      '1.2.0-rc.2',
      '0.0.0-dev.20261122.gabc',
      '1.2.0-alpha',
    ].sort(compareSemver);
    expect(sorted).toEqual([
      '0.0.0-dev.20261122.gabc',
      '1.2.0-alpha',
      '1.2.0-rc.2',
      '1.2.0-rc.10',
      '1.2.0',
      '1.10.0',
    ]);
  });
});
