import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI-compatible server for tests, speaking the OpenAI chat completions and embeddings
 * protocol that vLLM, SGLang, TGI, llama.cpp server and Ollama serve. It listens on 127.0.0.1 on
 * a free port and records every request it receives. Each request gets the next scripted reply,
 * or a default that follows the request: embeddings, or a chat completion as JSON, or as SSE when
 * `stream` is true (with the usage chunk when stream_options.include_usage is true).
 */

/** A streamed reply: content pieces, where the usage goes, and faults to inject. */
export interface StreamReply {
  kind: 'stream';
  /** Content of successive chunks; defaults to a few words. */
  pieces?: string[];
  /**
   * Position of the usage: 'final-chunk' is a last chunk with empty choices, as OpenAI sends for
   * include_usage. 'last-content-chunk' puts it on the chunk with finish_reason, as some servers do.
   * 'requested' (the default) is final-chunk when the request includes include_usage, else 'none'.
   */
  usage?: 'final-chunk' | 'last-content-chunk' | 'none' | 'requested';
  /** Raw `data:` payloads sent after the chunk at the same index, such as '{"broken'. */
  malformedAfter?: Record<number, string>;
  /** Wait before each chunk, in milliseconds. */
  chunkDelayMs?: number;
  /** Stop sending after this many chunks and keep the connection open, like a stalled server. */
  stallAfter?: number;
  /** Leave out the final [DONE]. */
  omitDone?: boolean;
  /** Send an error event after this many chunks and end the stream. */
  errorAfter?: number;
  /** Raw deltas (tool call fragments, refusal, reasoning) sent after the last piece and before finish_reason. */
  deltas?: Record<string, unknown>[];
}

export type FakeReply =
  /** `message` fields (tool_calls, refusal, reasoning_content, audio) are added to the reply's message. */
  | { kind: 'chat'; content?: string; message?: Record<string, unknown>; usage?: boolean; delayMs?: number }
  | StreamReply
  | {
      kind: 'embeddings';
      usage?: boolean;
      delayMs?: number;
      /** Computes each input's vector; the default is [0.1 * (index + 1), 0.2, 0.3]. */
      embed?: (input: string, index: number) => number[];
    }
  | { kind: 'status'; status: number; retryAfterSeconds?: number; body?: unknown }
  /** Destroys the socket without a response, like a crashed server. */
  | { kind: 'drop' };

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** True once the client closed the connection before the reply ended. */
  aborted: boolean;
}

export interface FakeOpenAiUpstream {
  /** Base URL including /v1, as an upstreams file takes it. */
  baseUrl: string;
  /** Every request received, oldest first. */
  requests: ReceivedRequest[];
  /** Queues replies for the next requests, in order. The default reply serves the rest. */
  script(...replies: FakeReply[]): void;
  /** Forgets the recorded requests and the queued replies. */
  reset(): void;
  /** Resolves when a request is aborted by the client. */
  waitForAbort(): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

/** Whitespace-separated words: the fake's token count, so tests can compute expected usage. */
export function fakeTokenCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

export async function startFakeOpenAiUpstream(): Promise<FakeOpenAiUpstream> {
  const requests: ReceivedRequest[] = [];
  let queue: FakeReply[] = [];
  const abortWaiters: ((request: ReceivedRequest) => void)[] = [];
  const openSockets = new Set<import('node:net').Socket>();

  const server: Server = createServer((request, response) => {
    void (async () => {
      const text = await readBody(request);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text || '{}') as Record<string, unknown>;
      } catch {
        body = {};
      }
      const received: ReceivedRequest = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, body, aborted: false };
      requests.push(received);
      response.on('close', () => {
        if (!response.writableFinished) {
          received.aborted = true;
          for (const waiter of abortWaiters.splice(0)) waiter(received);
        }
      });
      const reply = queue.shift() ?? defaultReply(received);
      await answer(received, reply, request, response);
    })().catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    openSockets.add(socket);
    socket.on('close', () => openSockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...replies) => void queue.push(...replies),
    reset() {
      requests.length = 0;
      queue = [];
    },
    waitForAbort: () => new Promise((resolve) => abortWaiters.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of openSockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function defaultReply(request: ReceivedRequest): FakeReply {
  if (request.path.endsWith('/embeddings')) return { kind: 'embeddings' };
  if (request.body.stream === true) return { kind: 'stream' };
  return { kind: 'chat' };
}

async function answer(received: ReceivedRequest, reply: FakeReply, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const model = typeof received.body.model === 'string' ? received.body.model : 'fake-model';
  const promptTokens = fakeTokenCount(promptText(received.body));
  switch (reply.kind) {
    case 'drop':
      request.socket.destroy();
      return;
    case 'status': {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = String(reply.retryAfterSeconds);
      response.writeHead(reply.status, headers);
      response.end(JSON.stringify(reply.body ?? { error: { message: `fake failure ${reply.status}`, type: 'server_error', param: null, code: null } }));
      return;
    }
    case 'chat': {
      await delay(reply.delayMs);
      const content = reply.content ?? 'Fake answer from the upstream';
      const body: Record<string, unknown> = {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: 1_796_342_400,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content, ...reply.message }, finish_reason: 'stop', logprobs: null }],
      };
      if (reply.usage !== false) {
        const completionTokens = fakeTokenCount(content);
        body.usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
      }
      sendJson(response, body);
      return;
    }
    case 'embeddings': {
      await delay(reply.delayMs);
      const inputs = Array.isArray(received.body.input) ? received.body.input : [received.body.input];
      const body: Record<string, unknown> = {
        object: 'list',
        model,
        data: inputs.map((input, index) => ({
          object: 'embedding',
          index,
          embedding: reply.embed ? reply.embed(String(input), index) : [0.1 * (index + 1), 0.2, 0.3],
        })),
      };
      if (reply.usage !== false) body.usage = { prompt_tokens: promptTokens, total_tokens: promptTokens };
      sendJson(response, body);
      return;
    }
    case 'stream':
      await stream(received, reply, response, model, promptTokens);
      return;
  }
}

async function stream(received: ReceivedRequest, reply: StreamReply, response: ServerResponse, model: string, promptTokens: number): Promise<void> {
  const pieces = reply.pieces ?? ['Fake ', 'streamed ', 'answer'];
  const asked = (received.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const usageMode = reply.usage ?? 'requested';
  const usagePlace = usageMode === 'requested' ? (asked ? 'final-chunk' : 'none') : usageMode;
  const completionTokens = fakeTokenCount(pieces.join(''));
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_796_342_400, model, choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }], ...extra });

  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const write = (data: string) => response.write(`data: ${data}\n\n`);
  write(chunk({ role: 'assistant', content: '' }, null));
  for (const [index, piece] of pieces.entries()) {
    await delay(reply.chunkDelayMs);
    if (response.destroyed) return;
    if (reply.stallAfter !== undefined && index >= reply.stallAfter) return; // keeps the connection open
    if (reply.errorAfter !== undefined && index >= reply.errorAfter) {
      write(JSON.stringify({ error: { message: 'fake mid-stream failure', type: 'server_error' } }));
      response.end();
      return;
    }
    const last = index === pieces.length - 1;
    write(chunk({ content: piece }, null));
    const malformed = reply.malformedAfter?.[index];
    if (malformed !== undefined) write(malformed);
    if (last) for (const delta of reply.deltas ?? []) write(chunk(delta, null));
    if (last) write(chunk({}, 'stop', usagePlace === 'last-content-chunk' ? { usage } : {}));
  }
  if (usagePlace === 'final-chunk') {
    write(JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_796_342_400, model, choices: [], usage }));
  }
  if (!reply.omitDone) write('[DONE]');
  response.end();
}

function promptText(body: Record<string, unknown>): string {
  if (Array.isArray(body.messages)) return body.messages.map((message) => String((message as { content?: unknown }).content ?? '')).join(' ');
  if (typeof body.input === 'string') return body.input;
  if (Array.isArray(body.input)) return body.input.map(String).join(' ');
  return '';
}

function sendJson(response: ServerResponse, body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function delay(ms: number | undefined): Promise<void> {
  return ms ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
}

/**
 * Returns an upstreams.yaml whose one upstream, `fake`, is the fake server at `baseUrl`, serving
 * the chat model `fake-chat` and the embeddings model `fake-embed`, followed by `extra` YAML
 * (such as a guardrails section).
 */
export function fakeUpstreamsYaml(baseUrl: string, options: { timeoutMs?: number; extra?: string } = {}): string {
  return `version: 1
upstreams:
  fake:
    baseUrl: ${baseUrl}
    timeoutMs: ${options.timeoutMs ?? 2000}
    retries: 0
models:
  fake-chat:
    upstream: fake
    upstreamModel: org/fake-chat
    pricing:
      promptPer1k: "0.5"
      completionPer1k: "1.5"
  fake-embed:
    kind: embeddings
    upstream: fake
    upstreamModel: org/fake-embed
    pricing:
      promptPer1k: "0.1"
      completionPer1k: "0"
${options.extra ?? ''}`;
}
