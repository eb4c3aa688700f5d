/**
 * `npm run bench -- bisect`: what a bisect costs.
 *
 * 1. Builds: for every first-bad position of histories of 10, 100 and 1,000 commits, the builds the
 *    binary search needs against (a) a linear scan from the oldest commit (what rebuilding each commit
 *    would cost) and (b) the ceil(log2 n) limit. Builds come from the in-process fake runner (moto's
 *    CodeBuild builds always succeed).
 * 2. Bookkeeping: wall time of whole bisects through the S3 session engine on moto (compare-and-swap
 *    writes, claims), against the same number of steps done as one bare S3 PUT and GET each, the least
 *    any durable state would cost.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { performance } from 'node:perf_hooks';
import type { BuildStatus } from '@core/bisect/build-runner';
import { handleBuild, startBisect, type BisectDeps } from '@core/bisect/engine';
import { applyOutcome, beginStep, initialSearch, maxSteps, nextAction } from '@core/bisect/search';
import { SessionStore } from '@core/bisect/session-store';
import { FakeBuildRunner } from '../core/bisect/fake-build-runner';
import { startMoto } from '../support/moto-server';

const sha = (i: number) => i.toString(16).padStart(40, '0');

function searchBuilds(n: number, firstBad: number): number {
  let state = initialSearch(n);
  let builds = 0;
  for (;;) {
    const action = nextAction(state);
    if (action.kind === 'found') {
      if (action.index !== firstBad) throw new Error(`wrong answer for n=${n}, firstBad=${firstBad}`);
      return builds;
    }
    state = beginStep(state, action.index);
    builds++;
    state = applyOutcome(state, action.index >= firstBad ? 'failed' : 'succeeded', 0);
  }
}

function buildsReport(): void {
  console.log('builds per bisect (every first-bad position):');
  for (const n of [10, 100, 1000]) {
    let total = 0;
    let worst = 0;
    let linear = 0;
    for (let firstBad = 0; firstBad < n; firstBad++) {
      const builds = searchBuilds(n, firstBad);
      total += builds;
      worst = Math.max(worst, builds);
      // A linear scan builds oldest first until the first failure (the last commit is known bad).
      linear += Math.min(firstBad + 1, n - 1);
    }
    const mean = total / n;
    console.log(
      `  n=${String(n).padStart(4)}: mean ${mean.toFixed(2)} builds vs linear scan ${(linear / n).toFixed(1)} ` +
        `(ratio ${(mean / (linear / n)).toFixed(3)}); worst ${worst} vs limit ceil(log2 n) = ${maxSteps(n)} ` +
        `(ratio ${(worst / maxSteps(n)).toFixed(2)})`,
    );
  }
}

async function bookkeepingReport(): Promise<void> {
  const moto = await startMoto();
  const s3 = new S3Client(moto.clientConfig);
  try {
    const runs = Number(process.env.BISECT_BENCH_RUNS ?? 5);
    const n = 1000;
    let engineMs = 0;
    let bareMs = 0;
    let steps = 0;
    for (let run = 0; run < runs; run++) {
      await moto.reset();
      await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
      const firstBad = Math.floor(((run + 0.5) / runs) * n);
      const runner = new FakeBuildRunner((request): BuildStatus =>
        parseInt(request.sourceVersion, 16) >= firstBad ? 'FAILED' : 'SUCCEEDED',
      );
      const deps: BisectDeps = {
        store: new SessionStore(s3, 'bench'),
        runner,
        notify: async () => undefined,
      };
      const policy = { projects: [], releaseBranch: 'main', retries: 0, autoRollback: false };
      const commits = Array.from({ length: n }, (_, i) => ({
        sha: sha(i),
        author: `Dev ${i}`,
        subject: `change ${i}`,
      }));

      let started = performance.now();
      let session = await startBisect(deps, {
        project: 'bench-project',
        good: 'f'.repeat(40),
        bad: sha(n - 1),
        trigger: { kind: 'manual' },
        retries: 0,
        autoRollback: false,
        commits,
      });
      while (session.current) {
        const [build] = await runner.get([session.current.buildId!]);
        const outcome = await handleBuild(deps, build!, policy);
        if (outcome.kind === 'ignored') throw new Error(outcome.reason);
        session = outcome.session;
      }
      engineMs += performance.now() - started;
      const used = session.result!.builds;
      steps += used;

      const body = JSON.stringify(session);
      started = performance.now();
      for (let i = 0; i <= used; i++) {
        await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `bare/${run}.json`, Body: body }));
        await (
          await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: `bare/${run}.json` }))
        ).Body!.transformToString();
      }
      bareMs += performance.now() - started;
    }
    console.log(`session bookkeeping on moto S3 (${runs} bisects of ${n} commits, ${steps} steps):`);
    console.log(
      `  engine ${(engineMs / steps).toFixed(1)} ms per step vs one bare PUT+GET ${(bareMs / (steps + runs)).toFixed(1)} ms ` +
        `(ratio ${(engineMs / steps / (bareMs / (steps + runs))).toFixed(2)})`,
    );
  } finally {
    s3.destroy();
    await moto.stop();
  }
}

async function main(): Promise<void> {
  buildsReport();
  await bookkeepingReport();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
