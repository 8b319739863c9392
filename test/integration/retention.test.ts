import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { digestJson, FailedPreconditionError, sha256Hex } from '../../libs/common/src/index.js';
import {
  CheckpointKeyStore,
  CheckpointService,
  createExportEvidence,
  exportBundle,
  parseRetentionPolicy,
  PostgresLedger,
  PostgresMerkleLog,
  RetentionService,
  verifyBundle,
  verifyLedger,
  WitnessPublisher,
} from '../../libs/audit/src/index.js';
import { unlessPurged } from '../../libs/decisions/src/index.js';
import { HoldText1796342401500 } from '../../migrations/1796342401500-HoldText.js';
import type { DataSource, QueryRunner } from 'typeorm';
import { databaseTargets, REPO_ROOT, type TestDatabase } from '../support/databases.js';

const USE_CASE = 'credit-application';
const POLICY = parseRetentionPolicy(`
version: 1
rules:
  credit-application: { minimumMonths: 25, purgeAfterMonths: 26, source: 12 CFR 1002.12(b)(1) }
placeholderVault: { purgeAfterMonths: 6, source: GDPR Art. 5(1)(e) }
legalHoldText: { purgeAfterMonths: 12, source: GDPR Art. 5(1)(e) }
`);
const CREATED = new Date('2026-03-15T10:00:00.000Z');
/** 26 months after CREATED plus a day: every seeded record is due. */
const DUE = new Date('2028-05-16T10:00:00.000Z');
/** 25 months after CREATED: inside the retention period. */
const NOT_YET = new Date('2028-04-15T10:00:00.000Z');
/** 12 months after DUE plus a day: the reasons of holds released at DUE are due. */
const HOLD_TEXT_DUE = new Date('2029-05-17T10:00:00.000Z');
const VERIFIER = resolve(REPO_ROOT, 'tools', 'warden-verify-bundle.mjs');
/** Hold reasons that occur nowhere else, so a copy anywhere is found. */
const PLACE_REASON = 'Subpoena in Kowalczyk-Zq7 v. Bank A, docket 28-cv-4411';
const RELEASE_REASON = 'Kowalczyk-Zq7 matter settled, release per counsel';

function hmacHex(text: string, salt: Buffer): string {
  return createHmac('sha256', salt).update(text, 'utf8').digest('hex');
}

function runVerifier(dir: string): Promise<{ code: number | null; report: { ok: boolean; checked: { purgedRecords: number } } }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [VERIFIER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, report: JSON.parse(stdout) }));
  });
}

/**
 * Inserts a decision record made at CREATED with its `decision.created` ledger entry, in the shape the
 * decision service writes, and returns the record's digest.
 */
async function insertDecision(
  source: DataSource,
  ledger: PostgresLedger,
  record: { id: string; tenant: string; useCase: string; outcome: string; score: number } & Record<string, unknown>,
): Promise<string> {
  const recordDigest = digestJson(record);
  await source.transaction(async (manager) => {
    const receipt = await ledger.append(manager, {
      type: 'decision.created',
      tenant: record.tenant,
      actor: 'svc-loans',
      payload: { decisionId: record.id, useCase: record.useCase, outcome: record.outcome, recordDigest },
    });
    await manager.query(
      `INSERT INTO decisions.decision_records
         (id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest, ledger_seq, ledger_hash, created_at)
       VALUES ($1, $2, $3, NULL, 'svc-loans', $4, $5, 'logreg-1', $6::jsonb, $7, $8, $9, $10)`,
      [record.id, record.tenant, record.useCase, record.outcome, record.score, JSON.stringify(record), recordDigest, receipt.seq, receipt.hash, CREATED],
    );
  });
  return recordDigest;
}

for (const target of await databaseTargets()) {
  describe(`retention on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let workDir: string;
    let retention: RetentionService;
    /** The service's clock: the tests move it forward instead of waiting 26 months. */
    let clock = NOT_YET;
    const ledger = new PostgresLedger();
    const ids: Record<string, string[]> = { 'bank-a': [], 'bank-b': [] };
    const digests = new Map<string, string>();

    before(async () => {
      db = await target.open();
      workDir = mkdtempSync(join(tmpdir(), 'warden-retention-'));
      const source = db.database.dataSource;
      retention = new RetentionService(source, ledger, POLICY, () => [USE_CASE, 'regulatory-qa'], () => clock);
      for (const [tenant, count] of [['bank-a', 3], ['bank-b', 2]] as const) {
        for (let index = 0; index < count; index++) {
          const id = randomUUID();
          const record = { id, tenant, useCase: USE_CASE, outcome: 'APPROVE', score: 0.1, lineage: { featureValues: { age_years: 41 + index } } };
          const recordDigest = await insertDecision(source, ledger, record);
          ids[tenant].push(id);
          digests.set(id, recordDigest);
        }
      }
    });
    after(async () => {
      await db?.cleanup();
      rmSync(workDir, { recursive: true, force: true });
    });

    async function records(): Promise<Map<string, { record: Record<string, unknown>; record_digest: string }>> {
      const rows: { id: string; record: Record<string, unknown>; record_digest: string }[] = await db.database.dataSource.query(
        'SELECT id, record, record_digest FROM decisions.decision_records',
      );
      return new Map(rows.map((row) => [row.id, row]));
    }

    it('purges nothing inside the retention period', async () => {
      const [result] = await retention.purge({ actor: 'test' });
      assert.equal(result.due, 0);
      assert.equal(result.purged, 0);
      assert.equal(result.ledgerSeq, null);
    });

    it('previews a later date only as a dry run', async () => {
      const [result] = await retention.purge({ asOf: DUE, dryRun: true, actor: 'test' });
      assert.equal(result.due, 5);
      assert.equal(result.purged, 0);
      await assert.rejects(retention.purge({ asOf: DUE, actor: 'test' }), /can only be previewed/);
      for (const { record } of (await records()).values()) assert.equal(record.purged, undefined);
    });

    it('rejects a hold on an unknown use case', async () => {
      await assert.rejects(
        retention.placeHold({ tenant: 'bank-a', useCase: 'credit-applicaton', reason: 'misspelt use case in a hold', actor: 'counsel' }),
        /Unknown use case "credit-applicaton"/,
      );
    });

    it('keeps held records and purges the rest', async () => {
      const hold = await retention.placeHold({ tenant: 'bank-b', useCase: USE_CASE, reason: 'CFPB investigation 2028-07 notice', actor: 'counsel' });
      assert.equal(hold.recordsCovered, 2);
      clock = DUE;
      const [result] = await retention.purge({ actor: 'test' });
      assert.equal(result.purged, 3);
      assert.equal(result.held, 2);
      assert.equal(result.cutoff, '2026-03-16T10:00:00.000Z');

      const stored = await records();
      for (const id of ids['bank-a']) {
        assert.deepEqual(stored.get(id)?.record, { purged: true, purgedAt: DUE.toISOString(), rule: `${USE_CASE}: 12 CFR 1002.12(b)(1)` });
        assert.equal(stored.get(id)?.record_digest, digests.get(id));
      }
      for (const id of ids['bank-b']) assert.equal(stored.get(id)?.record.purged, undefined);
      assert.equal((await retention.listHolds()).map((active) => active.id).includes(hold.id), true);
    });

    it('writes a ledger entry with a digest of the purged ids', async () => {
      const rows: { payload: Record<string, unknown>; tenant: string }[] = await db.database.dataSource.query(
        "SELECT payload, tenant FROM audit.ledger_entries WHERE type = 'retention.purged'",
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0].tenant, 'bank-a');
      assert.equal(rows[0].payload.count, 3);
      assert.equal(rows[0].payload.idsDigest, sha256Hex([...ids['bank-a']].sort().join('\n')));
    });

    it('leaves the ledger chain verifiable', async () => {
      const verification = await verifyLedger(db.database.dataSource);
      assert.equal(verification.ok, true);
    });

    it('reports a purged record instead of reading it', () => {
      const row = { id: ids['bank-a'][0], record: { purged: true, purgedAt: DUE.toISOString(), rule: 'r' }, ledger_seq: '1', record_digest: 'd' };
      assert.throws(() => unlessPurged(row), (error: unknown) => error instanceof FailedPreconditionError && /passed its retention period/.test(error.message));
    });

    it('rejects any other change to a decision record', async () => {
      const source = db.database.dataSource;
      const [purgedId, keptId] = [ids['bank-a'][0], ids['bank-b'][0]];
      await assert.rejects(source.query(`UPDATE decisions.decision_records SET record = '{"restored": true}'::jsonb WHERE id = $1`, [purgedId]), /immutable/);
      await assert.rejects(
        source.query(`UPDATE decisions.decision_records SET record = '{"purged": true, "purgedAt": "x", "rule": "r"}'::jsonb, outcome = 'DECLINE' WHERE id = $1`, [keptId]),
        /immutable/,
      );
      await assert.rejects(
        source.query(`UPDATE decisions.decision_records SET record = '{"purged": true, "note": "hidden"}'::jsonb WHERE id = $1`, [keptId]),
        /immutable/,
      );
      await assert.rejects(source.query('DELETE FROM decisions.decision_records WHERE id = $1', [keptId]), /immutable/);
    });

    it('rejects a purge by hand of a held record', async () => {
      await assert.rejects(
        db.database.dataSource.query(
          `UPDATE decisions.decision_records SET record = '{"purged": true, "purgedAt": "2020-01-01T00:00:00.000Z", "rule": "by hand"}'::jsonb WHERE id = $1`,
          [ids['bank-b'][1]],
        ),
        /under a legal hold/,
      );
    });

    it('exports purged records that both verifiers accept', async () => {
      const source = db.database.dataSource;
      const merkle = new PostgresMerkleLog(source);
      const keys = new CheckpointKeyStore(source, join(workDir, 'checkpoint-key.pem'), ledger);
      const checkpoints = new CheckpointService(source, merkle, keys, ledger, new WitnessPublisher(source, {}), { origin: 'warden.test/retention' });
      const outDir = join(workDir, 'bundle');
      await exportBundle(
        source,
        { useCase: USE_CASE, from: new Date('2026-03-01T00:00:00.000Z'), to: new Date('2026-04-01T00:00:00.000Z'), outDir, wardenVersion: 'test' },
        createExportEvidence(checkpoints, merkle, keys, 'retention-test'),
      );
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [], purgedRecords: 3 });
      const tool = await runVerifier(outDir);
      assert.equal(tool.code, 0);
      assert.equal(tool.report.checked.purgedRecords, 3);
    });

    it('purges held records once the hold is released', async () => {
      const [hold] = await retention.listHolds();
      const released = await retention.releaseHold({ id: hold.id, reason: 'investigation closed without findings', actor: 'counsel' });
      assert.equal(released.releasedBy, 'counsel');
      const [result] = await retention.purge({ actor: 'test' });
      assert.equal(result.purged, 2);
      assert.equal((await retention.listHolds()).length, 0);
      assert.equal((await retention.listHolds(true)).length, 1);
    });

    it('deletes vault entries past their period unless the tenant is held', async () => {
      const source = db.database.dataSource;
      const sealed = Buffer.alloc(40, 7);
      for (const [tenant, scope, createdAt] of [
        ['bank-a', 'llm-call:old-a', CREATED],
        ['bank-c', 'llm-call:old-c', CREATED],
        ['bank-a', 'llm-call:recent', new Date(DUE.getTime() - 86_400_000)],
      ] as const) {
        await source.query(
          "INSERT INTO guardrails.vault_entries (tenant, scope, placeholder, entity_type, sealed, created_at) VALUES ($1, $2, '<IBAN_1>', 'IBAN', $3, $4)",
          [tenant, scope, sealed, createdAt],
        );
      }
      const hold = await retention.placeHold({ tenant: 'bank-c', useCase: null, reason: 'litigation hold on every record', actor: 'counsel' });
      const vault = (await retention.purge({ actor: 'test' })).find((result) => 'useCase' in result && result.useCase === 'placeholder-vault');
      assert.equal(vault?.purged, 1);
      assert.equal(vault?.held, 1);
      const left: { scope: string }[] = await source.query('SELECT scope FROM guardrails.vault_entries ORDER BY scope');
      assert.deepEqual(left.map((row) => row.scope), ['llm-call:old-c', 'llm-call:recent']);
      const [entry]: { tenant: string; payload: Record<string, unknown> }[] = await source.query(
        "SELECT tenant, payload FROM audit.ledger_entries WHERE type = 'retention.vault-purged'",
      );
      assert.equal(entry.tenant, 'bank-a');
      assert.equal(entry.payload.scopesDigest, sha256Hex('llm-call:old-a'));
      await retention.releaseHold({ id: hold.id, reason: 'litigation settled and closed', actor: 'counsel' });
      assert.equal((await verifyLedger(source)).ok, true);
    });

    const embeddedClock = target.name === 'embedded' ? 'embedded PGlite runs in this process and reads its clock, so there is no second clock' : false;
    it('rejects a purge when the host clock runs ahead', { skip: embeddedClock }, async (t) => {
      const source = db.database.dataSource;
      const systemClock = new RetentionService(source, ledger, POLICY, () => [USE_CASE, 'regulatory-qa']);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 62 * 31 * 24 * 3600_000 });
      try {
        await assert.rejects(systemClock.purge({ actor: 'ops' }), (error: unknown) => {
          assert.ok(error instanceof FailedPreconditionError);
          assert.match(error.message, /^This process's clock \(.+\) differs from the database's \(.+\) by \d+ minutes\. Correct the host clock/);
          return true;
        });
        // A dry run destroys nothing, so it still previews.
        const preview = await systemClock.purge({ actor: 'ops', dryRun: true });
        assert.ok(preview.length > 0);
      } finally {
        t.mock.timers.reset();
      }
    });

    it('rejects a short hold reason and a second release', async () => {
      await assert.rejects(retention.placeHold({ tenant: 'bank-a', useCase: null, reason: 'because', actor: 'x' }), /Invalid reason/);
      const [hold] = await retention.listHolds(true);
      await assert.rejects(retention.releaseHold({ id: hold.id, reason: 'released twice by mistake', actor: 'x' }), /already released/);
    });

    let canaryHoldId = '';
    async function holdEntry(seq: number | string): Promise<{ type: string; payload: Record<string, unknown> }> {
      const [entry]: { type: string; payload: Record<string, unknown> }[] = await db.database.dataSource.query(
        'SELECT type, payload FROM audit.ledger_entries WHERE seq = $1',
        [seq],
      );
      return entry;
    }

    it('keeps hold reasons out of the ledger', async () => {
      const source = db.database.dataSource;
      const hold = await retention.placeHold({ tenant: 'bank-a', useCase: USE_CASE, reason: PLACE_REASON, actor: 'counsel' });
      const released = await retention.releaseHold({ id: hold.id, reason: RELEASE_REASON, actor: 'counsel' });
      canaryHoldId = hold.id;
      assert.equal(hold.reason, PLACE_REASON);
      assert.equal(released.releaseReason, RELEASE_REASON);

      const [row]: { reason: string; reason_salt: Buffer; release_reason: string; release_reason_salt: Buffer; released_ledger_seq: string }[] = await source.query(
        'SELECT reason, reason_salt, release_reason, release_reason_salt, released_ledger_seq FROM audit.legal_holds WHERE id = $1',
        [hold.id],
      );
      const placed = await holdEntry(hold.placedLedgerSeq);
      const release = await holdEntry(row.released_ledger_seq);
      assert.equal(placed.type, 'legal-hold.placed');
      assert.equal(release.type, 'legal-hold.released');
      assert.equal('reason' in placed.payload, false);
      assert.equal('reason' in release.payload, false);
      const ledgerText: { n: number }[] = await source.query("SELECT count(*)::int AS n FROM audit.ledger_entries WHERE payload::text LIKE '%Zq7%'");
      assert.equal(ledgerText[0].n, 0);

      assert.equal(row.reason_salt.length, 32);
      assert.equal(placed.payload.reasonHmac, hmacHex(row.reason, row.reason_salt));
      assert.equal(release.payload.reasonHmac, hmacHex(row.release_reason, row.release_reason_salt));
      assert.notEqual(placed.payload.reasonHmac, sha256Hex(PLACE_REASON));
      assert.notEqual(placed.payload.reasonHmac, digestJson(PLACE_REASON));
    });

    it('verifies stored hold reasons against the ledger', async () => {
      const check = await retention.verifyHold(canaryHoldId);
      assert.equal(check.placed.status, 'matches');
      assert.equal(check.placed.ledgerFormat, 'hmac-sha256');
      assert.equal(check.released?.status, 'matches');
      const placed = await holdEntry(check.placed.ledgerSeq);
      assert.equal(hmacHex(PLACE_REASON, Buffer.from(check.placed.salt ?? '', 'hex')), placed.payload.reasonHmac);

      // A reason changed in the table no longer matches its digest.
      const source = db.database.dataSource;
      await source.query("UPDATE audit.legal_holds SET reason = 'Subpoena in another matter entirely' WHERE id = $1", [canaryHoldId]);
      assert.equal((await retention.verifyHold(canaryHoldId)).placed.status, 'differs');
      await source.query('UPDATE audit.legal_holds SET reason = $2 WHERE id = $1', [canaryHoldId, PLACE_REASON]);

      // A hold row that names another hold's entry is reported, not compared.
      const [row]: { placed_ledger_seq: string }[] = await source.query('SELECT placed_ledger_seq::text AS placed_ledger_seq FROM audit.legal_holds WHERE id = $1', [canaryHoldId]);
      const [other]: { seq: string }[] = await source.query("SELECT seq::text AS seq FROM audit.ledger_entries WHERE type = 'legal-hold.placed' AND seq <> $1 ORDER BY seq LIMIT 1", [row.placed_ledger_seq]);
      await source.query('UPDATE audit.legal_holds SET placed_ledger_seq = $2 WHERE id = $1', [canaryHoldId, other.seq]);
      await assert.rejects(
        retention.verifyHold(canaryHoldId),
        new RegExp(`Legal hold ${canaryHoldId} does not match the ledger: ledger entry ${other.seq} is not a legal-hold.placed entry of this hold`),
      );
      await source.query('UPDATE audit.legal_holds SET placed_ledger_seq = $2 WHERE id = $1', [canaryHoldId, row.placed_ledger_seq]);
    });

    it('rejects hold rows moved to other entries', async () => {
      const source = db.database.dataSource;
      const columns = 'reason, reason_salt, placed_ledger_seq, released_ledger_seq, release_reason, release_reason_salt';
      const [saved]: Record<string, unknown>[] = await source.query(`SELECT ${columns} FROM audit.legal_holds WHERE id = $1`, [canaryHoldId]);
      const restore = () =>
        source.query(
          `UPDATE audit.legal_holds SET reason = $2, reason_salt = $3, placed_ledger_seq = $4, released_ledger_seq = $5, release_reason = $6, release_reason_salt = $7 WHERE id = $1`,
          [canaryHoldId, saved.reason, saved.reason_salt, saved.placed_ledger_seq, saved.released_ledger_seq, saved.release_reason, saved.release_reason_salt],
        );

      // The release reason shown as the reason the hold was placed for.
      await source.query(
        'UPDATE audit.legal_holds SET reason = release_reason, reason_salt = release_reason_salt, placed_ledger_seq = released_ledger_seq WHERE id = $1',
        [canaryHoldId],
      );
      await assert.rejects(retention.verifyHold(canaryHoldId), new RegExp(`its placement names ledger entry ${String(saved.released_ledger_seq)}, a legal-hold.released entry`));
      await restore();

      // A rewritten release reason whose ledger link was cleared.
      await source.query(
        "UPDATE audit.legal_holds SET released_ledger_seq = NULL, release_reason = 'Released on request of the client', release_reason_salt = NULL WHERE id = $1",
        [canaryHoldId],
      );
      await assert.rejects(retention.verifyHold(canaryHoldId), /it reads as released but names no legal-hold.released entry/);
      await restore();

      // A reason cleared by hand reads like a purged one, but no purge ran.
      await source.query("UPDATE audit.legal_holds SET reason = '[purged]', reason_salt = NULL WHERE id = $1", [canaryHoldId]);
      await assert.rejects(retention.verifyHold(canaryHoldId), /its reason reads \[purged\], but no purge of released holds cleared it/);
      await restore();
      assert.equal((await retention.verifyHold(canaryHoldId)).released?.status, 'matches');
    });

    let legacyHoldId = '';
    it('reads an old hold entry with the reason text', async () => {
      const source = db.database.dataSource;
      legacyHoldId = randomUUID();
      const reason = 'Legacy hold written before reason digests';
      await source.transaction(async (manager) => {
        const receipt = await ledger.append(manager, {
          type: 'legal-hold.placed',
          tenant: 'bank-a',
          actor: 'counsel',
          payload: { holdId: legacyHoldId, useCase: null, reason },
        });
        await manager.query(
          `INSERT INTO audit.legal_holds (id, tenant, use_case, reason, placed_by, placed_at, placed_ledger_seq) VALUES ($1, 'bank-a', NULL, $2, 'counsel', $3, $4)`,
          [legacyHoldId, reason, clock, receipt.seq],
        );
      });
      const check = await retention.verifyHold(legacyHoldId);
      assert.equal(check.placed.ledgerFormat, 'text');
      assert.equal(check.placed.status, 'matches');
      assert.equal(check.placed.salt, null);
      assert.equal(check.released, null);

      const released = await retention.releaseHold({ id: legacyHoldId, reason: 'Legacy matter closed by counsel', actor: 'counsel' });
      assert.equal(released.reason, reason);
      assert.equal((await retention.verifyHold(legacyHoldId)).released?.ledgerFormat, 'hmac-sha256');
    });

    it('purges hold reasons a year after release', async () => {
      const source = db.database.dataSource;
      const preview = (await retention.purge({ actor: 'test', dryRun: true })).find((result) => 'useCase' in result && result.useCase === 'legal-hold-text');
      assert.equal(preview?.due, 0);

      clock = HOLD_TEXT_DUE;
      const results = await retention.purge({ actor: 'test' });
      const purged = results.find((result) => 'useCase' in result && result.useCase === 'legal-hold-text');
      assert.equal(purged?.purged, 4);
      assert.equal(purged?.cutoff, '2028-05-17T10:00:00.000Z');

      const rows: { tenant: string; reason: string; reason_salt: Buffer | null; release_reason: string; release_reason_salt: Buffer | null; entry_tenant: string }[] =
        await source.query(
          `SELECT h.tenant, h.reason, h.reason_salt, h.release_reason, h.release_reason_salt, e.tenant AS entry_tenant
             FROM audit.legal_holds h JOIN audit.ledger_entries e ON e.seq = h.text_purged_ledger_seq AND e.type = 'retention.hold-text-purged'`,
        );
      assert.equal(rows.length, 4);
      for (const row of rows) {
        assert.equal(row.reason, '[purged]');
        assert.equal(row.release_reason, '[purged]');
        assert.equal(row.reason_salt, null);
        assert.equal(row.release_reason_salt, null);
        assert.equal(row.entry_tenant, row.tenant);
      }
      const canary: { n: number }[] = await source.query("SELECT count(*)::int AS n FROM audit.legal_holds WHERE reason LIKE '%Zq7%' OR release_reason LIKE '%Zq7%'");
      assert.equal(canary[0].n, 0);

      const [entry]: { tenant: string; payload: Record<string, unknown> }[] = await source.query(
        "SELECT tenant, payload FROM audit.ledger_entries WHERE type = 'retention.hold-text-purged' ORDER BY seq",
      );
      const holdIds: { id: string }[] = await source.query("SELECT id FROM audit.legal_holds WHERE tenant = 'bank-a'");
      assert.equal(entry.tenant, 'bank-a');
      assert.equal(entry.payload.holds, holdIds.length);
      assert.equal(entry.payload.holdIdsDigest, sha256Hex(holdIds.map((row) => row.id).sort().join('\n')));

      const again = (await retention.purge({ actor: 'test' })).find((result) => 'useCase' in result && result.useCase === 'legal-hold-text');
      assert.equal(again?.purged, 0);
    });

    it('reports purged hold reasons as untestable', async () => {
      const check = await retention.verifyHold(canaryHoldId);
      assert.equal(check.placed.status, 'purged');
      assert.equal(check.placed.salt, null);
      assert.equal(check.released?.status, 'purged');
      const legacy = await retention.verifyHold(legacyHoldId);
      assert.equal(legacy.placed.status, 'purged');
      assert.equal(legacy.placed.ledgerFormat, 'text');
      assert.equal((await retention.listHolds(true)).find((hold) => hold.id === canaryHoldId)?.reasonsPurgedAt?.toISOString(), HOLD_TEXT_DUE.toISOString());
    });

    it('verifies the ledger after the hold text purge', async () => {
      const verification = await verifyLedger(db.database.dataSource);
      assert.equal(verification.ok, true, verification.reason);
    });

    it('fails verification on a hold reason cleared by hand', async () => {
      const source = db.database.dataSource;
      const hold = await retention.placeHold({ tenant: 'bank-d', useCase: null, reason: 'Hold to be cleared by hand in SQL', actor: 'counsel' });
      const [saved]: { reason_salt: Buffer }[] = await source.query('SELECT reason_salt FROM audit.legal_holds WHERE id = $1', [hold.id]);
      await source.query("UPDATE audit.legal_holds SET reason = '[purged]', reason_salt = NULL WHERE id = $1", [hold.id]);
      const verification = await verifyLedger(source);
      assert.equal(verification.ok, false);
      assert.equal(verification.problem, 'unaccounted-purge');
      assert.equal(verification.firstBadSeq, hold.placedLedgerSeq);
      assert.match(verification.reason ?? '', /1 legal hold\(s\) of tenant bank-d have purged reasons, but no retention\.hold-text-purged entry/);
      // Any other text with the salt gone destroys the reason as well.
      await source.query("UPDATE audit.legal_holds SET reason = 'removed by dba' WHERE id = $1", [hold.id]);
      const otherText = await verifyLedger(source);
      assert.equal(otherText.ok, false);
      assert.equal(otherText.problem, 'unaccounted-purge');
      await source.query('UPDATE audit.legal_holds SET reason = $2, reason_salt = $3 WHERE id = $1', [hold.id, 'Hold to be cleared by hand in SQL', saved.reason_salt]);
      assert.equal((await verifyLedger(source)).ok, true);
    });

    it('fails verification when a purge entry names other holds', async () => {
      const source = db.database.dataSource;
      const [row]: { id: string }[] = await source.query("SELECT id FROM audit.legal_holds WHERE tenant = 'bank-c'");
      const [bankA]: { seq: string }[] = await source.query("SELECT text_purged_ledger_seq::text AS seq FROM audit.legal_holds WHERE tenant = 'bank-a' LIMIT 1");
      const [original]: { seq: string }[] = await source.query('SELECT text_purged_ledger_seq::text AS seq FROM audit.legal_holds WHERE id = $1', [row.id]);
      await source.query('UPDATE audit.legal_holds SET text_purged_ledger_seq = $2 WHERE id = $1', [row.id, bankA.seq]);
      const verification = await verifyLedger(source);
      assert.equal(verification.ok, false);
      assert.equal(verification.problem, 'unaccounted-purge');
      await source.query('UPDATE audit.legal_holds SET text_purged_ledger_seq = $2 WHERE id = $1', [row.id, original.seq]);
      assert.equal((await verifyLedger(source)).ok, true);
    });

    it('fails verification on a purged active hold', async () => {
      // Someone with write access appends a purge entry that names an active hold and clears its reason.
      const source = db.database.dataSource;
      const hold = await retention.placeHold({ tenant: 'bank-e', useCase: null, reason: 'Active hold whose reason must stay', actor: 'counsel' });
      const [saved]: { reason_salt: Buffer }[] = await source.query('SELECT reason_salt FROM audit.legal_holds WHERE id = $1', [hold.id]);
      const receipt = await source.transaction((manager) =>
        ledger.append(manager, {
          type: 'retention.hold-text-purged',
          tenant: 'bank-e',
          actor: 'intruder',
          payload: { cutoff: clock.toISOString(), purgedAt: clock.toISOString(), holds: 1, holdIdsDigest: sha256Hex(hold.id) },
        }),
      );
      await source.query(
        "UPDATE audit.legal_holds SET reason = '[purged]', reason_salt = NULL, text_purged_at = $2, text_purged_ledger_seq = $3 WHERE id = $1",
        [hold.id, clock, receipt.seq],
      );
      const verification = await verifyLedger(source);
      assert.equal(verification.ok, false);
      assert.equal(verification.problem, 'unaccounted-purge');
      assert.match(verification.reason ?? '', new RegExp(`ledger seq ${receipt.seq} purged the reasons of legal holds of tenant bank-e that were not released before its cutoff`));

      await source.query('UPDATE audit.legal_holds SET reason = $2, reason_salt = $3, text_purged_at = NULL, text_purged_ledger_seq = NULL WHERE id = $1', [
        hold.id,
        'Active hold whose reason must stay',
        saved.reason_salt,
      ]);
      assert.equal((await verifyLedger(source)).ok, true);
    });
  });
}

for (const target of await databaseTargets()) {
  describe(`retention and review cases on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let clock = DUE;
    const ledger = new PostgresLedger();
    /** Decisions made at CREATED: without a case, with an open case, and decided soon or late. */
    const ids = { noCase: '', open: '', decidedSoon: '', decidedLate: '' };
    /** A day after the purge cutoff at DUE, so the late decision is not due then. */
    const DECIDED_LATE = new Date('2026-03-17T10:00:00.000Z');

    before(async () => {
      db = await target.open();
      const source = db.database.dataSource;
      for (const name of Object.keys(ids) as (keyof typeof ids)[]) {
        const id = randomUUID();
        await insertDecision(source, ledger, { id, tenant: 'bank-a', useCase: USE_CASE, outcome: 'REFER', score: 0.5 });
        ids[name] = id;
      }
      const cases: [string, Date | null][] = [
        [ids.open, null],
        [ids.decidedSoon, new Date(CREATED.getTime() + 3_600_000)],
        [ids.decidedLate, DECIDED_LATE],
      ];
      for (const [decisionId, decidedAt] of cases) {
        await source.query(
          `INSERT INTO review.cases (id, tenant, use_case, decision_id, requested_by, automatic_outcome, model_version, reasons, priority,
                                     four_eyes, required_role, state, queue_state, sla_deadline, final_outcome, decided_at, created_at, updated_at)
           VALUES ($1, 'bank-a', $2, $3, 'svc-loans', 'REFER', 'logreg-1', ARRAY['refer'], 2, false, 'reviewer',
                   $4, 'OPEN', $5, $6, $7, $5, $5)`,
          [randomUUID(), USE_CASE, decisionId, decidedAt ? 'DECIDED' : 'OPEN', CREATED, decidedAt ? 'APPROVE' : null, decidedAt],
        );
      }
    });
    after(async () => {
      await db?.cleanup();
    });

    async function purgedIds(): Promise<string[]> {
      const rows: { id: string }[] = await db.database.dataSource.query("SELECT id FROM decisions.decision_records WHERE record ? 'purged'");
      return rows.map((row) => row.id).sort();
    }

    it('purges after the review decision', async () => {
      const retention = new RetentionService(db.database.dataSource, ledger, POLICY, () => [USE_CASE], () => clock);
      const [preview] = await retention.purge({ actor: 'test', asOf: DUE, dryRun: true });
      assert.equal(preview.due, 2, 'the decision without a case and the one decided soon');
      const [result] = await retention.purge({ actor: 'test' });
      assert.equal(result.purged, 2);
      assert.deepEqual(await purgedIds(), [ids.noCase, ids.decidedSoon].sort());

      // 26 months after the late decision it is due too. The open case keeps its record however old.
      clock = new Date('2028-05-18T10:00:00.000Z');
      const [later] = await retention.purge({ actor: 'test' });
      assert.equal(later.purged, 1);
      assert.deepEqual(await purgedIds(), [ids.noCase, ids.decidedSoon, ids.decidedLate].sort());
      clock = new Date('2040-01-01T00:00:00.000Z');
      const [much] = await retention.purge({ actor: 'test' });
      assert.equal(much.due, 0);
      assert.equal((await purgedIds()).includes(ids.open), false);
    });
  });
}

for (const target of await databaseTargets()) {
  describe(`hold text migration on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    before(async () => {
      db = await target.open();
    });
    after(async () => {
      await db?.cleanup();
    });

    it('copies old release reasons out of the ledger', async () => {
      const source = db.database.dataSource;
      const migration = new HoldText1796342401500();
      const ledger = new PostgresLedger();
      const holdId = randomUUID();
      const runner: QueryRunner = source.createQueryRunner();
      try {
        await migration.down(runner);
      } finally {
        await runner.release();
      }

      // A hold placed and released by the code before the migration, with both reasons in the ledger.
      await source.transaction(async (manager) => {
        const placed = await ledger.append(manager, {
          type: 'legal-hold.placed',
          tenant: 'bank-a',
          actor: 'counsel',
          payload: { holdId, useCase: null, reason: 'Old hold placed for an audit' },
        });
        const released = await ledger.append(manager, {
          type: 'legal-hold.released',
          tenant: 'bank-a',
          actor: 'counsel',
          payload: { holdId, useCase: null, reason: 'Old hold released after the audit' },
        });
        await manager.query(
          `INSERT INTO audit.legal_holds (id, tenant, use_case, reason, placed_by, placed_at, placed_ledger_seq, released_by, released_at, released_ledger_seq)
           VALUES ($1, 'bank-a', NULL, 'Old hold placed for an audit', 'counsel', $2, $3, 'counsel', $2, $4)`,
          [holdId, CREATED, placed.seq, released.seq],
        );
      });

      const upRunner: QueryRunner = source.createQueryRunner();
      try {
        await migration.up(upRunner);
      } finally {
        await upRunner.release();
      }
      const retention = new RetentionService(source, ledger, POLICY, () => [USE_CASE], () => DUE);
      const [hold] = await retention.listHolds(true);
      assert.equal(hold.releaseReason, 'Old hold released after the audit');
      const check = await retention.verifyHold(holdId);
      assert.deepEqual([check.placed.ledgerFormat, check.placed.status], ['text', 'matches']);
      assert.deepEqual([check.released?.ledgerFormat, check.released?.status], ['text', 'matches']);
    });
  });
}

describe('parseRetentionPolicy', () => {
  it('rejects a purge earlier than the legal minimum', () => {
    assert.throws(
      () => parseRetentionPolicy('version: 1\nrules:\n  credit-application: { minimumMonths: 25, purgeAfterMonths: 12, source: Reg B }\n'),
      /purgeAfterMonths \(12\) is below minimumMonths \(25\)/,
    );
  });

  it('requires a source for every rule', () => {
    assert.throws(() => parseRetentionPolicy('version: 1\nrules:\n  x: { minimumMonths: 1, purgeAfterMonths: 1 }\n'), /source must name/);
  });

  it('loads the shipped policy', async () => {
    const { loadRetentionPolicy } = await import('../../libs/audit/src/index.js');
    const policy = loadRetentionPolicy(join(REPO_ROOT, 'policies'));
    assert.deepEqual(
      policy.rules.map((rule) => [rule.useCase, rule.minimumMonths]),
      [
        ['credit-application', 25],
        ['regulatory-qa', 6],
        ['payment-fraud', 60],
      ],
    );
    assert.deepEqual(
      policy.datasets?.map((rule) => [rule.dataset, rule.minimumMonths, rule.purgeAfterMonths]),
      [
        ['paysim-transactions', 60, 61],
        ['german-credit', 25, 26],
      ],
    );
  });
});
