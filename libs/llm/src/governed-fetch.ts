import type { Principal } from '../../policy/src/index.js';
import type { LlmCall, LlmPath, LlmResponse } from './llm-gateway.js';
import { invalidRequest, LlmError } from './openai-error.js';

/** The part of LlmGateway that governedFetch needs. */
interface CallHandler {
  handle(principal: Principal, call: LlmCall): Promise<LlmResponse>;
}

const PATHS: Record<string, { method: string; path: LlmPath }> = {
  'chat/completions': { method: 'POST', path: '/v1/chat/completions' },
  embeddings: { method: 'POST', path: '/v1/embeddings' },
  models: { method: 'GET', path: '/v1/models' },
};

/**
 * Builds a WHATWG fetch that runs OpenAI API requests through `handler` in this process. The URL's
 * host is ignored and its path is matched by suffix, so any baseURL ending in /v1 works, for example
 * `new OpenAI({ baseURL: 'http://warden.internal/v1', apiKey: 'unused', fetch })`.
 */
export function governedFetch(handler: CallHandler, principal: Principal, options: { useCase?: string }): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const suffix = Object.keys(PATHS).find((key) => url.pathname.replace(/\/+$/, '').endsWith(`/v1/${key}`));
    const route = suffix ? PATHS[suffix] : undefined;
    if (!route || route.method !== request.method) {
      return jsonResponse(404, new LlmError(404, 'invalid_request_error', 'unknown_url', `Warden does not serve ${request.method} ${url.pathname}.`).toBody());
    }

    let body: unknown;
    if (route.method === 'POST') {
      try {
        body = JSON.parse(await request.text());
      } catch {
        return jsonResponse(400, invalidRequest('body', 'The request body must be JSON.').toBody());
      }
    }

    const abort = new AbortController();
    request.signal.addEventListener('abort', () => abort.abort(), { once: true });
    const useCase = options.useCase ?? request.headers.get('x-warden-use-case') ?? undefined;
    const response = await handler.handle(principal, { path: route.path, body, useCase, signal: abort.signal });
    if (response.kind === 'json') return jsonResponse(response.status, response.body);
    return streamResponse(response.events, abort);
  };
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/**
 * Wraps the SSE events in a Response body that pulls them on demand.
 *
 * NOTE: the relay starts, and the call is recorded, only when the body is read or cancelled. A
 * caller that drops the Response unread leaves the upstream request open and the call unrecorded.
 */
function streamResponse(events: AsyncIterable<string>, abort: AbortController): Response {
  const iterator = events[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      // The reader stopped early, like an HTTP client that disconnects: abort the upstream.
      abort.abort();
      await iterator.return?.();
    },
  });
  return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
}
