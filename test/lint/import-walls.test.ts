import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const ESLINT = path.join(ROOT, 'node_modules', '.bin', 'eslint');

interface LintMessage {
  readonly ruleId: string | null;
  readonly message: string;
}

/** Lints `code` as if it were the file `filePath` with the repository's eslint.config.mjs. */
function lint(filePath: string, code: string): LintMessage[] {
  const run = spawnSync(ESLINT, ['--stdin', '--stdin-filename', filePath, '--format', 'json'], {
    cwd: ROOT,
    input: code,
    encoding: 'utf8',
  });
  if (run.status !== 0 && run.status !== 1) throw new Error(`eslint failed: ${run.stderr}`);
  const [result] = JSON.parse(run.stdout) as { messages: LintMessage[] }[];
  return result!.messages;
}

const wallRule = (messages: LintMessage[]) => messages.filter((m) => m.ruleId === 'walls/imports');

describe('import walls (eslint walls/imports)', () => {
  test.each([
    ['the core imports lib/', 'core/x.ts', "import { BuildStack } from '../lib/stacks/build-stack';"],
    ['the core imports aws-cdk-lib', 'core/release/x.ts', "import { Stack } from 'aws-cdk-lib';"],
    ['the core imports constructs', 'core/x.ts', "import { Construct } from 'constructs';"],
    [
      'the core imports an adapter',
      'core/release/x.ts',
      "import { handler } from '../../lambda/rollback/index';",
    ],
    ['an adapter imports another adapter', 'lambda/bisect/x.ts', "export { handler } from '../notifier';"],
    [
      'an adapter imports lib/',
      'lambda/publish/x.ts',
      "import type { BuildStack } from '../../lib/stacks/build-stack';",
    ],
    [
      'the CLI imports an adapter',
      'cli/commands/x.ts',
      "import { handler } from '../../lambda/rollback/index';",
    ],
    [
      'lib/ imports an adapter',
      'lib/constructs/x.ts',
      "import { handler } from '../../lambda/publish/index';",
    ],
    [
      'the CLI imports the core by a relative path',
      'cli/commands/x.ts',
      "import { oneLine } from '../../core/one-line';",
    ],
    ['bin/ imports an adapter', 'bin/x.ts', "import { handler } from '../lambda/monitor/index';"],
    [
      'lib/ imports a core module that is no contract',
      'lib/constructs/x.ts',
      "import { publish } from '@core/release/publish/publish';",
    ],
  ])('fires when %s', (_name, filePath, code) => {
    const messages = wallRule(lint(filePath, `${code}\nexport const used = 1;\n`));
    expect(messages).toHaveLength(1);
    expect(messages[0]!.message).toContain(code.match(/'([^']+)';$/)![1]);
  });

  test('stays quiet on imports along the walls', () => {
    const clean: [string, string][] = [
      ['core/release/x.ts', "import { BISECT_PREFIX } from '../bisect/contract';\nimport { z } from 'zod';"],
      [
        'lambda/bisect/x.ts',
        "import { rollbackIfLive } from './rollback';\nimport { publishMessage } from '@core/notifications/publish';",
      ],
      [
        'cli/commands/x.ts',
        "import { handleOperatorRequest } from '@core/release/rollback/operator';\nimport { loadConfig } from '@core/config';",
      ],
      [
        'lib/constructs/x.ts',
        "import { Stack } from 'aws-cdk-lib';\nimport { NOTIFIER_ENV } from '@core/notifications/contract';",
      ],
    ];
    for (const [filePath, code] of clean) {
      expect({ filePath, messages: wallRule(lint(filePath, `${code}\nexport const used = 1;\n`)) }).toEqual({
        filePath,
        messages: [],
      });
    }
  });
});
