// Upgrade in place from a database that an older Warden wrote. The suite applies only the
// migrations before DecisionRecordJson and writes rows in the shape Warden wrote them then: ledger
// payloads and decision records in jsonb only, a tombstone from that version's purge, and a
// checkpoint signed over those entries. Then the current openDatabase opens the database. The
// migrated ledger must still verify and stay consistent with the old checkpoint. A purge, a new
// checkpoint and an export across old and new decisions must pass both bundle verifiers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type EntityManager } from 'typeorm';
import { digestJson, loadConfig, sha256Hex, type WardenConfig } from '../../libs/common/src/index.js';
import { openDatabase, startEmbeddedPostgres, withPinnedSearchPath, type WardenDatabase } from '../../libs/database/src/index.js';
import {
  CheckpointKeyStore,
  CheckpointService,
  computeEntryHash,
  createExportEvidence,
  exportBundle,
  GENESIS_PREV_HASH,
  parseRetentionPolicy,
  PostgresLedger,
  PostgresMerkleLog,
  RetentionService,
  verifyBundle,
  verifyConsistencyProof,
  verifyInclusionProof,
  verifyLedger,
  WitnessPublisher,
  type LedgerAppender,
  type LedgerEntryInput,
  type LedgerReceipt,
} from '../../libs/audit/src/index.js';
import { ALL_MIGRATIONS } from '../../migrations/index.js';
import { createServerDatabase, REPO_ROOT, serverSkipReason } from '../support/databases.js';
import { runStandaloneVerifier } from '../support/standalone-verifier.js';

const TENANT = 'bank-a';
const USE_CASE = 'credit-application';
const ORIGIN = 'warden.test/upgrade';
/** The first migration that the older Warden did not have. It and every later one run at the upgrade. */
const FIRST_NEW_MIGRATION = 'DecisionRecordJson1796342401900';
/** When the older Warden decided. These records are due for purge 26 months later. */
const OLD_CREATED = new Date('2024-06-18T10:00:00.000Z');
/** When the older Warden's purge ran, replacing one record with a tombstone. */
const OLD_PURGED = new Date('2026-09-01T02:00:00.000Z');
/** When the current Warden decides, after the upgrade. */
const NEW_CREATED = new Date('2026-12-01T10:00:00.000Z');
/** The current Warden's purge: old records are due, the new ones are not. */
const NEW_PURGE = new Date('2026-12-02T02:00:00.000Z');
const POLICY = parseRetentionPolicy(`
version: 1
rules:
  credit-application: { minimumMonths: 25, purgeAfterMonths: 26, source: 12 CFR 1002.12(b)(1) }
`);
const OLD_DECISIONS = 4;
const NEW_DECISIONS = 2;

/**
 * Appends ledger entries as Warden did before migration LedgerPayloadJson: under the append lock,
 * with the payload in the jsonb column only and the same hash definition.
 */
class JsonbOnlyLedger implements LedgerAppender {
  constructor(private readonly clock: () => Date) {}

  async append(manager: EntityManager, entry: LedgerEntryInput): Promise<LedgerReceipt> {
    await manager.query('SELECT pg_advisory_xact_lock(6287397008076784711)');
    const [head]: { seq: string; hash: string }[] = await manager.query('SELECT seq::text AS seq, hash FROM audit.ledger_entries ORDER BY seq DESC LIMIT 1');
    const seq = head ? Number(head.seq) + 1 : 1;
    const prevHash = head?.hash ?? GENESIS_PREV_HASH;
    const createdAt = this.clock().toISOString();
    const hash = computeEntryHash(prevHash, { seq, type: entry.type, tenant: entry.tenant, actor: entry.actor, payload: entry.payload, createdAt });
    await manager.query(
      `INSERT INTO audit.ledger_entries (seq, type, tenant, actor, payload, created_at, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz, $7, $8)`,
      [seq, entry.type, entry.tenant, entry.actor, JSON.stringify(entry.payload), createdAt, prevHash, hash],
    );
    return { seq, hash, prevHash, createdAt };
  }
}

/**
 * Writes a decision record and its decision.created entry in one transaction. `recordJson` false
 * writes the row as Warden did before migration DecisionRecordJson (record in jsonb only).
 */
async function insertDecision(source: DataSource, ledger: LedgerAppender, createdAt: Date, recordJson: boolean): Promise<string> {
  const id = randomUUID();
  const requestId = `req-${id.slice(0, 8)}`;
  const record = {
    id,
    tenant: TENANT,
    useCase: USE_CASE,
    requestId,
    outcome: 'APPROVE',
    score: 0.12,
    modelVersion: `${USE_CASE}@1`,
    reasonCodes: [{ code: 'RB02', contribution: 0.4 }],
    lineage: { featureValues: { duration_months: 24, credit_amount: 4200 } },
    createdAt: createdAt.toISOString(),
  };
  const recordDigest = digestJson(record);
  await source.transaction(async (manager) => {
    const receipt = await ledger.append(manager, {
      type: 'decision.created',
      tenant: TENANT,
      actor: 'svc-loans',
      payload: { decisionId: id, useCase: USE_CASE, outcome: record.outcome, modelVersion: record.modelVersion, score: record.score, requestId, recordDigest },
    });
    const column = recordJson ? 'record_json' : 'record';
    await manager.query(
      `INSERT INTO decisions.decision_records
         (id, tenant, use_case, request_id, actor, outcome, score, model_version, ${column}, record_digest, ledger_seq, ledger_hash, created_at)
       VALUES ($1, $2, $3, $4, 'svc-loans', $5, $6, $7, $8${recordJson ? '' : '::jsonb'}, $9, $10, $11, $12)`,
      [id, TENANT, USE_CASE, requestId, record.outcome, record.score, record.modelVersion, JSON.stringify(record), recordDigest, receipt.seq, receipt.hash, createdAt],
    );
  });
  return id;
}

/** Replaces one record with a tombstone and accounts for it, as the older Warden's purge did. */
async function purgeAsOlderWarden(source: DataSource, ledger: LedgerAppender, id: string): Promise<void> {
  const rule = `${USE_CASE}: 12 CFR 1002.12(b)(1)`;
  const tombstone = { purged: true, purgedAt: OLD_PURGED.toISOString(), rule };
  await source.transaction(async (manager) => {
    await manager.query('UPDATE decisions.decision_records SET record = $2::jsonb WHERE id = $1', [id, JSON.stringify(tombstone)]);
    await ledger.append(manager, {
      type: 'retention.purged',
      tenant: TENANT,
      actor: 'cli:ops',
      payload: {
        useCase: USE_CASE,
        rule: '12 CFR 1002.12(b)(1)',
        cutoff: new Date('2024-07-01T02:00:00.000Z').toISOString(),
        purgedAt: tombstone.purgedAt,
        count: 1,
        reviewTextPurged: 0,
        idsDigest: sha256Hex(id),
        retentionPolicyHash: POLICY.hash,
      },
    });
  });
}

/** Opens a data source that applies only the migrations before FIRST_NEW_MIGRATION. */
async function openOlderSchema(config: WardenConfig): Promise<{ source: DataSource; close(): Promise<void> }> {
  const cut = ALL_MIGRATIONS.findIndex((migration) => migration.name === FIRST_NEW_MIGRATION);
  assert.ok(cut > 0, `migration ${FIRST_NEW_MIGRATION} is not in ALL_MIGRATIONS`);
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
  const connection = embedded
    ? { host: embedded.host, port: embedded.port, username: 'postgres', database: 'postgres', extra: { max: 1 } }
    : { url: withPinnedSearchPath(config.databaseUrl as string) };
  const source = new DataSource({
    type: 'postgres',
    ...connection,
    synchronize: false,
    migrations: ALL_MIGRATIONS.slice(0, cut),
    migrationsTableName: 'warden_migrations',
    entities: [],
  });
  await source.initialize();
  await source.runMigrations({ transaction: 'each' });
  return {
    source,
    async close() {
      await source.destroy();
      await embedded?.stop();
    },
  };
}


const targets = [
  { name: 'embedded', skipReason: undefined as string | undefined },
  { name: 'server', skipReason: await serverSkipReason() },
];

for (const target of targets) {
  describe(`upgrade from jsonb-only rows on ${target.name}`, { skip: target.skipReason }, () => {
    let workDir: string;
    let config: WardenConfig;
    let dropServerDatabase: (() => Promise<void>) | undefined;
    let database: WardenDatabase;
    let source: DataSource;
    let clock = OLD_CREATED;
    const oldIds: string[] = [];
    const newIds: string[] = [];
    let oldCheckpoint: { treeSize: number; rootHash: string };
    let oldDecisionSeq: number;
    let checkpoints: CheckpointService;
    let merkle: PostgresMerkleLog;
    let keys: CheckpointKeyStore;

    before(async () => {
      workDir = mkdtempSync(join(tmpdir(), 'warden-upgrade-'));
      const keyFile = join(workDir, 'checkpoint-key.pem');
      config = { ...loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' }), policyDir: join(REPO_ROOT, 'policies'), dataDir: join(workDir, 'data') };
      if (target.name === 'server') {
        const server = await createServerDatabase();
        config = { ...config, databaseUrl: server.url };
        dropServerDatabase = () => server.drop();
      } else {
        config = { ...config, databaseUrl: undefined };
      }

      // The older Warden's database: its schema, decisions, one purge and a checkpoint.
      const older = await openOlderSchema(config);
      try {
        const oldLedger = new JsonbOnlyLedger(() => clock);
        for (let index = 0; index < OLD_DECISIONS; index++) oldIds.push(await insertDecision(older.source, oldLedger, OLD_CREATED, false));
        clock = OLD_PURGED;
        await purgeAsOlderWarden(older.source, oldLedger, oldIds[0]);
        const oldKeys = new CheckpointKeyStore(older.source, keyFile, oldLedger);
        const oldCheckpoints = new CheckpointService(older.source, new PostgresMerkleLog(older.source), oldKeys, oldLedger, new WitnessPublisher(older.source, {}), {
          origin: ORIGIN,
          clock: () => clock,
        });
        oldCheckpoint = await oldCheckpoints.create('cli:ops');
        const [row] = await older.source.query('SELECT ledger_seq::int AS seq FROM decisions.decision_records WHERE id = $1', [oldIds[1]]);
        oldDecisionSeq = row.seq;
      } finally {
        await older.close();
      }

      // The upgrade: the current openDatabase applies the remaining migrations.
      database = await openDatabase(config);
      source = database.dataSource;
      const ledger = new PostgresLedger({ clock: () => clock });
      merkle = new PostgresMerkleLog(source);
      keys = new CheckpointKeyStore(source, keyFile, ledger);
      checkpoints = new CheckpointService(source, merkle, keys, ledger, new WitnessPublisher(source, {}), { origin: ORIGIN, clock: () => clock });
      clock = NEW_CREATED;
      for (let index = 0; index < NEW_DECISIONS; index++) newIds.push(await insertDecision(source, ledger, NEW_CREATED, true));
    });

    after(async () => {
      await database?.close();
      await dropServerDatabase?.();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('applies every migration', async () => {
      const rows: { name: string }[] = await source.query('SELECT name FROM warden_migrations ORDER BY id');
      assert.deepEqual(
        rows.map((row) => row.name),
        ALL_MIGRATIONS.map((migration) => migration.name),
      );
    });

    it('keeps old rows without stored texts', async () => {
      const [records] = await source.query('SELECT count(*)::int AS count FROM decisions.decision_records WHERE record_json IS NULL AND id = ANY($1::uuid[])', [oldIds]);
      assert.equal(records.count, OLD_DECISIONS);
      const [entries] = await source.query('SELECT count(*)::int AS count FROM audit.ledger_entries WHERE payload_json IS NULL');
      assert.ok(entries.count >= OLD_DECISIONS + 1, `expected the old entries without payload_json, found ${entries.count}`);
    });

    it('verifies the ledger on one thread', async () => {
      const verification = await verifyLedger(source, { parallel: 'never' });
      assert.equal(verification.ok, true, JSON.stringify(verification));
    });

    it('verifies the ledger on two threads', { skip: target.name === 'embedded' ? 'embedded PGlite verifies on one thread only' : undefined }, async () => {
      const verification = await verifyLedger(source, { parallel: 'always' });
      assert.equal(verification.ok, true, JSON.stringify(verification));
    });

    it('extends the old checkpoint consistently', async () => {
      const created = await checkpoints.create('cli:ops');
      assert.ok(created.treeSize > oldCheckpoint.treeSize);
      const consistency = await checkpoints.consistencyProof(oldCheckpoint.treeSize, created.treeSize);
      assert.equal(consistency.fromRoot, oldCheckpoint.rootHash, 'the migrated tree has the old checkpoint root at its size');
      assert.equal(consistency.fromCheckpoint?.rootHash, oldCheckpoint.rootHash);
      assert.deepEqual(verifyConsistencyProof(consistency), { ok: true });
    });

    it('proves an old entry in the new tree', async () => {
      const proof = await checkpoints.inclusionProof(oldDecisionSeq);
      assert.equal(proof.entry.seq, oldDecisionSeq);
      assert.deepEqual(verifyInclusionProof(proof), { ok: true });
    });

    it('purges old rows and accounts for both purges', async () => {
      clock = NEW_PURGE;
      const retention = new RetentionService(source, new PostgresLedger({ clock: () => clock }), POLICY, () => [USE_CASE], () => clock);
      const results = await retention.purge({ actor: 'cli:ops' });
      const rule = results.find((entry) => 'useCase' in entry && entry.useCase === USE_CASE);
      assert.equal(rule?.purged, OLD_DECISIONS - 1, JSON.stringify(results));
      const rows: { id: string; purged: boolean; record_json: string | null }[] = await source.query(
        "SELECT id, record ? 'purged' AS purged, record_json FROM decisions.decision_records WHERE id = ANY($1::uuid[])",
        [[...oldIds, ...newIds]],
      );
      for (const row of rows) assert.equal(row.purged, oldIds.includes(row.id), `purged state of ${row.id}`);
      const verification = await verifyLedger(source, { parallel: 'never' });
      assert.equal(verification.ok, true, JSON.stringify(verification));
    });

    it('exports old and new decisions verifiably', async () => {
      const outDir = join(workDir, 'bundle');
      const evidence = createExportEvidence(checkpoints, merkle, keys, 'cli:ops');
      const result = await exportBundle(
        source,
        { useCase: USE_CASE, from: new Date('2024-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z'), outDir, wardenVersion: 'upgrade-test', chainCheck: 'full' },
        evidence,
      );
      assert.equal(result.manifest.counts.decisions, OLD_DECISIONS + NEW_DECISIONS);
      const library = await verifyBundle(outDir);
      assert.equal(library.ok, true, JSON.stringify(library.problems));
      assert.equal(library.purgedRecords, OLD_DECISIONS);
      const tool = await runStandaloneVerifier(outDir);
      assert.equal(tool.code, 0, JSON.stringify(tool.report.problems));
      assert.equal(tool.report.checked.purgedRecords, OLD_DECISIONS);
    });
  });
}
