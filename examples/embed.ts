// Switchyard embedded in another Node process, no HTTP: two in-process mock upstreams serve the logical
// model "chat"; the primary goes down and the runtime fails over, as the printed routes show.
// Run it: npm run example:embed (npm scripts run on the pinned Node 24; the system Node may be too old).

import { createRuntime, isSwitchyardError, startMockUpstream } from '../src/index.ts';

const primary = await startMockUpstream();
const backup = await startMockUpstream();
const runtime = createRuntime({
  providers: [
    { id: 'primary', baseURL: primary.url, models: { chat: 'mock-model' } },
    { id: 'backup', baseURL: backup.url, models: { chat: 'mock-model' } },
  ],
  health: { minVolume: 2 },
});
const unsubscribe = runtime.subscribe((r) => {
  if (r.machine === 'provider') console.log(`  ${r.actor}: ${r.from} → ${r.state}`);
});

const ask = (content: string) => ({ model: 'chat', messages: [{ role: 'user' as const, content }] });
const show = async (label: string) => {
  try {
    const { route } = await runtime.chat(ask(label));
    const tried = route.attempts.map((a) => `${a.deployment}:${a.outcome}`).join(' ');
    console.log(`${label}: served by ${route.deployments.join(', ')} (attempts: ${tried})`);
  } catch (err) {
    console.log(`${label}: failed with ${isSwitchyardError(err) ? err.code : String(err)}`);
  }
};

await show('before the outage');
primary.setFaults({ mode: 'error', status: 503 });
console.log('primary goes down');
for (let i = 1; i <= 3; i++) await show(`during the outage #${i}`);

// A stream, and a conversation that keeps its own history.
let streamed = '';
for await (const event of runtime.stream(ask('stream please'))) if (event.type === 'delta') streamed += event.content;
console.log(`stream: ${streamed.split(' ').length} words`);
const { id } = await runtime.conversations.create({ model: 'chat', system: 'Be brief.' });
const conversation = runtime.conversation(id);
await conversation.post('first');
await conversation.post('second');
console.log(`conversation: ${(await conversation.get()).messages.length} messages stored`);

unsubscribe();
await runtime.stop();
await Promise.all([primary.close(), backup.close()]);
