/**
 * The CDK app: load and validate the config once, create the platform's stacks, run cdk-nag.
 *
 *   npx cdk synth                         the embedded default config
 *   npx cdk synth -c stage=prod           default + the prod overrides (beta, gamma, prod)
 *   npx cdk synth -c config=my.json       default (+ stage) + a JSON file of overrides
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ConfigError, loadConfig } from '@core/config';
import { createPlatform } from '../lib/watchy-platform';

const app = new App();
let config;
try {
  config = loadConfig({
    stage: app.node.tryGetContext('stage'),
    file: app.node.tryGetContext('config'),
  });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
createPlatform(app, config);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
