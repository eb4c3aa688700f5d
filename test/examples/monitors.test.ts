/**
 * The monitors' command-line contract (examples/monitors/README.md), run from source with the
 * project venv's Python 3.11: exit codes, the report format, the app rules. The compiled binaries
 * are checked against the same contract by test/cli/build.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');
const SAMPLE = readFileSync(join(ROOT, 'examples', 'monitors', 'sample-event.json'), 'utf8');

function monitor(app: string, args: string[], stdin?: string) {
  const result = spawnSync(
    PYTHON,
    [join(ROOT, 'examples', 'monitors', app, `watchy_${app}_monitor.py`), ...args],
    {
      input: stdin ?? '',
      encoding: 'utf8',
      env: { PATH: process.env['PATH'], PYTHONPATH: join(ROOT, 'examples', 'monitors', 'common') },
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const check = (extra: Record<string, unknown> = {}) => ({
  name: 'api',
  status_code: 200,
  latency_ms: 100,
  ...extra,
});
const event = (...checks: Record<string, unknown>[]) => JSON.stringify({ workspace: 'acme', checks });

describe.each([
  ['slack', 'Slack'],
  ['github', 'GitHub'],
  ['zoom', 'Zoom'],
])('the %s monitor', (app, displayName) => {
  test('--version prints its name and version', () => {
    expect(monitor(app, ['--version'])).toEqual({
      code: 0,
      stdout: `watchy-${app}-monitor 0.0.0+source\n`,
      stderr: '',
    });
  });

  test('the sample event as an argument gives the report', () => {
    const run = monitor(app, [SAMPLE]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      app,
      saas_app: displayName,
      monitor_version: '0.0.0+source',
      workspace: 'acme',
      status: 'degraded',
      checks: [
        { name: 'api', status: 'ok', latency_ms: 182.5 },
        { name: 'webhooks', status: 'ok', latency_ms: 410 },
        { name: 'events', status: 'degraded', latency_ms: 95, reason: 'rate limited (HTTP 429)' },
      ],
      summary: { total: 3, ok: 2, degraded: 1, down: 0, max_latency_ms: 410, window_seconds: 120 },
    });
  });

  test('reads the event from stdin', () => {
    expect(JSON.parse(monitor(app, ['-'], SAMPLE).stdout).status).toBe('degraded');
    expect(JSON.parse(monitor(app, [], SAMPLE).stdout).status).toBe('degraded');
  });

  test('a bad event exits 2 with one line naming the field', () => {
    const run = monitor(app, [
      JSON.stringify({ workspace: 'acme', checks: [{ name: 'api', status_code: 700, latency_ms: 1 }] }),
    ]);
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: `watchy-${app}-monitor: bad event: checks[0].status_code: expected an integer 0-599 (0 = no response)\n`,
    });
  });

  test('text that is not JSON exits 2', () => {
    const run = monitor(app, ['{not json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^watchy-${app}-monitor: bad event: event: not JSON`));
  });

  test('bad usage exits 2', () => {
    expect(monitor(app, ['--frobnicate']).code).toBe(2);
  });
});

describe('check rules', () => {
  test('no response, 5xx and 4xx are down; slow is degraded; the worst check wins', () => {
    const report = JSON.parse(
      monitor('slack', [
        event(
          check({ name: 'a', status_code: 0 }),
          check({ name: 'b', status_code: 503 }),
          check({ name: 'c', status_code: 404 }),
          check({ name: 'd', latency_ms: 5000 }),
          check({ name: 'e' }),
        ),
      ]).stdout,
    );
    expect(report.checks.map((c: { status: string }) => c.status)).toEqual([
      'down',
      'down',
      'down',
      'degraded',
      'ok',
    ]);
    expect(report.status).toBe('down');
  });

  test('thresholds in the event override the defaults', () => {
    const run = monitor('zoom', [
      JSON.stringify({
        workspace: 'w',
        checks: [check({ latency_ms: 900 })],
        thresholds: { latency_ms: 500 },
      }),
    ]);
    expect(JSON.parse(run.stdout).checks[0].reason).toBe('latency 900 ms over 500 ms');
  });

  test('each app applies its own rule', () => {
    const slack = JSON.parse(monitor('slack', [event(check({ websocket_reconnects: 4 }))]).stdout);
    expect(slack.checks[0].reason).toBe('4 websocket reconnects over 3');
    const github = JSON.parse(
      monitor('github', [event(check({ rate_limit_remaining: 100, rate_limit_limit: 5000 }))]).stdout,
    );
    expect(github.checks[0].reason).toBe('rate limit at 2.0% (100/5000)');
    const zoom = JSON.parse(monitor('zoom', [event(check({ packet_loss_pct: 2.5 }))]).stdout);
    expect(zoom.checks[0].reason).toBe('packet loss 2.5% over 2%');
  });

  test('an observed_at without a UTC offset is a bad event', () => {
    const run = monitor('github', [event(check({ observed_at: '2026-01-05T09:00:00' }))]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'watchy-github-monitor: bad event: checks[0].observed_at: expected an ISO-8601 time with a UTC offset\n',
    );
  });
});
