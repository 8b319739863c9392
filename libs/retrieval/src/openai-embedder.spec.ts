import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FailedPreconditionError } from '../../common/src/index.js';
import { OpenAiEmbedder } from './openai-embedder.js';

/** A local stand-in for an OpenAI-compatible /v1/embeddings server: vector [length, 1, 0] per input, returned in reverse order. */
function startFakeServer(requests: Array<{ path: string; authorization: string | undefined; body: { model: string; input: string[] } }>): Promise<Server> {
  const server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      const body = JSON.parse(raw) as { model: string; input: string[] };
      requests.push({ path: request.url ?? '', authorization: request.headers.authorization, body });
      if (body.model === 'broken') {
        response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `cannot embed ${body.input[0]}` } }));
        return;
      }
      const data = body.input.map((text, index) => ({ object: 'embedding', index, embedding: [text.length, 1, 0] })).reverse();
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', model: body.model, data, usage: { prompt_tokens: 1, total_tokens: 1 } }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('OpenAiEmbedder against a local server', () => {
  const requests: Array<{ path: string; authorization: string | undefined; body: { model: string; input: string[] } }> = [];
  let server: Server;
  let baseUrl: string;

  before(async () => {
    server = await startFakeServer(requests);
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('learns the dimension and normalizes in input order', async () => {
    const embedder = await OpenAiEmbedder.create({ baseUrl, apiKey: 'test-key', model: 'bge-small' });
    assert.equal(embedder.dimension, 3);
    assert.equal(embedder.provider, 'openai');
    const [short, long] = await embedder.embed(['abc', 'abcdefg']);
    assert.deepEqual(short.map((value) => Number(value.toFixed(6))), [Number((3 / Math.hypot(3, 1)).toFixed(6)), Number((1 / Math.hypot(3, 1)).toFixed(6)), 0]);
    assert.equal(Number(long[0].toFixed(6)), Number((7 / Math.hypot(7, 1)).toFixed(6)));
    const last = requests.at(-1)!;
    assert.equal(last.path, '/v1/embeddings');
    assert.equal(last.authorization, 'Bearer test-key');
    assert.equal(last.body.model, 'bge-small');
    assert.deepEqual(last.body.input, ['abc', 'abcdefg']);
  });

  it('rejects a dimension other than the configured one', async () => {
    const embedder = await OpenAiEmbedder.create({ baseUrl, apiKey: undefined, model: 'bge-small', dimension: 384 });
    await assert.rejects(embedder.embed(['text']), (error: unknown) => error instanceof FailedPreconditionError && /returned 3 dimensions/.test(error.message));
  });

  it('reports a server error without its body', async () => {
    const embedder = await OpenAiEmbedder.create({ baseUrl, apiKey: undefined, model: 'broken', dimension: 3 });
    await assert.rejects(embedder.embed(['secret applicant text']), (error: unknown) => {
      assert.ok(error instanceof FailedPreconditionError);
      assert.match(error.message, /HTTP 500/);
      assert.doesNotMatch(error.message, /secret applicant text/);
      return true;
    });
  });
});
