import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { ChatOpenAI } from '@langchain/openai';
import { digestJson } from '../../libs/common/src/index.js';
import { LlmGateway } from '../../libs/llm/src/index.js';
import { databaseTargets, REPO_ROOT } from '../support/databases.js';
import { fakeTokenCount, startFakeOpenAiUpstream, type FakeOpenAiUpstream } from '../support/fake-openai-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const TENANT = 'bank-a';
const PROMPT = 'Summarize the repayment history of applicant Jane Roe';

/** Tokens of a text under the test tokenizer: its Whitespace pre-tokenizer splits words and punctuation runs. */
function localTokenCount(text: string): number {
  return text.match(/\w+|[^\w\s]+/g)?.length ?? 0;
}

/** A word-level tokenizer.json, enough for @huggingface/tokenizers to count tokens. */
const TOKENIZER_JSON = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [],
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  model: { type: 'WordLevel', vocab: { '[UNK]': 0, summarize: 1 }, unk_token: '[UNK]' },
};

function upstreamsYaml(fakeUrl: string): string {
  return `version: 1
currency: USD
rateLimit:
  tenantRequestsPerMinute: 100000
upstreams:
  primary:
    baseUrl: ${fakeUrl}
    timeoutMs: 2000
    retries: 2
    backoffMs: 1
    fallback: secondary
  secondary:
    baseUrl: ${fakeUrl}
    timeoutMs: 2000
    retries: 0
  down:
    baseUrl: http://127.0.0.1:9/v1
    timeoutMs: 2000
    retries: 1
    backoffMs: 1
  slow:
    baseUrl: ${fakeUrl}
    timeoutMs: 300
    retries: 0
models:
  fake-chat:
    upstream: primary
    upstreamModel: org/fake-chat
    upstreamModels:
      secondary: org/fake-chat-secondary
    pricing:
      promptPer1k: "0.5"
      completionPer1k: "1.5"
  fake-chat-local:
    upstream: primary
    upstreamModel: org/fake-chat
    tokenizer: tokenizer.json
    pricing:
      gpuHourPrice: "3.6"
      tokensPerSecond: "1000"
  fake-chat-bare:
    upstream: secondary
    upstreamModel: org/fake-chat
  fake-embed:
    kind: embeddings
    upstream: primary
    upstreamModel: org/fake-embed
    pricing:
      promptPer1k: "0.1"
      completionPer1k: "0"
  down-chat:
    upstream: down
  slow-chat:
    upstream: slow
  restricted-chat:
    upstream: primary
`;
}

interface CallEntry {
  seq: number;
  actor: string;
  payload: {
    model: string;
    upstream: string | null;
    upstreamModel: string | null;
    outcome: string;
    stream: boolean;
    requestDigest: string | null;
    responseDigest: string | null;
    usage: { source: string; promptTokens: number | null; completionTokens: number | null };
    cost: string | null;
    attempts: number;
    errorCode: string | null;
    useCase: string;
  };
}

interface UsageRow {
  use_case: string;
  model: string;
  outcome: string;
  usage_source: string;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cost: string | null;
  ledger_seq: string;
}

for (const target of await databaseTargets()) {
  describe(`OpenAI-compatible proxy on ${target.name}`, { skip: target.skipReason }, () => {
    let fake: FakeOpenAiUpstream;
    let gw: TestGateway;
    let folder: string;
    let token: string;
    let client: OpenAI;

    before(async () => {
      fake = await startFakeOpenAiUpstream();
      folder = mkdtempSync(join(tmpdir(), 'warden-proxy-'));
      const policyDir = join(folder, 'policies');
      cpSync(join(REPO_ROOT, 'policies'), policyDir, { recursive: true });
      appendFileSync(join(policyDir, 'casbin', 'llm-model-policy.csv'), 'p, application, *, restricted-*, deny\n');
      writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(TOKENIZER_JSON));
      writeFileSync(join(folder, 'upstreams.yaml'), upstreamsYaml(fake.baseUrl));

      gw = await startTestGateway(target, { policyDir, llmUpstreamsFile: join(folder, 'upstreams.yaml') });
      token = await gw.token(TENANT, ['application'], 'loan-assistant');
      client = new OpenAI({ baseURL: `${gw.gateway.url}/v1`, apiKey: token, maxRetries: 0 });
    });

    after(async () => {
      await gw?.close();
      await fake?.close();
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    beforeEach(() => fake.reset());

    async function lastCall(): Promise<CallEntry> {
      const rows: CallEntry[] = await gw.runtime.database.dataSource.query(
        "SELECT seq::int AS seq, actor, payload FROM audit.ledger_entries WHERE type = 'llm.call' ORDER BY seq DESC LIMIT 1",
      );
      assert.equal(rows.length, 1, 'an llm.call ledger entry exists');
      return rows[0];
    }

    async function usageRow(seq: number): Promise<UsageRow> {
      const rows: UsageRow[] = await gw.runtime.database.dataSource.query(
        'SELECT use_case, model, outcome, usage_source, prompt_tokens, completion_tokens, cost::text AS cost, ledger_seq::text AS ledger_seq FROM llm.usage WHERE ledger_seq = $1',
        [seq],
      );
      assert.equal(rows.length, 1, `a usage row for ledger seq ${seq}`);
      return rows[0];
    }

    /** Polls for the ledger entry of a call that ends after the client has gone. */
    async function waitForCall(predicate: (entry: CallEntry) => boolean): Promise<CallEntry> {
      for (let attempt = 0; attempt < 250; attempt++) {
        const entry = await lastCall().catch(() => undefined);
        if (entry && predicate(entry)) return entry;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('the expected llm.call entry was not recorded');
    }

    async function expectApiError(work: Promise<unknown>, status: number, code: string): Promise<APIError> {
      const error = await work.then(
        () => assert.fail(`expected HTTP ${status}`),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof APIError, `an APIError, got ${String(error)}`);
      assert.equal(error.status, status);
      assert.equal(error.code, code);
      return error;
    }

    it('chat JSON through the openai client', async () => {
      const completion = await client.chat.completions.create(
        { model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] },
        { headers: { 'x-warden-use-case': 'collections-summary' } },
      );

      assert.equal(completion.choices[0].message.content, 'Fake answer from the upstream');
      assert.equal(completion.model, 'fake-chat');
      assert.equal(fake.requests.length, 1);
      assert.equal(fake.requests[0].body.model, 'org/fake-chat');
      assert.equal(fake.requests[0].path, '/v1/chat/completions');

      const entry = await lastCall();
      assert.equal(entry.actor, 'loan-assistant');
      assert.equal(entry.payload.outcome, 'ok');
      assert.equal(entry.payload.upstream, 'primary');
      assert.equal(entry.payload.useCase, 'collections-summary');
      assert.equal(entry.payload.requestDigest, digestJson({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] }));
      assert.equal(entry.payload.responseDigest, digestJson(completion));
      const promptTokens = fakeTokenCount(PROMPT);
      // The fake counts words: "Fake answer from the upstream" is 5.
      assert.deepEqual(entry.payload.usage, { source: 'upstream', promptTokens, completionTokens: 5 });
      // 0.5 per 1k prompt tokens and 1.5 per 1k completion tokens.
      const expectedCost = ((promptTokens * 0.5 + 5 * 1.5) / 1000).toFixed(12);
      assert.equal(entry.payload.cost, expectedCost);

      const row = await usageRow(entry.seq);
      assert.equal(row.use_case, 'collections-summary');
      assert.equal(row.usage_source, 'upstream');
      assert.equal(row.prompt_tokens, promptTokens);
      assert.equal(row.cost, expectedCost);
    });

    it('ledger entries hold no prompt or answer text', async () => {
      await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] });
      const rows: { payload: unknown }[] = await gw.runtime.database.dataSource.query("SELECT payload FROM audit.ledger_entries WHERE type = 'llm.call'");
      assert.ok(rows.length > 0);
      for (const row of rows) {
        const text = JSON.stringify(row.payload);
        assert.ok(!text.includes('Jane Roe'), 'no prompt text');
        assert.ok(!text.includes('Fake answer'), 'no answer text');
        assert.match((row.payload as { requestDigest: string }).requestDigest, /^[0-9a-f]{64}$/);
      }
    });

    it('streams with include_usage', async () => {
      const stream = await client.chat.completions.create({
        model: 'fake-chat',
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let content = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      const models = new Set<string>();
      for await (const chunk of stream) {
        content += chunk.choices[0]?.delta?.content ?? '';
        models.add(chunk.model);
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(content, 'Fake streamed answer');
      assert.deepEqual([...models], ['fake-chat']);
      assert.equal(usage?.completion_tokens, 3);

      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'ok');
      assert.equal(entry.payload.stream, true);
      assert.equal(entry.payload.usage.source, 'upstream');
      assert.equal(entry.payload.usage.completionTokens, 3);
      assert.match(entry.payload.responseDigest ?? '', /^[0-9a-f]{64}$/);
    });

    it('streams without include_usage and still records usage', async () => {
      const stream = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }], stream: true });
      let sawUsage = false;
      let content = '';
      for await (const chunk of stream) {
        content += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) sawUsage = true;
      }
      assert.equal(content, 'Fake streamed answer');
      assert.equal(sawUsage, false, 'the client did not ask for the usage chunk');
      assert.deepEqual(fake.requests[0].body.stream_options, { include_usage: true });

      const entry = await lastCall();
      assert.equal(entry.payload.usage.source, 'upstream');
      assert.equal(entry.payload.usage.completionTokens, 3);
    });

    it('streams usage on the last content chunk', async () => {
      fake.script({ kind: 'stream', usage: 'last-content-chunk' });
      const stream = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }], stream: true });
      let content = '';
      for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(content, 'Fake streamed answer');
      const entry = await lastCall();
      assert.equal(entry.payload.usage.source, 'upstream');
    });

    it('embeddings through the openai client', async () => {
      const result = await client.embeddings.create({ model: 'fake-embed', input: ['first text', 'second text here'] });
      assert.equal(result.data.length, 2);
      assert.deepEqual(result.data[1].embedding, [0.2, 0.2, 0.3]);
      assert.equal(fake.requests[0].path, '/v1/embeddings');
      assert.equal(fake.requests[0].body.model, 'org/fake-embed');

      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'ok');
      assert.deepEqual(entry.payload.usage, { source: 'upstream', promptTokens: 5, completionTokens: null });
      assert.equal(entry.payload.cost, (5 * 0.1 / 1000).toFixed(12));
    });

    it('embeddings with scripted vectors', async () => {
      fake.script({ kind: 'embeddings', embed: (input) => [input.length, 1] });
      const result = await client.embeddings.create({ model: 'fake-embed', input: 'four', encoding_format: 'float' });
      assert.deepEqual(result.data[0].embedding, [4, 1]);
      assert.equal(fake.requests[0].body.input, 'four');
    });

    it('lists only permitted models', async () => {
      const ids: string[] = [];
      for await (const model of client.models.list()) ids.push(model.id);
      assert.ok(ids.includes('fake-chat'));
      assert.ok(ids.includes('fake-embed'));
      assert.ok(!ids.includes('restricted-chat'), 'the model policy denies restricted-* to applications');
    });

    it('LangChain ChatOpenAI invoke and stream', async () => {
      const chat = new ChatOpenAI({ model: 'fake-chat', apiKey: token, maxRetries: 0, configuration: { baseURL: `${gw.gateway.url}/v1` } });
      const message = await chat.invoke('What is a credit score?');
      assert.equal(message.content, 'Fake answer from the upstream');

      let streamed = '';
      for await (const chunk of await chat.stream('And a scorecard?')) streamed += String(chunk.content);
      assert.equal(streamed, 'Fake streamed answer');
      assert.equal(fake.requests.length, 2);
      assert.equal(fake.requests[1].body.stream, true);
    });

    it('retries 429 and 500 then succeeds', async () => {
      fake.script({ kind: 'status', status: 429 }, { kind: 'status', status: 500 });
      const completion = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] });
      assert.equal(completion.choices[0].message.content, 'Fake answer from the upstream');
      assert.equal(fake.requests.length, 3);
      const entry = await lastCall();
      assert.equal(entry.payload.attempts, 3);
      assert.equal(entry.payload.upstream, 'primary');
    });

    it('falls back after the retries', async () => {
      fake.script({ kind: 'status', status: 503 }, { kind: 'drop' }, { kind: 'status', status: 502 });
      const completion = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] });
      assert.equal(completion.model, 'fake-chat');
      assert.equal(fake.requests.length, 4);
      assert.equal(fake.requests[3].body.model, 'org/fake-chat-secondary');
      const entry = await lastCall();
      assert.equal(entry.payload.upstream, 'secondary');
      assert.equal(entry.payload.upstreamModel, 'org/fake-chat-secondary');
      assert.equal(entry.payload.attempts, 4);
    });

    it('unknown model is 404', async () => {
      await expectApiError(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }), 404, 'model_not_found');
      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'failed');
      assert.equal(entry.payload.errorCode, 'model_not_found');
      assert.equal(fake.requests.length, 0);
    });

    it('bad body is 400 naming the field', async () => {
      const response = await fetch(`${gw.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ model: 'fake-chat', messages: [{ content: 'no role' }] }),
      });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: { param: string; type: string } };
      assert.equal(body.error.param, 'messages[0]');
      assert.equal(body.error.type, 'invalid_request_error');
    });

    it('use case with personal data is 400, also joined by underscores', async () => {
      for (const useCase of ['4111111111111111', 'card_4111111111111111']) {
        const response = await fetch(`${gw.gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-warden-use-case': useCase },
          body: JSON.stringify({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] }),
        });
        assert.equal(response.status, 400, useCase);
        const body = (await response.json()) as { error: { param: string; message: string } };
        assert.equal(body.error.param, 'X-Warden-Use-Case');
        assert.match(body.error.message, /must not contain personal data/);
        assert.ok(!body.error.message.includes('4111111111111111'), 'the use case is not quoted');
      }
    });

    it('malformed JSON is 400 in OpenAI format', async () => {
      const response = await fetch(`${gw.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: '{"model": "fake-chat", "messages": [',
      });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: { param: string; type: string; message: string } };
      assert.equal(body.error.type, 'invalid_request_error');
      assert.equal(body.error.param, 'body');
      assert.ok(!/at \w+ \(/.test(body.error.message), 'no stack trace');
    });

    it('upstream down is 502', async () => {
      const error = await expectApiError(client.chat.completions.create({ model: 'down-chat', messages: [{ role: 'user', content: 'hi' }] }), 502, 'upstream_unavailable');
      assert.ok(!error.message.includes('127.0.0.1'), 'no upstream address in the message');
      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'failed');
      assert.equal(entry.payload.attempts, 2);
      assert.deepEqual(entry.payload.usage, { source: 'none', promptTokens: null, completionTokens: null });
    });

    it('upstream timeout is 504', async () => {
      fake.script({ kind: 'chat', delayMs: 1500 });
      await expectApiError(client.chat.completions.create({ model: 'slow-chat', messages: [{ role: 'user', content: 'hi' }] }), 504, 'upstream_timeout');
      const entry = await lastCall();
      assert.equal(entry.payload.errorCode, 'upstream_timeout');
    });

    it('stalled stream ends with an error event', async () => {
      // The output check holds back the last 256 characters of a reply and releases whole words,
      // so the first piece is long enough for its first word to go out before the stall.
      fake.script({ kind: 'stream', pieces: [`Fake ${'x'.repeat(300)}`, 'never sent'], stallAfter: 1 });
      const stream = await client.chat.completions.create({ model: 'slow-chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
      let content = '';
      const error = await (async () => {
        for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
      })().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof APIError, 'the stream raises the error event');
      assert.equal(content, 'Fake ', 'the held tail is dropped when the stream fails');
      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'failed');
      assert.equal(entry.payload.errorCode, 'upstream_timeout');
    });

    it('denied model is 403 with access.denied', async () => {
      await expectApiError(client.chat.completions.create({ model: 'restricted-chat', messages: [{ role: 'user', content: 'hi' }] }), 403, 'model_not_permitted');
      assert.equal(fake.requests.length, 0);
      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'denied');
      const denials: { payload: { resource: string; model: string } }[] = await gw.runtime.database.dataSource.query(
        "SELECT payload FROM audit.ledger_entries WHERE type = 'access.denied' AND seq = $1",
        [entry.seq + 1],
      );
      assert.equal(denials.length, 1);
      assert.equal(denials[0].payload.resource, 'llm-model');
      assert.equal(denials[0].payload.model, 'restricted-chat');
    });

    it('role without llm invoke is 403', async () => {
      const reviewer = new OpenAI({ baseURL: `${gw.gateway.url}/v1`, apiKey: await gw.token(TENANT, ['reviewer']), maxRetries: 0 });
      await expectApiError(reviewer.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] }), 403, 'model_not_permitted');
      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'denied');
      const page = await reviewer.models.list();
      assert.deepEqual(page.data, []);
    });

    it('API key works until revoked', async () => {
      const created = await gw.runtime.llm.apiKeys.create({ tenant: TENANT, roles: ['application'], name: 'chatbot', actor: 'cli:test' });
      assert.match(created.key, /^wdn_[A-Za-z0-9_-]{43}$/);
      const stored: { key_hash: string }[] = await gw.runtime.database.dataSource.query('SELECT key_hash FROM llm.api_keys WHERE id = $1', [created.id]);
      assert.notEqual(stored[0].key_hash, created.key);

      const keyed = new OpenAI({ baseURL: `${gw.gateway.url}/v1`, apiKey: created.key, maxRetries: 0 });
      const completion = await keyed.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(completion.choices[0].message.content, 'Fake answer from the upstream');
      assert.equal((await lastCall()).actor, 'apikey:chatbot');

      await gw.runtime.llm.apiKeys.revoke({ tenant: TENANT, name: 'chatbot', actor: 'cli:test' });
      await expectApiError(keyed.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] }), 401, 'invalid_api_key');
      await expectApiError(
        new OpenAI({ baseURL: `${gw.gateway.url}/v1`, apiKey: 'wdn_not-a-key', maxRetries: 0 }).models.list(),
        401,
        'invalid_api_key',
      );
    });

    it('client disconnect aborts the upstream', async () => {
      fake.script({ kind: 'stream', pieces: Array.from({ length: 200 }, (_, index) => `word${index} `), chunkDelayMs: 20 });
      const abort = new AbortController();
      const response = await fetch(`${gw.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ model: 'fake-chat-local', messages: [{ role: 'user', content: PROMPT }], stream: true }),
        signal: abort.signal,
      });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      let received = '';
      while (!received.includes('word2 ')) received += new TextDecoder().decode((await reader.read()).value);
      const upstreamAborted = fake.waitForAbort();
      abort.abort();

      const abortedRequest = await upstreamAborted;
      assert.equal(abortedRequest.aborted, true);
      const entry = await waitForCall((candidate) => candidate.payload.model === 'fake-chat-local' && candidate.payload.outcome === 'aborted');
      assert.equal(entry.payload.usage.source, 'local');
      assert.equal(entry.payload.usage.promptTokens, localTokenCount(PROMPT));
      assert.ok((entry.payload.usage.completionTokens ?? 0) >= 3, 'the streamed words are counted');
      assert.ok((entry.payload.usage.completionTokens ?? 0) < 200, 'only the streamed part is counted');
    });

    it('malformed chunk is skipped', async () => {
      fake.script({ kind: 'stream', malformedAfter: { 0: '{"broken', 1: '[1,2]' } });
      const stream = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }], stream: true });
      let content = '';
      for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(content, 'Fake streamed answer');
      assert.equal((await lastCall()).payload.outcome, 'ok');

      // The process still serves calls.
      const after = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(after.choices[0].message.content, 'Fake answer from the upstream');
    });

    it('mid-stream upstream error ends the stream', async () => {
      fake.script({ kind: 'stream', errorAfter: 2 });
      const stream = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }], stream: true });
      const error = await (async () => {
        for await (const chunk of stream) void chunk;
      })().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof APIError);
      const entry = await lastCall();
      assert.equal(entry.payload.outcome, 'failed');
      assert.equal(entry.payload.errorCode, 'upstream_stream_error');
    });

    it('usage unknown without a tokenizer', async () => {
      fake.script({ kind: 'chat', usage: false });
      await client.chat.completions.create({ model: 'fake-chat-bare', messages: [{ role: 'user', content: PROMPT }] });
      const entry = await lastCall();
      assert.deepEqual(entry.payload.usage, { source: 'unknown', promptTokens: null, completionTokens: null });
      assert.equal(entry.payload.cost, null);
      const row = await usageRow(entry.seq);
      assert.equal(row.usage_source, 'unknown');
      assert.equal(row.prompt_tokens, null);
      assert.equal(row.cost, null);
    });

    it('usage counted locally with a tokenizer', async () => {
      fake.script({ kind: 'chat', usage: false, content: 'Three words here.' });
      await client.chat.completions.create({ model: 'fake-chat-local', messages: [{ role: 'user', content: PROMPT }] });
      const entry = await lastCall();
      const promptTokens = localTokenCount(PROMPT);
      const completionTokens = localTokenCount('Three words here.');
      assert.deepEqual(entry.payload.usage, { source: 'local', promptTokens, completionTokens });
      // 3.6 per GPU-hour at 1,000 tokens/s is 0.000001 per token.
      assert.equal(entry.payload.cost, ((promptTokens + completionTokens) * 0.000001).toFixed(12));
    });

    it('governedFetch drives the openai client', async () => {
      const principal = { subject: 'rag-pipeline', tenant: TENANT, roles: ['application'] };
      const governed = new OpenAI({ baseURL: 'http://warden.internal/v1', apiKey: 'unused', maxRetries: 0, fetch: gw.runtime.llm.governedFetch(principal, { useCase: 'rag-ask' }) });

      const completion = await governed.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] });
      assert.equal(completion.choices[0].message.content, 'Fake answer from the upstream');
      let entry = await lastCall();
      assert.equal(entry.actor, 'rag-pipeline');
      assert.equal(entry.payload.useCase, 'rag-ask');

      const stream = await governed.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }], stream: true });
      let content = '';
      for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(content, 'Fake streamed answer');
      entry = await lastCall();
      assert.equal(entry.payload.stream, true);
      assert.equal(entry.payload.outcome, 'ok');

      await expectApiError(governed.chat.completions.create({ model: 'restricted-chat', messages: [{ role: 'user', content: 'hi' }] }), 403, 'model_not_permitted');
    });

    it('governedFetch drives LangChain ChatOpenAI', async () => {
      const principal = { subject: 'rag-chain', tenant: TENANT, roles: ['application'] };
      const fetch = gw.runtime.llm.governedFetch(principal, { useCase: 'rag-chain' });
      const chat = new ChatOpenAI({ model: 'fake-chat', apiKey: 'unused', maxRetries: 0, configuration: { baseURL: 'http://warden.internal/v1', fetch } });

      const message = await chat.invoke('What is a credit score?');
      assert.equal(message.content, 'Fake answer from the upstream');
      let streamed = '';
      for await (const chunk of await chat.stream('And a scorecard?')) streamed += String(chunk.content);
      assert.equal(streamed, 'Fake streamed answer');

      const entry = await lastCall();
      assert.equal(entry.actor, 'rag-chain');
      assert.equal(entry.payload.useCase, 'rag-chain');
      assert.equal(entry.payload.stream, true);
    });

    it('metrics count calls by model and outcome', async () => {
      await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] });
      const text = await (await fetch(`${gw.gateway.url}/metrics`)).text();
      assert.match(text, /warden_llm_calls_total\{model="fake-chat",outcome="ok"[^}]*\} \d+/);
      assert.match(text, /warden_llm_tokens_total\{model="fake-chat",type="prompt",source="upstream"[^}]*\} \d+/);
      assert.match(text, /warden_llm_cost_total\{model="fake-chat",currency="USD"[^}]*\} [\d.e-]+/);
      assert.match(text, /warden_llm_call_duration_seconds_bucket\{model="fake-chat",[^}]*le="0.005"\}/);
    });

    it('tenant rate limit is 429', async () => {
      const file = join(folder, 'limited.yaml');
      writeFileSync(file, upstreamsYaml(fake.baseUrl).replace('tenantRequestsPerMinute: 100000', 'tenantRequestsPerMinute: 2'));
      const { dataSource } = gw.runtime.database;
      const limited = await LlmGateway.create({ policyDir: join(folder, 'policies'), upstreamsFile: file, dataSource, ledger: gw.runtime.ledger, policy: gw.runtime.policy });
      const principal = { subject: 'busy-app', tenant: 'bank-limited', roles: ['application'] };
      const governed = new OpenAI({ baseURL: 'http://warden.internal/v1', apiKey: 'unused', maxRetries: 0, fetch: limited.governedFetch(principal) });

      for (let call = 0; call < 2; call++) await governed.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] });
      const error = await expectApiError(governed.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] }), 429, 'rate_limit_exceeded');
      assert.match(error.message, /more than 2 requests in a minute/);
      assert.equal(fake.requests.length, 2);
      const entry = await lastCall();
      assert.equal(entry.actor, 'busy-app');
      assert.equal(entry.payload.outcome, 'blocked');
      await limited.close();
    });

    it('write-behind recording flushes on close', async () => {
      const file = join(folder, 'write-behind.yaml');
      writeFileSync(file, `${upstreamsYaml(fake.baseUrl)}ledger:\n  waitForCommit: false\n`);
      const { dataSource } = gw.runtime.database;
      const writeBehind = await LlmGateway.create({ policyDir: join(folder, 'policies'), upstreamsFile: file, dataSource, ledger: gw.runtime.ledger, policy: gw.runtime.policy });
      const principal = { subject: 'write-behind-app', tenant: TENANT, roles: ['application'] };
      const governed = new OpenAI({ baseURL: 'http://warden.internal/v1', apiKey: 'unused', maxRetries: 0, fetch: writeBehind.governedFetch(principal) });

      const completion = await governed.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(completion.choices[0].message.content, 'Fake answer from the upstream');
      await writeBehind.close();
      const entry = await lastCall();
      assert.equal(entry.actor, 'write-behind-app');
      assert.equal(entry.payload.outcome, 'ok');
    });

    it('llmUsage sums by use case and model', async () => {
      const from = new Date(Date.now() - 60_000).toISOString();
      await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] }, { headers: { 'x-warden-use-case': 'usage-report' } });
      await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: PROMPT }] }, { headers: { 'x-warden-use-case': 'usage-report' } });
      const to = new Date(Date.now() + 60_000).toISOString();

      const auditor = await gw.token(TENANT, ['auditor']);
      const query = 'query U($from: String!, $to: String!) { llmUsage(from: $from, to: $to) { useCase model calls okCalls promptTokens completionTokens cost currency } }';
      const result = await gw.graphql<{ llmUsage: { useCase: string; model: string; calls: number; okCalls: number; promptTokens: number; completionTokens: number; cost: string; currency: string }[] }>(query, { from, to }, auditor);
      assert.equal(result.body.errors, undefined);
      const group = result.body.data!.llmUsage.find((row) => row.useCase === 'usage-report');
      assert.ok(group);
      assert.equal(group.model, 'fake-chat');
      assert.equal(group.calls, 2);
      assert.equal(group.okCalls, 2);
      assert.equal(group.promptTokens, 2 * fakeTokenCount(PROMPT));
      assert.equal(group.completionTokens, 10);
      assert.equal(group.cost, ((2 * fakeTokenCount(PROMPT) * 0.5 + 10 * 1.5) / 1000).toFixed(12));
      assert.equal(group.currency, 'USD');

      const otherTenant = await gw.token('bank-b', ['auditor']);
      const other = await gw.graphql<{ llmUsage: unknown[] }>(query, { from, to }, otherTenant);
      assert.deepEqual(other.body.data?.llmUsage, [], "another tenant's usage is not visible");

      const application = await gw.graphql(query, { from, to }, token);
      assert.equal(application.body.errors?.[0].extensions?.code, 'FORBIDDEN');
    });
  });
}
