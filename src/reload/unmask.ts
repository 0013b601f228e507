// A config sent back as GET /admin/config showed it carries `********` where its secrets were: a provider's
// secret left masked keeps the value in use (matched by provider id and header name), so an operator can edit
// what they read without ever seeing or retyping a key.

import { masked } from '../config/print.ts';
import type { SwitchyardConfig } from '../config.ts';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of `input` whose masked provider secrets are the live config's; anything else is left as sent. */
export function unmaskSecrets(input: unknown, live: SwitchyardConfig): unknown {
  if (!isRecord(input) || !Array.isArray(input.providers)) return input;
  const providers = input.providers.map((p: unknown) => {
    if (!isRecord(p)) return p;
    const known = live.providers.find((l) => l.id === p.id);
    if (!known) return p;
    const out: Record<string, unknown> = { ...p };
    if (p.apiKey === masked) out.apiKey = known.apiKey;
    if (isRecord(p.headers)) {
      out.headers = Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k, v === masked ? known.headers?.[k] : v]));
    }
    return out;
  });
  return { ...input, providers };
}
