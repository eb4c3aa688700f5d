/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each assertion checks the shape it reads */
/**
 * The ReleaseControl stack in the whole platform (cdk-nag AwsSolutions + Serverless, zero
 * unacknowledged findings, or synthPlatform throws), and the release security model across EVERY
 * stack: only the publish role can sign, and only it can write binaries/ or state/history/ of the release bucket.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { RELEASE_ENV } from '@core/release/environment';
import {
  nagFindingsAfter,
  normalisedTemplate,
  synthPlatform,
  type CfnTemplate,
  type SynthResult,
} from '../../support/synth';

let synth: SynthResult;
let template: Template;
let json: CfnTemplate;

beforeAll(() => {
  synth = synthPlatform();
  template = synth.template('ReleaseControl');
  json = synth.templateJson('ReleaseControl');
});

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: any;
};

/** Every Allow statement of every identity policy in every stack, with the roles it is attached to. */
function allowStatements(): { stack: string; roles: string[]; statement: Statement }[] {
  const found: { stack: string; roles: string[]; statement: Statement }[] = [];
  for (const stack of synth.stacks) {
    for (const resource of Object.values((stack.template as CfnTemplate).Resources ?? {})) {
      const props = resource.Properties as any;
      const documents: { roles: unknown[]; document: any }[] = [];
      if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
        documents.push({ roles: props.Roles ?? [], document: props.PolicyDocument });
      }
      if (resource.Type === 'AWS::IAM::Role') {
        for (const inline of props.Policies ?? [])
          documents.push({ roles: ['(inline)'], document: inline.PolicyDocument });
      }
      for (const { roles, document } of documents) {
        for (const statement of (document?.Statement ?? []) as Statement[]) {
          if (statement.Effect === 'Allow')
            found.push({ stack: stack.stackName, roles: roles.map((r) => JSON.stringify(r)), statement });
        }
      }
    }
  }
  return found;
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const grants = (s: Statement, wanted: string) =>
  actionsOf(s).some(
    (a) => a === '*' || a === wanted || (a.endsWith('*') && wanted.startsWith(a.slice(0, -1))),
  );

function roleRef(path: string): string {
  const [id] = Object.entries(json.Resources ?? {}).find(
    ([, r]) =>
      r.Type === 'AWS::IAM::Role' && (r.Metadata?.['aws:cdk:path'] as string | undefined)?.includes(path),
  )!;
  return JSON.stringify({ Ref: id });
}

describe('ReleaseControl stack', () => {
  test('the signing key is ECC_NIST_P256 for SIGN_VERIFY and denies kms:Sign to all but the publish role', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'OnlyThePublishRoleSigns',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'kms:Sign',
            Condition: {
              ArnNotEquals: {
                'aws:PrincipalArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('^PublishRole'), 'Arn'] },
              },
            },
          }),
        ]),
      },
    });
  });

  test('no principal but the publish role is allowed kms:Sign, in any stack', () => {
    const signers = allowStatements().filter(({ statement }) => grants(statement, 'kms:Sign'));
    expect(signers.map((s) => s.roles)).toEqual([[roleRef('/Publish/Publish/Role')]]);
  });

  test('no role but the publish role may write binaries/ or state/history/ of the release bucket, in any stack', () => {
    // A release-bucket object ARN (bucket ARN joined with "/path") that covers released objects or
    // release histories: /binaries/..., /state/history/..., /state/* or /* (the whole bucket).
    // Builds' /staging/${aws:userid}/* and bisect's /state/bisect/... do not.
    const coversReleases = (resource: unknown) => {
      const text = JSON.stringify(resource);
      return (
        text.includes('ReleasesBucket') &&
        /"\/(\*|binaries\/[^"]*|state\/\*|state\/history\/[^"]*)"/.test(text)
      );
    };
    const writers = allowStatements().filter(({ statement }) => {
      if (!grants(statement, 's3:PutObject')) return false;
      const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
      return resources.some(coversReleases);
    });
    expect(writers.length).toBeGreaterThan(0);
    for (const writer of writers) expect(writer.roles).toEqual([roleRef('/Publish/Publish/Role')]);
    const publishWrite = writers.map((w) => JSON.stringify(w.statement.Resource)).join(' ');
    expect(publishWrite).toContain('/binaries/*');
    expect(publishWrite).toContain('/state/history/*');
  });

  test('the publish role never writes staging/; the rollback role writes nothing and cannot sign', () => {
    const statements = allowStatements();
    const publish = roleRef('/Publish/Publish/Role');
    const rollback = roleRef('/Rollback/Rollback/Role');
    for (const { roles, statement } of statements) {
      if (roles.includes(publish) && grants(statement, 's3:PutObject')) {
        expect(JSON.stringify(statement.Resource)).not.toContain('/staging/');
      }
      if (roles.includes(rollback)) {
        expect(grants(statement, 's3:PutObject')).toBe(false);
        expect(grants(statement, 'kms:Sign')).toBe(false);
      }
    }
  });

  test('publish and rollback functions: Node 24 on ARM64, named for the CLI, with their environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'Watchy-publish',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          [RELEASE_ENV.releaseBranch]: 'main',
          [RELEASE_ENV.integrationBranch]: 'develop',
          [RELEASE_ENV.signingKeyArn]: Match.anyValue(),
          [RELEASE_ENV.distributionId]: Match.anyValue(),
          [RELEASE_ENV.binaryDistributionUrl]: Match.anyValue(),
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'Watchy-rollback',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          [RELEASE_ENV.publishFunction]: Match.anyValue(),
          [RELEASE_ENV.signingKeyArn]: Match.anyValue(),
          [RELEASE_ENV.rebuildProjects]: Match.anyValue(),
          // A rebuild is of the release branch (its WATCHY_BRANCH).
          [RELEASE_ENV.releaseBranch]: 'main',
        }),
      },
    });
  });

  test('the publish role reads builds of the binary projects of both branch classes only, and the runs of the two pipelines by name', () => {
    const publish = roleRef('/Publish/Publish/Role');
    const own = allowStatements().filter(({ roles }) => roles.includes(publish));
    const builds = own.filter(({ statement }) => grants(statement, 'codebuild:BatchGetBuilds'));
    expect(builds).toHaveLength(1);
    const projects = builds[0]!.statement.Resource as unknown[];
    // nuitka-x86_64, nuitka-arm64, rust-arm64 of each class, from the Build stack: no wildcard, no
    // image, test or scan project.
    expect(projects).toHaveLength(6);
    expect(JSON.stringify(projects)).not.toMatch(/\*|Image|Tests|Scan/);
    const runs = own.filter(({ statement }) => grants(statement, 'codepipeline:ListActionExecutions'));
    expect(runs).toHaveLength(1);
    expect(runs[0]!.statement.Action).toEqual([
      'codepipeline:ListActionExecutions',
      'codepipeline:ListPipelineExecutions',
    ]);
    // Built from the name, not imported: the Pipeline stack is deployed after this one.
    const pipelineArn = JSON.stringify(runs[0]!.statement.Resource);
    expect(pipelineArn).toMatch(/:codepipeline:.*:Watchy-Pipeline-Release"/);
    expect(pipelineArn).toMatch(/:codepipeline:.*:Watchy-Pipeline-Integration"/);
    expect(runs[0]!.statement.Resource).toHaveLength(2);
    expect(pipelineArn).not.toMatch(/ImportValue|GetStackOutput/);
    const pipelineNames = Object.values(synth.templateJson('Pipeline').Resources ?? {})
      .filter((r) => r.Type === 'AWS::CodePipeline::Pipeline')
      .map((r) => (r.Properties as { Name?: string }).Name);
    expect(pipelineNames).toEqual(
      expect.arrayContaining(['Watchy-Pipeline-Release', 'Watchy-Pipeline-Integration']),
    );
  });

  test("the publish function's environment names each binary project with its role's id and ARN and its branch class, and both pipelines", () => {
    const [, fn] = Object.entries(json.Resources ?? {}).find(
      ([, r]) =>
        r.Type === 'AWS::Lambda::Function' && (r.Properties as any).FunctionName === 'Watchy-publish',
    )!;
    const variables = (fn.Properties as any).Environment.Variables;
    expect(JSON.parse(variables[RELEASE_ENV.pipelines])).toEqual({
      release: 'Watchy-Pipeline-Release',
      integration: 'Watchy-Pipeline-Integration',
    });
    // The project map is a Fn::Join (role ids and ARNs are the Build stack's outputs); the class is literal.
    const classes = (cls: string) =>
      JSON.stringify(variables[RELEASE_ENV.releaseProjects]).split(`branchClass\\":\\"${cls}\\"`).length - 1;
    expect([classes('release'), classes('integration')]).toEqual([3, 3]);
    // A Fn::Join of the Build stack's outputs: what each output is, read from the Build stack.
    const text = JSON.stringify(variables[RELEASE_ENV.releaseProjects]);
    const names = [...text.matchAll(/"OutputName":"([^"]+)"/g)].map((m) => m[1]!);
    expect(text).toContain('"StackName":"Watchy-Build"');
    const outputs = synth.templateJson('Build').Outputs as Record<string, { Value: any }>;
    const attributes = names.map((name) => {
      const value = outputs[name]!.Value;
      return value['Fn::GetAtt']?.[1] ?? (value.Ref ? 'Ref' : JSON.stringify(value));
    });
    expect(attributes.sort()).toEqual([
      ...Array(6).fill('Arn'),
      ...Array(6).fill('Ref'),
      ...Array(6).fill('RoleId'),
    ]);
  });

  test('the rollback function may start builds of the binary projects only and invoke publish', () => {
    const rollback = roleRef('/Rollback/Rollback/Role');
    const starts = allowStatements().filter(
      ({ roles, statement }) => roles.includes(rollback) && grants(statement, 'codebuild:StartBuild'),
    );
    expect(starts).toHaveLength(1);
    const resources = JSON.stringify(starts[0]!.statement.Resource);
    expect(resources).not.toContain('image-');
    expect(resources).not.toMatch(/"\*"/);
    const invokes = allowStatements().filter(
      ({ roles, statement }) => roles.includes(rollback) && grants(statement, 'lambda:InvokeFunction'),
    );
    expect(invokes).toHaveLength(1);
  });

  test('the notifications topic is KMS-encrypted and refuses anything but TLS', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('the pipeline invokes the publish function in its Publish stage', () => {
    const pipeline = JSON.stringify(synth.templateJson('Pipeline'));
    expect(pipeline).toContain('"Name":"Publish"');
    expect(pipeline).toContain('"Provider":"Lambda"');
  });

  test('the publish role is granted the CodePipeline job results once, in a policy of its own (not its default policy)', () => {
    const publish = roleRef('/Publish/Publish/Role');
    const jobResults = allowStatements().filter(
      ({ roles, statement }) =>
        roles.includes(publish) && actionsOf(statement).some((a) => a.startsWith('codepipeline:PutJob')),
    );
    expect(jobResults.map(({ statement }) => [...actionsOf(statement)].sort())).toEqual([
      ['codepipeline:PutJobFailureResult', 'codepipeline:PutJobSuccessResult'],
    ]);
    const [id] = Object.entries(json.Resources ?? {}).find(
      ([, r]) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties).includes('codepipeline:PutJobSuccessResult'),
    )!;
    expect(json.Resources![id]!.Metadata?.['aws:cdk:path']).toBe(
      'Watchy-ReleaseControl/Publish/PipelineJobResults/Resource',
    );
  });

  test('zero unacknowledged cdk-nag findings', () => {
    // synthPlatform throws on a finding; this synth reports them instead, so the check can fail.
    expect(nagFindingsAfter(() => undefined)).toEqual([]);
  });

  test('snapshot (asset hashes normalised)', () => {
    expect(normalisedTemplate(json)).toMatchSnapshot();
  });
});
