// Every bound on what a client or an upstream can make Switchyard hold: the `limits` section of the config
// (docs/security.md, "Limits"), described once in the config schema (src/config/schema.ts). The per-deployment
// cap on an upstream answer is `providers[].maxResponseBytes` beside the other per-deployment options.

import type { Static } from 'typebox';
import Value from 'typebox/value';
import { limitsSchema } from './config/operations-schema.ts';

export type LimitsConfig = Required<Static<typeof limitsSchema>>;

/** The schema's defaults: what the server uses for any limit not given. */
export const limitDefaults: LimitsConfig = Value.Default(limitsSchema, {}) as LimitsConfig;
