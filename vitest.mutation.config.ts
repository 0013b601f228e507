// The vitest run Stryker uses (`npm run mutation`): only the tests that drive the mutated modules, so that
// each mutant runs in seconds on a shared machine. Not part of `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/provider/machine.test.ts',
      'test/provider/machine.outcomes.test.ts',
      'test/provider/machine.probing.test.ts',
      'test/provider/machine.property.test.ts',
      'test/provider/backoff.test.ts',
      'test/provider/breaker.property.test.ts',
      'test/conversation/machine.test.ts',
      'test/conversation/machine.context.test.ts',
      'test/conversation/fit.test.ts',
      'test/routing/rank.test.ts',
      'test/routing/supervisor.machine.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
