import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, jetstreamManager } from '../../libs/streaming/src/index.js';
import { cliEnvironment, runCli, runCliJson } from '../support/cli.js';
import { createServerDatabase, databaseTargets, sharedDataPath, type ServerDatabase } from '../support/databases.js';

const paysim = sharedDataPath('tabular/paysim_fraud_sample/paysim_sample.csv');
const ROWS = 2000;
const TENANT = 'cli-stream-bank';
const EPOCH = Date.parse('2026-01-01T00:00:00Z');

let connection: NatsConnection | undefined;
let natsSkipReason: string | undefined;
try {
  connection = await connectNats('nats://127.0.0.1:4222', 'warden-stream-cli-test');
} catch (error) {
  natsSkipReason = `no NATS server with JetStream on 127.0.0.1:4222 (${(error as Error).message})`;
  if (process.env.CI === 'true') throw new Error(`CI needs NATS: ${natsSkipReason}`);
}

for (const target of await databaseTargets()) {
  describe(`warden stream and features commands on ${target.name}`, { skip: target.skipReason ?? natsSkipReason ?? paysim.skipReason }, () => {
    let workDir: string;
    let server: ServerDatabase | undefined;
    let env: NodeJS.ProcessEnv;
    const streamName = `WARDEN_CLI_TEST_${randomBytes(4).toString('hex')}`;
    let labels: { entity: string; asOf: string; amount: string }[] = [];

    before(async () => {
      workDir = mkdtempSync(join(tmpdir(), 'warden-stream-cli-'));
      if (target.name === 'server') server = await createServerDatabase();
      env = cliEnvironment({
        WARDEN_DATA_DIR: join(workDir, 'data'),
        DATABASE_URL: server?.url,
        WARDEN_NATS_URL: 'nats://127.0.0.1:4222',
        WARDEN_STREAM_NAME: streamName,
        WARDEN_STREAM_CONSUMER: `cli-${streamName}`,
        WARDEN_STREAM_TENANT: TENANT,
      });

      // Label the events of recipients that appear twice or more, one hour after each event.
      const lines = readFileSync(paysim.path, 'utf8').split('\n').slice(0, ROWS + 1);
      writeFileSync(join(workDir, 'paysim.csv'), lines.join('\n') + '\n');
      const rows = lines.slice(1).map((line) => line.split(','));
      const seen = new Map<string, number>();
      for (const row of rows) seen.set(row[6], (seen.get(row[6]) ?? 0) + 1);
      labels = rows
        .filter((row) => (seen.get(row[6]) ?? 0) >= 2)
        .slice(0, 4)
        .map((row) => ({ entity: row[6], asOf: new Date(EPOCH + (Number(row[0]) + 1) * 3_600_000).toISOString(), amount: row[2] }));
      writeFileSync(join(workDir, 'labels.csv'), ['entity_key,as_of,label,amount', ...labels.map((label) => `${label.entity},${label.asOf},0,${label.amount}`)].join('\n') + '\n');
    });

    after(async () => {
      const manager = await jetstreamManager(connection as NatsConnection);
      await manager.streams.delete(streamName).catch(() => undefined);
      await server?.drop();
      rmSync(workDir, { recursive: true, force: true });
    });

    it('publishes and consumes a file', async () => {
      const published = await runCliJson(['stream', 'publish', '--subject', 'warden.events.paysim-transactions', '--file', join(workDir, 'paysim.csv')], env);
      assert.equal(published.published, ROWS);
      assert.equal(published.duplicates, 0);

      const consumed = await runCliJson(['stream', 'consume', '--until-idle'], env);
      assert.equal(consumed.accepted, ROWS);
      assert.equal(consumed.quarantined, 0);
      assert.equal(consumed.deadLettered, 0);
    });

    it('writes a training set equal to online reads', async () => {
      assert.ok(labels.length >= 4, `expected at least 4 labels, got ${labels.length}`);
      const out = join(workDir, 'training.csv');
      const summary = await runCliJson(['features', 'training-set', '--view', 'payee-activity', '--labels', join(workDir, 'labels.csv'), '--out', out, '--tenant', TENANT], env);
      assert.equal(summary.rows, labels.length);
      assert.equal(summary.viewVersion, '1');

      const [header, ...lines] = readFileSync(out, 'utf8').trim().split('\n');
      const columns = header.split(',');
      assert.deepEqual(columns.slice(0, 5), ['entity_key', 'as_of', 'window_end', 'label', 'tx_count_1h']);
      assert.equal(lines.length, labels.length);

      let withHistory = 0;
      for (const [index, label] of labels.entries()) {
        const online = await runCliJson<{ values: Record<string, number | null> }>(
          ['features', 'read', '--view', 'payee-activity', '--entity', label.entity, '--as-of', label.asOf, '--input', `amount=${label.amount}`, '--tenant', TENANT],
          env,
        );
        const cells = lines[index].split(',');
        for (const [position, name] of columns.entries()) {
          if (position < 4) continue;
          const expected = online.values[name];
          assert.equal(cells[position], expected === null ? '' : String(expected), `${name} of ${label.entity} at ${label.asOf}`);
        }
        if ((online.values.tx_count_1h ?? 0) > 0) withHistory += 1;
      }
      assert.ok(withHistory > 0, 'expected at least one label with an event in the hour before it');
    });

    it('backfills in resumable pages', async () => {
      const paused = await runCliJson(['features', 'backfill', '--view', 'payee-activity', '--tenant', TENANT, '--page-size', '500', '--max-pages', '2'], env);
      assert.equal(paused.status, 'running');
      assert.equal(paused.eventsApplied, 1000);
      const done = await runCliJson(['features', 'backfill', '--view', 'payee-activity', '--tenant', TENANT, '--page-size', '500'], env);
      assert.equal(done.status, 'done');
      assert.equal(done.eventsApplied, ROWS);
    });

    it('rejects a missing NATS URL', async () => {
      const withoutNats = { ...env };
      delete withoutNats.WARDEN_NATS_URL;
      const result = await runCli(['stream', 'consume'], withoutNats);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /WARDEN_NATS_URL is not set/);
    });
  });
}

after(async () => {
  await connection?.close();
});
