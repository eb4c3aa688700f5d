/**
 * `watchy publish`: verify, sign and publish a staged build; promote it when the branch is the
 * release branch. Runs the publish core in-process with --endpoint-url, else invokes the publish function.
 */
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CloudFrontInvalidator } from '../../lambda/core/release/cloudfront-invalidator';
import { invokeReleaseFunction } from '../../lambda/core/release/invoke';
import { publish, type PublishOutcome } from '../../lambda/core/release/publish';
import { loadConfig } from '../../lib/config';
import { parseCommandArgs, required } from '../cli-error';
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

const usage = `usage: watchy publish --request-key KEY --branch NAME [connection options]
                      [--base-url URL] [--distribution-id ID] [--release-branch B] [--integration-branch B]

Publishes what \`watchy stage\` staged (KEY is what it printed). Builds of the release branch are
promoted to the latest pointer; builds of the integration branch publish versioned artifacts only.

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
      'request-key': { type: 'string' },
      branch: { type: 'string' },
      'base-url': { type: 'string' },
      'distribution-id': { type: 'string' },
      'release-branch': { type: 'string' },
      'integration-branch': { type: 'string' },
    });
    const invocation = {
      requestKey: required(values['request-key'], 'request-key'),
      branch: required(values.branch, 'branch'),
    };
    let outcome: PublishOutcome;
    if (!values['endpoint-url']) {
      outcome = await invokeReleaseFunction(
        new LambdaClient(clientConfig(values)),
        functionName(values, 'publish'),
        invocation,
      );
    } else {
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
