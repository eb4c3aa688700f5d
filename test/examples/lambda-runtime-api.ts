/**
 * A minimal AWS Lambda Runtime API (the 2018-06-01 interface `provided.al2023` exposes to a
 * `bootstrap`) on 127.0.0.1, serving one invocation, so a test can run a built Rust Lambda binary
 * for real: the binary polls `invocation/next`, gets the event, and posts its response or error.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Invocation {
  readonly kind: 'response' | 'error';
  readonly body: unknown;
}

const PREFIX = '/2018-06-01/runtime';

/** Runs `bootstrap` against a Runtime API that delivers `event` once; resolves with what it posted. */
export async function invokeBootstrap(
  bootstrap: string,
  event: unknown,
  functionName = 'test',
): Promise<Invocation> {
  const requestId = 'c0ffee00-0000-4000-8000-000000000001';
  let delivered = false;
  let settle: (value: Invocation) => void = () => undefined;
  const posted = new Promise<Invocation>((resolve) => (settle = resolve));
  const held: ServerResponse[] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
        if (delivered) {
          held.push(res); // a real Runtime API blocks until the next event; this one never comes
          return;
        }
        delivered = true;
        res.writeHead(200, {
          'content-type': 'application/json',
          'lambda-runtime-aws-request-id': requestId,
          'lambda-runtime-deadline-ms': String(Date.now() + 30_000),
          'lambda-runtime-invoked-function-arn': `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
          'lambda-runtime-trace-id': 'Root=1-00000000-000000000000000000000000;Sampled=0',
        });
        res.end(JSON.stringify(event));
        return;
      }
      const match = new RegExp(`^${PREFIX}/invocation/${requestId}/(response|error)$`).exec(url);
      if (req.method === 'POST' && match) {
        res.writeHead(202).end();
        settle({
          kind: match[1] as 'response' | 'error',
          body: JSON.parse(Buffer.concat(chunks).toString() || 'null'),
        });
        return;
      }
      if (req.method === 'POST' && url === `${PREFIX}/init/error`) {
        res.writeHead(202).end();
        settle({ kind: 'error', body: JSON.parse(Buffer.concat(chunks).toString() || 'null') });
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const child = spawn(bootstrap, [], {
    env: {
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: 'test',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<Invocation>((_resolve, reject) => {
    child.on('exit', (code) =>
      reject(new Error(`bootstrap exited with ${code} before responding: ${stderr}`)),
    );
    child.on('error', reject);
  });
  try {
    return await Promise.race([posted, exited]);
  } finally {
    child.kill('SIGKILL');
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
