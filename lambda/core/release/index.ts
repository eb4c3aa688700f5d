/**
 * Release control: the release store (S3, create-only and compare-and-swap writes), publish,
 * rollbacks, history, and the contracts shared by the Lambdas, the CLI, bisect and the tests.
 */
export * from './errors';
export * from './request';
export * from './operations';
export * from './store';
export * from './history';
export * from './deps';
export * from './pointer';
export * from './verify';
export * from './targets';
export * from './publish';
export * from './rollback';
export * from './queries';
export * from './environment';
export * from './rebuild';
export * from './invoke';
export * from './stage';
export * from './trusted-build';
