import { CustomResource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledgeCheckov } from '../common/checkov';
import { dependOnRolePolicyOnly } from './monitor-function';
import { WatchyFunction } from '../common/watchy-function';
import { adapterEntry } from '../../repo-paths';

export interface SigningPublicKeyProps {
  /** The release signing key (KMS ECC_NIST_P256, SIGN_VERIFY). */
  readonly signingKey: kms.IKey;
}

/**
 * The release signing key's public key, read from KMS (GetPublicKey) at deploy time by a small
 * custom resource function (lambda/monitor/public-key). `publicKey` is its base64 DER (SPKI), what
 * the monitor functions verify metadata with. The function may only call kms:GetPublicKey on this
 * one key.
 */
export class SigningPublicKey extends Construct {
  /** Base64 DER (SPKI) of the public key: a deploy-time token. */
  readonly publicKey: string;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: SigningPublicKeyProps) {
    super(scope, id);
    const fn = new WatchyFunction(this, 'Reader', {
      entry: adapterEntry('monitor', 'public-key'),
      description: 'Reads the release signing public key from KMS for the monitor functions (deploy time)',
      memorySize: 256,
      invocation: { kind: 'async' },
    });
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSigningPublicKey',
        actions: ['kms:GetPublicKey'],
        resources: [props.signingKey.keyArn],
      }),
    );
    dependOnRolePolicyOnly(fn);
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_117',
      'Runs only at deployment and calls KMS GetPublicKey and the CloudFormation response URL; a VPC would need endpoints or NAT for no protection.',
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_115',
      'Invoked by CloudFormation a few times per deployment; reserving concurrency would take from the account pool for nothing.',
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_173',
      'The environment holds no values beyond the house defaults (no secrets); Lambda encrypts it at rest with its service key.',
    );
    acknowledgeCheckov(
      fn.logGroup,
      'CKV_AWS_158',
      'Logs of the public key reader: the key ARN and one-line errors (a public key is not secret); encrypted at rest by CloudWatch.',
    );
    acknowledgeCheckov(
      fn.deadLetterQueue!,
      'CKV_AWS_27',
      'Dead letters are CloudFormation custom resource events (key ARN, response URL expiring in hours); SQS-managed SSE encrypts them.',
    );
    // The resource references the function (ServiceToken), which depends on its role's policy.
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.function.functionArn,
      resourceType: 'Custom::WatchySigningPublicKey',
      properties: { KeyId: props.signingKey.keyArn },
    });
    this.publicKey = this.resource.getAttString('PublicKey');
  }
}
