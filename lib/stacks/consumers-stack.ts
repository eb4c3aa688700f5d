import { CfnCondition, CfnOutput, CfnParameter, Fn, Stack, Token, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { Architecture } from '@core/artifacts';
import type { NuitkaApp, WatchyConfig } from '@core/config';
import { MonitorFunction } from '../constructs/consumers/monitor-function';
import { SigningPublicKey } from '../constructs/consumers/signing-public-key';

export interface ConsumersStackProps extends StackProps {
  /** The catalog's Nuitka apps: one monitor function each. */
  readonly apps: readonly NuitkaApp[];
  readonly consumers: WatchyConfig['consumers'];
  /** The Distribution stack's `https://…/binaries`: what an empty `BinaryDistributionUrl` means. */
  readonly binaryDistributionUrl: string;
  /** The release signing key (ReleaseControl stack); its public key is read at deploy time. */
  readonly signingKey: kms.IKey;
  /** Largest binary accepted; /tmp is sized from it. @default 256 */
  readonly maxBinaryMiB?: number;
}

/** HTTPS only, no trailing slash; empty means the platform's own distribution. */
export const DISTRIBUTION_URL_PATTERN = '^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*)?$';

/**
 * The example consumers: one Watchy monitor Lambda per catalog app, each loading its verified
 * binary from `BinaryDistributionUrl` at cold start. Monitors run on arm64 when the app is built
 * for arm64 (the house architecture), else on the app's first architecture.
 */
export class ConsumersStack extends Stack {
  readonly monitors: Readonly<Record<string, MonitorFunction>>;
  readonly binaryDistributionUrl: CfnParameter;

  constructor(scope: Construct, id: string, props: ConsumersStackProps) {
    super(scope, id, props);
    const platformUrl = props.binaryDistributionUrl;
    const literal = !Token.isUnresolved(platformUrl);
    this.binaryDistributionUrl = new CfnParameter(this, 'BinaryDistributionUrl', {
      type: 'String',
      description: literal
        ? 'Base URL of released binaries ({url}/{name}/watchy-{name}.json).'
        : "Base URL of released binaries ({url}/{name}/watchy-{name}.json). Empty: this platform's distribution (its BinaryDistributionUrl output).",
      default: literal ? platformUrl : '',
      allowedPattern: DISTRIBUTION_URL_PATTERN,
      constraintDescription:
        'an https:// URL without a trailing slash, or empty for the platform distribution',
    });
    let url = this.binaryDistributionUrl.valueAsString;
    if (!literal) {
      const useOwn = new CfnCondition(this, 'UsePlatformDistribution', {
        expression: Fn.conditionEquals(this.binaryDistributionUrl.valueAsString, ''),
      });
      url = Fn.conditionIf(
        useOwn.logicalId,
        platformUrl,
        this.binaryDistributionUrl.valueAsString,
      ).toString();
    }

    // Read even when unsigned metadata is allowed: signed metadata is then still verified.
    const publicKey = new SigningPublicKey(this, 'SigningPublicKey', { signingKey: props.signingKey })
      .publicKey;

    const monitors: Record<string, MonitorFunction> = {};
    for (const app of props.apps) {
      const architecture: Architecture = app.architectures.includes('arm64')
        ? 'arm64'
        : app.architectures[0]!;
      const monitor = new MonitorFunction(this, `${pascal(app.name)}Monitor`, {
        app: app.name,
        displayName: app.displayName,
        architecture,
        binaryDistributionUrl: url,
        publicKey,
        allowUnsigned: props.consumers.allowUnsigned,
        maxBinaryMiB: props.maxBinaryMiB,
      });
      monitors[app.name] = monitor;
      new CfnOutput(this, `${pascal(app.name)}MonitorFunctionName`, {
        description: `Invoke with a ${app.displayName} monitor event; loads ${monitor.artifactName}`,
        value: monitor.function.functionName,
      });
    }
    this.monitors = monitors;
  }
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
