/**
 * The binary search of a bisect, as pure data and functions (no I/O), so the session engine, the
 * CLI and the property tests run exactly the same steps.
 *
 * `commits` are the commits after the last good one, oldest first; the last one is the failing
 * build's commit and known bad. The first bad commit is always in `commits[lo..hi]`, and
 * `commits[hi]` is always known bad. Each step builds `mid = floor((lo + hi) / 2)`: a success moves
 * `lo` past it, a failure (after `retries` more attempts, for flaky builds) moves `hi` to it. A range
 * of `n` candidates needs at most `ceil(log2 n)` steps.
 */

export interface SearchState {
  /** Lowest index that may still be the first bad commit. */
  readonly lo: number;
  /** Index of a commit known bad; the answer when `lo === hi`. */
  readonly hi: number;
  /** The step being tested: its index and how many of its attempts failed so far. */
  readonly step?: { readonly index: number; readonly failures: number };
}

export type StepOutcome = 'succeeded' | 'failed';

export type SearchAction =
  /** Build `index` (again when `retry`). */
  | { readonly kind: 'build'; readonly index: number; readonly attempt: number; readonly retry: boolean }
  /** `index` is the first bad commit. */
  | { readonly kind: 'found'; readonly index: number };

export function initialSearch(commitCount: number): SearchState {
  if (!Number.isInteger(commitCount) || commitCount < 1) {
    throw new RangeError(`a bisect needs at least one commit, got ${commitCount}`);
  }
  return { lo: 0, hi: commitCount - 1 };
}

/** What to do in `state`: build the middle commit, or report the answer. */
export function nextAction(state: SearchState): SearchAction {
  if (state.lo === state.hi) return { kind: 'found', index: state.hi };
  if (state.step) {
    return { kind: 'build', index: state.step.index, attempt: state.step.failures + 1, retry: true };
  }
  return { kind: 'build', index: Math.floor((state.lo + state.hi) / 2), attempt: 1, retry: false };
}

/** Starts the step `nextAction` named (a no-op when it is already the current step). */
export function beginStep(state: SearchState, index: number): SearchState {
  if (state.step?.index === index) return state;
  if (index < state.lo || index >= state.hi) {
    throw new RangeError(`step ${index} is outside the open range [${state.lo}, ${state.hi})`);
  }
  return { lo: state.lo, hi: state.hi, step: { index, failures: 0 } };
}

/**
 * Applies a step's outcome. A failure is retried until it has failed `retries + 1` times; one
 * success is enough to call the commit good (a good commit that fails is flaky, a bad one always fails).
 */
export function applyOutcome(state: SearchState, outcome: StepOutcome, retries: number): SearchState {
  const step = state.step;
  if (!step) throw new Error('no step in progress');
  if (outcome === 'succeeded') return { lo: step.index + 1, hi: state.hi };
  const failures = step.failures + 1;
  if (failures <= retries) return { lo: state.lo, hi: state.hi, step: { index: step.index, failures } };
  return { lo: state.lo, hi: step.index };
}

/** The most steps (distinct commits built) a range of `n` commits can take: ceil(log2 n). */
export function maxSteps(n: number): number {
  return n <= 1 ? 0 : Math.ceil(Math.log2(n));
}
