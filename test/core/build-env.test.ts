/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each helper checks the shape it reads */
/**
 * The build-target contract (core/build-env.ts): a CodeBuild build of a catalog target (its
 * project's environment under its pipeline action's variables, read from the synthesized
 * templates) and `watchy build` of the same target (the variables the CLI hands the local runner)
 * get the same variables with the same values, apart from the ones the contract names as given
 * by the host (CodeBuild sets them; a local build inherits them from its shell) or as local
 * options. The catalog's source paths are not the buildspecs' defaults, so a side that leaves a
 * path to the buildspec's default shows here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUILDSPEC_FILES,
  HOST_VARIABLES,
  LOCAL_OPTION_VARIABLES,
  RUN_VARIABLES,
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_SOURCE_PATH,
  catalogTargets,
  projectVariables,
  startVariables,
  targetVariables,
} from '@core/build-env';
import { loadConfig } from '@core/config';
import { localBuilds } from '../../cli/commands/build';
import type { BuildTarget } from '../../lib/constructs/build/build-projects';
import { buildActionName } from '../../lib/constructs/build/release-pipeline';
import { BUILDSPEC_DIR } from '../../lib/repo-paths';
import { fixture, resourcesOf, type Fixture } from '../lib/stacks/build-fixture';

const CATALOG = {
  catalog: {
    nuitkaApps: [
      {
        name: 'slack',
        displayName: 'Slack',
        sourcePath: 'src/monitors/slack-monitor',
        architectures: ['x86_64', 'arm64'],
      },
      { name: 'zoom', displayName: 'Zoom', sourcePath: 'src/zoom', architectures: ['arm64'] },
    ],
    rustWorkspace: { sourcePath: 'src/lambdas', architectures: ['arm64', 'x86_64'] },
  },
};

let f: Fixture;
beforeAll(() => {
  f = fixture({ overrides: CATALOG });
});

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();
const without = (variables: Record<string, unknown>, names: readonly string[]) =>
  Object.fromEntries(Object.entries(variables).filter(([name]) => !names.includes(name)));

/** What a CodeBuild build of the target gets: its project's environment under its build action's variables. */
function codeBuildVariables(target: BuildTarget): Record<string, unknown> {
  const project = f.buildJson.Resources[f.projectId(target.projectKey)];
  const projectEnv = Object.fromEntries(
    project.Properties.Environment.EnvironmentVariables.map((v: any) => [v.Name, v.Value]),
  );
  const [, pipeline] = resourcesOf(f.pipelineJson, 'AWS::CodePipeline::Pipeline').find(([, p]) =>
    p.Properties.Triggers[0].GitConfiguration.Push?.some((push: any) =>
      push.Branches.Includes.includes(f.config.source.releaseBranch),
    ),
  )!;
  const action = pipeline.Properties.Stages.find((s: any) => s.Name === 'Build').Actions.find(
    (a: any) => a.Name === buildActionName(target),
  );
  const actionEnv = Object.fromEntries(
    JSON.parse(action.Configuration.EnvironmentVariables).map((v: any) => [v.name, v.value]),
  );
  return { ...projectEnv, ...actionEnv };
}

/** What `watchy build` gives the local runner for the same target. */
function localVariables({ projectKey: _, ...target }: BuildTarget): Record<string, string> {
  if (target.kind === 'image') throw new Error('watchy build does not build images');
  const builds = localBuilds(f.config.catalog, {
    kind: target.kind,
    app: target.app,
    architecture: target.architecture,
    version: '1.2.3',
    mode: 'release',
    clean: false,
    allowNativeFallback: false,
  });
  expect(builds.map((b) => b.target)).toEqual([target]);
  return { ...builds[0]!.variables };
}

describe('one build-target contract for CodeBuild and watchy build', () => {
  test('the targets are the catalog, with its paths', () => {
    expect(f.build.targets.map((t) => `${t.kind} ${t.app} ${t.architecture} ${t.sourcePath}`)).toEqual([
      'nuitka slack x86_64 src/monitors/slack-monitor',
      'nuitka slack arm64 src/monitors/slack-monitor',
      'nuitka zoom arm64 src/zoom',
      'rust rust arm64 src/lambdas',
      'rust rust x86_64 src/lambdas',
      'image status-api x86_64 examples/services/status-api',
      'image webhook-relay x86_64 examples/services/webhook-relay',
    ]);
    expect(f.build.targets.map(({ projectKey: _, ...t }) => t)).toEqual(catalogTargets(f.config.catalog));
  });

  test('every CodeBuild build gets exactly its target variables, the run variables and the host variables', () => {
    for (const target of f.build.targets) {
      const variables = codeBuildVariables(target);
      const label = `${target.kind} ${target.app} ${target.architecture}`;
      expect([label, sorted(Object.keys(variables))]).toEqual([
        label,
        sorted([...Object.keys(targetVariables(target)), ...RUN_VARIABLES, ...HOST_VARIABLES[target.kind]]),
      ]);
      expect([label, variables]).toMatchObject([label, targetVariables(target)]);
    }
  });

  test('watchy build gets the same variables and values as CodeBuild, but for host variables and local options', () => {
    const local = f.build.targets.filter((t) => t.kind !== 'image');
    expect(new Set(local.map((t) => t.kind))).toEqual(new Set(['nuitka', 'rust']));
    for (const target of local) {
      const label = `${target.kind} ${target.app} ${target.architecture}`;
      const codeBuild = without(codeBuildVariables(target), HOST_VARIABLES[target.kind]);
      const runner = without(localVariables(target), LOCAL_OPTION_VARIABLES[target.kind]);
      // The run variables differ in value by design (the pipeline passes the Test stage's version).
      expect([label, sorted(Object.keys(runner))]).toEqual([label, sorted(Object.keys(codeBuild))]);
      expect([label, without(runner, RUN_VARIABLES)]).toEqual([label, without(codeBuild, RUN_VARIABLES)]);
    }
  });

  test('every target variable and local option is one its buildspec reads', () => {
    for (const target of f.build.targets) {
      const buildspec = readFileSync(join(BUILDSPEC_DIR, BUILDSPEC_FILES[target.kind]), 'utf8');
      for (const name of [...Object.keys(targetVariables(target)), ...LOCAL_OPTION_VARIABLES[target.kind]]) {
        expect([target.kind, name, buildspec.includes(name)]).toEqual([target.kind, name, true]);
      }
    }
  });
});

describe('project and start variables', () => {
  const [slackX86, slackArm, zoomArm] = catalogTargets(loadConfig({ overrides: CATALOG }).catalog);

  test('a Nuitka project shares the architecture and Python; each start names the app and its directory', () => {
    expect(Object.keys(projectVariables([slackArm!, zoomArm!])).sort()).toEqual(
      [WATCHY_ARCH, 'PYTHON_VERSION'].sort(),
    );
    expect(startVariables(zoomArm!)).toEqual({
      [WATCHY_APP]: 'zoom',
      [WATCHY_ARCH]: 'arm64',
      [WATCHY_SOURCE_PATH]: 'src/zoom',
    });
  });

  test('targets that cannot share a project are refused', () => {
    expect(() => projectVariables([slackX86!, zoomArm!])).toThrow(
      'projectVariables: nuitka zoom arm64 cannot share a project with nuitka slack x86_64',
    );
    expect(() => projectVariables([])).toThrow('a project builds at least one target');
  });
});
