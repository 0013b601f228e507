// Finding 11 of issue 14: when the drain time of a shutdown runs out, an open stream ends with an error event,
// so a client can tell a cut answer from a finished one.

import { describe, expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.ts';
import { readSse } from '../helpers/sse.ts';

describe('shutdown drain', () => {
  it('ends a stream still open when the drain time runs out with a shutting_down error event', async () => {
    const g = await startGateway({ mocks: [{ chunkDelayMs: 400 }] });
    try {
      const res = await g.post('/v1/chat/completions', {
        model: 'chat',
        messages: [{ role: 'user', content: 'a long one' }],
        stream: true,
      });
      expect(res.status).toBe(200);
      const frames = readSse(res);
      await g.shutdown(100);
      const last = (await frames).at(-1) ?? '';
      expect(last).not.toBe('[DONE]');
      expect(JSON.parse(last)).toMatchObject({ error: { code: 'shutting_down' } });
    } finally {
      await g.close();
    }
  });
});
