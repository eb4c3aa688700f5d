/**
 * `watchy publish`: verify, sign and publish a staged build; promote it when the branch is the
 * release branch. Without --endpoint-url it names a CodeBuild build and invokes the publish
 * function, which learns that build's staging prefix, branch and commit from CodeBuild and the
 * pipeline; with --endpoint-url it runs the publish core in-process on the key and branch given.
 */
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CloudFrontInvalidator } from '@core/release/cloudfront-invalidator';
import { invokeReleaseFunction } from '@core/release/rollback/invoke';
import { publish, type PublishOutcome } from '@core/release/publish/publish';
import { loadConfig } from '@core/config';
import { UsageError } from '../errors';
import { parseCommandArgs, required } from '../args';
import type { Command } from '../command';
import {
  clientConfig,
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  functionName,
  printJson,
  releaseStore,
  signer,
} from './release-shared';

const usage = `usage: watchy publish --build-id PROJECT:UUID [--request-key KEY] [--stack-prefix P | --function-name F]
       watchy publish --endpoint-url URL --request-key KEY --branch NAME [connection options]
                      [--base-url URL] [--distribution-id ID] [--release-branch B] [--integration-branch B]

Publishes what \`watchy stage\` staged. Builds of the release branch are promoted to the latest
pointer; builds of the integration branch publish versioned artifacts only.

Deployed (no --endpoint-url): names a CodeBuild build of a release project; the publish function
checks with CodeBuild that it succeeded, takes its branch from the pipeline run that ran it (or its
refs/heads/ source version; a rebuild of a released commit is the release branch) and publishes
only from that build's own staging prefix: its batch or its one request, or KEY if given under it.

  --build-id            the build (\`watchy builds\`, a rebuild's buildId)
  --request-key         which of the build's staged keys (what \`watchy stage\` printed)

Local (--endpoint-url): publishes KEY on the branch given, in-process.

  --base-url            BinaryDistributionUrl for download_url (with --endpoint-url; default $WATCHY_BASE_URL)
  --distribution-id     CloudFront distribution to invalidate (with --endpoint-url; default none)
  --release-branch      promoted branch (with --endpoint-url; default: the embedded config's source.releaseBranch)
  --integration-branch  versioned-only branch (with --endpoint-url; default: source.integrationBranch)

${CONNECTION_USAGE}
`;

export const command: Command = {
  name: 'publish',
  summary: 'verify, sign and publish a staged build (promote it on the release branch)',
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, {
      ...CONNECTION_OPTIONS,
      'build-id': { type: 'string' },
      'request-key': { type: 'string' },
      branch: { type: 'string' },
      'base-url': { type: 'string' },
      'distribution-id': { type: 'string' },
      'release-branch': { type: 'string' },
      'integration-branch': { type: 'string' },
    });
    let outcome: PublishOutcome;
    if (!values['endpoint-url']) {
      if (values.branch !== undefined) {
        throw new UsageError(
          'without --endpoint-url, name the build (--build-id): the publish function takes its branch from the build, never from --branch',
        );
      }
      const requestKey = values['request-key'];
      outcome = await invokeReleaseFunction(
        new LambdaClient(clientConfig(values)),
        functionName(values, 'publish'),
        { buildId: required(values['build-id'], 'build-id'), ...(requestKey ? { requestKey } : {}) },
      );
    } else {
      if (values['build-id'] !== undefined) {
        throw new UsageError(
          '--build-id is for the deployed publish function; with --endpoint-url give --request-key and --branch',
        );
      }
      const invocation = {
        requestKey: required(values['request-key'], 'request-key'),
        branch: required(values.branch, 'branch'),
      };
      const distributionId = values['distribution-id'];
      const { source } = loadConfig();
      outcome = await publish(
        {
          store: releaseStore(values),
          signer: signer(values),
          ...(distributionId
            ? {
                invalidator: new CloudFrontInvalidator(
                  new CloudFrontClient(clientConfig(values)),
                  distributionId,
                ),
              }
            : {}),
        },
        {
          releaseBranch: values['release-branch'] ?? source.releaseBranch,
          integrationBranch: values['integration-branch'] ?? source.integrationBranch,
          binaryDistributionUrl: required(values['base-url'] ?? process.env.WATCHY_BASE_URL, 'base-url'),
        },
        invocation,
      );
    }
    printJson(outcome);
    return 0;
  },
};
