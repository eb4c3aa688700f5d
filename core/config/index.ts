export * from './schema';
export * from './load';
export { DEFAULT_CONFIG, STAGE_NAMES, STAGE_OVERRIDES, type StageName } from './default-config';
