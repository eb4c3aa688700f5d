/**
 * `watchy stage`: the release build's last step. Uploads every package in the `watchy package`
 * output directory under `staging/{build session}/` with SHA-256 checksums, writes the publish
 * request(s), and prints the key to publish (the buildspec exports it as WATCHY_PUBLISH_REQUEST).
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { WATCHY_BRANCH } from '@core/build-env';
import { stageDist } from '@core/release/publish/stage';
import { CliError, UsageError } from '../errors';
import { parseCommandArgs, required } from '../args';
import type { Command } from '../command';
import { clientConfig, releaseStore } from './release-shared';

const usage = `usage: watchy stage --dist DIR [--bucket NAME] [--endpoint-url URL] [--session ID]
                    [--source-revision SHA] [--build-id ID] [--branch NAME]

Stages the packages in DIR for publishing and prints the publish request key (a batch key when
DIR holds several packages). The build session is the STS user id of the caller (on CodeBuild
{role id}:AWSCodeBuild-{uuid}, the only staging prefix the build may write) unless --session is given.

  --bucket           release bucket (default $WATCHY_RELEASE_BUCKET)
  --source-revision  when the metadata has none (default $CODEBUILD_RESOLVED_SOURCE_VERSION)
  --build-id         when the metadata has none (default $CODEBUILD_BUILD_ID)
  --branch           the branch built, recorded in every request (default $WATCHY_BRANCH, which
                     the pipeline sets, else the branch of a refs/heads/… $CODEBUILD_SOURCE_VERSION)

The publisher publishes a request only if its branch, build id and commit are the ones CodePipeline
and CodeBuild report for the build whose staging prefix holds it.
`;

export const command: Command = {
  name: 'stage',
  summary: 'upload packaged binaries to staging and print the publish request key',
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, {
      dist: { type: 'string' },
      bucket: { type: 'string' },
      'endpoint-url': { type: 'string' },
      region: { type: 'string' },
      session: { type: 'string' },
      'source-revision': { type: 'string' },
      'build-id': { type: 'string' },
      branch: { type: 'string' },
    });
    const dir = required(values.dist, 'dist');
    const store = releaseStore(values);
    let session = values.session;
    if (!session) {
      const identity = await new STSClient(clientConfig(values)).send(new GetCallerIdentityCommand({}));
      session = identity.UserId;
      if (!session) throw new CliError('STS GetCallerIdentity returned no UserId');
    }
    const sourceRevision = values['source-revision'] ?? process.env.CODEBUILD_RESOLVED_SOURCE_VERSION;
    const buildId = values['build-id'] ?? process.env.CODEBUILD_BUILD_ID;
    const branch =
      values.branch ||
      process.env[WATCHY_BRANCH] ||
      /^refs\/heads\/(.+)$/.exec(process.env.CODEBUILD_SOURCE_VERSION ?? '')?.[1];
    if (!branch) {
      throw new UsageError(
        `missing --branch (or ${WATCHY_BRANCH}): a staged request records the branch it was built from`,
      );
    }
    const staged = await stageDist(store, {
      dir,
      session,
      branch,
      ...(sourceRevision ? { sourceRevision } : {}),
      ...(buildId ? { buildId } : {}),
    });
    for (const key of staged.requests) process.stderr.write(`staged s3://${store.bucket}/${key}\n`);
    process.stdout.write(`${staged.key}\n`);
    return 0;
  },
};
