import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
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
import { databaseTargets, REPO_ROOT, type TestDatabase } from '../support/databases.js';

const USE_CASE = 'credit-application';
const POLICY = parseRetentionPolicy(`
version: 1
rules:
  credit-application: { minimumMonths: 25, purgeAfterMonths: 26, source: 12 CFR 1002.12(b)(1) }
placeholderVault: { purgeAfterMonths: 6, source: GDPR Art. 5(1)(e) }
`);
const CREATED = new Date('2026-03-15T10:00:00.000Z');
/** 26 months after CREATED plus a day: every seeded record is due. */
const DUE = new Date('2028-05-16T10:00:00.000Z');
/** 25 months after CREATED: inside the retention period. */
const NOT_YET = new Date('2028-04-15T10:00:00.000Z');
const VERIFIER = resolve(REPO_ROOT, 'tools', 'warden-verify-bundle.mjs');

function runVerifier(dir: string): Promise<{ code: number | null; report: { ok: boolean; checked: { purgedRecords: number } } }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [VERIFIER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, report: JSON.parse(stdout) }));
  });
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
          const recordDigest = digestJson(record);
          await source.transaction(async (manager) => {
            const receipt = await ledger.append(manager, {
              type: 'decision.created',
              tenant,
              actor: 'svc-loans',
              payload: { decisionId: id, useCase: USE_CASE, outcome: 'APPROVE', recordDigest },
            });
            await manager.query(
              `INSERT INTO decisions.decision_records
                 (id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest, ledger_seq, ledger_hash, created_at)
               VALUES ($1, $2, $3, NULL, 'svc-loans', 'APPROVE', 0.1, 'logreg-1', $4::jsonb, $5, $6, $7, $8)`,
              [id, tenant, USE_CASE, JSON.stringify(record), recordDigest, receipt.seq, receipt.hash, CREATED],
            );
          });
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
      const vault = (await retention.purge({ actor: 'test' })).find((result) => result.useCase === 'placeholder-vault');
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
  });
});
