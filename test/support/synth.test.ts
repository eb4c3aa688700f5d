import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { NagFindingsError, normalisedTemplate, readFindings, synthPlatform } from './synth';

jest.setTimeout(300_000);

describe('synth harness', () => {
  test('readFindings lists every unacknowledged cdk-nag finding with rule and construct path', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'watchy-nag-'));
    const app = new App({ outdir });
    new s3.Bucket(new Stack(app, 'Nagged'), 'Plain');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/validation-report\.json/);
    const findings = readFindings(outdir);
    expect(findings.map((f) => `${f.rule} ${f.path}`)).toEqual(
      expect.arrayContaining([
        'AwsSolutions-S1 Nagged/Plain/Resource',
        'AwsSolutions-S10 Nagged/Plain/Resource',
      ]),
    );
    const message = new NagFindingsError(findings).message;
    expect(message).toContain(
      'AwsSolutions-S1 at Nagged/Plain/Resource: The S3 Bucket has server access logs disabled.',
    );
  });

  test('an acknowledged finding is not listed', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'watchy-nag-'));
    const app = new App({ outdir });
    const bucket = new s3.Bucket(new Stack(app, 'Acked'), 'Plain', { enforceSSL: true });
    Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'Test bucket without access logs.' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    app.synth();
    expect(readFindings(outdir)).toEqual([]);
  });

  test('one synth per configuration: the same options return the cached result', () => {
    const first = synthPlatform();
    expect(synthPlatform()).toBe(first);
    const other = synthPlatform({ overrides: { registry: { untaggedExpiryDays: 3 } } });
    expect(other.outdir).not.toBe(first.outdir);
    expect(other.config.registry.untaggedExpiryDays).toBe(3);
  });

  test('template() finds a stack by full name or by suffix, and names the stacks when it cannot', () => {
    const synth = synthPlatform();
    expect(synth.template('Watchy-Registry').toJSON()).toEqual(synth.template('Registry').toJSON());
    expect(() => synth.template('Nope')).toThrow(/no stack Nope; stacks are .*Watchy-Distribution/);
  });

  test('bundling: false changes nothing in any template but asset hashes and asset paths', () => {
    const withoutAssetPaths = (template: unknown) =>
      JSON.parse(
        JSON.stringify(normalisedTemplate(template)).replace(
          /"aws:asset:path":"[^"]*"/g,
          '"aws:asset:path":"<path>"',
        ),
      ) as unknown;
    const bundled = synthPlatform();
    const unbundled = synthPlatform({ bundling: false });
    expect(unbundled.stacks.map((s) => s.stackName)).toEqual(bundled.stacks.map((s) => s.stackName));
    for (const stack of bundled.stacks) {
      expect(withoutAssetPaths(unbundled.templateJson(stack.stackName))).toEqual(
        withoutAssetPaths(stack.template),
      );
    }
  });

  test('normalisedTemplate replaces asset hashes and the analytics blob', () => {
    const hash = 'a'.repeat(64);
    expect(
      normalisedTemplate({
        Code: { S3Key: `${hash}.zip` },
        CDKMetadata: { Properties: { Analytics: 'v2:deflate64:H4sIAAA' } },
      }),
    ).toEqual({
      Code: { S3Key: '<asset-hash>.zip' },
      CDKMetadata: { Properties: { Analytics: '<analytics>' } },
    });
  });
});
