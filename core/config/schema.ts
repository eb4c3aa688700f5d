/**
 * The one typed config of the platform. Parsed once in `bin/app.ts`; constructs receive typed
 * slices of it as props and never read context or the environment themselves.
 */
import { z } from 'zod';
import { ARCHITECTURES, AppNameSchema } from '../artifacts';
import { IMAGE_BUILDERS } from '../build-env';

const appName = AppNameSchema;

/** The stages `-c stage=` accepts; each has its overrides in default-config.ts. */
export const STAGE_NAMES = ['beta', 'gamma', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];
/** A repository-relative path: no absolute paths, no `..`, no backslashes. */
const repoPath = z
  .string()
  .min(1)
  .regex(/^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._\-/]+$/, {
    message: 'expected a relative path inside the repository (no "..", no leading "/")',
  });
const architecture = z.enum(ARCHITECTURES);
const architectures = z
  .array(architecture)
  .min(1)
  .refine((a) => new Set(a).size === a.length, {
    message: 'expected each architecture at most once',
  });
const awsAccount = z.string().regex(/^\d{12}$/, { message: 'expected a 12-digit AWS account id' });
const days = z.number().int().positive();

export const NuitkaAppSchema = z.strictObject({
  /** Short name, used in keys: `binaries/{name}-monitor/...`. */
  name: appName,
  /** Written into metadata as `saas_app`. */
  displayName: z.string().min(1).max(100),
  /** Directory holding `watchy_{name}_monitor.py` and `requirements.txt`. */
  sourcePath: repoPath,
  /** @default ['x86_64', 'arm64'] */
  architectures: architectures.default(['x86_64', 'arm64']),
});

export const RustWorkspaceSchema = z.strictObject({
  /** Directory of the Cargo workspace; its `[[bin]]` targets are found with `cargo metadata`. */
  sourcePath: repoPath,
  /** @default ['arm64'] */
  architectures: architectures.default(['arm64']),
});

export const ContainerServiceSchema = z.strictObject({
  name: appName,
  sourcePath: repoPath,
  /** `dockerfile` builds `{sourcePath}/Dockerfile`; `buildpacks` uses Cloud Native Buildpacks. */
  builder: z.enum(IMAGE_BUILDERS),
  /** Tagged images kept by the lifecycle rule. @default 10 */
  keepTaggedImages: z.number().int().min(1).max(1000).default(10),
  /** Tag prefixes exempt from tag immutability (e.g. `latest`). @default [] */
  mutableTagExclusions: z.array(z.string().regex(/^[A-Za-z0-9._*-]{1,128}$/)).default([]),
  /** @default ['x86_64'] */
  architectures: architectures.default(['x86_64']),
});

export const CatalogSchema = z.strictObject({
  nuitkaApps: z.array(NuitkaAppSchema).refine(
    unique((a: { name: string }) => a.name),
    { message: 'expected unique app names' },
  ),
  rustWorkspace: RustWorkspaceSchema.optional(),
  containerServices: z.array(ContainerServiceSchema).refine(
    unique((s: { name: string }) => s.name),
    { message: 'expected unique service names' },
  ),
});

export const DistributionSchema = z.strictObject({
  /** Custom domain for CloudFront (needs `certificateArn`, in us-east-1). @default none */
  domainName: z
    .string()
    .regex(/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/)
    .optional(),
  certificateArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]{36}$/, {
      message: 'expected an ACM certificate ARN in us-east-1',
    })
    .optional(),
  /** Noncurrent object versions expire after this many days. @default 90 */
  noncurrentVersionExpirationDays: days.default(90),
  /** Default and max TTL of the latest-pointer behaviour, in seconds. @default 60 */
  latestPointerTtlSeconds: z.number().int().min(0).max(60).default(60),
  /** S3 and CloudFront access logs expire after this many days. @default 365 */
  accessLogRetentionDays: days.default(365),
  /**
   * ARN of an existing CLOUDFRONT-scope WAFv2 web ACL (those live in us-east-1) attached to the
   * distribution. @default none
   */
  webAclArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\/[A-Za-z0-9_-]{1,128}\/[0-9a-f-]{36}$/, {
      message: 'expected a CLOUDFRONT-scope WAFv2 web ACL ARN (us-east-1, global/webacl/...)',
    })
    .optional(),
});

export const RegistrySchema = z.strictObject({
  /** Accounts allowed to pull every image. @default [] */
  crossAccountPullAccounts: z.array(awsAccount).default([]),
  /** Untagged images expire after this many days. @default 1 */
  untaggedExpiryDays: days.default(1),
});

export const SourceSchema = z
  .strictObject({
    /** Existing CodeConnections connection ARN; when absent a connection is created (pending until authorised). */
    connectionArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]+$/,
      )
      .optional(),
    /** Provider of the created connection. @default 'GitHub' */
    provider: z.enum(['GitHub', 'GitHubEnterpriseServer', 'GitLab', 'Bitbucket']).default('GitHub'),
    /** `owner/name` of the repository. */
    repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { message: 'expected owner/name' }),
    /** Branch whose builds are promoted to the latest pointers. @default 'main' */
    releaseBranch: z.string().min(1).default('main'),
    /** Branch whose builds publish versioned artifacts only. @default 'develop' */
    integrationBranch: z.string().min(1).default('develop'),
    /**
     * HTTPS clone URL of the repository, the source of CodeBuild builds started outside the pipeline
     * (bisect steps, rebuilds of a commit). Required with `GitHubEnterpriseServer`.
     * @default derived from provider and repository (`https://github.com/{repository}.git`, ...)
     */
    cloneUrl: z
      .string()
      .regex(/^https:\/\/[A-Za-z0-9.-]+(?::\d+)?\/[A-Za-z0-9_.\/-]+\.git$/, {
        message: 'expected an https clone URL ending in .git',
      })
      .optional(),
  })
  .superRefine((source, ctx) => {
    if (source.provider !== 'GitHubEnterpriseServer') return;
    for (const field of ['connectionArn', 'cloneUrl'] as const) {
      if (source[field] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `provider GitHubEnterpriseServer needs ${field} (a connection to a server host is created outside this app)`,
        });
      }
    }
  });

/** The retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export const BuildSchema = z.strictObject({
  /** Timeouts in minutes. */
  timeouts: z
    .strictObject({
      tests: z.number().int().min(5).max(480).default(10),
      images: z.number().int().min(5).max(480).default(20),
      scans: z.number().int().min(5).max(480).default(10),
      binaries: z.number().int().min(5).max(480).default(30),
    })
    .prefault({}),
  /** CloudWatch log retention of build logs, in days (one of the periods CloudWatch Logs offers). @default 90 */
  logRetentionDays: days
    .refine((d) => LOG_RETENTION_DAYS.includes(d), {
      message: `expected one of the CloudWatch Logs retention periods: ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(90),
});

export const ReleaseControlSchema = z.strictObject({
  /** Email addresses subscribed to release and build notifications. @default [] */
  notificationEmails: z.array(z.email()).default([]),
  /** Times a failing bisect step is retried before it counts as bad. @default 1 */
  bisectRetries: z.number().int().min(0).max(5).default(1),
  /** Emergency-rollback the latest pointer when a bisect finds the first bad commit. @default false */
  autoRollbackOnBisect: z.boolean().default(false),
});

export const ConsumersSchema = z.strictObject({
  /** Deploy the example monitor Lambdas. @default true */
  enabled: z.boolean().default(true),
  /** Accept unsigned (seed-format) metadata. @default false */
  allowUnsigned: z.boolean().default(false),
});

/** Where webhook pushes come from. */
export const WEBHOOK_PROVIDERS = ['github', 'gitlab'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

const httpsCloneUrl = z.string().regex(/^https:\/\/[A-Za-z0-9.-]+(?::\d+)?\/[A-Za-z0-9_.\/-]+\.git$/, {
  message: 'expected an https clone URL ending in .git',
});

const webhookRepository = (repository: z.ZodString) =>
  z.strictObject({
    repository,
    /**
     * Name of the Secrets Manager secret whose SecretString is the webhook secret (GitHub: the
     * HMAC key of `X-Hub-Signature-256`; GitLab: the `X-Gitlab-Token` value). Created outside this
     * app: the same value is entered in the provider's webhook settings.
     */
    secretName: z.string().regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, {
      message: 'expected a Secrets Manager secret name (letters, digits and /_+=.@-)',
    }),
    /** Pushes to this branch may start release builds. @default source.releaseBranch */
    branch: z
      .string()
      .regex(/^[A-Za-z0-9._\/-]{1,255}$/, { message: 'expected a branch name' })
      .optional(),
    /**
     * HTTPS clone URL the release builds check out (never taken from a payload).
     * @default https://github.com/{repository}.git or https://gitlab.com/{repository}.git
     */
    cloneUrl: httpsCloneUrl.optional(),
  });

/**
 * Repositories whose GitHub or GitLab webhooks `/api/webhooks/{provider}` accepts (any other is
 * 404). A push records its commits; a push to a repository that is not the CodeConnections
 * `source` starts release builds of its commit when it touches the catalog's trigger paths
 * (docs/decisions/013-webhooks.md). Absent: no webhook source.
 */
export const WebhooksSchema = z
  .strictObject({
    /** GitHub repositories, as `owner/name` (`repository.full_name`). @default [] */
    github: z
      .array(
        webhookRepository(
          z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { message: 'expected owner/name' }),
        ),
      )
      .default([]),
    /** GitLab projects, as `group/[subgroup/]name` (`project.path_with_namespace`). @default [] */
    gitlab: z
      .array(
        webhookRepository(
          z.string().regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+){1,20}$/, {
            message: 'expected group/[subgroup/]name',
          }),
        ),
      )
      .default([]),
  })
  .superRefine((webhooks, ctx) => {
    for (const provider of WEBHOOK_PROVIDERS) {
      const seen = new Set<string>();
      webhooks[provider].forEach((entry, i) => {
        const key = entry.repository.toLowerCase();
        if (seen.has(key)) {
          ctx.addIssue({
            code: 'custom',
            path: [provider, i, 'repository'],
            message: 'expected each repository once',
          });
        }
        seen.add(key);
      });
    }
  });

export const WatchyConfigSchema = z
  .strictObject({
    /** Prefix of stack names and resource names. @default 'Watchy' */
    projectName: z
      .string()
      .regex(/^[A-Z][A-Za-z0-9]{0,30}$/, { message: 'expected PascalCase letters and digits' }),
    /** Set by `-c stage=`: beta, gamma or prod; part of every stack name. @default none */
    stage: z.enum(STAGE_NAMES).optional(),
    /** Deploy target; both from the CLI environment when absent. */
    account: awsAccount.optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'expected an AWS region like us-east-1' })
      .optional(),
    source: SourceSchema,
    catalog: CatalogSchema,
    distribution: DistributionSchema.prefault({}),
    registry: RegistrySchema.prefault({}),
    build: BuildSchema.prefault({}),
    releaseControl: ReleaseControlSchema.prefault({}),
    consumers: ConsumersSchema.prefault({}),
    /** Webhook sources of `/api/webhooks/{github,gitlab}`. @default none */
    webhooks: WebhooksSchema.optional(),
  })
  .superRefine((config, ctx) => {
    for (const provider of WEBHOOK_PROVIDERS) {
      (config.webhooks?.[provider] ?? []).forEach((entry, i) => {
        const branch = entry.branch;
        if (
          branch !== undefined &&
          branch !== config.source.releaseBranch &&
          branch !== config.source.integrationBranch
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['webhooks', provider, i, 'branch'],
            message: `expected the release branch (${config.source.releaseBranch}) or the integration branch (${config.source.integrationBranch}): their builds run on their own projects`,
          });
        }
      });
    }
    const { domainName, certificateArn } = config.distribution;
    if (Boolean(domainName) !== Boolean(certificateArn)) {
      ctx.addIssue({
        code: 'custom',
        path: ['distribution', domainName ? 'certificateArn' : 'domainName'],
        message: 'domainName and certificateArn must be set together',
      });
    }
  });

export type WatchyConfig = z.output<typeof WatchyConfigSchema>;
export type WatchyConfigInput = z.input<typeof WatchyConfigSchema>;
export type NuitkaApp = z.output<typeof NuitkaAppSchema>;
export type ContainerService = z.output<typeof ContainerServiceSchema>;
export type RustWorkspace = z.output<typeof RustWorkspaceSchema>;
export type WebhooksConfig = z.output<typeof WebhooksSchema>;

function unique<T>(key: (item: T) => string) {
  return (items: T[]) => new Set(items.map(key)).size === items.length;
}
