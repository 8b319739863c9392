import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readSseData } from './sse.js';

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
}

async function collect(parts: string[]): Promise<string[]> {
  const events: string[] = [];
  for await (const data of readSseData(streamOf(parts))) events.push(data);
  return events;
}

describe('readSseData', () => {
  it('splits events across chunk boundaries', async () => {
    assert.deepEqual(await collect(['data: {"a"', ':1}\n\nda', 'ta: [DONE]\n\n']), ['{"a":1}', '[DONE]']);
  });

  it('handles CRLF, comments and multi-line data', async () => {
    assert.deepEqual(await collect([': keep-alive\r\n\r\nevent: x\r\ndata: one\r\ndata: two\r\n\r\n']), ['one\ntwo']);
  });

  it('yields a last event without a blank line', async () => {
    assert.deepEqual(await collect(['data: tail']), ['tail']);
  });
});
