// Mutation testing (`npm run mutation`, not part of `npm test`): mutates the pure machines and the arithmetic the
// request path decides with, and runs only the tests that drive them (vitest.mutation.config.ts).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['src/provider/machine.ts', 'src/provider/backoff.ts', 'src/conversation/machine.ts', 'src/conversation/setup.machine.ts', 'src/conversation/fit.ts', 'src/routing/rank.ts'],
  coverageAnalysis: 'perTest',
  // The machine is shared by up to 8 helpers on 2 cores.
  concurrency: 1,
  timeoutMS: 10_000,
  // Stryker rewrites tsconfig.json through the TypeScript JS API, which typescript@7 no longer has; our tsconfig
  // has no `extends` or `references` to rewrite, so point it at a file that does not exist.
  tsconfigFile: 'no-tsconfig-for-stryker.json',
  tempDirName: 'test-artifacts/stryker-tmp',
  cleanTempDir: 'always',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'test-artifacts/mutation/index.html' },
  jsonReporter: { fileName: 'test-artifacts/mutation/mutation.json' },
};
