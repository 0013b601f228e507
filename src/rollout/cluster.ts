// Rollouts in a cluster: one instance drives each rollout under a Redis lease (SET NX PX, renewed a third of
// the way through), publishes each change of its state (and keeps it in a key for late joiners); the others
// follow, so every instance routes with the same percentage within a second of a step. An operator command
// sent to a follower is forwarded to the driver. With Redis unreachable each instance drives its own rollout
// on its own traffic, and takes the shared state back when the link returns. With `arms`, the arms' figures are
// summed across instances (cluster-arms.ts) and the state carries the epoch of the current step's window.

import { type ClusterLink, lua } from '../cluster/link.ts';
import { shareRolloutArms } from './cluster-arms.ts';
import type { SyncedPhase } from './machine.ts';
import type { Rollout, RolloutCommand } from './rollout.ts';
import type { SharedArms } from './shared-arms.ts';

// Takes the lease, or renews it for its holder; 1 when this instance holds it now.
const claimScript = lua(`
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);
const releaseScript = lua(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`);
// The state for late joiners and the message for those listening, in one step.
const publishScript = lua(`redis.call('SET', KEYS[1], ARGV[1]) redis.call('PUBLISH', ARGV[2], ARGV[1]) return 1`);
const readScript = lua(`return redis.call('GET', KEYS[1])`);

interface Shared {
  phase: SyncedPhase;
  step: number;
  reason: string | null;
  /** The current step window's epoch (absent from an instance that does not sum arms). */
  epoch?: string;
}

const commands: readonly RolloutCommand[] = ['pause', 'resume', 'promote', 'abort'];
const phases: readonly SyncedPhase[] = ['pending', 'ramping', 'paused', 'promoted', 'rolledBack'];

// An epoch becomes part of a key: only the characters of instance ids, never a `{` that could move its hash slot.
const epochPattern = /^[A-Za-z0-9._-]{1,200}$/;

/** The shared state in a message or key, or null when it is not one; an epoch that is not plainly one is left out. */
export function parseShared(text: unknown): Shared | null {
  if (typeof text !== 'string') return null;
  try {
    const v = JSON.parse(text) as Partial<Shared>;
    if (!phases.includes(v.phase as SyncedPhase) || typeof v.step !== 'number') return null;
    return {
      phase: v.phase as SyncedPhase,
      step: v.step,
      reason: typeof v.reason === 'string' ? v.reason : null,
      ...(typeof v.epoch === 'string' && epochPattern.test(v.epoch) ? { epoch: v.epoch } : {}),
    };
  } catch {
    return null;
  }
}

/** Shares one rollout through the cluster link; returns its stop. */
export function shareRollout(link: ClusterLink, rollout: Rollout, options: { leaseMs: number; arms?: SharedArms | undefined }) {
  const id = rollout.config.id;
  // One hash tag per rollout: its keys live on one Redis Cluster node.
  const key = `${link.prefix}:{rollout:${id}}`;
  const channel = `rollout:${id}`;
  const commandChannel = `rollout:${id}:command`;
  let last = '';
  // Only the lease's holder writes the shared state: an instance driving alone while Redis was unreachable
  // must not overwrite the driver's state when Redis answers again before its next renewal.
  let holding = false;
  const arms = options.arms ? shareRolloutArms(options.arms, rollout, key, link.instanceId) : null;

  const publish = () => {
    const text = JSON.stringify(arms ? { ...rollout.shared(), epoch: arms.epoch() } : rollout.shared());
    if (text === last) return;
    last = text;
    void link.script(publishScript, [`${key}:state`], [text, `${link.prefix}:${channel}`]).catch(() => {});
  };
  const follow = (text: unknown) => {
    const remote = parseShared(text);
    if (!remote || rollout.role.driving) return;
    // The window first: the step the follower then enters counts into the driver's window.
    if (remote.epoch !== undefined) arms?.adopt(remote.epoch);
    rollout.follow({ phase: remote.phase, step: remote.step, reason: remote.reason });
  };

  async function renew() {
    const granted = await link.script(claimScript, [`${key}:driver`], [link.instanceId, options.leaseMs]).catch(() => null);
    holding = granted === 1;
    const was = rollout.role.driving;
    // Unreachable: drive alone on local state rather than freeze.
    rollout.role.driving = granted === null || granted === 1;
    if (granted === 1 && !was) last = '';
    if (granted === 1) publish();
    else if (granted === 0) follow(await link.script(readScript, [`${key}:state`], []).catch(() => null));
  }

  // Nobody drives until the lease says who does.
  rollout.role.driving = false;
  rollout.role.forward = (command) => void link.publish(commandChannel, command).catch(() => {});
  const unfollow = link.subscribe(channel, follow);
  const unlisten = link.subscribe(commandChannel, (message) => {
    if (!rollout.role.driving || !commands.includes(message as RolloutCommand)) return;
    try {
      rollout.command(message as RolloutCommand);
    } catch {
      // A command the driver's state does not take (it moved on since the follower checked): nothing to do.
    }
  });
  const subscription = rollout.actor.subscribe(() => {
    if (holding && rollout.role.driving) publish();
  });
  // The first claim once Redis answers (or is known not to), so that a joining instance does not drive alone
  // for a renewal period: it reads the driver's state, and the step window it counts into, first.
  void link.ready().then(renew);
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(options.leaseMs / 3)));
  timer.unref();

  return async () => {
    clearInterval(timer);
    subscription.unsubscribe();
    // A rollout a reload replaced or removed leaves its channels: no listener of it outlives it.
    unfollow();
    unlisten();
    arms?.stop();
    if (rollout.role.driving) await link.script(releaseScript, [`${key}:driver`], [link.instanceId]).catch(() => {});
  };
}
