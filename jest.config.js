/** Jest runs the TypeScript sources through ts-jest; `tsc --noEmit` does the type check. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleNameMapper: { '^#cds-models/(.*)$': '<rootDir>/@cds-models/$1' },
  globalSetup: '<rootDir>/test/global-setup.js',
  setupFiles: ['<rootDir>/test/env-setup.js'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // gen/ contains the build output with a package.json of its own.
  modulePathIgnorePatterns: ['<rootDir>/gen/'],
  testTimeout: 60_000,
  maxWorkers: 2
};
