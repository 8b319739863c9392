import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.js';

describe('embedding configuration', () => {
  it('defaults to the lexical embedder', () => {
    const { embedding } = loadConfig({});
    assert.equal(embedding.provider, 'lexical');
    assert.equal(embedding.dimension, undefined);
  });

  it('reads the openai provider', () => {
    const { embedding } = loadConfig({
      WARDEN_EMBEDDING_PROVIDER: 'openai',
      WARDEN_EMBEDDING_URL: 'http://127.0.0.1:8080/v1',
      WARDEN_EMBEDDING_MODEL: 'bge-small',
      WARDEN_EMBEDDING_DIMENSION: '384',
      WARDEN_EMBEDDING_API_KEY: 'key',
    });
    assert.deepEqual(embedding, { provider: 'openai', url: 'http://127.0.0.1:8080/v1', model: 'bge-small', dimension: 384, apiKey: 'key', modelDir: undefined });
  });

  const invalid: Array<[Record<string, string>, string, RegExp]> = [
    [{ WARDEN_EMBEDDING_PROVIDER: 'word2vec' }, 'WARDEN_EMBEDDING_PROVIDER', /must be one of lexical, onnx, openai/],
    [{ WARDEN_EMBEDDING_PROVIDER: 'onnx' }, 'WARDEN_EMBEDDING_MODEL_DIR', /must be set when WARDEN_EMBEDDING_PROVIDER is onnx/],
    [{ WARDEN_EMBEDDING_PROVIDER: 'openai', WARDEN_EMBEDDING_MODEL: 'm' }, 'WARDEN_EMBEDDING_URL', /must be set/],
    [{ WARDEN_EMBEDDING_PROVIDER: 'openai', WARDEN_EMBEDDING_URL: 'https://e.example/v1' }, 'WARDEN_EMBEDDING_MODEL', /must be set/],
    [{ WARDEN_EMBEDDING_URL: 'http://10.0.0.5/v1' }, 'WARDEN_EMBEDDING_URL', /must use https unless the server is on this machine/],
    [{ WARDEN_EMBEDDING_DIMENSION: '8' }, 'WARDEN_EMBEDDING_DIMENSION', /from 16 to 4096/],
  ];
  for (const [env, variable, message] of invalid) {
    it(`rejects invalid ${variable}`, () => {
      assert.throws(() => loadConfig(env), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.variable, variable);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});
