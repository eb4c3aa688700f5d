import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The only actions a cross-account puller gets: read image manifests and layers. */
export const PULL_ACTIONS = [
  'ecr:BatchCheckLayerAvailability',
  'ecr:BatchGetImage',
  'ecr:GetDownloadUrlForLayer',
] as const;

export interface ImageRepositoryProps {
  /** Repository name, e.g. `watchy/status-api`. */
  readonly repositoryName: string;
  /** Tagged images kept by the lifecycle rule (the newest N by push time); at least 1. */
  readonly keepTaggedImages: number;
  /** Untagged images expire this many days after push. */
  readonly untaggedExpiryDays: number;
  /**
   * Tag wildcard filters exempt from tag immutability (e.g. `latest`, `dev-*`); when any is given
   * the repository is IMMUTABLE_WITH_EXCLUSION. @default [] (every tag immutable)
   */
  readonly mutableTagExclusions?: readonly string[];
  /** AWS accounts allowed to pull (and only pull) images. @default [] */
  readonly crossAccountPullAccounts?: readonly string[];
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * One ECR repository: immutable tags (with the configured exclusions), scan on push, KMS
 * encryption (the `aws/ecr` key: cross-account pulls need no key policy), and lifecycle rules that
 * expire untagged images after some days and keep the newest N tagged images.
 */
export class ImageRepository extends Construct {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    if (!Number.isInteger(props.keepTaggedImages) || props.keepTaggedImages < 1) {
      throw new Error(`ImageRepository ${props.repositoryName}: keepTaggedImages must be a positive integer`);
    }
    const exclusions = props.mutableTagExclusions ?? [];
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.KMS,
      imageTagMutability:
        exclusions.length > 0 ? ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION : ecr.TagMutability.IMMUTABLE,
      imageTagMutabilityExclusionFilters:
        exclusions.length > 0
          ? exclusions.map((f) => ecr.ImageTagMutabilityExclusionFilter.wildcard(f))
          : undefined,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          rulePriority: 1,
          description: `Expire untagged images ${props.untaggedExpiryDays} day(s) after push`,
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(props.untaggedExpiryDays),
        },
        {
          rulePriority: 2,
          description: `Keep the newest ${props.keepTaggedImages} tagged image(s)`,
          tagStatus: ecr.TagStatus.TAGGED,
          tagPatternList: ['*'],
          maxImageCount: props.keepTaggedImages,
        },
      ],
    });
    const accounts = props.crossAccountPullAccounts ?? [];
    if (accounts.length > 0) {
      this.repository.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CrossAccountPull',
          effect: iam.Effect.ALLOW,
          principals: accounts.map((account) => new iam.AccountPrincipal(account)),
          actions: [...PULL_ACTIONS],
        }),
      );
    }
  }
}
