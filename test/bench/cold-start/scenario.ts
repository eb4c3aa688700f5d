/**
 * One measurement in a fresh process, so each peak RSS is its own:
 *
 *   idle        loads what the loader loads, does nothing (the memory baseline)
 *   loader      BinaryLoader.load() end to end into an empty directory
 *   sequential  the seed-era path: download to a file, then gunzip it to another, then sha256 it
 *   limit       gunzip of the same .gz from memory (read before timing), output discarded
 *   warm        a cold load, then warm loads (304) against bare metadata round trips
 *
 * Prints one JSON line: {ms, maxRssMiB, ...}.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BinaryLoader } from '@core/loader';

interface Args {
  readonly metadataUrl: string;
  readonly downloadUrl: string;
  readonly gzPath: string;
  readonly sha256: string;
  readonly publicKeyPem: string;
  readonly warmRuns?: number;
}

const [mode, json] = [process.argv[2], process.argv[3] ?? '{}'];
const args = JSON.parse(json) as Args;
/**
 * Peak RSS of this program: VmHWM of its own address space. (getrusage's maxRSS is not: Linux
 * carries it over fork and exec, so a child would report its parent's peak.)
 */
function maxRssMiB(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

function discard(): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

async function loader(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'watchy-bench-loader-'));
  const binaryLoader = new BinaryLoader({
    metadataUrl: args.metadataUrl,
    destDir: dir,
    publicKey: args.publicKeyPem,
    warn: () => undefined,
  });
  try {
    const start = performance.now();
    const result = await binaryLoader.load();
    const ms = performance.now() - start;
    if (result.outcome !== 'downloaded') throw new Error(`unexpected outcome ${result.outcome}`);
    return { ms };
  } finally {
    binaryLoader.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function get(
  url: string,
  agent?: http.Agent,
  headers: Record<string, string> = {},
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => http.get(url, { agent, headers }, resolve).on('error', reject));
}

async function sequential(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'watchy-bench-seq-'));
  try {
    const start = performance.now();
    const metadata = JSON.parse(
      await new Promise<string>((resolve, reject) =>
        get(args.metadataUrl).then((res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
          res.on('error', reject);
        }, reject),
      ),
    ) as { download_url: string; sha256: string };
    const gz = join(dir, 'binary.gz');
    const raw = join(dir, 'binary');
    await pipeline(await get(metadata.download_url), createWriteStream(gz));
    const downloaded = performance.now();
    await pipeline(createReadStream(gz), createGunzip(), createWriteStream(raw));
    const gunzipped = performance.now();
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(raw, { highWaterMark: 1024 * 1024 }))
      hash.update(chunk as Buffer);
    if (hash.digest('hex') !== metadata.sha256) throw new Error('sequential: hash mismatch');
    const end = performance.now();
    return {
      ms: end - start,
      downloadMs: downloaded - start,
      gunzipMs: gunzipped - downloaded,
      hashMs: end - gunzipped,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function limit(): Promise<Record<string, number>> {
  const gz = readFileSync(args.gzPath);
  const start = performance.now();
  await pipeline(
    (async function* () {
      yield gz;
    })(),
    createGunzip({ chunkSize: 256 * 1024 }),
    discard(),
  );
  return { ms: performance.now() - start };
}

async function warm(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'watchy-bench-warm-'));
  const binaryLoader = new BinaryLoader({
    metadataUrl: args.metadataUrl,
    destDir: dir,
    publicKey: args.publicKeyPem,
    warn: () => undefined,
  });
  const agent = new http.Agent({ keepAlive: true });
  try {
    await binaryLoader.load();
    const first = await get(args.metadataUrl, agent);
    const etag = String(first.headers.etag);
    first.resume();
    const runs = args.warmRuns ?? 50;
    const warmMs: number[] = [];
    const roundTripMs: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      let start = performance.now();
      const result = await binaryLoader.load();
      warmMs.push(performance.now() - start);
      if (result.outcome !== 'not-modified') throw new Error(`warm: unexpected outcome ${result.outcome}`);
      start = performance.now();
      const response = await get(args.metadataUrl, agent, { 'if-none-match': etag });
      response.resume();
      await new Promise((resolve) => response.on('end', resolve));
      roundTripMs.push(performance.now() - start);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    return { ms: median(warmMs), roundTripMs: median(roundTripMs) };
  } finally {
    agent.destroy();
    binaryLoader.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes: Record<string, () => Promise<Record<string, number>>> = {
  idle: async () => ({ ms: 0 }),
  loader,
  sequential,
  limit,
  warm,
};

const run = mode ? modes[mode] : undefined;
if (!run) {
  process.stderr.write(`scenario: unknown mode ${mode}\n`);
  process.exit(2);
}
const cpuBefore = process.cpuUsage();
run().then(
  (result) => {
    // CPU of the whole process (every thread: inflate and file writes run on the libuv pool).
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    process.stdout.write(`${JSON.stringify({ ...result, cpuMs, maxRssMiB: maxRssMiB() })}\n`);
  },
  (error: unknown) => {
    process.stderr.write(`scenario ${mode}: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
