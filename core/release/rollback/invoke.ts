/**
 * Calling the deployed release functions: the CLI (without `--endpoint-url`), the rollback function
 * (forwarding pointer writes to the publish function) and bisect (automatic emergency rollback) all
 * invoke synchronously and get either the result or the function's one-line error.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { OperatorRequestInput } from './operations';
import type { RollbackResult } from './rollback';

export class RemoteReleaseError extends Error {
  override readonly name = 'RemoteReleaseError';
}

export async function invokeReleaseFunction<T>(
  lambda: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<T> {
  const out = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: Buffer.from(JSON.stringify(payload)),
    }),
  );
  const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
  if (out.FunctionError) {
    let message = text;
    try {
      const parsed = JSON.parse(text) as { errorMessage?: string };
      message = parsed.errorMessage ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw new RemoteReleaseError(`${functionName}: ${message.split('\n')[0] || out.FunctionError}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Emergency rollback through the rollback function, for callers without the signing key (bisect):
 * `requestId` makes a repeated event a no-op.
 */
export function invokeEmergencyRollback(
  lambda: LambdaClient,
  rollbackFunctionName: string,
  request: Omit<Extract<OperatorRequestInput, { action: 'emergency-rollback' }>, 'action'>,
): Promise<RollbackResult | { rebuild: unknown }> {
  return invokeReleaseFunction(lambda, rollbackFunctionName, { action: 'emergency-rollback', ...request });
}
