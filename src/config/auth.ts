// API keys with a tenant and a role, as the config lists them (`auth.keys`). The server adds the keys of
// SWITCHYARD_API_KEYS (users) and SWITCHYARD_ADMIN_KEYS (admins), each key its own tenant.

import { createHash } from 'node:crypto';
import type { Static } from 'typebox';
import type { authSchema } from './operations-schema.ts';

export type Role = 'user' | 'admin';

export interface ApiKeyConfig {
  key: string;
  /** Whose conversations the key reaches. */
  tenant: string;
  /** `user`: chat, models and the tenant's conversations; `admin`: everything, every tenant included. */
  role: Role;
}

/** A tenant's budgets per minute over all its keys' requests; null: no limit. */
export interface TenantBudget {
  rpm: number | null;
  tpm: number | null;
}

export interface AuthConfig {
  keys: ApiKeyConfig[];
  /** Budgets by tenant; a tenant not listed has none. */
  tenants: Record<string, TenantBudget>;
}

/** The tenant of a key given without one: a short hash, so logs and stores never show the key itself. */
export function tenantOfKey(key: string): string {
  return `key-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** The config's keys with their defaults: a key without a tenant is its own tenant, and a user. */
export function resolveAuth(input: Static<typeof authSchema> | undefined): AuthConfig {
  return {
    keys: (input?.keys ?? []).map((k) => ({ key: k.key, tenant: k.tenant ?? tenantOfKey(k.key), role: k.role ?? 'user' })),
    tenants: Object.fromEntries(Object.entries(input?.tenants ?? {}).map(([t, b]) => [t, { rpm: b.rpm ?? null, tpm: b.tpm ?? null }])),
  };
}
