/**
 * Jest runs the TypeScript sources as native ES modules, transpile-only (swc);
 * type-checking is `npm run typecheck`. Integration tests find the real servers
 * through `.local/services.env` (see test/global-setup.ts).
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
      },
    ],
  },
  moduleNameMapper: {
    '^temporal-mlflow$': '<rootDir>/src/index.ts',
    '^temporal-mlflow/workflows$': '<rootDir>/workflows/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.js',
  testTimeout: 60_000,
  maxWorkers: 2,
  // Temporal's native runtime keeps handles open after the last test: never let them hang CI.
  forceExit: true,
  modulePathIgnorePatterns: ['<rootDir>/.local/', '<rootDir>/.venv/'],
};
