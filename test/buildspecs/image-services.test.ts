import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@core/config';
import { ROOT } from './image-shims';

/**
 * The default catalog's container services as image.yml builds them: each has what its builder
 * needs, the Dockerfile follows the house rules, and each service's own test suite passes.
 */
const catalog = loadConfig().catalog.containerServices;

function dockerfileStages(text: string): string[][] {
  const stages: string[][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (/^FROM\s/i.test(line)) stages.push([]);
    stages[stages.length - 1]?.push(line);
  }
  return stages;
}

describe('example container services', () => {
  test.each(catalog.map((s) => [s.name, s] as const))('%s has what its builder needs', (_name, service) => {
    const dir = join(ROOT, service.sourcePath);
    const packageJson = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    if (service.builder === 'dockerfile') {
      expect(existsSync(join(dir, 'Dockerfile'))).toBe(true);
    } else {
      // Buildpacks: no Dockerfile; Paketo's Node.js buildpack runs `npm start`.
      expect(existsSync(join(dir, 'Dockerfile'))).toBe(false);
      expect(packageJson.scripts?.start).toMatch(/^node /);
      expect(existsSync(join(dir, 'package-lock.json'))).toBe(true);
    }
  });

  test('the status-api Dockerfile is multi-stage, runs as a non-root user and takes its OCI labels from build args', () => {
    const text = readFileSync(join(ROOT, 'examples/services/status-api/Dockerfile'), 'utf8');
    const stages = dockerfileStages(text);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = stages[stages.length - 1]!;
    const users = runtime.filter((l) => /^USER\s/i.test(l));
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^USER\s+(root|0)(\s|:|$)/i);
    const runtimeText = runtime.join('\n');
    for (const arg of ['REVISION', 'CREATED', 'SOURCE', 'VERSION', 'BUILD_URL']) {
      expect(runtimeText).toMatch(new RegExp(`^ARG ${arg}=`, 'm'));
    }
    expect(runtimeText).toContain('org.opencontainers.image.revision="${REVISION}"');
    expect(runtimeText).toContain('org.opencontainers.image.created="${CREATED}"');
    expect(runtimeText).toContain('org.opencontainers.image.source="${SOURCE}"');
    // The tests run in the build: an image is only made from code whose tests pass.
    expect(stages[0]!.join('\n')).toMatch(/RUN node --test/);
  });

  test('the status-api Dockerfile takes its base image only from the NODE_IMAGE build arg: no default, no tag of its own', () => {
    const text = readFileSync(join(ROOT, 'examples/services/status-api/Dockerfile'), 'utf8');
    const lines = text.split('\n').map((l) => l.trim());
    const froms = lines.filter((l) => /^FROM\s/i.test(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/);
    // Declared without a default, so a build that does not pass the pinned digest fails.
    expect(lines.filter((l) => /^ARG NODE_IMAGE\b/.test(l))).toEqual(['ARG NODE_IMAGE']);
    expect(text).not.toMatch(/node:\d+/);
  });

  test.each(catalog.map((s) => [s.name, s.sourcePath] as const))(
    "%s's own test suite passes (node --test)",
    (_name, sourcePath) => {
      const out = execFileSync(process.execPath, ['--test', 'test/'], {
        cwd: join(ROOT, sourcePath),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(out).toMatch(/^# fail 0$/m);
      expect(out).toMatch(/^# pass [1-9]\d*$/m);
    },
  );
});
