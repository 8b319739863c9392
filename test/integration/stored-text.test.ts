// Attacks on the stored canonical texts (decision_records.record_json, ledger_entries.payload_json).
// Each test checks one invariant: an export either raises an error, or writes a bundle that both
// verifiers accept, and the database keeps decision records immutable apart from purges.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { canonicalJson, sha256Hex } from '../../libs/common/src/index.js';
import {
  CheckpointKeyStore,
  CheckpointService,
  createExportEvidence,
  DECISIONS_FILE,
  entryHashText,
  exportBundle,
  parseRetentionPolicy,
  PAYLOAD_TEXT_CHECK,
  PostgresLedger,
  PostgresMerkleLog,
  RetentionService,
  SUMMARY_FILE,
  verifyBundle,
  WitnessPublisher,
  type ExportEvidence,
} from '../../libs/audit/src/index.js';
import { collectUseCaseSummary, DecisionFigureCounter } from '../../libs/audit/src/summary-report.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { pdfTextLines } from '../support/reviewed-decisions.js';
import { runStandaloneVerifier } from '../support/standalone-verifier.js';

const CREATED = '2026-03-15T10:00:00.000Z';
const PERIOD = { from: new Date('2026-03-01T00:00:00.000Z'), to: new Date('2026-04-01T00:00:00.000Z') };
const PURGED_AT = '2028-06-01T00:00:00.000Z';

interface Outcome {
  rejected?: string;
  library?: { ok: boolean; problems: string[] };
  tool?: { code: number | null; ok: boolean; problems: string[] };
}


for (const target of await databaseTargets()) {
  describe(`stored canonical texts on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let source: DataSource;
    let workDir: string;
    let evidence: ExportEvidence;
    const ledger = new PostgresLedger();

    before(async () => {
      db = await target.open();
      source = db.database.dataSource;
      workDir = mkdtempSync(join(tmpdir(), 'warden-probe-'));
      const merkle = new PostgresMerkleLog(source);
      const keys = new CheckpointKeyStore(source, join(workDir, 'checkpoint-key.pem'), ledger);
      const checkpoints = new CheckpointService(source, merkle, keys, ledger, new WitnessPublisher(source, {}), { origin: 'warden.test/probe' });
      evidence = createExportEvidence(checkpoints, merkle, keys, 'probe-test');
    });
    after(async () => {
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    /**
     * Writes one decision of `useCase` with its decision.created entry. `text` is the record_json to
     * store (null: only the jsonb record, as rows before the migration); the digest covers that text.
     */
    async function seed(
      useCase: string,
      options: { text?: (id: string) => string | null; outcome?: string; record?: (id: string) => Record<string, unknown> } = {},
    ): Promise<string> {
      const id = randomUUID();
      const outcome = options.outcome ?? 'APPROVE';
      const record = options.record?.(id) ?? { id, tenant: 'bank-a', useCase, outcome, score: 0.1, reasonCodes: [{ code: 'DTI_HIGH' }] };
      const canonical = canonicalJson(record);
      const text = options.text === undefined ? canonical : options.text(id);
      const recordDigest = sha256Hex(text ?? canonical);
      await source.transaction(async (manager) => {
        const receipt = await ledger.append(manager, {
          type: 'decision.created',
          tenant: 'bank-a',
          actor: 'svc-loans',
          payload: { decisionId: id, useCase, outcome, recordDigest },
        });
        await manager.query(
          `INSERT INTO decisions.decision_records
             (id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_json, record_digest, ledger_seq, ledger_hash, created_at)
           VALUES ($1, 'bank-a', $2, NULL, 'svc-loans', $3, 0.1, 'logreg-1', $4::jsonb, $5, $6, $7, $8, $9)`,
          [id, useCase, outcome, text === null ? JSON.stringify(record) : null, text, recordDigest, receipt.seq, receipt.hash, CREATED],
        );
      });
      return id;
    }

    /** Exports `useCase` and runs both verifiers on the bundle when the export succeeds. */
    async function exportAndVerify(useCase: string, name: string, chainCheck: 'full' | 'incremental' = 'full'): Promise<Outcome> {
      const outDir = join(workDir, name);
      try {
        await exportBundle(source, { useCase, ...PERIOD, outDir, wardenVersion: 'probe', chainCheck }, evidence);
      } catch (error) {
        return { rejected: (error as Error).message };
      }
      const { code, report } = await runStandaloneVerifier(outDir);
      return { library: await verifyBundle(outDir), tool: { code, ok: report.ok, problems: report.problems } };
    }

    /** Asserts the invariant: the export was rejected, or both verifiers accept its bundle. */
    function assertInvariant(outcome: Outcome, name: string): void {
      if (outcome.rejected !== undefined) return;
      assert.ok(
        outcome.library?.ok && outcome.tool?.ok,
        `${name}: signed a bundle that a verifier rejects; verifyBundle: ${JSON.stringify(outcome.library?.problems)}; ` +
          `warden-verify-bundle.mjs (exit ${outcome.tool?.code}): ${JSON.stringify(outcome.tool?.problems)}`,
      );
    }

    /** Purges a record by hand in SQL with the triggers on, setting record and record_json together. */
    async function handPurge(id: string, record: string, text: string): Promise<void> {
      await source.transaction(async (manager) => {
        const [row] = await manager.query('SELECT use_case FROM decisions.decision_records WHERE id = $1', [id]);
        await manager.query('UPDATE decisions.decision_records SET record = $2::jsonb, record_json = $3 WHERE id = $1', [id, record, text]);
        await accountPurge(manager, row.use_case, id);
      });
    }

    /** Appends the retention.purged entry that accounts for one tombstone purged at PURGED_AT. */
    async function accountPurge(manager: Pick<DataSource, 'query'>, useCase: string, id: string): Promise<void> {
      await ledger.append(manager as never, {
        type: 'retention.purged',
        tenant: 'bank-a',
        actor: 'dba',
        payload: { useCase, rule: 'manual', cutoff: PURGED_AT, purgedAt: PURGED_AT, count: 1, reviewTextPurged: 0, idsDigest: sha256Hex(id), retentionPolicyHash: 'manual' },
      });
    }

    const tombstone = canonicalJson({ purged: true, purgedAt: PURGED_AT, rule: 'manual' });

    for (const [name, text] of [
      ['jsonb text form', `{"rule": "manual", "purged": true, "purgedAt": "${PURGED_AT}"}`],
      ['keys out of order', `{"rule":"manual","purged":true,"purgedAt":"${PURGED_AT}"}`],
      ['escaped character', `{"purged":true,"purgedAt":"${PURGED_AT}","rule":"manu\\u0061l"}`],
      ['duplicate key', `{"purged":true,"purgedAt":"${PURGED_AT}","rule":"other","rule":"manual"}`],
    ] as const) {
      it(`hand purge, non-canonical tombstone (${name})`, async () => {
        const useCase = `purge-text-${name.replace(/\W+/g, '-')}`;
        const id = await seed(useCase);
        await handPurge(id, tombstone, text);
        const [row] = await source.query('SELECT record, record_json FROM decisions.decision_records WHERE id = $1', [id]);
        assert.equal(row.record_json, text, 'the trigger kept the hand-written text');
        assertInvariant(await exportAndVerify(useCase, useCase), name);
      });
    }

    it('hand purge rewrites a record', async () => {
      const useCase = 'purge-text-not-tombstone';
      const id = await seed(useCase);
      const [before] = await source.query('SELECT record FROM decisions.decision_records WHERE id = $1', [id]);
      const forged = canonicalJson({ ...before.record, outcome: 'DECLINE', note: 'rewritten through the purge path' });
      let error: unknown;
      try {
        await handPurge(id, tombstone, forged);
      } catch (caught) {
        error = caught;
      }
      const [after] = await source.query('SELECT record, record_json FROM decisions.decision_records WHERE id = $1', [id]);
      assert.ok(error !== undefined, `the UPDATE was accepted and the record is now ${JSON.stringify(after.record)}`);
    });

    it('hand purge of record only', async () => {
      const useCase = 'purge-record-only';
      const id = await seed(useCase);
      await source.transaction(async (manager) => {
        await manager.query('UPDATE decisions.decision_records SET record = $2::jsonb WHERE id = $1', [id, tombstone]);
        await accountPurge(manager, useCase, id);
      });
      const [row] = await source.query('SELECT record_json FROM decisions.decision_records WHERE id = $1', [id]);
      assert.equal(row.record_json, null);
      const outcome = await exportAndVerify(useCase, useCase);
      assert.equal(outcome.rejected, undefined);
      assertInvariant(outcome, useCase);
    });

    it('hand purge of record_json only', async () => {
      const id = await seed('purge-text-only');
      await assert.rejects(source.query('UPDATE decisions.decision_records SET record_json = $2 WHERE id = $1', [id, tombstone]), /immutable/);
    });

    it('retention purge, mixed record_json', async () => {
      const useCase = 'credit-application';
      await seed(useCase);
      await seed(useCase, { text: () => null });
      const policy = parseRetentionPolicy(`
version: 1
rules:
  credit-application: { minimumMonths: 25, purgeAfterMonths: 26, source: "§ 1002.12 \\u00e9 \\"quoted\\"" }
placeholderVault: { purgeAfterMonths: 6, source: GDPR }
legalHoldText: { purgeAfterMonths: 12, source: GDPR }
`);
      const due = new Date('2028-05-16T10:00:00.000Z');
      const retention = new RetentionService(source, ledger, policy, () => [useCase], () => due);
      const [result] = await retention.purge({ actor: 'probe' });
      assert.equal(result.purged, 2);
      const rows: { record_json: string | null }[] = await source.query('SELECT record_json FROM decisions.decision_records WHERE use_case = $1', [useCase]);
      for (const row of rows) assert.ok(row.record_json !== null);
      const outcome = await exportAndVerify(useCase, useCase);
      assert.equal(outcome.rejected, undefined, outcome.rejected);
      assertInvariant(outcome, useCase);
      // The export counts tombstones as it reads them, and the summary alone counts them in SQL.
      const queried = await collectUseCaseSummary(source, { useCase, ...PERIOD });
      assert.equal(queried.purgedDecisions, 2);
      const exported = pdfTextLines(readFileSync(join(workDir, useCase, SUMMARY_FILE)));
      assert.ok(exported.includes('Reason codes are unavailable for 2 decisions whose records a retention purge replaced.'), exported.join('\n'));
    });

    for (const [name, text] of [
      ['whitespace', '{"id": "X", "outcome": "APPROVE"}'],
      ['duplicate key', '{"id":"X","outcome":"DECLINE","outcome":"APPROVE"}'],
      ['number 1.0', '{"id":"X","outcome":"APPROVE","score":1.0}'],
      ['number 1e2', '{"id":"X","outcome":"APPROVE","n":1e2}'],
      ['escaped é', '{"id":"X","name":"\\u00e9","outcome":"APPROVE"}'],
      ['big number', '{"id":"X","n":1e400,"outcome":"APPROVE"}'],
    ] as const) {
      it(`non-canonical record text digested (${name})`, async () => {
        const useCase = `forged-text-${name.replace(/\W+/g, '-')}`;
        await seed(useCase, { text: (id) => text.replace('"X"', JSON.stringify(id)) });
        assertInvariant(await exportAndVerify(useCase, useCase), name);
      });
    }

    it('payload_json with escaped characters', async () => {
      const useCase = 'payload-escape';
      const id = await seed(useCase, { record: (id) => ({ id, outcome: 'APPROVE', name: 'é' }) });
      const [row] = await source.query('SELECT ledger_seq::int AS seq FROM decisions.decision_records WHERE id = $1', [id]);
      await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
      try {
        await source.query(`UPDATE audit.ledger_entries SET payload_json = replace(payload_json, 'bank', 'b\\u0061nk') WHERE seq = $1`, [row.seq]);
        await source.query(`UPDATE audit.ledger_entries SET payload_json = replace(payload_json, '"decisionId"', '"decision\\u0049d"') WHERE seq = $1`, [row.seq]);
      } finally {
        await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
      }
      // The text is not the canonical form, so the export writes the parsed payload canonically: the hashed bytes.
      const outcome = await exportAndVerify(useCase, useCase);
      assert.equal(outcome.rejected, undefined);
      assert.deepEqual(outcome.library?.problems, []);
      assert.equal(outcome.tool?.ok, true);
    });

    it('payload jsonb edited, text intact', async () => {
      const useCase = 'payload-jsonb-edit';
      const id = await seed(useCase);
      const [row] = await source.query('SELECT ledger_seq::int AS seq FROM decisions.decision_records WHERE id = $1', [id]);
      // The first export runs a full check and records it, so the second one checks only later entries.
      const first = await exportAndVerify(useCase, `${useCase}-first`);
      assertInvariant(first, 'first export');
      assert.equal(first.rejected, undefined, first.rejected);
      // The payload text constraint would reject this edit, so it is dropped first, as someone who
      // can alter the table would drop it, and added again at the end.
      const edit = async (outcome: string): Promise<void> => {
        await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
        try {
          await source.query(`UPDATE audit.ledger_entries SET payload = jsonb_set(payload, '{outcome}', to_jsonb($2::text)) WHERE seq = $1`, [row.seq, outcome]);
        } finally {
          await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
        }
      };
      await source.query(`ALTER TABLE audit.ledger_entries DROP CONSTRAINT ${PAYLOAD_TEXT_CHECK}`);
      await edit('DECLINE');
      try {
        const incremental = await exportAndVerify(useCase, `${useCase}-incremental`, 'incremental');
        assertInvariant(incremental, 'incremental');
        if (incremental.rejected === undefined) {
          const ledgerText = readFileSync(join(workDir, `${useCase}-incremental`, 'ledger.jsonl'), 'utf8');
          assert.ok(ledgerText.includes('"outcome":"APPROVE"'), 'the exported payload is the hashed text');
        }
        const full = await exportAndVerify(useCase, `${useCase}-full`);
        assert.ok(full.rejected !== undefined, 'a full chain check refuses');
      } finally {
        await edit('APPROVE');
        await source.query(
          `ALTER TABLE audit.ledger_entries ADD CONSTRAINT ${PAYLOAD_TEXT_CHECK} CHECK (payload_json IS NULL OR payload_json::jsonb = payload)`,
        );
      }
    });

    it('PDF reason ties, counter and SQL', async () => {
      const useCase = 'odd-reasons';
      const codes = ['\uFF01', '\u{1F600}', 'b'];
      for (const code of codes) {
        await seed(useCase, { outcome: 'DECLINE', record: (id) => ({ id, outcome: 'DECLINE', reasonCodes: [{ code }, { code: 7 }, 'PLAIN', { code: null }] }) });
      }
      const outDir = join(workDir, useCase);
      await exportBundle(source, { useCase, ...PERIOD, outDir, wardenVersion: 'probe' }, evidence);
      const counter = new DecisionFigureCounter();
      for (const line of readFileSync(join(outDir, DECISIONS_FILE), 'utf8').trimEnd().split('\n')) {
        const decision = JSON.parse(line) as { outcome: string; score: number; record: Record<string, unknown> };
        counter.add(decision.outcome, decision.score, decision.record);
      }
      const queried = await collectUseCaseSummary(source, { useCase, ...PERIOD });
      assert.deepEqual(queried.topReasonCodes, counter.figures().topReasonCodes);
    });

    it('forged head with non-canonical payload', async () => {
      const useCase = 'forged-payload-text';
      const id = randomUUID();
      const record = { id, tenant: 'bank-a', useCase, outcome: 'APPROVE', score: 0.1 };
      const recordJson = canonicalJson(record);
      const recordDigest = sha256Hex(recordJson);
      const payloadText = `{"decisionId": "${id}", "outcome": "APPROVE", "recordDigest": "${recordDigest}", "useCase": "${useCase}"}`;
      let forgedSeq = 0;
      await source.transaction(async (manager) => {
        await manager.query('LOCK TABLE audit.ledger_entries IN EXCLUSIVE MODE');
        const [head] = await manager.query('SELECT seq::int AS seq, hash FROM audit.ledger_entries ORDER BY seq DESC LIMIT 1');
        const createdAt = new Date().toISOString();
        const fields = { seq: head.seq + 1, type: 'decision.created', tenant: 'bank-a', actor: 'svc-loans', payload: JSON.parse(payloadText), createdAt };
        forgedSeq = fields.seq;
        const hash = sha256Hex(head.hash + entryHashText(fields, payloadText));
        await manager.query(
          `INSERT INTO audit.ledger_entries (seq, type, tenant, actor, payload, payload_json, created_at, prev_hash, hash)
           VALUES ($1, 'decision.created', 'bank-a', 'svc-loans', $2::jsonb, $2, $3::timestamptz, $4, $5)`,
          [fields.seq, payloadText, createdAt, head.hash, hash],
        );
        await manager.query(
          `INSERT INTO decisions.decision_records
             (id, tenant, use_case, request_id, actor, outcome, score, model_version, record_json, record_digest, ledger_seq, ledger_hash, created_at)
           VALUES ($1, 'bank-a', $2, NULL, 'svc-loans', 'APPROVE', 0.1, 'logreg-1', $3, $4, $5, $6, $7)`,
          [id, useCase, recordJson, recordDigest, fields.seq, hash, CREATED],
        );
      });
      // The forged entry breaks every later chain check, so this probe runs last.
      const outcome = await exportAndVerify(useCase, useCase, 'incremental');
      assert.ok(outcome.rejected !== undefined, 'the export rejects the forged entry');
      // The text gives the entry's hash, so the chain check, which hashes a stored text as it is,
      // passes it. The export writes the canonical form of the parsed payload, and finds it there.
      assert.match(outcome.rejected, new RegExp(`\\b${forgedSeq}\\b`));
    });
  });
}
