import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.js';

describe('stream ingestion settings', () => {
  it('connects to nothing by default', () => {
    const config = loadConfig({});
    assert.equal(config.natsUrl, undefined);
    assert.equal(config.streamName, 'WARDEN_EVENTS');
    assert.equal(config.streamConsumer, 'warden-ingest');
    assert.equal(config.streamBatchSize, 500);
    assert.equal(config.streamMaxDeliver, 5);
    assert.equal(config.streamTenant, 'demo-bank');
  });

  it('reads every variable', () => {
    const config = loadConfig({
      WARDEN_NATS_URL: 'nats://127.0.0.1:4222',
      WARDEN_STREAM_NAME: 'BANK_EVENTS',
      WARDEN_STREAM_CONSUMER: 'ingest-2',
      WARDEN_STREAM_BATCH_SIZE: '2000',
      WARDEN_STREAM_MAX_DELIVER: '3',
      WARDEN_STREAM_TENANT: 'bank-a',
    });
    assert.equal(config.natsUrl, 'nats://127.0.0.1:4222');
    assert.equal(config.streamName, 'BANK_EVENTS');
    assert.equal(config.streamConsumer, 'ingest-2');
    assert.equal(config.streamBatchSize, 2000);
    assert.equal(config.streamMaxDeliver, 3);
    assert.equal(config.streamTenant, 'bank-a');
  });

  it('rejects invalid values naming the variable', () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ WARDEN_NATS_URL: 'http://127.0.0.1:4222' }, 'WARDEN_NATS_URL'],
      [{ WARDEN_NATS_URL: 'not a url' }, 'WARDEN_NATS_URL'],
      [{ WARDEN_STREAM_NAME: 'events.with.dots' }, 'WARDEN_STREAM_NAME'],
      [{ WARDEN_STREAM_CONSUMER: 'has space' }, 'WARDEN_STREAM_CONSUMER'],
      [{ WARDEN_STREAM_BATCH_SIZE: '0' }, 'WARDEN_STREAM_BATCH_SIZE'],
      [{ WARDEN_STREAM_BATCH_SIZE: '20000' }, 'WARDEN_STREAM_BATCH_SIZE'],
      [{ WARDEN_STREAM_MAX_DELIVER: 'many' }, 'WARDEN_STREAM_MAX_DELIVER'],
    ];
    for (const [env, variable] of cases) {
      assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.variable === variable, variable);
    }
  });
});
