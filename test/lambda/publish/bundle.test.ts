/**
 * The publish and rollback handlers as Lambda runs them: bundled by esbuild the way the house
 * construct bundles them (CJS, everything inlined, the SDK included), loaded in a fresh Node process,
 * and invoked. Without their environment they fail with one line naming the missing variable, which
 * shows the bundle loads and runs (module-scope clients, Powertools, zod) before reaching AWS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..', '..', '..');

function bundle(name: string): string {
  const outfile = join(mkdtempSync(join(tmpdir(), `watchy-bundle-${name}-`)), 'index.js');
  // As WatchyFunction bundles (target node24 there; node20 here, the Node that runs the tests).
  buildSync({
    entryPoints: [join(ROOT, 'lambda', name, 'index.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    minify: true,
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

function invoke(file: string, event: unknown): { ok: boolean; text: string } {
  const script = `
    const { handler } = require(${JSON.stringify(file)});
    handler(${JSON.stringify(event)}, { awsRequestId: 'r-1', functionName: 'f', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' })
      .then((r) => { process.stdout.write(JSON.stringify(r)); }, (e) => { process.stdout.write('ERROR ' + e.message); });`;
  const result = spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', NODE_NO_WARNINGS: '1' },
    encoding: 'utf8',
  });
  const text = result.stdout.trim();
  return { ok: !text.startsWith('ERROR '), text: text.replace(/^ERROR /, '') };
}

describe('bundled handlers', () => {
  test('publish: loads, exports handler, and names the first missing variable', () => {
    const file = bundle('publish');
    expect(
      execFileSync(
        process.execPath,
        ['-e', `process.stdout.write(typeof require(${JSON.stringify(file)}).handler)`],
        { encoding: 'utf8' },
      ),
    ).toBe('function');
    expect(invoke(file, { buildId: 'watchy-nuitka-x86_64:00000000-0000-4000-8000-000000000000' })).toEqual({
      ok: false,
      text: 'environment variable WATCHY_RELEASE_BUCKET is not set',
    });
  });

  test('rollback: loads and names the first missing variable', () => {
    expect(invoke(bundle('rollback'), { action: 'list' })).toEqual({
      ok: false,
      text: 'environment variable WATCHY_PUBLISH_FUNCTION is not set',
    });
  });
});
