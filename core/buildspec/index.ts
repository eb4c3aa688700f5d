/**
 * The local buildspec runner: `watchy build` runs the same `buildspecs/*.yml` CodeBuild runs.
 */
export * from './spec';
export * from './runner';
export * from './artifacts';
