// Rollouts in a cluster: one instance drives each rollout under a Redis lease (SET NX PX, renewed a third of
// the way through), publishes each change of its state (and keeps it in a key for late joiners); the others
// follow, so every instance routes with the same percentage within a second of a step. An operator command
// sent to a follower is forwarded to the driver. With Redis unreachable each instance drives its own rollout
// on its own traffic, and takes the shared state back when the link returns.

import { type ClusterLink, lua } from '../cluster/link.ts';
import type { SyncedPhase } from './machine.ts';
import type { Rollout, RolloutCommand } from './rollout.ts';

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
}

const commands: readonly RolloutCommand[] = ['pause', 'resume', 'promote', 'abort'];
const phases: readonly SyncedPhase[] = ['pending', 'ramping', 'paused', 'promoted', 'rolledBack'];

function parse(text: unknown): Shared | null {
  if (typeof text !== 'string') return null;
  try {
    const v = JSON.parse(text) as Partial<Shared>;
    if (!phases.includes(v.phase as SyncedPhase) || typeof v.step !== 'number') return null;
    return { phase: v.phase as SyncedPhase, step: v.step, reason: typeof v.reason === 'string' ? v.reason : null };
  } catch {
    return null;
  }
}

/** Shares one rollout through the cluster link; returns its stop. */
export function shareRollout(link: ClusterLink, rollout: Rollout, options: { leaseMs: number }) {
  const id = rollout.config.id;
  // One hash tag per rollout: its keys live on one Redis Cluster node.
  const key = `${link.prefix}:{rollout:${id}}`;
  const channel = `rollout:${id}`;
  const commandChannel = `rollout:${id}:command`;
  let last = '';

  const publish = () => {
    const text = JSON.stringify(rollout.shared());
    if (text === last) return;
    last = text;
    void link.script(publishScript, [`${key}:state`], [text, `${link.prefix}:${channel}`]).catch(() => {});
  };
  const follow = (text: unknown) => {
    const remote = parse(text);
    if (remote && !rollout.role.driving) rollout.follow(remote);
  };

  async function renew() {
    const granted = await link.script(claimScript, [`${key}:driver`], [link.instanceId, options.leaseMs]).catch(() => null);
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
  link.subscribe(channel, follow);
  link.subscribe(commandChannel, (message) => {
    if (!rollout.role.driving || !commands.includes(message as RolloutCommand)) return;
    try {
      rollout.command(message as RolloutCommand);
    } catch {
      // A command the driver's state does not take (it moved on since the follower checked): nothing to do.
    }
  });
  const subscription = rollout.actor.subscribe(() => {
    if (rollout.role.driving) publish();
  });
  void renew();
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(options.leaseMs / 3)));
  timer.unref();

  return async () => {
    clearInterval(timer);
    subscription.unsubscribe();
    if (rollout.role.driving) await link.script(releaseScript, [`${key}:driver`], [link.instanceId]).catch(() => {});
  };
}
