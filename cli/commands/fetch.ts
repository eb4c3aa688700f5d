/**
 * `watchy fetch`: the consumer loader (core/loader) from a shell. Installs the release that
 * the metadata URL offers into DIR, verified, and prints the installed binary's path on the last
 * line of stdout. Exit code 0 only when the offered release was accepted; a refused release exits 1
 * even when an earlier verified binary stays installed (the message names it, and its path is still
 * printed so a caller can keep running it).
 */
import { readFileSync } from 'node:fs';
import { BinaryLoader, describe, LoaderError, type LoadResult } from '@core/loader';
import { CliError, UsageError } from '../errors';
import { parseCommandArgs, required } from '../args';
import type { Command } from '../command';

const usage = `usage: watchy fetch --metadata-url URL --dest DIR [--public-key FILE] [--allow-unsigned]
                    [--min-metadata-version N] [--timeout-ms N] [--retries N] [--verbose]

Fetches the release metadata at URL ({BinaryDistributionUrl}/{name}/watchy-{name}.json), checks
it (JSON Schema, ES256 signature, architecture, metadata_version) and installs the binary it names
into DIR after checking both sizes and both SHA-256 hashes. Prints the binary's path last.

  --public-key            ECDSA P-256 public key: PEM, DER, or base64 DER (as KMS GetPublicKey gives)
  --allow-unsigned        accept metadata without a signature (the seed's format)
  --min-metadata-version  refuse anything older, even into an empty DIR (default 0)
  --timeout-ms            connect and idle timeout (default 10000)
  --retries               further attempts on network errors and 5xx (default 3)
  --verbose               print retries and other warnings to stderr
`;

/** PEM text, raw DER, or the base64 of DER (what `aws kms get-public-key --output text` prints). */
export function readPublicKey(file: string): string | Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new CliError(
      `cannot read --public-key ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const text = bytes.toString('utf8').trim();
  if (text.includes('-----BEGIN')) return text;
  if (/^[A-Za-z0-9+/\s]+={0,2}$/.test(text)) return Buffer.from(text.replace(/\s+/g, ''), 'base64');
  return bytes;
}

function count(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value))
    throw new UsageError(`--${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

export const command: Command = {
  name: 'fetch',
  summary: 'fetch, verify and install the binary a metadata URL offers (the consumer loader)',
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, {
      'metadata-url': { type: 'string' },
      dest: { type: 'string' },
      'public-key': { type: 'string' },
      'allow-unsigned': { type: 'boolean' },
      'min-metadata-version': { type: 'string' },
      'timeout-ms': { type: 'string' },
      retries: { type: 'string' },
      verbose: { type: 'boolean' },
    });
    const metadataUrl = required(values['metadata-url'], 'metadata-url');
    const destDir = required(values.dest, 'dest');
    const allowUnsigned = values['allow-unsigned'] ?? false;
    if (!values['public-key'] && !allowUnsigned) {
      throw new UsageError('give --public-key FILE, or --allow-unsigned to accept unsigned metadata');
    }
    const timeoutMs = count(values['timeout-ms'], 'timeout-ms', 10_000);
    let loader: BinaryLoader;
    try {
      loader = new BinaryLoader({
        metadataUrl,
        destDir,
        publicKey: values['public-key'] ? readPublicKey(values['public-key']) : undefined,
        allowUnsigned,
        minMetadataVersion: count(values['min-metadata-version'], 'min-metadata-version', 0),
        http: {
          connectTimeoutMs: timeoutMs,
          idleTimeoutMs: timeoutMs,
          retries: count(values.retries, 'retries', 3),
        },
        warn: (message) => {
          if (values.verbose) process.stderr.write(`watchy fetch: warning: ${message}\n`);
        },
      });
    } catch (error) {
      if (error instanceof LoaderError && error.check === 'config') throw new UsageError(error.message);
      throw error;
    }
    let result: LoadResult;
    try {
      result = await loader.load();
    } finally {
      loader.close();
    }
    if (result.refused) {
      process.stdout.write(`${result.binary.path}\n`);
      throw new CliError(
        `${result.refused.message}; the verified ${describe(result.binary)} stays installed`,
      );
    }
    const what = {
      downloaded: 'installed',
      cached: 'installed (binary already here, verified)',
      'not-modified': 'unchanged',
      kept: 'kept',
    }[result.outcome];
    process.stdout.write(`${what}: ${describe(result.binary)}\n${result.binary.path}\n`);
    return 0;
  },
};
