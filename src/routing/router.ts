// Picks the deployment for each attempt of a request from the provider actors' current snapshots. When no
// deployment of the model admits a call, it waits for the earliest probe if that falls inside the request's
// wait budget (`maxWaitForRecoveryMs`, within the deadline) and a waiting place is free (`maxWaitingRequests`
// per model), and fails fast otherwise: it never sends to an open circuit, and a total outage answers 503 with
// the next probe as Retry-After instead of holding connections until the deadline.

import type { Continuation, ProviderConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import type { Deployment } from '../provider/deployment.ts';
import { admission, healthOf } from '../provider/health.ts';
import type { BudgetTicket, RateLimiter } from './budgets.ts';
import { type Candidate, pickNext, type Strategy } from './rank.ts';

/** One deployment serving one logical model. */
export interface Route {
  deployment: Deployment;
  provider: ProviderConfig;
  /** Position among the model's deployments: config order. */
  priority: number;
  continuation: Continuation;
}

/** What the router reads of a request (a Request is one). */
export interface PickOptions {
  readonly model: string;
  readonly tried: ReadonlySet<string>;
  readonly deadlineAt: number;
  /** Read only when the router has to wait: aborted when the request ends. */
  readonly signal: AbortSignal;
  /** Estimated tokens of the request, for rpm/tpm budgets. */
  readonly tokens: number;
  /** Takes the ticket a shared limiter gave for the picked route (its real usage settles it). */
  reserved?(ticket: BudgetTicket): void;
}

export interface RouterDeps {
  routes: ReadonlyMap<string, readonly Route[]>;
  strategy: Strategy;
  limiter: RateLimiter;
  now: () => number;
  random: () => number;
  /** Resolves after `ms`, or earlier when a provider actor changes state; rejects when `signal` aborts. */
  waitForChange: (routes: readonly Route[], ms: number, signal: AbortSignal) => Promise<void>;
  /** How long one request waits for a recovery, over all its picks. */
  maxWaitForRecoveryMs: number;
  /** Requests of one logical model waiting for a recovery at once. */
  maxWaitingRequests: number;
}

// Bounds the wait-and-look loop; every turn waits for a state change or the deadline.
const maxWaits = 64;

export function candidateOf(route: Route, limiter: RateLimiter, tokens: number): Candidate {
  const snapshot = route.deployment.actor.getSnapshot();

  return {
    id: route.deployment.id,
    priority: route.priority,
    health: healthOf(snapshot),
    admission: admission(snapshot),
    weight: route.provider.weight,
    latencyEwmaMs: snapshot.context.metrics.latencyEwmaMs,
    inFlight: route.deployment.inFlight(),
    overBudget: !limiter.hasBudget(route.deployment.id, tokens),
  };
}

export function createRouter(deps: RouterDeps) {
  // Only requests that had to wait appear here: the common path touches neither map.
  const waitedMs = new WeakMap<PickOptions, number>();
  const waiting = new Map<string, number>();

  const unavailable = (model: string, why: string, retryAfterMs: number | undefined) => {
    const when = retryAfterMs === undefined ? '' : `; next probe in ${retryAfterMs} ms`;
    return new SwitchyardError('no_provider_available', `no deployment of "${model}" can take a request now${why}${when}`, {
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  };

  return {
    /** The routes of a logical model, or `model_not_found`. */
    routesOf(model: string): readonly Route[] {
      const routes = deps.routes.get(model);
      if (!routes) {
        throw new SwitchyardError('model_not_found', `model "${model}" is not served here (known: ${[...deps.routes.keys()].join(', ')})`, {
          param: 'model',
        });
      }
      return routes;
    },

    /** The route for the next attempt; waits, within its wait budget and the deadline, while every deployment is recovering. */
    /** `filter`: only routes passing it are considered (e.g. those able to continue a stream). */
    async pick(options: PickOptions, filter?: (route: Route) => boolean): Promise<Route> {
      const all = this.routesOf(options.model);
      const routes = filter ? all.filter(filter) : all;
      let retryAfterMs: number | undefined;
      for (let turn = 0; turn < maxWaits; turn++) {
        const candidates = routes.map((r) => candidateOf(r, deps.limiter, options.tokens));
        const next = pickNext(candidates, deps.strategy, options.tried, deps.random);
        if (next) {
          const route = routes.find((r) => r.deployment.id === next.id) as Route;
          // A shared budget is taken atomically here, one round trip; refused, the deployment now counts as
          // over budget and the ranking runs again (another may lead, or it goes on as a last resort).
          if (!deps.limiter.reserve || next.overBudget) return route;
          const ticket = await deps.limiter.reserve(route.deployment.id, options.tokens);
          if (ticket === null) continue;
          options.reserved?.(ticket);
          return route;
        }
        const now = deps.now();
        // A probe in flight may settle any time; a scheduled probe comes at nextProbeAt.
        const probing = candidates.some((c) => c.health === 'probing');
        const probes = routes.map((r) => r.deployment.actor.getSnapshot().context.nextProbeAt).filter((t): t is number => t !== null);
        const earliest = probes.length > 0 ? Math.min(...probes) : null;
        // With a probe in flight and none scheduled, the wait budget is the honest hint of when to come back.
        retryAfterMs = earliest !== null ? Math.max(0, earliest - now) : probing ? deps.maxWaitForRecoveryMs : undefined;
        const budget = Math.max(0, deps.maxWaitForRecoveryMs - (waitedMs.get(options) ?? 0));
        const until = Math.min(options.deadlineAt, now + budget);
        const reachable = probing || (earliest !== null && earliest <= until);
        if (!reachable || now >= until) throw unavailable(options.model, '', retryAfterMs);
        const queued = waiting.get(options.model) ?? 0;
        if (queued >= deps.maxWaitingRequests) {
          throw unavailable(options.model, ` (${queued} requests already wait for a recovery)`, retryAfterMs);
        }
        waiting.set(options.model, queued + 1);
        try {
          await deps.waitForChange(routes, Math.max(1, (probing ? until : Math.min(until, earliest ?? until)) - now), options.signal);
        } finally {
          waiting.set(options.model, (waiting.get(options.model) ?? 1) - 1);
          waitedMs.set(options, (waitedMs.get(options) ?? 0) + Math.max(0, deps.now() - now));
        }
      }
      throw new SwitchyardError('no_provider_available', `no deployment of "${options.model}" became available`, {
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    },

    /** Requests of `model` waiting for a recovery now. */
    waiting(model: string): number {
      return waiting.get(model) ?? 0;
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
