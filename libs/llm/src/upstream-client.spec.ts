import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LlmError } from './openai-error.js';
import { UpstreamClient } from './upstream-client.js';
import type { UpstreamConfig } from './upstream-config.js';

function upstream(name: string, baseUrl: string, fallback?: string): UpstreamConfig {
  return { name, baseUrl, apiKeyEnv: undefined, timeoutMs: 2000, retries: 0, backoffMs: 1, fallback };
}

describe('upstream client', () => {
  it('names every upstream tried when none answers', async () => {
    const failing = createServer((_request, response) => response.writeHead(503).end());
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/v1`;
    try {
      const upstreams = new Map([
        ['primary', upstream('primary', failingUrl, 'local-ollama')],
        // Port 9 (discard) refuses connections on 127.0.0.1.
        ['local-ollama', upstream('local-ollama', 'http://127.0.0.1:9/v1')],
      ]);
      const client = new UpstreamClient(upstreams, {});
      const error = await client
        .send('primary', { path: '/chat/completions', body: {}, signal: new AbortController().signal }, () => ({}))
        .then(() => assert.fail('expected an LlmError'), (caught: unknown) => caught);
      assert.ok(error instanceof LlmError);
      assert.equal(error.status, 502);
      assert.equal(error.code, 'upstream_unavailable');
      assert.equal(
        error.message,
        'No upstream answered. Tried in order: "primary" failed with HTTP 503; "local-ollama" could not be reached. Check these upstreams in the upstreams file (policies/llm/upstreams.yaml, or the file that WARDEN_LLM_UPSTREAMS_FILE names).',
      );
      assert.ok(!error.message.includes('127.0.0.1'), 'no upstream address in the message');
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
  });
});
