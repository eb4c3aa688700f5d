/**
 * An in-process build runner behind the same interface as CodeBuildRunner. It exists because
 * moto's CodeBuild builds always succeed, so the outcome of a build (good, bad, flaky) is decided
 * here by an oracle. Like CodeBuild, a repeated idempotency token returns the earlier build.
 * Builds complete as soon as they start; `events` collects their ids for delivery.
 */
import type { BuildInfo, BuildRequest, BuildRunner, BuildStatus } from '@core/bisect/build-runner';

export interface FakeBuild extends BuildInfo {
  readonly request?: BuildRequest;
}

export class FakeBuildRunner implements BuildRunner {
  readonly builds = new Map<string, FakeBuild>();
  readonly started: BuildRequest[] = [];
  private readonly tokens = new Map<string, string>();
  private readonly attempts = new Map<string, number>();
  private counter = 0;
  /** Throws from the next `start` calls while > 0 (a crash between claim and StartBuild). */
  failNextStarts = 0;

  constructor(
    /** The outcome of the `attempt`-th build of `commit` (1-based). */
    private readonly oracle: (request: BuildRequest, attempt: number) => BuildStatus | Promise<BuildStatus>,
  ) {}

  async start(request: BuildRequest): Promise<string> {
    if (this.failNextStarts > 0) {
      this.failNextStarts--;
      throw new Error('StartBuild: connection reset');
    }
    const known = this.tokens.get(request.idempotencyToken);
    if (known) return known;
    const id = `${request.project}:fake-${++this.counter}`;
    this.tokens.set(request.idempotencyToken, id);
    this.started.push(request);
    const key = `${request.project}|${request.sourceVersion}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const status = await this.oracle(request, attempt);
    this.builds.set(id, {
      id,
      project: request.project,
      status,
      complete: status !== 'IN_PROGRESS',
      sourceVersion: request.sourceVersion,
      resolvedSourceVersion: request.sourceVersion,
      environment: { ...request.environment },
      logsLink: `https://logs.example/${id}`,
      startTime: new Date(Date.UTC(2026, 0, 1) + this.counter * 1000),
      request,
    });
    return id;
  }

  /** Adds a build that was not started by a bisect (a pipeline build). */
  add(build: Omit<FakeBuild, 'complete'>): void {
    this.builds.set(build.id, { ...build, complete: build.status !== 'IN_PROGRESS' });
  }

  async get(ids: readonly string[]): Promise<BuildInfo[]> {
    return ids.flatMap((id) => this.builds.get(id) ?? []);
  }

  async recent(project: string, limit: number): Promise<BuildInfo[]> {
    return [...this.builds.values()]
      .filter((b) => b.project === project)
      .sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0))
      .slice(0, limit);
  }

  /** Verify builds started, in order. */
  verifyStarts(): BuildRequest[] {
    return this.started.filter((r) => r.environment['WATCHY_MODE'] === 'verify');
  }

  last(): FakeBuild {
    const id = this.tokens.get(this.started.at(-1)!.idempotencyToken)!;
    return this.builds.get(id)!;
  }
}
