// Reads an AnswerStream (deltas, then the end as its return value) as one sequence of events, end included.

import type { AnswerStream, StreamEvent } from '../../src/upstream/adapter.ts';

export async function* eventsOf(stream: AnswerStream): AsyncGenerator<StreamEvent> {
  let finished = false;
  try {
    for (let next = await stream.next(); ; next = await stream.next()) {
      if (next.done) {
        finished = true;
        yield next.value;
        return;
      }
      yield next.value;
    }
  } finally {
    // A consumer that stopped early closes the stream, as `for await` would.
    if (!finished) await stream.return?.();
  }
}
