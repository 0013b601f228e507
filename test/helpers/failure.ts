// Awaits a promise that must fail with a SwitchyardError, and returns that error.

import { isSwitchyardError, type SwitchyardError } from '../../src/errors.ts';

export async function failure(p: Promise<unknown>): Promise<SwitchyardError> {
  const result = await p.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  if (!isSwitchyardError(result)) throw result;
  return result;
}
