/**
 * Reads server-sent events (the text/event-stream format) from a byte stream and yields the
 * `data` field of each event. Comment lines and other fields are dropped, as OpenAI-compatible
 * servers put everything a client needs in `data`.
 */
export async function* readSseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });

      let newline: number;
      while ((newline = buffer.search(/\r\n|\n|\r/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (data.length > 0) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        }
      }
    }
    buffer += decoder.decode();
    if (buffer.startsWith('data:')) data.push(buffer.slice(buffer.startsWith('data: ') ? 6 : 5));
    if (data.length > 0) yield data.join('\n');
  } finally {
    // Cancelling releases the upstream connection when the consumer stops early.
    await reader.cancel().catch(() => undefined);
  }
}

/** Frames one JSON value (or the literal [DONE]) as an SSE event. */
export function sseEvent(data: string): string {
  return `data: ${data}\n\n`;
}
