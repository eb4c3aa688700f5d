/**
 * `npm run bench`: runs every `test/bench/*.bench.ts` in its own process, one after the other
 * (so benchmarks never compete for the two cores), and prints each one's report.
 *
 *   npm run bench                 all benchmarks
 *   npm run bench -- synth        only those whose file name contains "synth"
 *
 * Each benchmark reports ratios measured in the same run (ours against a baseline or a limit),
 * never absolute thresholds: these machines are noisy.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`bench: no benchmark matches ${filters.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(__dirname, file)], {
    stdio: 'inherit',
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  if (result.status !== 0) {
    failed += 1;
    console.error(`bench: ${file} failed (exit ${result.status ?? result.signal})`);
  }
}
process.exit(failed ? 1 : 0);
