/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each helper checks the shape it reads */
/**
 * Test-local wiring of the Build and Pipeline stacks: a stand-in stack holds the release bucket,
 * the ECR repositories and (optionally) a publish function, so each test can vary the config, the
 * buildspec folder or the publish function without synthesizing the whole platform.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { pipelineNames } from '@core/release/environment';
import { loadConfig, type WatchyConfig } from '@core/config';
import { BuildStack } from '../../../lib/stacks/build-stack';
import { PipelineStack } from '../../../lib/stacks/pipeline-stack';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { cdkJsonContext, readFindings, type NagFinding } from '../../support/synth';

export interface Fixture {
  readonly config: WatchyConfig;
  readonly build: BuildStack;
  readonly pipeline: PipelineStack;
  readonly deps: Stack;
  readonly buildTemplate: Template;
  readonly pipelineTemplate: Template;
  readonly buildJson: any;
  readonly pipelineJson: any;
  /** Logical id (in the Build stack) of the project with this key. */
  projectId(key: string): string;
  /** The statements of every policy attached to the role of this project. */
  projectStatements(key: string): any[];
}

export interface FixtureOptions {
  readonly overrides?: unknown;
  readonly buildspecDir?: string;
  readonly publishFunction?: boolean;
  /** The pipelines' names. @default pipelineNames('Watchy'), as the platform names them */
  readonly pipelineNames?: { release: string; integration: string };
}

export function fixture(options: FixtureOptions = {}): Fixture {
  return wire(new App({ context: cdkJsonContext() }), options);
}

/**
 * cdk-nag (AwsSolutions + Serverless) over the Build and Pipeline stacks alone, wired as in the
 * fixture: the findings of those two stacks (the stand-in stack's are not this test's business).
 */
export function nagFindings(options: FixtureOptions = {}): NagFinding[] {
  const outdir = mkdtempSync(join(tmpdir(), 'watchy-build-nag-'));
  const app = new App({ outdir, context: cdkJsonContext() });
  wire(app, options);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  try {
    app.synth();
  } catch {
    // "Validation failed": the report says what.
  }
  return readFindings(outdir).filter((f) => /^Watchy-(Build|Pipeline)\//.test(f.path));
}

function wire(app: App, options: FixtureOptions): Fixture {
  const config = loadConfig({ overrides: options.overrides });
  const deps = new Stack(app, 'Deps');
  const releaseBucket = new s3.Bucket(deps, 'Releases');
  const repositories = new Map(
    config.catalog.containerServices.map(
      (s) => [s.name, new ecr.Repository(deps, `Repo-${s.name}`)] as const,
    ),
  );
  const publishFunction = options.publishFunction
    ? new lambda.Function(deps, 'Publish', {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => ({})'),
        timeout: Duration.seconds(30),
      })
    : undefined;
  const build = new BuildStack(app, 'Watchy-Build', {
    catalog: config.catalog,
    build: config.build,
    source: config.source,
    releaseBucket,
    binaryDistributionUrl: 'https://d111111abcdef8.cloudfront.net/binaries',
    repositories,
    buildspecDir: options.buildspecDir,
  });
  const pipeline = new PipelineStack(app, 'Watchy-Pipeline', {
    catalog: config.catalog,
    source: config.source,
    connection: build.source,
    projects: build.projects,
    targets: build.targets,
    repositories,
    artifactBucket: build.artifactBucket,
    publishFunction,
    pipelineNames: options.pipelineNames ?? pipelineNames('Watchy'),
  });
  const buildTemplate = Template.fromStack(build);
  const pipelineTemplate = Template.fromStack(pipeline);
  const buildJson = buildTemplate.toJSON();
  const projectId = (key: string) => {
    const project = build.projects.get(key);
    if (!project) throw new Error(`no project ${key}`);
    return build.getLogicalId(project.node.defaultChild as any);
  };
  return {
    config,
    build,
    pipeline,
    deps,
    buildTemplate,
    pipelineTemplate,
    buildJson,
    pipelineJson: pipelineTemplate.toJSON(),
    projectId,
    projectStatements: (key) => {
      const roleId = buildJson.Resources[projectId(key)].Properties.ServiceRole['Fn::GetAtt'][0];
      return Object.values(buildJson.Resources as Record<string, any>)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === roleId))
        .flatMap((r) => r.Properties.PolicyDocument.Statement);
    },
  };
}

/** Resources of a type in a template JSON. */
export function resourcesOf(json: any, type: string): [string, any][] {
  return Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
}

export function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}
