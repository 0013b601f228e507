// Conversations read the config in use: a model a reload adds can hold conversations at once (its window is
// known), and the conversation settings a reload changes apply to the next conversation created.

import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';

let mock: MockUpstream | undefined;
let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  await mock?.close();
});

describe('conversations across a reload', () => {
  it('serve a model the reload added and take its new conversation settings', async () => {
    mock = await startMockUpstream();
    const url = mock.url;
    const config = (models: Record<string, string>, strategy: 'sliding' | 'summarize'): SwitchyardConfigInput => ({
      providers: [{ id: 'm', baseURL: url, models }],
      conversations: { strategy },
    });
    runtime = createRuntime(config({ chat: 'mock-model' }, 'sliding'));
    const rt = runtime;
    const before = await rt.conversations.create({ model: 'added' }).catch((e: unknown) => e);
    expect(before).toMatchObject({ code: 'model_not_found' });

    await rt.reload(config({ chat: 'mock-model', added: 'gpt-4o-mini' }, 'summarize'));
    const { id } = await rt.conversations.create({ model: 'added' });
    const turn = await rt.conversation(id).post('hello');
    expect(turn.content).toBeTruthy();
    expect(turn.deployments).toEqual(['m/gpt-4o-mini']);
    const view = await rt.conversation(id).get();
    expect(view.strategy).toBe('summarize');
    expect(view.model).toBe('added');
  });
});
