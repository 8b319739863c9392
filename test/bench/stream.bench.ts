// Benchmark of stream ingestion with feature updates, on NATS JetStream and the PostgreSQL server
// (fresh database at WARDEN_TEST_DATABASE_URL, NATS at 127.0.0.1:4222). It measures, in one run:
//   - events per second from a JetStream durable consumer through validation, idempotent record
//     inserts, quarantine checks, the updates of two feature views, a batch row and a ledger
//     entry per batch, acknowledged after commit;
//   - the peer: a plain multi-row INSERT of the same records into a copy of ingestion.records,
//     the physical floor of storing them in PostgreSQL;
//   - JetStream alone: fetching and acknowledging the same events with no database work;
//   - online feature reads (one statement each) p50/p99, from 1 and from 8 concurrent callers.
// The publisher, the consumer, NATS and PostgreSQL share this machine's cores.
//
// Run: npm run bench:stream   (BENCH_STREAM_EVENTS sets the events, default 50,000;
// BENCH_STREAM_READS the online reads per cell, default 10,000; BENCH_STREAM_BATCH the consumer
// batch size, default 1,000)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { loadConfig } from '../../libs/common/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import { connectNats, ensureStream, jetstreamManager, ensureConsumer, StreamConsumer, type StreamConsumerOptions } from '../../libs/streaming/src/index.js';
import { createServerDatabase, serverSkipReason } from '../support/databases.js';
import { createProcessor, createStreamServices, PAYSIM, POLICY_DIR } from '../support/stream-fixtures.js';

const EVENTS = Number(process.env.BENCH_STREAM_EVENTS ?? 50_000);
const READS = Number(process.env.BENCH_STREAM_READS ?? 10_000);
const BATCH = Number(process.env.BENCH_STREAM_BATCH ?? 1000);
const TENANT = 'bench-bank';
const ENTITIES = Math.max(10, Math.floor(EVENTS / 10));
const T0 = Date.parse('2026-05-01T00:00:00Z');
const SPAN_MS = 30 * 24 * 3_600_000;

const skip = await serverSkipReason();
if (skip) {
  console.log(`bench:stream skipped: ${skip}`);
  process.exit(0);
}

/** Builds a deterministic PaySim-like event, with amounts of two decimals as in the PaySim file. */
function event(index: number, run: string): Record<string, unknown> {
  const time = T0 + Math.floor((index / EVENTS) * SPAN_MS);
  const amount = Math.round(((index * 7919) % 500_000) + 100) / 100;
  return {
    event_key: `B${run}-${index}`,
    event_time: new Date(time).toISOString(),
    step: 1 + Math.floor((time - T0) / 3_600_000),
    type: ['PAYMENT', 'TRANSFER', 'CASH_OUT', 'CASH_IN', 'DEBIT'][index % 5],
    amount,
    name_orig: `C${(index * 31) % ENTITIES}`,
    old_balance_orig: 1000,
    new_balance_orig: 0,
    name_dest: `M${(index * 17) % ENTITIES}`,
    old_balance_dest: 0,
    new_balance_dest: amount,
    is_fraud: index % 97 === 0 ? 1 : 0,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const server = await createServerDatabase();
const dataDir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
const database = await openDatabase({ ...loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }), policyDir: POLICY_DIR, dataDir, databaseUrl: server.url, databasePoolSize: 16 });
const connection = await connectNats('nats://127.0.0.1:4222', 'warden-bench');
const manager = await jetstreamManager(connection);
const id = randomBytes(4).toString('hex');
const stream = { name: `WARDEN_BENCH_${id}`, subject: `wbench${id}.events.${PAYSIM}`, filter: `wbench${id}.events.>` };
const lines: string[] = [];

try {
  const source = database.dataSource;
  const [{ server_version: version }] = await source.query('SHOW server_version');
  const [{ synchronous_commit: synchronousCommit }] = await source.query('SHOW synchronous_commit');
  const machine =
    `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ` +
    `PostgreSQL ${version} on loopback (synchronous_commit ${synchronousCommit}), NATS JetStream on loopback (file storage)`;
  const services = await createStreamServices(source);
  const events = Array.from({ length: EVENTS }, (_, index) => event(index, id));
  const encoder = new TextEncoder();

  // Publish once; both consumers below read the same stored messages.
  await ensureStream(manager, stream.name, [stream.filter]);
  const client = jetstream(connection);
  const publishStarted = performance.now();
  for (let start = 0; start < events.length; start += 500) {
    await Promise.all(events.slice(start, start + 500).map((value) => client.publish(stream.subject, encoder.encode(JSON.stringify(value)))));
  }
  const publishRate = EVENTS / ((performance.now() - publishStarted) / 1000);

  // JetStream alone: fetch and acknowledge with no database work.
  const fetchOnly = `fetch-${id}`;
  await ensureConsumer(manager, { stream: stream.name, durable: fetchOnly, maxAckPending: BATCH * 2, ackWaitMs: 30_000, filterSubject: stream.filter });
  const fetchConsumer = await client.consumers.get(stream.name, fetchOnly);
  const fetchStarted = performance.now();
  let fetched = 0;
  while (fetched < EVENTS) {
    const messages = await fetchConsumer.fetch({ max_messages: BATCH, expires: 1000 });
    for await (const message of messages) {
      JSON.parse(new TextDecoder().decode(message.data));
      message.ack();
      fetched += 1;
    }
  }
  const fetchRate = EVENTS / ((performance.now() - fetchStarted) / 1000);

  // Warden: validation, records, features, batch row and ledger entry per batch, ack after commit.
  const options: StreamConsumerOptions = {
    stream: stream.name,
    durable: `ingest-${id}`,
    filterSubject: stream.filter,
    batchSize: BATCH,
    maxInFlightBatches: 2,
    maxDeliver: 5,
    ackWaitMs: 60_000,
    retryDelayMs: 1000,
  };
  const processor = createProcessor(source, services, TENANT, services.features, { stream: stream.name, consumer: options.durable });
  const consumer = new StreamConsumer(connection, processor, options);
  const ingestStarted = performance.now();
  await consumer.start();
  await consumer.waitFor((totals) => totals.messages >= EVENTS, 600_000);
  const ingestSeconds = (performance.now() - ingestStarted) / 1000;
  await consumer.stop();
  const ingestRate = EVENTS / ingestSeconds;
  const totals = consumer.totals;
  if (totals.accepted !== EVENTS) throw new Error(`expected ${EVENTS} accepted events, got ${JSON.stringify(totals)}`);

  // Peer: the same records as multi-row INSERTs of 1,000 rows into a copy of ingestion.records.
  await source.query('CREATE TABLE public.peer_records (LIKE ingestion.records INCLUDING ALL)');
  const peerStarted = performance.now();
  for (let start = 0; start < events.length; start += 1000) {
    const chunk = events.slice(start, start + 1000);
    await source.query(
      `INSERT INTO public.peer_records (tenant, dataset, record_key, dataset_version, record, record_digest, batch_id)
       SELECT $1, $2, k, '1', r, repeat('0', 64), '00000000-0000-0000-0000-000000000000'::uuid
         FROM unnest($3::text[], $4::jsonb[]) AS t(k, r)`,
      [TENANT, PAYSIM, chunk.map((value) => value.event_key), chunk.map((value) => JSON.stringify(value))],
    );
  }
  const peerRate = EVENTS / ((performance.now() - peerStarted) / 1000);

  // Online reads of payee-activity for random entities and times, 1 and 8 callers.
  const readCell = async (concurrency: number) => {
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < READS) {
          const index = next;
          next += 1;
          const asOf = new Date(T0 + ((index * 104_729) % SPAN_MS));
          const begun = performance.now();
          await services.features.getOnlineFeatures({ tenant: TENANT, view: 'payee-activity', entityKey: `M${(index * 13) % ENTITIES}`, asOf, inputs: { amount: 100 } });
          latencies.push(performance.now() - begun);
        }
      }),
    );
    const perSecond = READS / ((performance.now() - started) / 1000);
    latencies.sort((a, b) => a - b);
    return { concurrency, perSecond, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  };
  await readCell(1); // warm-up
  const reads = [await readCell(1), await readCell(8)];

  const format = (value: number) => Math.round(value).toLocaleString('en-US');
  lines.push(`Machine: ${machine}`);
  lines.push(`Events: ${format(EVENTS)} (${format(ENTITIES)} customers and ${format(ENTITIES)} recipients over 30 days); consumer batch ${format(BATCH)}, 2 batches in flight`);
  lines.push('');
  lines.push('| measurement | events | per second | vs plain INSERT |');
  lines.push('| --- | ---: | ---: | ---: |');
  lines.push(`| publish to JetStream (awaiting each ack, 500 in flight) | ${format(EVENTS)} | ${format(publishRate)} | |`);
  lines.push(`| JetStream fetch + ack only, no database | ${format(EVENTS)} | ${format(fetchRate)} | |`);
  lines.push(`| Warden: JetStream -> validation -> records + 2 feature views + ledger, ack after commit | ${format(EVENTS)} | ${format(ingestRate)} | ${(ingestRate / peerRate).toFixed(2)}x |`);
  lines.push(`| plain multi-row INSERT of the same records, 1,000 per statement (peer) | ${format(EVENTS)} | ${format(peerRate)} | 1.00x |`);
  lines.push('');
  lines.push('| online read (payee-activity, 6 aggregations + 2 derived) | callers | reads | reads per second | p50 ms | p99 ms |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const cell of reads) {
    lines.push(`| getOnlineFeatures, one statement | ${cell.concurrency} | ${format(READS)} | ${format(cell.perSecond)} | ${cell.p50.toFixed(3)} | ${cell.p99.toFixed(3)} |`);
  }
  console.log(lines.join('\n'));
} finally {
  await manager.streams.delete(stream.name).catch(() => undefined);
  await connection.close();
  await database.close();
  await server.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
