// The three prom-client classes Switchyard uses, loaded from their own files: prom-client's index also loads its
// default process metrics and, with them, @opentelemetry/api (about 100 modules, some 2 MB of an idle
// gateway's RSS) although Switchyard never collects them. Same files as the index's, so the same classes.

import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const load = createRequire(import.meta.url);

export const Counter = load('prom-client/lib/counter') as typeof Prom.Counter;
export const Gauge = load('prom-client/lib/gauge') as typeof Prom.Gauge;
export const Registry = load('prom-client/lib/registry') as typeof Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Registry = Prom.Registry;
