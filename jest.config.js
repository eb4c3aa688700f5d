/** Tests mirror the source tree under test/. Type-checking is `npm run build`; jest only transpiles. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // The @core alias of tsconfig.json (paths), for the modules jest loads.
  moduleNameMapper: { '^@core/(.*)$': '<rootDir>/core/$1' },
  testTimeout: 60_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
