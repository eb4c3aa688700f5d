/**
 * A real HTTP release server on 127.0.0.1 for loader tests and the cold-start benchmark: it serves
 * metadata with ETags (answering `If-None-Match` with 304) and gzip'd binaries at the keys of the
 * artifact layout, and lets a test replace any path's handler to misbehave (errors, stalls,
 * endless bodies).
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { artifactName, type Architecture } from '@core/artifacts';
import { serializeMetadata, type WatchyMetadata } from '@core/metadata';
import { LocalKeySigner, signMetadata, toPublicKey, type Signer } from '@core/signing';

export type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export class ReleaseServer {
  readonly routes = new Map<string, Handler>();
  /** Every request path, in order (`GET /binaries/...`). */
  readonly requests: string[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ReleaseServer> {
    const holder: { self?: ReleaseServer } = {};
    const server = createServer((request, response) => holder.self!.handle(request, response));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.self = new ReleaseServer(server, `http://127.0.0.1:${port}`);
    return holder.self;
  }

  /** `{url}/binaries`: what a deployment passes as BinaryDistributionUrl. */
  get distributionUrl(): string {
    return `${this.url}/binaries`;
  }

  count(pathPart: string): number {
    return this.requests.filter((r) => r.includes(pathPart)).length;
  }

  /** Serves `body` with an ETag, answering a matching `If-None-Match` with 304. */
  serveStatic(path: string, body: Buffer | string, contentType = 'application/octet-stream'): void {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
    this.routes.set(path, (request, response) => {
      if (request.headers['if-none-match'] === etag) {
        response.writeHead(304, { etag }).end();
        return;
      }
      response.writeHead(200, { 'content-type': contentType, 'content-length': bytes.length, etag });
      response.end(bytes);
    });
  }

  /** Serves the release's versioned .gz and makes its metadata the latest pointer. */
  publish(release: Release, metadataText = serializeMetadata(release.metadata)): void {
    this.serveStatic(new URL(release.metadata.download_url).pathname, release.gz);
    this.serveStatic(release.metadataPath, metadataText, 'application/json');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', this.url).pathname;
    this.requests.push(`${request.method} ${path}`);
    const route = this.routes.get(path);
    if (route) route(request, response);
    else response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }
}

export interface Release {
  readonly metadata: WatchyMetadata;
  readonly raw: Buffer;
  readonly gz: Buffer;
  /** `/binaries/{name}/watchy-{name}.json` */
  readonly metadataPath: string;
  /** `{url}/binaries/{name}/watchy-{name}.json` */
  readonly metadataUrl: string;
}

/**
 * A real executable: a POSIX shell script that prints its version for `--version` and otherwise
 * reads a JSON event on stdin and prints a JSON report, padded with comment lines to `size` bytes
 * so downloads span many chunks.
 */
export function monitorScript(version: string, size = 200_000): Buffer {
  const body = [
    '#!/bin/sh',
    `if [ "$1" = "--version" ]; then echo "${version}"; exit 0; fi`,
    'event=$(cat)',
    'case "$event" in *bad*) echo "bad event" >&2; exit 2;; esac',
    `printf '{"monitor":"slack","version":"${version}","ok":true}\\n'`,
    'exit 0',
    '',
  ].join('\n');
  const lines: string[] = [body];
  let length = body.length;
  for (let i = 0; length < size; i += 1) {
    const line = `# ${createHash('sha256').update(`${version}:${i}`).digest('hex')}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('').slice(0, Math.max(size, body.length)));
}

export interface ReleaseOptions {
  readonly version: string;
  readonly metadataVersion?: number;
  readonly architecture?: Architecture;
  /** The raw binary. @default monitorScript(version) */
  readonly raw?: Buffer;
  /** The .gz served (default gzip of raw); metadata still describes `raw` and its honest gzip. */
  readonly gz?: Buffer;
  /** Signs the metadata; leave out for seed-format (unsigned) metadata. */
  readonly signer?: Signer;
  /** Drops compressed_size/compressed_sha256/metadata_version/etc.: exactly the seed's fields. */
  readonly seedFormat?: boolean;
  /** Edits applied before signing. */
  readonly edit?: (metadata: WatchyMetadata) => WatchyMetadata;
}

export function hostArch(): Architecture {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

export function otherArch(): Architecture {
  return hostArch() === 'arm64' ? 'x86_64' : 'arm64';
}

export async function makeRelease(server: ReleaseServer, options: ReleaseOptions): Promise<Release> {
  const architecture = options.architecture ?? hostArch();
  const name = artifactName({ app: 'slack', binaryType: 'nuitka', architecture });
  const raw = options.raw ?? monitorScript(options.version);
  const gz = options.gz ?? gzipSync(raw, { level: 6 });
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  let metadata: WatchyMetadata = {
    version: options.version,
    build_time: '2026-11-22T05:00:00Z',
    saas_app: 'Slack',
    binary_type: 'nuitka',
    binary_size: raw.length,
    sha256: sha(raw),
    download_url: `${server.distributionUrl}/${name}/watchy-${name}-${options.version}.gz`,
    compression: 'gzip',
    target_architecture: architecture,
    target_os: 'linux',
    lambda_compatible: true,
    runtime_environment: 'amazon-linux-2023',
    python_version: '3.11',
    ...(options.seedFormat
      ? {}
      : {
          schema_version: 1,
          app: 'slack',
          compressed_size: gz.length,
          compressed_sha256: sha(gz),
          metadata_version: options.metadataVersion ?? 1,
        }),
  };
  if (options.edit) metadata = options.edit(metadata);
  if (options.signer) metadata = await signMetadata(metadata, options.signer);
  const metadataPath = `/binaries/${name}/watchy-${name}.json`;
  return { metadata, raw, gz, metadataPath, metadataUrl: `${server.url}${metadataPath}` };
}

export interface TestKey {
  readonly signer: LocalKeySigner;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
}

export function testKey(id = 'test-key'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    signer: new LocalKeySigner(privateKey.export({ type: 'pkcs8', format: 'pem' }), id),
    publicKey: toPublicKey(publicKeyPem),
    publicKeyPem,
  };
}
