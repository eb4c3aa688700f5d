import { Annotations, Duration, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BINARIES_PREFIX } from '@core/artifacts';
import { CLOUDFRONT_LOG_PREFIX } from './access-log-bucket';
import { acknowledgeCheckov } from '../common/checkov';

/**
 * The cache behaviours of the release distribution, in CloudFront's evaluation order (first match
 * wins; `*` is any run of characters including `/`, `?` is one character).
 *
 * Versioned keys end `-{semver}.json|.gz`, and a semantic version always holds at least two dots;
 * folder and artifact names never hold one (APP_NAME_PATTERN and artifactName allow only
 * `[a-z0-9-]`), so a latest pointer has exactly one dot, its extension. Matching three dots is
 * therefore exactly "versioned". Everything else under `binaries/` (the latest pointers, and any key
 * shape nobody has thought of yet) falls to the short-TTL behaviour: an unforeseen key is cached for
 * at most a minute, never for a year. docs/decisions/003-distribution.md has the reasoning.
 */
export const RELEASE_BEHAVIOURS = [
  { pathPattern: `${BINARIES_PREFIX}/*.*.*.json`, cache: 'immutable' },
  { pathPattern: `${BINARIES_PREFIX}/*.*.*.gz`, cache: 'immutable' },
  { pathPattern: `${BINARIES_PREFIX}/*`, cache: 'pointer' },
] as const;

export type ReleaseCacheKind = (typeof RELEASE_BEHAVIOURS)[number]['cache'];

export interface ReleaseDistributionProps {
  /** The release bucket; the distribution may read only `binaries/*` of it. */
  readonly bucket: s3.IBucket;
  /** Bucket of CloudFront standard logs (ACLs enabled: BucketOwnerPreferred). */
  readonly logBucket: s3.IBucket;
  /** Default and max TTL of the latest pointers (min is 0); at most 60 seconds. */
  readonly latestPointerTtl: Duration;
  /** Min, default and max TTL of versioned (immutable) objects. @default Duration.days(365) */
  readonly immutableTtl?: Duration;
  /** Custom domain (an alias of the distribution). @default none: the `*.cloudfront.net` name */
  readonly domainName?: string;
  /** ACM certificate in us-east-1 covering `domainName`; required with it. @default none */
  readonly certificateArn?: string;
  /** @default cloudfront.PriceClass.PRICE_CLASS_ALL (consumers run in every region) */
  readonly priceClass?: cloudfront.PriceClass;
  /** ARN of a CLOUDFRONT-scope WAFv2 web ACL (in us-east-1) to attach. @default none */
  readonly webAclArn?: string;
}

/** The only prefix of the release bucket CloudFront may read. */
export const SERVED_PREFIX = BINARIES_PREFIX;

/**
 * CloudFront in front of the release bucket, through Origin Access Control. Versioned artifacts are
 * cached for a year whatever the origin says; latest pointers are cached for at most a minute (and
 * invalidated on promote and rollback). Only `binaries/*` is readable by the distribution: the
 * bucket policy grants nothing else and denies every CloudFront read outside it.
 */
export class ReleaseDistribution extends Construct {
  readonly distribution: cloudfront.Distribution;
  /** `https://{domain}` with no trailing slash. */
  readonly baseUrl: string;
  readonly immutableCachePolicy: cloudfront.CachePolicy;
  readonly pointerCachePolicy: cloudfront.CachePolicy;
  readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;

  constructor(scope: Construct, id: string, props: ReleaseDistributionProps) {
    super(scope, id);
    const pointerTtl = props.latestPointerTtl;
    if (pointerTtl.toSeconds() > 60) {
      throw new Error(
        `ReleaseDistribution: latestPointerTtl must be at most 60 seconds, got ${pointerTtl.toSeconds()}`,
      );
    }
    if (Boolean(props.domainName) !== Boolean(props.certificateArn)) {
      throw new Error('ReleaseDistribution: domainName and certificateArn must be set together');
    }
    const immutableTtl = props.immutableTtl ?? Duration.days(365);

    this.immutableCachePolicy = new cloudfront.CachePolicy(this, 'ImmutableCachePolicy', {
      comment: 'Versioned release artifacts: written once, cached for their lifetime',
      minTtl: immutableTtl,
      defaultTtl: immutableTtl,
      maxTtl: immutableTtl,
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    const cachingOn = pointerTtl.toSeconds() > 0;
    this.pointerCachePolicy = new cloudfront.CachePolicy(this, 'PointerCachePolicy', {
      comment: 'Latest release pointers: mutable, cached briefly and invalidated on promote/rollback',
      minTtl: Duration.seconds(0),
      defaultTtl: pointerTtl,
      maxTtl: pointerTtl,
      // CloudFront rejects Accept-Encoding in the cache key of a policy whose TTLs are all zero.
      enableAcceptEncodingGzip: cachingOn,
      enableAcceptEncodingBrotli: cachingOn,
    });

    // Cache-Control reaches viewers from the objects themselves (the publisher writes it per key);
    // a header policy that set it would also stamp error responses (a 403 cached for a year).
    this.responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Security headers of every response of the release distribution',
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        contentSecurityPolicy: {
          contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
          override: true,
        },
      },
    });

    // The origin is given a read-only view of the bucket, so withOriginAccessControl cannot add
    // its default statement (GetObject on every key); the statements below grant `binaries/*` only.
    const bucketView = s3.Bucket.fromBucketAttributes(this, 'OriginBucketView', {
      bucketArn: props.bucket.bucketArn,
      bucketName: props.bucket.bucketName,
      bucketRegionalDomainName: props.bucket.bucketRegionalDomainName,
    });
    const originAccessControl = new cloudfront.S3OriginAccessControl(this, 'OriginAccessControl', {
      description: 'CloudFront reads the release bucket (binaries/ only, per the bucket policy)',
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    const origin = origins.S3BucketOrigin.withOriginAccessControl(bucketView, {
      originAccessControl,
      originAccessLevels: [cloudfront.AccessLevel.READ],
    });

    const behaviour = (kind: ReleaseCacheKind): cloudfront.BehaviorOptions => ({
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      compress: true,
      cachePolicy: kind === 'immutable' ? this.immutableCachePolicy : this.pointerCachePolicy,
      responseHeadersPolicy: this.responseHeadersPolicy,
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Watchy release artifacts (binaries/ of the release bucket)',
      // Anything outside binaries/ is refused by the bucket policy; nothing there is cached long.
      defaultBehavior: behaviour('pointer'),
      additionalBehaviors: Object.fromEntries(
        RELEASE_BEHAVIOURS.map((b) => [b.pathPattern, behaviour(b.cache)]),
      ),
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_ALL,
      webAclId: props.webAclArn,
      enableIpv6: true,
      enableLogging: true,
      logBucket: props.logBucket,
      logFilePrefix: CLOUDFRONT_LOG_PREFIX,
      logIncludesCookies: false,
      ...(props.domainName && props.certificateArn
        ? {
            domainNames: [props.domainName],
            certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
            minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            sslSupportMethod: cloudfront.SSLMethod.SNI,
          }
        : {}),
    });
    Annotations.of(this.distribution).acknowledgeWarning(
      '@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac',
      'The release bucket policy is written by ReleaseDistribution itself, scoped to binaries/*.',
    );

    const servedObjects = props.bucket.arnForObjects(`${SERVED_PREFIX}/*`);
    const cloudfrontPrincipal = new iam.ServicePrincipal('cloudfront.amazonaws.com');
    props.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontReadsReleasedBinaries',
        effect: iam.Effect.ALLOW,
        principals: [cloudfrontPrincipal],
        actions: ['s3:GetObject'],
        resources: [servedObjects],
        conditions: { StringEquals: { 'AWS:SourceArn': this.distribution.distributionArn } },
      }),
    );
    props.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontReadsNothingElse',
        effect: iam.Effect.DENY,
        principals: [cloudfrontPrincipal],
        actions: ['s3:*'],
        notResources: [servedObjects],
      }),
    );

    this.baseUrl = `https://${props.domainName ?? this.distribution.distributionDomainName}`;

    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Consumer Lambdas fetch binaries from every AWS region; there is no country to exclude.',
    });
    if (!props.webAclArn) {
      const noWaf =
        'No web ACL configured (distribution.webAclArn): it serves only GET/HEAD of signed static files with query strings ignored, and a CLOUDFRONT-scope web ACL can only be created in us-east-1, outside this stack.';
      Validations.of(this.distribution).acknowledge({ id: 'AwsSolutions-CFR2', reason: noWaf });
      acknowledgeCheckov(this.distribution, 'CKV_AWS_68', noWaf);
    }
    if (!props.domainName) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          'No custom domain configured: the *.cloudfront.net certificate fixes the viewer policy at TLSv1; setting distribution.domainName and certificateArn selects TLSv1.2_2021.',
      });
      acknowledgeCheckov(
        this.distribution,
        'CKV_AWS_174',
        'No custom domain configured: the *.cloudfront.net certificate fixes the viewer policy at TLSv1; setting distribution.domainName and certificateArn selects TLSv1.2_2021.',
      );
    }
  }
}
