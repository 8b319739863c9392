// Benchmark of the audit ledger and its Merkle tree on the PostgreSQL server, in a fresh database
// at WARDEN_TEST_DATABASE_URL. It compares the append rate through group commit with PostgreSQL's
// own single-row INSERT rate into a copy of the ledger table (the peer, same run). It also measures
// chain verification, Merkle sync, inclusion and consistency proof generation and verification, and
// the audit export: exportBundle with its default incremental chain check and with the full one,
// and the two bundle verifiers, in decision records per second.
// The load generator, the database client and PostgreSQL share this machine's cores.
//
// Run: npm run bench:ledger   (BENCH_APPENDS sets the appends per cell, default 5,000;
// BENCH_LEDGER_ENTRIES the ledger size for verification, sync and proofs, default 100,000;
// BENCH_PROOFS the proofs generated per cell, default 2,000; BENCH_EXPORT_DECISIONS the decisions
// exported, default 50,000; BENCH_EXPORT_RECORD credit or compact, as in bench:export)
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../libs/common/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import {
  CheckpointKeyStore,
  CheckpointService,
  createExportEvidence,
  exportBundle,
  hexToHash,
  PostgresLedger,
  PostgresMerkleLog,
  runFullVerification,
  verifyConsistency,
  verifyInclusion,
  verifyLedger,
  verifyBundle,
  verifyTreeAgainstLedger,
  WitnessPublisher,
  type ConsistencyProof,
  type InclusionProof,
  type LedgerEntryInput,
  type LedgerReceipt,
} from '../../libs/audit/src/index.js';
import { createServerDatabase, REPO_ROOT, serverSkipReason } from '../support/databases.js';
import { EXPORT_USE_CASE, seedDecisions, seedRecordShape } from './seed-decisions.js';

const APPENDS = Number(process.env.BENCH_APPENDS ?? 5000);
const LEDGER_ENTRIES = Number(process.env.BENCH_LEDGER_ENTRIES ?? 100_000);
const PROOFS = Number(process.env.BENCH_PROOFS ?? 2000);
const EXPORT_DECISIONS = Number(process.env.BENCH_EXPORT_DECISIONS ?? 50_000);
const EXPORT_RECORD_SHAPE = seedRecordShape(process.env.BENCH_EXPORT_RECORD);
const WARMUP = 200;
/** Maximum entries per group-commit transaction, the same as the decision writer's. */
const MAX_BATCH = 200;

interface Row {
  measurement: string;
  concurrency: number;
  operations: number;
  perSecond: number;
  target?: string;
  peer?: number;
}

/**
 * Appends through a queue like DecisionWriter's: entries that arrive while a batch commits go
 * together in the next transaction, under one ledger lock and one WAL flush.
 */
class GroupCommitAppender {
  private queue: { entry: LedgerEntryInput; resolve(receipt: LedgerReceipt): void; reject(error: unknown): void }[] = [];
  private writing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
  ) {}

  append(entry: LedgerEntryInput): Promise<LedgerReceipt> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (this.writing) return;
      this.writing = true;
      // The drain starts on the next turn of the event loop, so callers released by the same commit
      // join one batch instead of the first of them going alone.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const receipts = await this.dataSource.transaction((manager) => this.ledger.appendMany(manager, batch.map((pending) => pending.entry)));
          batch.forEach((pending, index) => pending.resolve(receipts[index]));
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

/** Runs `operation` `total` times from `concurrency` workers and returns operations per second. */
async function rate(total: number, concurrency: number, operation: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next;
        next += 1;
        await operation(i);
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

/** Repeats a synchronous check over `items` for at least one second and returns checks per second. */
function syncRate<T>(items: readonly T[], check: (item: T) => boolean): { operations: number; perSecond: number } {
  let operations = 0;
  const started = performance.now();
  while (performance.now() - started < 1000) {
    for (const item of items) {
      if (!check(item)) throw new Error('a valid proof failed verification');
    }
    operations += items.length;
  }
  return { operations, perSecond: operations / ((performance.now() - started) / 1000) };
}

/** Runs the standalone bundle verifier in a child process and rejects unless it exits 0. */
function runStandaloneVerifier(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'tools', 'warden-verify-bundle.mjs'), dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`warden-verify-bundle.mjs exited with code ${code}`))));
  });
}

const decisionEntry = (n: number): LedgerEntryInput => ({
  type: 'decision.created',
  tenant: n % 2 === 0 ? 'bench-bank-a' : 'bench-bank-b',
  actor: 'bench-app',
  payload: {
    decisionId: randomUUID(),
    useCase: 'credit-application',
    outcome: n % 3 === 0 ? 'APPROVE' : 'REFER',
    modelVersion: 'credit-application@1',
    recordDigest: createHash('sha256').update(String(n)).digest('hex'),
  },
});

const skip = await serverSkipReason();
if (skip) {
  console.error(`bench:ledger needs the PostgreSQL server: ${skip}`);
  process.exit(1);
}

const server = await createServerDatabase();
const dataDir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
const database = await openDatabase({
  ...loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }),
  dataDir,
  databaseUrl: server.url,
  databasePoolSize: 16,
});
const rows: Row[] = [];
let machine = '';
// Other jobs on the same cores change every rate here, so the run reports the load around it.
const loadAtStart = loadavg()[0];

try {
  const source = database.dataSource;
  const [{ server_version: version }] = await source.query('SHOW server_version');
  const [{ synchronous_commit: synchronousCommit }] = await source.query('SHOW synchronous_commit');
  const [{ fsync }] = await source.query('SHOW fsync');
  machine =
    `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ` +
    `PostgreSQL ${version} on loopback (synchronous_commit ${synchronousCommit}, fsync ${fsync})`;

  // The peer: the ledger table's columns, constraints and indexes, written one row per transaction.
  await source.query('CREATE TABLE public.peer_ledger_entries (LIKE audit.ledger_entries INCLUDING ALL)');
  let peerSeq = 0;
  const peerInsert = () => {
    peerSeq += 1;
    const entry = decisionEntry(peerSeq);
    const hash = createHash('sha256').update(`peer-${peerSeq}`).digest('hex');
    return source.query(
      `INSERT INTO public.peer_ledger_entries (seq, type, tenant, actor, payload, created_at, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz, $7, $8)`,
      [peerSeq, entry.type, entry.tenant, entry.actor, JSON.stringify(entry.payload), new Date().toISOString(), '0'.repeat(64), hash],
    );
  };

  const ledger = new PostgresLedger();
  const appender = new GroupCommitAppender(source, ledger);
  await rate(WARMUP, 8, () => peerInsert());
  await rate(WARMUP, 8, (i) => appender.append(decisionEntry(i)));

  for (const concurrency of [1, 8]) {
    const peer = await rate(APPENDS, concurrency, () => peerInsert());
    rows.push({ measurement: 'PostgreSQL single-row INSERT, ledger schema copy (peer)', concurrency, operations: APPENDS, perSecond: peer });
    const append = await rate(APPENDS, concurrency, (i) => appender.append(decisionEntry(i)));
    rows.push({
      measurement: 'Warden append, group commit',
      concurrency,
      operations: APPENDS,
      perSecond: append,
      target: concurrency === 8 ? '>= 5,000/s' : undefined,
      peer,
    });
  }

  // Fill the ledger to LEDGER_ENTRIES with batches of 1,000 entries per transaction.
  const head = await ledger.head(source);
  const remaining = Math.max(0, LEDGER_ENTRIES - head.seq);
  const bulkBatches = Math.ceil(remaining / 1000);
  const bulkRate =
    (await rate(bulkBatches, 1, (batch) => {
      const count = Math.min(1000, remaining - batch * 1000);
      return source.transaction((manager) => ledger.appendMany(manager, Array.from({ length: count }, (_, i) => decisionEntry(batch * 1000 + i))));
    })) * 1000;
  if (remaining > 0) rows.push({ measurement: 'Warden appendMany, 1,000 entries per transaction', concurrency: 1, operations: remaining, perSecond: bulkRate });
  const total = (await ledger.head(source)).seq;

  // One thread, and the default: a worker thread with its own connection takes the second half.
  for (const [batchSize, parallel] of [[1000, 'never'], [10_000, 'never'], [1000, 'auto'], [10_000, 'auto']] as const) {
    const started = performance.now();
    const verification = await verifyLedger(source, { batchSize, parallel });
    if (!verification.ok || verification.entries !== total) throw new Error(`ledger verification failed: ${verification.reason}`);
    rows.push({
      measurement: `verifyLedger, batches of ${batchSize.toLocaleString('en-US')}, ${parallel === 'never' ? 'one thread' : 'two threads'}`,
      concurrency: parallel === 'never' ? 1 : 2,
      operations: total,
      perSecond: total / ((performance.now() - started) / 1000),
      target: '>= 200,000/s',
    });
  }

  const merkle = new PostgresMerkleLog(source);
  let started = performance.now();
  const treeSize = await merkle.sync();
  rows.push({ measurement: 'Merkle sync (leaves)', concurrency: 1, operations: treeSize, perSecond: treeSize / ((performance.now() - started) / 1000) });

  started = performance.now();
  const treeCheck = await verifyTreeAgainstLedger(source);
  if (!treeCheck.ok) throw new Error(`Merkle tree verification failed: ${treeCheck.reason}`);
  rows.push({ measurement: 'verifyTreeAgainstLedger (leaves)', concurrency: 1, operations: treeSize, perSecond: treeSize / ((performance.now() - started) / 1000) });

  const inclusionProofs: InclusionProof[] = [];
  const consistencyProofs: ConsistencyProof[] = [];
  for (const concurrency of [1, 8]) {
    const perSecond = await rate(PROOFS, concurrency, async (i) => {
      inclusionProofs.push(await merkle.inclusionProof(Math.floor(((i * 7919) % PROOFS) * (treeSize / PROOFS)), treeSize));
    });
    rows.push({ measurement: 'inclusionProof generation', concurrency, operations: PROOFS, perSecond });
  }
  for (const concurrency of [1, 8]) {
    const perSecond = await rate(PROOFS, concurrency, async (i) => {
      consistencyProofs.push(await merkle.consistencyProof(1 + Math.floor((i * (treeSize - 1)) / PROOFS), treeSize));
    });
    rows.push({ measurement: 'consistencyProof generation', concurrency, operations: PROOFS, perSecond });
  }

  const decodedInclusion = inclusionProofs.map((proof) => ({
    ...proof,
    leaf: hexToHash(proof.leafHash) as Uint8Array,
    root: hexToHash(proof.rootHash) as Uint8Array,
    path: proof.proof.map((hash) => hexToHash(hash) as Uint8Array),
  }));
  const inclusionVerify = syncRate(decodedInclusion, (p) => verifyInclusion(p.leafIndex, p.treeSize, p.leaf, p.path, p.root).ok);
  rows.push({ measurement: `verifyInclusion (tree of ${treeSize.toLocaleString('en-US')})`, concurrency: 1, ...inclusionVerify, target: '>= 10,000/s' });

  const decodedConsistency = consistencyProofs.map((proof) => ({
    ...proof,
    from: hexToHash(proof.fromRoot) as Uint8Array,
    to: hexToHash(proof.toRoot) as Uint8Array,
    path: proof.proof.map((hash) => hexToHash(hash) as Uint8Array),
  }));
  const consistencyVerify = syncRate(decodedConsistency, (p) => verifyConsistency(p.fromSize, p.toSize, p.from, p.to, p.path).ok);
  rows.push({ measurement: `verifyConsistency (to ${treeSize.toLocaleString('en-US')})`, concurrency: 1, ...consistencyVerify, target: '>= 10,000/s' });

  // Audit export of EXPORT_DECISIONS decisions of one use case, on top of the ledger built above.
  const exportDay = { from: new Date('2026-03-01T00:00:00.000Z'), to: new Date('2026-03-02T00:00:00.000Z') };
  await seedDecisions(source, ledger, EXPORT_DECISIONS, '2026-03-01T12:00:00.000Z', EXPORT_RECORD_SHAPE);
  const checkpointKeys = new CheckpointKeyStore(source, join(dataDir, 'checkpoint-key.pem'), ledger);
  const checkpoints = new CheckpointService(source, merkle, checkpointKeys, ledger, new WitnessPublisher(source, {}), { origin: 'warden.bench/ledger' });
  await checkpoints.create('bench');
  const ledgerSize = (await ledger.head(source)).seq;

  // The full verification is recorded as an audit.chain_verified entry, as the scheduled job would
  // record it, so the default export below verifies only the entries after it.
  started = performance.now();
  const { verification: chainCheck, recorded } = await runFullVerification(source, { trigger: 'schedule', actor: 'system', ledger });
  if (!chainCheck.ok || recorded === undefined) throw new Error(`ledger verification failed: ${chainCheck.reason}`);
  rows.push({ measurement: 'verifyLedger before the export (defaults, two threads), recorded', concurrency: 2, operations: ledgerSize, perSecond: ledgerSize / ((performance.now() - started) / 1000), target: '>= 200,000/s' });

  const evidence = createExportEvidence(checkpoints, merkle, checkpointKeys, 'bench');
  const bundleDir = join(dataDir, 'bundle');
  started = performance.now();
  const exported = await exportBundle(source, { useCase: EXPORT_USE_CASE, ...exportDay, outDir: bundleDir, wardenVersion: 'bench' }, evidence);
  const exportSeconds = (performance.now() - started) / 1000;
  const exportedCount = exported.manifest.counts.decisions;
  if (exportedCount !== EXPORT_DECISIONS) throw new Error(`the export holds ${exportedCount} decisions, expected ${EXPORT_DECISIONS}`);
  const entriesAfterRecord = (await ledger.head(source)).seq - chainCheck.headSeq;
  rows.push({
    measurement: `exportBundle, incremental check (records; verifies the ${entriesAfterRecord.toLocaleString('en-US')} ${entriesAfterRecord === 1 ? 'entry' : 'entries'} after the recorded verification)`,
    concurrency: 1,
    operations: exportedCount,
    perSecond: exportedCount / exportSeconds,
    target: '>= 50,000/s',
  });

  started = performance.now();
  const exportedFull = await exportBundle(
    source,
    { useCase: EXPORT_USE_CASE, ...exportDay, outDir: join(dataDir, 'bundle-full'), wardenVersion: 'bench', chainCheck: 'full' },
    evidence,
  );
  const fullSeconds = (performance.now() - started) / 1000;
  if (exportedFull.manifest.counts.decisions !== EXPORT_DECISIONS) throw new Error('the full-check export holds a different number of decisions');
  rows.push({
    measurement: `exportBundle, full check (records; verifies the ${exportedFull.manifest.ledger.head.seq.toLocaleString('en-US')}-entry chain too)`,
    concurrency: 1,
    operations: EXPORT_DECISIONS,
    perSecond: EXPORT_DECISIONS / fullSeconds,
    target: '>= 50,000/s',
  });

  started = performance.now();
  const bundleCheck = await verifyBundle(bundleDir);
  if (!bundleCheck.ok) throw new Error(`the bundle failed verification: ${bundleCheck.problems.slice(0, 3).join('; ')}`);
  rows.push({ measurement: 'verifyBundle (records)', concurrency: 1, operations: exportedCount, perSecond: exportedCount / ((performance.now() - started) / 1000) });

  started = performance.now();
  await runStandaloneVerifier(bundleDir);
  rows.push({
    measurement: 'warden-verify-bundle.mjs, own process (records)',
    concurrency: 1,
    operations: exportedCount,
    perSecond: exportedCount / ((performance.now() - started) / 1000),
  });
} finally {
  await database.close();
  await server.drop();
  rmSync(dataDir, { recursive: true, force: true });
}

const format = (value: number) => Math.round(value).toLocaleString('en-US');
console.log(`\nMachine: ${machine}`);
console.log(`Load average (1 minute): ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`);
console.log(`Appends per cell: ${APPENDS} after ${WARMUP} warm-up operations; proofs per cell: ${PROOFS}; decisions exported: ${EXPORT_DECISIONS}\n`);
console.log('| measurement | concurrency | operations | per second | target | vs peer |');
console.log('| --- | ---: | ---: | ---: | --- | ---: |');
for (const row of rows) {
  const ratio = row.peer === undefined ? '' : `${(row.perSecond / row.peer).toFixed(2)}x`;
  console.log(`| ${row.measurement} | ${row.concurrency} | ${format(row.operations)} | ${format(row.perSecond)} | ${row.target ?? ''} | ${ratio} |`);
}
