/** The version a rebuild of a released commit is published under. */
import { SEMVER_PATTERN } from '@core/artifacts';
import { rebuildVersion } from '@core/release/rollback/rebuild';

describe('rebuild versions', () => {
  test('rebuild versions are semver of their own, never the original', () => {
    const at = new Date('2026-11-22T06:07:08Z');
    expect(rebuildVersion('1.2.0', at)).toBe('1.2.0-rebuild.20261122060708');
    expect(rebuildVersion('1.2.0-rc.1', at)).toBe('1.2.0-rc.1.rebuild.20261122060708');
    expect(SEMVER_PATTERN.test(rebuildVersion('1.2.0-rc.1', at))).toBe(true);
  });
});
