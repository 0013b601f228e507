// Shared rpm/tpm budgets: every instance's admissions of a deployment are counted in one Redis sliding window,
// checked and taken in one Lua call (so two instances can never both take the last slot), timed by Redis' own
// clock (so instances' clocks do not matter). A reservation takes the request's estimated tokens; settling it
// corrects them to the real usage. Window entries expire one by one: the window slides, it is not reset.

import type { Limits } from '../routing/budgets.ts';
import { type ClusterLink, lua } from './link.ts';

export interface Reservation {
  deployment: string;
  id: string;
  tokens: number;
}

export type ReserveResult =
  | { admitted: true; reservation: Reservation; requests: number; tokens: number }
  | { admitted: false; retryAfterMs: number; requests: number; tokens: number };

// KEYS: the window (sorted set id → admission time), each admission's tokens (hash), the window's token sum.
// ARGV: rpm, tpm (-1: no limit), tokens, id, windowMs.
const reserveScript = lua(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[5])
while true do
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window, 'LIMIT', 0, 500)
  if #old == 0 then break end
  local spent = 0
  for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(old))) do
    if v then spent = spent + tonumber(v) end
  end
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('DECRBY', KEYS[3], spent)
end
local count = redis.call('ZCARD', KEYS[1])
local sum = tonumber(redis.call('GET', KEYS[3]) or '0')
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ok = true
if rpm >= 0 and count >= rpm then ok = false end
-- A request larger than the whole token budget may still go when nothing else is in the window.
if tpm >= 0 and sum + math.min(tokens, tpm) > tpm then ok = false end
if not ok then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local retry = 1
  if oldest[2] then retry = math.max(1, tonumber(oldest[2]) + window - now) end
  return {0, retry, count, sum}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('HSET', KEYS[2], ARGV[4], tokens)
redis.call('INCRBY', KEYS[3], tokens)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], window + 1000) end
return {1, 0, count + 1, sum + tokens}
`);

// ARGV: id, real tokens. An admission that already left the window is not corrected.
const settleScript = lua(`
local before = redis.call('HGET', KEYS[2], ARGV[1])
if not before then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[3], tonumber(ARGV[2]) - tonumber(before))
return 1
`);

export interface SharedBudgetsOptions {
  /** The window both limits count over: a minute, for requests and tokens per minute. */
  windowMs?: number;
}

export function createSharedBudgets(
  link: ClusterLink,
  limitsOf: (deployment: string) => Limits | undefined,
  options: SharedBudgetsOptions = {},
) {
  const windowMs = options.windowMs ?? 60_000;
  const keys = (id: string) => {
    const tag = `${link.prefix}:{budget:${id}}`;
    return [`${tag}:window`, `${tag}:tokens`, `${tag}:sum`];
  };
  let sequence = 0;
  return {
    /** Whether the deployment has a limit at all: without one, no round trip is made. */
    limited(deployment: string): boolean {
      const l = limitsOf(deployment);
      return l !== undefined && (l.rpm !== null || l.tpm !== null);
    },
    /** Checks and takes one request and `tokens` tokens of the deployment's budget, atomically across the cluster. */
    async reserve(deployment: string, tokens: number): Promise<ReserveResult> {
      const l = limitsOf(deployment);
      const id = `${link.instanceId}:${++sequence}`;
      const estimate = Math.max(0, Math.round(tokens));
      const reply = (await link.script(reserveScript, keys(deployment), [l?.rpm ?? -1, l?.tpm ?? -1, estimate, id, windowMs])) as number[];
      const [admitted = 0, retryAfterMs = 0, requests = 0, sum = 0] = reply.map(Number);
      return admitted === 1
        ? { admitted: true, reservation: { deployment, id, tokens: estimate }, requests, tokens: sum }
        : { admitted: false, retryAfterMs, requests, tokens: sum };
    },
    /** Corrects a reservation's tokens to what the upstream reported. */
    async settle(reservation: Reservation, usedTokens: number): Promise<void> {
      await link.script(settleScript, keys(reservation.deployment), [reservation.id, Math.max(0, Math.round(usedTokens))]);
    },
  };
}

export type SharedBudgets = ReturnType<typeof createSharedBudgets>;
