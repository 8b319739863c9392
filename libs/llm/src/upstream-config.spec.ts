import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { FailedPreconditionError } from '../../common/src/index.js';
import { loadLlmConfig, parseLlmConfig } from './upstream-config.js';

// Compiled to <outDir>/libs/llm/src, so the repository root is four folders up.
const DEFAULT_FILE = resolve(import.meta.dirname, '..', '..', '..', '..', 'policies', 'llm', 'upstreams.yaml');

function valid(): Record<string, unknown> {
  return {
    version: 1,
    upstreams: { main: { baseUrl: 'http://127.0.0.1:8000/v1/', fallback: 'spare' }, spare: { baseUrl: 'http://127.0.0.1:8001/v1' } },
    models: { chat: { upstream: 'main', upstreamModel: 'Qwen/Qwen2.5-7B-Instruct', pricing: { promptPer1k: '0.1', completionPer1k: '0.2' } } },
  };
}

function rejects(document: Record<string, unknown>, fragment: RegExp): void {
  assert.throws(() => parseLlmConfig(document, 'upstreams.yaml'), (error: unknown) => {
    assert.ok(error instanceof FailedPreconditionError);
    assert.match(error.message, fragment);
    return true;
  });
}

describe('upstreams file', () => {
  it('loads the default file', () => {
    const config = loadLlmConfig(DEFAULT_FILE);
    assert.equal(config.models.get('qwen2.5-7b-instruct')?.upstream, 'local-vllm');
    assert.equal(config.upstreams.get('local-vllm')?.fallback, 'local-ollama');
  });

  it('applies defaults and trims the base URL', () => {
    const config = parseLlmConfig(valid(), 'upstreams.yaml');
    const main = config.upstreams.get('main')!;
    assert.equal(main.baseUrl, 'http://127.0.0.1:8000/v1');
    assert.equal(main.retries, 2);
    assert.equal(config.currency, 'USD');
    assert.equal(config.models.get('chat')?.kind, 'chat');
  });

  it('rejects a secret in the file', () => {
    const document = valid();
    (document.upstreams as Record<string, Record<string, unknown>>).main.apiKey = 'sk-secret';
    rejects(document, /\/upstreams\/main\/apiKey: secrets do not belong/);
  });

  it('rejects credentials in the base URL', () => {
    const document = valid();
    (document.upstreams as Record<string, Record<string, unknown>>).main.baseUrl = 'http://user:pass@127.0.0.1:8000/v1';
    rejects(document, /\/upstreams\/main\/baseUrl: must not contain credentials/);
  });

  it('rejects an unknown fallback', () => {
    const document = valid();
    (document.upstreams as Record<string, Record<string, unknown>>).main.fallback = 'missing';
    rejects(document, /\/upstreams\/main\/fallback: names the upstream "missing"/);
  });

  it('rejects a model of an unknown upstream', () => {
    const document = valid();
    (document.models as Record<string, Record<string, unknown>>).chat.upstream = 'nowhere';
    rejects(document, /\/models\/chat\/upstream: must name a declared upstream/);
  });

  it('rejects incomplete pricing', () => {
    const document = valid();
    (document.models as Record<string, Record<string, unknown>>).chat.pricing = { gpuHourPrice: '2.5' };
    rejects(document, /\/models\/chat\/pricing\/tokensPerSecond/);
  });

  it('rejects a bad retry count', () => {
    const document = valid();
    (document.upstreams as Record<string, Record<string, unknown>>).main.retries = -1;
    rejects(document, /\/upstreams\/main\/retries: must be a whole number from 0 to 10/);
  });
});

describe('upstreams file guardrails section', () => {
  it('defaults to placeholder, output mask, restore and block', () => {
    const { guardrails } = parseLlmConfig(valid(), 'upstreams.yaml');
    assert.deepEqual(guardrails.defaults, { pii: 'placeholder', outputPii: 'mask', restore: true, onScannerError: 'block' });
    assert.equal(guardrails.useCases.size, 0);
  });

  it('use cases override the defaults', () => {
    const document = { ...valid(), guardrails: { pii: 'mask', onScannerError: 'flag', useCases: { support: { pii: 'placeholder', restore: false, outputPii: 'block' } } } };
    const { guardrails } = parseLlmConfig(document, 'upstreams.yaml');
    assert.deepEqual(guardrails.defaults, { pii: 'mask', outputPii: 'mask', restore: true, onScannerError: 'flag' });
    assert.deepEqual(guardrails.useCases.get('support'), { pii: 'placeholder', outputPii: 'block', restore: false, onScannerError: 'flag' });
  });

  it('rejects bad guardrail values', () => {
    rejects({ ...valid(), guardrails: { pii: 'encrypt' } }, /at \/guardrails\/pii: must be one of placeholder, mask, hash, off/);
    rejects({ ...valid(), guardrails: { useCases: { support: { restore: 'yes' } } } }, /at \/guardrails\/useCases\/support\/restore: must be true or false/);
    rejects({ ...valid(), guardrails: { onScannerError: 'ignore' } }, /at \/guardrails\/onScannerError: must be block/);
    rejects({ ...valid(), guardrails: { outputPii: 'hash' } }, /at \/guardrails\/outputPii: must be one of mask, block, off/);
  });

  it('hash mode needs a key variable, never a key', () => {
    rejects({ ...valid(), guardrails: { useCases: { support: { pii: 'hash' } } } }, /at \/guardrails\/hashKeyEnv: is required when pii is hash/);
    rejects({ ...valid(), guardrails: { pii: 'hash', hashKey: 'secret' } }, /at \/guardrails\/hashKey: secrets do not belong in this file/);
    const { guardrails } = parseLlmConfig({ ...valid(), guardrails: { pii: 'hash', hashKeyEnv: 'PII_HASH_KEY' } }, 'upstreams.yaml');
    assert.equal(guardrails.hashKeyEnv, 'PII_HASH_KEY');
  });
});
