// A deployment's embeddings: measured like completions, and its synthetic probe asks what it last served (an
// embedding model would refuse a chat completion, and fail every probe).

import { afterEach, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { providerLogic } from '../../src/provider/actor.ts';
import { createDeployment, type Deployment } from '../../src/provider/deployment.ts';

let mock: MockUpstream | undefined;
let deployment: Deployment | undefined;
afterEach(async () => {
  deployment?.stop();
  await mock?.close();
});

async function setup() {
  mock = await startMockUpstream({});
  const dep = createDeployment({ id: 'e', baseURL: mock.url, model: 'mock-embed' }, { now: Date.now });
  const actor = createActor(
    providerLogic(() => dep),
    { input: dep.input },
  );
  dep.attach(actor);
  actor.start();
  deployment = dep;
  return { mock, dep };
}

it('reports an embedding call to its provider actor as a success with its input tokens', async () => {
  const { dep } = await setup();
  const answer = await dep.embed({ input: 'count me' });
  expect(answer.data).toHaveLength(1);
  const metrics = dep.view().metrics;
  expect(metrics.successes).toBe(1);
  expect(metrics.tokensIn).toBe(answer.usage.prompt_tokens);
});

it('probes with an embedding once the deployment served embeddings, with a chat completion before', async () => {
  const { mock, dep } = await setup();
  await dep.probe();
  expect(mock.stats().byRoute).toMatchObject({ chat: 1, embeddings: 0 });
  await dep.embed({ input: 'x' });
  await dep.probe();
  expect(mock.stats().byRoute).toMatchObject({ chat: 1, embeddings: 2 });
});
