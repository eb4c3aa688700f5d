import { Names } from 'aws-cdk-lib';
import * as codeconnections from 'aws-cdk-lib/aws-codeconnections';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { WatchyConfig } from '@core/config';

export interface SourceConnectionProps {
  /** The `source` slice of the config: repository, provider, optional connection ARN and clone URL. */
  readonly source: WatchyConfig['source'];
}

/** CodeBuild source types by connection provider. */
const CODEBUILD_SOURCE_TYPES = {
  GitHub: 'GITHUB',
  GitHubEnterpriseServer: 'GITHUB_ENTERPRISE',
  GitLab: 'GITLAB',
  Bitbucket: 'BITBUCKET',
} as const satisfies Record<WatchyConfig['source']['provider'], string>;

const PUBLIC_HOSTS: Partial<Record<WatchyConfig['source']['provider'], string>> = {
  GitHub: 'github.com',
  GitLab: 'gitlab.com',
  Bitbucket: 'bitbucket.org',
};

/**
 * The repository connection shared by the pipelines (source action) and the build projects
 * (their own Git source, used when a build is started outside the pipeline: bisect steps and
 * rebuilds of a commit). Uses `source.connectionArn` when configured; otherwise creates an
 * `AWS::CodeConnections::Connection`, which stays PENDING until someone authorises it once in the
 * console (Developer Tools > Settings > Connections).
 */
export class SourceConnection extends Construct {
  readonly connectionArn: string;
  /** `owner` of `owner/name`. */
  readonly owner: string;
  /** `name` of `owner/name`. */
  readonly repo: string;
  /** CodeBuild source type of the repository (GITHUB, GITLAB, ...). */
  readonly codeBuildSourceType: string;
  /** HTTPS clone URL (CodeBuild source location). */
  readonly cloneUrl: string;
  /** Browsable repository URL (OCI `org.opencontainers.image.source`). */
  readonly repositoryUrl: string;

  constructor(scope: Construct, id: string, props: SourceConnectionProps) {
    super(scope, id);
    const { source } = props;
    const [owner, repo] = source.repository.split('/') as [string, string];
    this.owner = owner;
    this.repo = repo;
    this.codeBuildSourceType = CODEBUILD_SOURCE_TYPES[source.provider];
    const host = PUBLIC_HOSTS[source.provider];
    if (source.cloneUrl) {
      this.cloneUrl = source.cloneUrl;
    } else if (host) {
      this.cloneUrl = `https://${host}/${source.repository}.git`;
    } else {
      throw new Error(`SourceConnection: provider ${source.provider} needs source.cloneUrl`);
    }
    this.repositoryUrl = this.cloneUrl.replace(/\.git$/, '');

    if (source.connectionArn) {
      this.connectionArn = source.connectionArn;
    } else {
      const connection = new codeconnections.CfnConnection(this, 'Connection', {
        // At most 32 characters; unique per account and region.
        connectionName: Names.uniqueResourceName(this, { maxLength: 32 }),
        providerType: source.provider,
      });
      this.connectionArn = connection.attrConnectionArn;
    }
  }

  /**
   * Lets a CodeBuild project clone through the connection: its own Git source
   * (GetConnectionToken/GetConnection) and the pipeline's CODEBUILD_CLONE_REF artifacts (UseConnection).
   * Both service prefixes: connections created before the rename are `codestar-connections`.
   */
  grantClone(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'codeconnections:GetConnectionToken',
        'codeconnections:GetConnection',
        'codeconnections:UseConnection',
        'codestar-connections:GetConnectionToken',
        'codestar-connections:GetConnection',
        'codestar-connections:UseConnection',
      ],
      resourceArns: [this.connectionArn],
    });
  }
}
