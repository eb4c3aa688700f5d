/**
 * What the release commands share: clients for `--endpoint-url` (an S3-compatible server, moto,
 * LocalStack) or the deployed functions, the signer (a local PEM key or a KMS key), and output.
 *
 * With `--endpoint-url` a command runs the release cores in-process against that endpoint (S3, KMS,
 * CodeBuild, STS all at the same URL); without it, write commands invoke the deployed publish or
 * rollback function (`{prefix}-publish`, `{prefix}-rollback`), which run the very same cores.
 */
import { readFileSync } from 'node:fs';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import type { KeyObject } from 'node:crypto';
import { LocalKeySigner, toPublicKey, type Signer } from '@core/signing';
import { KmsSigner, kmsPublicKey } from '@core/release/kms-signer';
import { readPublicKey } from './fetch';
import { releaseFunctionNames } from '@core/release/environment';
import { invokeReleaseFunction } from '@core/release/rollback/invoke';
import { runPointerOperation } from '@core/release/rollback/rollback';
import { S3ReleaseStore } from '@core/release/store/store';
import { CodeBuildRebuilder, rebuildProjectKey } from '@core/release/rollback/rebuild';
import { handleOperatorRequest, type OperatorResult } from '@core/release/rollback/operator';
import type { OperatorRequestInput } from '@core/release/rollback/operations';
import type { PointerStatus } from '@core/release/history/queries';
import { artifactName, type ArtifactRef } from '@core/artifacts';
import { loadConfig } from '@core/config';
import { CliError, UsageError } from '../errors';
import { ENDPOINT_OPTIONS } from '../args';

export const CONNECTION_OPTIONS = {
  ...ENDPOINT_OPTIONS,
  bucket: { type: 'string' },
  'stack-prefix': { type: 'string' },
  'function-name': { type: 'string' },
  'signing-key': { type: 'string' },
  'key-id': { type: 'string' },
  'kms-key-id': { type: 'string' },
  'rebuild-project': { type: 'string' },
  'public-key': { type: 'string' },
} as const;

export const CONNECTION_USAGE = `connection:
  --endpoint-url URL    run in-process against this S3-compatible endpoint (and KMS, CodeBuild, STS)
  --bucket NAME         release bucket (with --endpoint-url; default $WATCHY_RELEASE_BUCKET)
  --signing-key FILE    ECDSA P-256 private key PEM to sign with (with --endpoint-url) ...
  --key-id ID           ... written as signature.key_id (default: the file name)
  --kms-key-id ARN      ... or a KMS key at the endpoint instead
  --rebuild-project P   CodeBuild project for rebuilds (with --endpoint-url)
  --public-key FILE     status verifies signatures with it (with --endpoint-url; or the --kms-key-id key's)
  --stack-prefix P      without --endpoint-url: invoke {P}-publish / {P}-rollback (default Watchy)
  --function-name NAME  without --endpoint-url: invoke this function instead
  --region REGION       AWS region (default from the environment)`;

export type ConnectionValues = { [K in keyof typeof CONNECTION_OPTIONS]?: string };

export function clientConfig(values: ConnectionValues) {
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return values['endpoint-url']
    ? { region, endpoint: values['endpoint-url'], forcePathStyle: true }
    : { region };
}

export function releaseStore(values: ConnectionValues): S3ReleaseStore {
  const bucket = values.bucket ?? process.env.WATCHY_RELEASE_BUCKET;
  if (!bucket) throw new UsageError('missing required option --bucket (or WATCHY_RELEASE_BUCKET)');
  return new S3ReleaseStore(new S3Client(clientConfig(values)), bucket);
}

export function signer(values: ConnectionValues): Signer {
  if (values['kms-key-id']) return new KmsSigner(new KMSClient(clientConfig(values)), values['kms-key-id']);
  const file = values['signing-key'];
  if (!file) throw new UsageError('with --endpoint-url, give --signing-key FILE or --kms-key-id ARN');
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    throw new CliError(
      `cannot read --signing-key ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  try {
    return new LocalKeySigner(pem, values['key-id'] ?? file.split('/').pop() ?? file);
  } catch (error) {
    throw new CliError(`--signing-key ${file}: ${(error as Error).message}`);
  }
}

export function functionName(values: ConnectionValues, kind: 'publish' | 'rollback'): string {
  return values['function-name'] ?? releaseFunctionNames(values['stack-prefix'] ?? 'Watchy')[kind];
}

/** Runs an operator request in-process (with --endpoint-url) or through the rollback function. */
export async function operate(
  values: ConnectionValues,
  request: OperatorRequestInput,
): Promise<OperatorResult> {
  if (!values['endpoint-url']) {
    return invokeReleaseFunction(
      new LambdaClient(clientConfig(values)),
      functionName(values, 'rollback'),
      request,
    );
  }
  const store = releaseStore(values);
  const write =
    request.action === 'rollback' || request.action === 'emergency-rollback' ? request : undefined;
  const deps = write ? { store, signer: signer(values) } : undefined;
  const project = values['rebuild-project'];
  const projects: Record<string, string> = {};
  if (project && write) {
    projects[
      rebuildProjectKey({
        binaryType: write.binaryType ?? 'nuitka',
        architecture: write.architecture ?? 'x86_64',
      })
    ] = project;
  }
  return handleOperatorRequest(
    {
      store,
      movePointer: (operation) => {
        if (!deps) throw new Error('unreachable: a read-only request moved a pointer');
        return runPointerOperation(deps, operation);
      },
      rebuilder: new CodeBuildRebuilder(
        new CodeBuildClient(clientConfig(values)),
        projects,
        undefined,
        loadConfig().source.releaseBranch,
      ),
      ...verificationKey(values),
    },
    request,
  );
}

/** The public key `status` verifies with: --public-key, else the --kms-key-id key's, else none. */
function verificationKey(values: ConnectionValues): { publicKey?: () => Promise<KeyObject> } {
  const file = values['public-key'];
  if (file) {
    const key = (() => {
      try {
        return toPublicKey(readPublicKey(file));
      } catch (error) {
        throw new CliError(`--public-key ${file}: ${(error as Error).message}`);
      }
    })();
    return { publicKey: async () => key };
  }
  const kmsKey = values['kms-key-id'];
  if (kmsKey) return { publicKey: () => kmsPublicKey(new KMSClient(clientConfig(values)), kmsKey) };
  return {};
}

/**
 * The release a rollback rolls back from: `--from`, else what `status` shows for that pointer when
 * the command starts. The rollback then applies only while the pointer still shows it.
 */
export async function rollbackFrom(
  values: ConnectionValues,
  ref: ArtifactRef,
  from: string | undefined,
): Promise<string> {
  if (from !== undefined) return from;
  const name = artifactName(ref);
  const { pointers } = (await operate(values, { action: 'status', app: ref.app })) as {
    pointers?: readonly PointerStatus[];
  };
  const version = pointers?.find((p) => p.artifact === name)?.version;
  if (version === undefined) throw new CliError(`nothing has been promoted for ${name}`);
  return version;
}

/** A rollback's result: JSON on stdout for scripts, its one-line account on stderr for the operator. */
export function printRollback(result: OperatorResult): void {
  printJson(result);
  if ('detail' in result && typeof result.detail === 'string') process.stderr.write(`${result.detail}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
