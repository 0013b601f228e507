// While a command starts, some 1,300 modules load, and nearly everything they allocate lives as long as the
// process. V8 meanwhile doubles the young generation at each scavenge that sees that much survive, up to
// 2 × 16 MB, and keeps it committed: an idle gateway held about 30 MB of RSS in a young generation 3 MB full.
// So the CLI keeps it at its initial size while it starts (the startup objects are promoted to the old
// generation, where they belong) and gives V8 back its default growth once it listens, so that request
// traffic grows it as usual. Imported first by the CLI, so that it runs before the other modules load; an
// embedding application is left alone, and so is a process started with semi-space flags of its own.

import { setFlagsFromString } from 'node:v8';

const own = /semi-space/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`);
if (!own) setFlagsFromString('--semi-space-growth-factor=1');

/** Startup is over: V8's own growth of the young generation (its default factor, 2) from here on. */
export function startupDone(): void {
  if (!own) setFlagsFromString('--semi-space-growth-factor=2');
}
