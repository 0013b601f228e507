// Issue 18's done-when: two `switchyard serve` processes sharing a real Postgres and a real Redis, over the mock
// upstream. 50 conversations × 10 turns, each turn to a random instance, some sent concurrently (two turns of
// one conversation at once, or one turn twice with its idempotency key): every history is one ordered chain,
// nothing lost or stored twice, even though one instance is SIGKILLed in the middle of the run. Then Postgres
// restarts under the survivor: 503 store_unavailable while it is down, served again after, same process.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { type ServeProcess, startServe } from '../helpers/serve.ts';

interface StoredMessage {
  seq: number;
  role: string;
  content: string;
  status: string;
  turnId: string;
}
type Answer = { status: number; code: string | null } | { status: 0; code: 'network' };

let pg: TestPostgres;
let redis: TestRedis;
let upstream: MockUpstream;
let store: string;
let gateways: ServeProcess[] = [];

const config = (name: string) => ({
  providers: [{ id: 'p', baseURL: upstream.url, models: { chat: 'mock-model' } }],
  // A short lease: a killed instance's conversations are free again after a second.
  conversations: { leaseMs: 1000 },
  cluster: { instanceId: name },
});

beforeAll(async () => {
  [pg, redis, upstream] = await Promise.all([startPostgres(), startRedis(), startMockUpstream({ latencyMs: 5 })]);
  store = await pg.createDatabase('cluster18');
  gateways = await Promise.all(['gw-a', 'gw-b'].map((n) => startServe(config(n), ['--store', store, '--redis', redis.url])));
}, 60_000);

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all([upstream?.close(), redis?.stop(), pg?.destroy()]);
});

async function post(base: string, id: string, content: string, key: string): Promise<Answer> {
  try {
    const res = await fetch(`${base}/v1/conversations/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ content }),
    });
    const body = (await res.json()) as { error?: { code?: string } };
    return { status: res.status, code: body.error?.code ?? null };
  } catch {
    return { status: 0, code: 'network' };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const alive = () => gateways.filter((g) => g.child.exitCode === null && g.child.signalCode === null);
const anyInstance = () => {
  const live = alive();
  return live[Math.floor(Math.random() * live.length)] as ServeProcess;
};

/** Answers a client may retry with the same key: the lease is elsewhere, the store is down, the instance died. */
const retryable = (a: Answer) =>
  (a.status === 409 && a.code === 'conversation_moved') || (a.status === 503 && a.code === 'store_unavailable') || a.status === 0;

/** Sends one turn until it is acknowledged (bounded), each retry with the same key to a random live instance. */
async function turn(id: string, content: string, key: string, first = anyInstance()): Promise<Answer[]> {
  const answers: Answer[] = [];
  let target = first;
  for (let i = 0; i < 400; i++) {
    const answer = await post(target.url, id, content, key);
    answers.push(answer);
    if (answer.status === 200) return answers;
    if (!retryable(answer)) throw new Error(`turn ${key}: unexpected ${JSON.stringify(answer)}`);
    await sleep(25);
    target = anyInstance();
  }
  throw new Error(`turn ${key} never acknowledged: ${JSON.stringify(answers.slice(-5))}`);
}

async function create(base: string): Promise<string> {
  const res = await fetch(`${base}/v1/conversations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const history = async (base: string, id: string) =>
  ((await (await fetch(`${base}/v1/conversations/${id}`)).json()) as { switchyard: { messages: StoredMessage[] } }).switchyard.messages;

/** One ordered chain: user, its reply, user, its reply…, all done, each sent content exactly once. */
function expectChain(messages: StoredMessage[], contents: string[]) {
  const seqs = messages.map((m) => m.seq);
  expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(messages).toHaveLength(contents.length * 2);
  for (let i = 0; i < messages.length; i += 2) {
    const [user, reply] = [messages[i], messages[i + 1]] as [StoredMessage, StoredMessage];
    expect([user.role, reply.role, user.status, reply.status]).toEqual(['user', 'assistant', 'done', 'done']);
    expect(reply.turnId).toBe(user.turnId);
  }
  expect(messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(expect.arrayContaining(contents));
  expect(new Set(messages.filter((m) => m.role === 'user').map((m) => m.content)).size).toBe(contents.length);
}

/** Runs `work` over `items` with at most `width` at a time. */
async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

describe('conversations across two gateways on Postgres and Redis', () => {
  const conversations = 50;
  const turns = 10;
  const sent = new Map<string, string[]>();

  it('keeps every history one ordered chain while turns hit random instances, concurrently, and one instance is killed', async () => {
    const ids = await Promise.all(Array.from({ length: conversations }, () => create(anyInstance().url)));
    let acked = 0;
    let killedAt: number | null = null;
    const victim = gateways[0] as ServeProcess;
    const ack = () => {
      acked++;
      // Half way through, one instance dies without a word: its turns in flight are retried on the other.
      if (killedAt === null && acked >= (conversations * turns) / 2) {
        killedAt = acked;
        victim.child.kill('SIGKILL');
      }
    };
    await pool([...ids.entries()], 12, async ([n, id]) => {
      const contents: string[] = [];
      sent.set(id, contents);
      for (let t = 0; t < turns; t++) {
        const content = `conversation ${n} turn ${t}`;
        const key = `${id}:${t}`;
        contents.push(content);
        if (n % 3 === 0 && t % 2 === 0 && t + 1 < turns) {
          // Two turns of one conversation at once, to different instances: serialized, in either order.
          const other = `conversation ${n} turn ${t + 1}`;
          contents.push(other);
          const [a, b] = [alive()[0], alive().at(-1)] as [ServeProcess, ServeProcess];
          await Promise.all([turn(id, content, key, a), turn(id, other, `${id}:${t + 1}`, b)]);
          ack();
          ack();
          t++;
        } else if (n % 3 === 1 && t % 3 === 0) {
          // One turn sent twice at once with its key: answered twice, stored once.
          const [a, b] = [alive()[0], alive().at(-1)] as [ServeProcess, ServeProcess];
          await Promise.all([turn(id, content, key, a), turn(id, content, key, b)]);
          ack();
        } else {
          await turn(id, content, key);
          ack();
        }
      }
    });
    expect(killedAt).not.toBeNull();
    expect(alive()).toEqual([gateways[1]]);
    const survivor = gateways[1] as ServeProcess;
    for (const id of ids) expectChain(await history(survivor.url, id), sent.get(id) ?? []);
    // About 10 s on an idle 2-core machine; the margin is for a loaded CI runner.
  }, 120_000);

  it('answers 503 store_unavailable while Postgres is down, stores nothing it did not acknowledge, and serves again after', async () => {
    const survivor = gateways[1] as ServeProcess;
    const ids = [...sent.keys()].slice(0, 8);
    // Turns in flight when Postgres stops: their user message is stored, their reply cannot be.
    upstream.setFaults({ latencyMs: 300 });
    const inflight = ids.slice(0, 4).map((id, i) => post(survivor.url, id, `outage ${i}`, `${id}:outage`));
    await sleep(150);
    await pg.stop();
    upstream.heal();
    const during = await Promise.all([
      ...inflight,
      ...ids.slice(4).map((id, i) => post(survivor.url, id, `outage ${i + 4}`, `${id}:outage`)),
      post(survivor.url, ids[0] as string, 'another', `${ids[0]}:another`),
    ]);
    for (const answer of during) expect(answer).toEqual({ status: 503, code: 'store_unavailable' });
    expect((await fetch(`${survivor.url}/readyz`)).status).toBe(503);
    await pg.start();
    // The same process serves again, and the same keys complete the turns the outage cut.
    for (const [i, id] of ids.entries()) {
      await turn(id, `outage ${i}`, `${id}:outage`, survivor);
      expectChain(await history(survivor.url, id), [...(sent.get(id) ?? []), `outage ${i}`]);
    }
    expect((await fetch(`${survivor.url}/readyz`)).status).toBe(200);
  }, 40_000);
});
