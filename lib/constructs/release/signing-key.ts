import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledgeCheckov } from '../common/checkov';

export interface SigningKeyProps {
  /** Alias of the key, e.g. `alias/Watchy-release-signing`. @default none */
  readonly alias?: string;
  /** What happens to the key when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The release signing key: KMS ECC_NIST_P256 for SIGN_VERIFY (ES256 over canonical metadata).
 * Exactly one role may sign: `grantSign` gives it kms:Sign, and the key policy denies kms:Sign to
 * every other principal, so no IAM policy elsewhere in the account can grant it by mistake.
 * Anyone may be given the public key (`grantVerify`).
 */
export class SigningKey extends Construct {
  readonly key: kms.Key;
  private signer?: iam.IRole;

  constructor(scope: Construct, id: string, props: SigningKeyProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'Signs Watchy release metadata (ES256); only the publish role may use it to sign',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      alias: props.alias,
    });
    Validations.of(this.key).acknowledge({
      id: 'AwsSolutions-KMS5',
      reason:
        'KMS does not rotate asymmetric keys; consumers pin this public key, so a new key is a planned release step.',
    });
    acknowledgeCheckov(
      this.key,
      'CKV_AWS_7',
      'KMS does not rotate asymmetric (ECC_NIST_P256 SIGN_VERIFY) keys; rotation is a planned key change.',
    );
  }

  /** Makes `role` the one signer. A second call throws: there is only ever one. */
  grantSign(role: iam.IRole): void {
    if (this.signer) throw new Error(`${this.node.path} already signs for ${this.signer.node.path}`);
    this.signer = role;
    this.key.grant(role, 'kms:Sign');
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyThePublishRoleSigns',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Sign'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
  }

  /** The public key and Verify, for readers that check signatures. */
  grantVerify(grantee: iam.IGrantable): iam.Grant {
    return this.key.grant(grantee, 'kms:GetPublicKey', 'kms:Verify', 'kms:DescribeKey');
  }
}
