/**
 * `npm run bench -- release`: what release control costs, against moto over HTTP on this machine.
 *
 *  1. Publish (develop: verify the staged .gz by reading and hashing it, decompress and hash the
 *     binary, create-only copy, read and check the staged metadata, sign, write the metadata) against
 *     the least any publisher must do: GET the staged .gz and PUT it under the versioned key.
 *     Ratio of medians; goal at most 2x (the verification is one extra pass over bytes in memory).
 *  2. 32 promotions of one pointer started at once against the same 32 one after the other: the
 *     compare-and-swap retries under contention, as a ratio of wall time (goal at most 1.5x), with the
 *     history checked to hold all 32 entries.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageBinary } from '@core/packaging';
import { readHistory } from '@core/release/history/history';
import { publish } from '@core/release/publish/publish';
import { stageDist } from '@core/release/publish/stage';
import { startMoto } from '../support/moto-server';
import { releaseWorld, SETTINGS, type ReleaseWorld } from '../core/release/fixtures';

const RUNS = Number(process.env.RELEASE_BENCH_RUNS ?? 5);
const BINARY_MIB = Number(process.env.RELEASE_BENCH_MIB ?? 8);
const PROMOTIONS = 32;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A real ELF (/bin/true) padded with incompressible bytes, packaged and staged; returns the request key. */
async function stage(world: ReleaseWorld, app: string, version: string, padMiB: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'watchy-bench-release-'));
  const binary = join(dir, 'binary');
  await writeFile(binary, Buffer.concat([await readFile('/bin/true'), randomBytes(padMiB * 1024 * 1024)]));
  await packageBinary({
    app,
    binaryType: 'nuitka',
    architecture: 'x86_64',
    version,
    binaryPath: binary,
    outDir: join(dir, 'dist'),
    saasApp: 'Bench',
    baseUrl: SETTINGS.binaryDistributionUrl,
    pythonVersion: '3.11',
    sourceRevision: 'abcdef1',
    buildId: `bench:${version}`,
  });
  return (
    await stageDist(world.store, {
      dir: join(dir, 'dist'),
      session: `AROABENCH:AWSCodeBuild-${app}-${version}`,
      branch: 'main',
    })
  ).key;
}

async function main(): Promise<void> {
  const moto = await startMoto();
  try {
    const world = await releaseWorld(moto);
    const ours: number[] = [];
    const baseline: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const key = await stage(world, 'bench', `1.0.${run}`, BINARY_MIB);
      const request = JSON.parse((await world.store.get(key, 1 << 20))!.body.toString()) as {
        binary: { key: string };
      };
      // Alternate which goes first so both see the same machine load.
      const measureBaseline = async () => {
        const start = performance.now();
        const object = await world.s3.send(
          new GetObjectCommand({ Bucket: world.store.bucket, Key: request.binary.key }),
        );
        const body = Buffer.from(await object.Body!.transformToByteArray());
        await world.s3.send(
          new PutObjectCommand({
            Bucket: world.store.bucket,
            Key: `baseline/${run}.gz`,
            Body: body,
            IfNoneMatch: '*',
          }),
        );
        baseline.push(performance.now() - start);
      };
      const measureOurs = async () => {
        const start = performance.now();
        await publish(world.deps, SETTINGS, { requestKey: key, branch: 'develop' });
        ours.push(performance.now() - start);
      };
      if (run % 2) {
        await measureBaseline();
        await measureOurs();
      } else {
        await measureOurs();
        await measureBaseline();
      }
    }
    const publishRatio = median(ours) / median(baseline);
    console.log(
      `publish of a ${BINARY_MIB} MiB binary: median ${median(ours).toFixed(0)} ms; GET+PUT copy: ${median(baseline).toFixed(0)} ms`,
    );
    console.log(
      `  ratio ${publishRatio.toFixed(2)}x (goal <= 2.00x) ${publishRatio <= 2 ? 'ok' : 'OVER GOAL'}`,
    );

    const keys = { sequential: [] as string[], concurrent: [] as string[] };
    for (let i = 0; i < PROMOTIONS; i++) {
      keys.sequential.push(await stage(world, 'seq', `2.0.${i}`, 0));
      keys.concurrent.push(await stage(world, 'conc', `2.0.${i}`, 0));
    }
    let start = performance.now();
    for (const key of keys.sequential)
      await publish(world.deps, SETTINGS, { requestKey: key, branch: 'main' });
    const sequential = performance.now() - start;
    start = performance.now();
    await Promise.all(
      keys.concurrent.map((key) => publish(world.deps, SETTINGS, { requestKey: key, branch: 'main' })),
    );
    const concurrent = performance.now() - start;
    const { history } = await readHistory(world.store, {
      app: 'conc',
      binaryType: 'nuitka',
      architecture: 'x86_64',
    });
    if (history.entries.length !== PROMOTIONS)
      throw new Error(`lost updates: ${history.entries.length} entries, expected ${PROMOTIONS}`);
    const contentionRatio = concurrent / sequential;
    console.log(
      `${PROMOTIONS} promotions of one pointer: one after the other ${sequential.toFixed(0)} ms, all at once ${concurrent.toFixed(0)} ms (history: ${history.entries.length} entries)`,
    );
    console.log(
      `  ratio ${contentionRatio.toFixed(2)}x (goal <= 1.50x) ${contentionRatio <= 1.5 ? 'ok' : 'OVER GOAL'}`,
    );
    world.s3.destroy();
    world.kms.destroy();
    world.cloudfront.destroy();
  } finally {
    await moto.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
