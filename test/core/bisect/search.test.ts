/**
 * Property tests of the binary search over generated histories, driven through the fake build
 * runner (moto's CodeBuild builds always succeed, so outcomes come from an oracle). The same search
 * runs through the S3 session engine in engine.test.ts.
 */
import fc from 'fast-check';
import type { BuildRequest } from '@core/bisect/build-runner';
import {
  applyOutcome,
  beginStep,
  initialSearch,
  maxSteps,
  nextAction,
  type SearchState,
} from '@core/bisect/search';
import { FakeBuildRunner } from './fake-build-runner';

interface History {
  readonly n: number;
  readonly firstBad: number;
  readonly retries: number;
  /** Spurious failures of each flaky good commit (index -> count, at most `retries`). */
  readonly flaky: ReadonlyMap<number, number>;
}

const sha = (i: number) => i.toString(16).padStart(40, '0');
/** The bound the tests hold the search to, written out here, not taken from the implementation's maxSteps. */
const ceilLog2 = (n: number) => Math.ceil(Math.log2(n));

/** Runs a whole bisect with the fake runner; returns the answer and the builds it took. */
async function bisect(history: History) {
  const runner = new FakeBuildRunner((request: BuildRequest, attempt: number) => {
    const index = parseInt(request.sourceVersion, 16);
    if (index >= history.firstBad) return 'FAILED';
    return attempt <= (history.flaky.get(index) ?? 0) ? 'FAILED' : 'SUCCEEDED';
  });
  let state: SearchState = initialSearch(history.n);
  let retriedFailures = 0;
  for (;;) {
    const action = nextAction(state);
    if (action.kind === 'found') {
      const builds = runner.started.length;
      const steps = new Set(runner.started.map((r) => r.sourceVersion)).size;
      return { index: action.index, builds, steps, retriedFailures };
    }
    state = beginStep(state, action.index);
    const id = await runner.start({
      project: 'nuitka-x86_64',
      sourceVersion: sha(action.index),
      environment: { WATCHY_MODE: 'verify' },
      idempotencyToken: `t-${runner.started.length}`,
    });
    const [build] = await runner.get([id]);
    const outcome = build!.status === 'SUCCEEDED' ? 'succeeded' : 'failed';
    const next = applyOutcome(state, outcome, history.retries);
    if (next.step) retriedFailures++;
    state = next;
  }
}

const histories = (maxN: number, withFlaky: boolean) =>
  fc
    .record({
      n: fc.integer({ min: 1, max: maxN }),
      position: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      retries: withFlaky ? fc.integer({ min: 1, max: 3 }) : fc.constant(0),
      flakySeed: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: withFlaky ? 40 : 0 }),
    })
    .map(({ n, position, retries, flakySeed }): History => {
      const firstBad = Math.floor(position * n);
      const flaky = new Map<number, number>();
      for (const [at, count] of flakySeed) {
        if (firstBad > 0) flaky.set(at % firstBad, 1 + (count % retries));
      }
      return { n, firstBad, retries, flaky };
    });

describe('bisect search (fake build runner: moto builds always succeed)', () => {
  test('finds the first bad commit of any history up to 1,000 commits in at most ceil(log2 n) builds', async () => {
    await fc.assert(
      fc.asyncProperty(histories(1000, false), async (history) => {
        const result = await bisect(history);
        expect(result.index).toBe(history.firstBad);
        expect(result.builds).toBeLessThanOrEqual(ceilLog2(history.n));
        expect(result.retriedFailures).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  test('with flaky steps it still finds it, in at most ceil(log2 n) distinct builds plus the retries', async () => {
    await fc.assert(
      fc.asyncProperty(histories(1000, true), async (history) => {
        const result = await bisect(history);
        expect(result.index).toBe(history.firstBad);
        expect(result.steps).toBeLessThanOrEqual(ceilLog2(history.n));
        expect(result.builds).toBe(result.steps + result.retriedFailures);
        expect(result.retriedFailures).toBeLessThanOrEqual(result.steps * history.retries);
        expect(result.builds).toBeLessThanOrEqual(ceilLog2(history.n) * (1 + history.retries));
      }),
      { numRuns: 500 },
    );
  });

  test('every first-bad position of a 1,000-commit history is found in at most 10 builds', async () => {
    for (let firstBad = 0; firstBad < 1000; firstBad++) {
      const result = await bisect({ n: 1000, firstBad, retries: 0, flaky: new Map() });
      expect([result.index, result.builds <= 10]).toEqual([firstBad, true]);
    }
  });

  test('a single-commit range needs no build', async () => {
    expect(await bisect({ n: 1, firstBad: 0, retries: 1, flaky: new Map() })).toMatchObject({
      index: 0,
      builds: 0,
    });
  });

  test('a good commit that fails more often than the retries counts as bad (the documented limit)', async () => {
    // 8 commits, first bad at 6; commit 3 (the first step) fails twice with one retry allowed.
    const result = await bisect({ n: 8, firstBad: 6, retries: 1, flaky: new Map([[3, 2]]) });
    expect(result.index).toBe(3);
  });

  test('a failing step is retried the configured number of times before it counts as bad', () => {
    let state = beginStep(initialSearch(4), 1);
    state = applyOutcome(state, 'failed', 2);
    expect(nextAction(state)).toEqual({ kind: 'build', index: 1, attempt: 2, retry: true });
    state = applyOutcome(state, 'failed', 2);
    expect(nextAction(state)).toEqual({ kind: 'build', index: 1, attempt: 3, retry: true });
    state = applyOutcome(state, 'failed', 2);
    expect(state).toEqual({ lo: 0, hi: 1 });
  });

  test('maxSteps (what status shows as steps left) is ceil(log2 n), checked against written-out values', () => {
    const expected: [number, number][] = [
      [1, 0],
      [2, 1],
      [3, 2],
      [4, 2],
      [5, 3],
      [8, 3],
      [9, 4],
      [20, 5],
      [512, 9],
      [513, 10],
      [1000, 10],
      [1024, 10],
      [1025, 11],
    ];
    expect(expected.map(([n]) => [n, maxSteps(n)])).toEqual(expected);
  });

  test('an empty range is refused', () => {
    expect(() => initialSearch(0)).toThrow('a bisect needs at least one commit, got 0');
  });
});
