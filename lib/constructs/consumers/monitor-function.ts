import { Duration, Stack, Token, type CfnElement } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { artifactName, type Architecture } from '@core/artifacts';
import { DEFAULT_BINARY_DIR, MONITOR_ENV } from '@core/monitor/contract';
import { acknowledgeCheckov } from '../common/checkov';
import { WatchyFunction } from '../common/watchy-function';
import { adapterEntry } from '../../repo-paths';

export interface MonitorFunctionProps {
  /** Catalog app name (`slack`): the function loads `{app}-monitor[-arm64]`. */
  readonly app: string;
  /** Display name, for the description (`Slack`). */
  readonly displayName: string;
  /** Architecture of the binary, and so of the function. @default 'arm64' */
  readonly architecture?: Architecture;
  /** `BinaryDistributionUrl` (a parameter reference or a URL). */
  readonly binaryDistributionUrl: string;
  /** Base64 DER public key that release metadata must be signed with; required unless unsigned is allowed. @default none */
  readonly publicKey?: string;
  /** Accept unsigned (seed-format) metadata. @default false */
  readonly allowUnsigned?: boolean;
  /** Largest binary accepted; /tmp is sized from it. @default 256 */
  readonly maxBinaryMiB?: number;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** Warm invocations re-check the metadata at most this often. @default 60 */
  readonly refreshSeconds?: number;
  /** Who invokes the function synchronously (named in the DLQ acknowledgement). @default 'the Watchy scheduler' */
  readonly caller?: string;
}

/** Lambda's /tmp limits, in MiB. */
const MIN_TMP_MIB = 512;
const MAX_TMP_MIB = 10_240;

/**
 * /tmp for a binary of `maxBinaryMiB`: the installed binary, the one before it (kept for an
 * instant rollback), a download in progress, and room for a Nuitka onefile binary to unpack
 * itself, plus 64 MiB of slack; between Lambda's 512 MiB and 10 GiB.
 */
export function ephemeralStorageFor(maxBinaryMiB: number): number {
  return Math.min(MAX_TMP_MIB, Math.max(MIN_TMP_MIB, 4 * maxBinaryMiB + 64));
}

/**
 * The function already references its role (`Role: GetAtt`); depending on the role's policies (the
 * default one, the tracing one, and `more` attached by the caller) is enough, and the extra
 * DependsOn on the role is what cfn-lint's W3005 reports as redundant.
 */
export function dependOnRolePolicyOnly(fn: WatchyFunction, ...more: iam.Policy[]): void {
  const defaultPolicy = fn.role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  const policies = [defaultPolicy, fn.tracingPolicy, ...more].filter((p): p is iam.Policy => p !== undefined);
  (fn.function.node.defaultChild as lambda.CfnFunction).addOverride(
    'DependsOn',
    policies.map((p) => Stack.of(fn).getLogicalId(p.node.defaultChild as CfnElement)),
  );
}

/**
 * A Watchy monitor Lambda (lambda/monitor): loads its verified binary from BinaryDistributionUrl at
 * init and runs it per invocation. It runs on the binary's architecture; its role has nothing but
 * its own logs and tracing (binaries come over HTTPS from CloudFront, not from S3).
 */
export class MonitorFunction extends Construct {
  readonly function: lambda.IFunction;
  readonly artifactName: string;

  constructor(scope: Construct, id: string, props: MonitorFunctionProps) {
    super(scope, id);
    const architecture = props.architecture ?? 'arm64';
    const maxBinaryMiB = props.maxBinaryMiB ?? 256;
    if (!Number.isInteger(maxBinaryMiB) || maxBinaryMiB < 1 || 4 * maxBinaryMiB + 64 > MAX_TMP_MIB) {
      throw new Error(
        `${this.node.path}: maxBinaryMiB must be a whole number from 1 to 2544, got ${maxBinaryMiB}`,
      );
    }
    if (!props.publicKey && !props.allowUnsigned) {
      throw new Error(`${this.node.path}: a public key is required unless unsigned metadata is allowed`);
    }
    this.artifactName = artifactName({ app: props.app, binaryType: 'nuitka', architecture });
    const url = props.binaryDistributionUrl;
    const fn = new WatchyFunction(this, 'Monitor', {
      entry: adapterEntry('monitor'),
      description: `Watchy ${props.displayName} monitor: runs the verified ${this.artifactName} binary`,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      ephemeralStorageMiB: ephemeralStorageFor(maxBinaryMiB),
      invocation: { kind: 'sync', caller: props.caller ?? 'the Watchy scheduler' },
      architecture: architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      environment: {
        [MONITOR_ENV.distributionUrl]: Token.isUnresolved(url) ? url : url.replace(/\/+$/, ''),
        [MONITOR_ENV.artifactName]: this.artifactName,
        [MONITOR_ENV.allowUnsigned]: String(props.allowUnsigned ?? false),
        [MONITOR_ENV.maxBinaryBytes]: String(maxBinaryMiB * 1024 * 1024),
        [MONITOR_ENV.binaryDir]: DEFAULT_BINARY_DIR,
        [MONITOR_ENV.refreshSeconds]: String(props.refreshSeconds ?? 60),
        ...(props.publicKey ? { [MONITOR_ENV.publicKey]: props.publicKey } : {}),
      },
    });
    dependOnRolePolicyOnly(fn);
    const what = `the ${props.displayName} monitor`;
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_116',
      `Invoked synchronously: the caller receives every error of ${what}; a dead-letter queue would never be used.`,
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_117',
      `${what} reaches only CloudFront over HTTPS and trusts nothing the network says: it verifies the metadata signature and both hashes. A VPC would add NAT and no protection.`,
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_115',
      `${what} is an example consumer; reserving concurrency would take from the account pool (10 in new accounts) and can fail the deployment.`,
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_173',
      `The environment of ${what} holds only public values (distribution URL, artifact name, public key, limits); Lambda encrypts it at rest with its service key.`,
    );
    acknowledgeCheckov(
      fn.logGroup,
      'CKV_AWS_158',
      `Logs of ${what}: versions, paths and one-line errors, no event payloads or secrets; CloudWatch encrypts them at rest with its service key.`,
    );
    this.function = fn.function;
  }
}
