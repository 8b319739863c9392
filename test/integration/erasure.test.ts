import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import type { IsolationLevel } from 'typeorm/driver/types/IsolationLevel.js';
import {
  createExportEvidence,
  ErasureRefusedError,
  ErasureService,
  exportBundle,
  parseRetentionPolicy,
  retentionMinimumEnds,
  RetentionService,
  SubjectKeyStore,
  verifyBundle,
  verifyLedger,
} from '../../libs/audit/src/index.js';
import { ERASED_KEYS_HELD } from '../../libs/audit/src/export-bundle.js';
import { FailedPreconditionError } from '../../libs/common/src/index.js';
import { createRuntime, runDemoSetup, runFraudDemoSetup, type DecisionView, type WardenRuntime } from '../../libs/decisions/src/index.js';
import type { ReviewCaseView } from '../../libs/review/src/index.js';
import type { Principal } from '../../libs/policy/src/index.js';
import { databaseTargets, REPO_ROOT, type TestDatabase } from '../support/databases.js';

const USE_CASE = 'credit-application';
const POLICY = parseRetentionPolicy(`
version: 1
rules:
  credit-application: { minimumMonths: 25, purgeAfterMonths: 26, source: 12 CFR 1002.12(b)(1) }
`);
const PRINCIPAL: Principal = { subject: 'loan-app', tenant: 'bank-a', roles: ['application'] };
/** A subject id and an amount that occur nowhere else, so a plaintext copy anywhere is found. */
const SUBJECT = 'applicant-Zq7-erasure-canary';
const AMOUNT = 654_321;
const APPLICATION = {
  applicantId: SUBJECT,
  checking_status: 'A11', duration_months: 47, credit_history: 'A31', purpose: 'A40', credit_amount: AMOUNT,
  savings_status: 'A61', employment_since: 'A72', installment_rate_pct: 4, other_debtors: 'A101', residence_since: 1,
  property: 'A124', age_years: 77, other_installment_plans: 'A141', housing: 'A151', existing_credits: 2, job: 'A172',
  num_dependents: 1, telephone: 'A191',
};
const VERIFIER = resolve(REPO_ROOT, 'tools', 'warden-verify-bundle.mjs');

function monthsLater(time: Date, months: number): Date {
  const later = new Date(time);
  later.setUTCMonth(later.getUTCMonth() + months);
  return later;
}

/**
 * Has reviewers decide the open review case of a decision, if any, so that an erasure of its
 * subject is not rejected as awaiting a reviewer (a REFER, a large amount or the quality sample).
 */
async function decideOpenCase(runtime: WardenRuntime, tenant: string, decisionId: string): Promise<void> {
  for (const subject of ['case-reviewer-1', 'case-reviewer-2', 'case-reviewer-3']) {
    const [open]: { id: string }[] = await runtime.database.dataSource.query(
      "SELECT id FROM review.cases WHERE decision_id = $1 AND state <> 'DECIDED'",
      [decisionId],
    );
    if (!open) return;
    const reviewer: Principal = { subject, tenant, roles: ['reviewer', 'senior-reviewer'] };
    await runtime.reviews.claim(reviewer, open.id);
    await runtime.reviews.submit(reviewer, { caseId: open.id, action: 'APPROVE', rationale: 'Checked the documents against the application' });
  }
  throw new Error(`the review case of decision ${decisionId} is still open after three reviewers`);
}

/** A subject id and an amount that occur nowhere else, so a plaintext copy anywhere is found. */
interface Canary {
  subject: string;
  amount: number;
}
const CREDIT_CANARY: Canary = { subject: SUBJECT, amount: AMOUNT };

/** Returns `schema.table` for every table whose rows contain a canary value as text. */
async function plaintextCopies(dataSource: DataSource, canary: Canary = CREDIT_CANARY): Promise<string[]> {
  const tables: { schema: string; name: string }[] = await dataSource.query(
    `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
  );
  const hits: string[] = [];
  for (const { schema, name } of tables) {
    const rows: Record<string, unknown>[] = await dataSource.query(`SELECT * FROM "${schema}"."${name}"`);
    const text = rows.map((row) => Object.values(row).map((value) => (Buffer.isBuffer(value) ? value.toString('latin1') : JSON.stringify(value))).join('\u0001')).join('\n');
    hits.push(...canariesIn(text, canary).map((needle) => `${schema}.${name}: ${needle}`));
  }
  return hits;
}

/** Finds the subject id, and the amount where no hex digit touches it (so a hash cannot match by chance). */
function canariesIn(text: string, canary: Canary = CREDIT_CANARY): string[] {
  const found: string[] = [];
  if (text.includes(canary.subject)) found.push(canary.subject);
  if (new RegExp(`(?<![0-9a-fA-F])${canary.amount}(?![0-9a-fA-F])`).test(text)) found.push(String(canary.amount));
  return found;
}

/** Exports the bundle of `useCase` for the days around `day` and checks it with both verifiers. */
async function exportAndVerify(runtime: WardenRuntime, useCase: string, day: Date, outDir: string): Promise<{ id: string; personalData?: string }[]> {
  const from = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()));
  await exportBundle(
    runtime.database.dataSource,
    { useCase, from, to: new Date(from.getTime() + 2 * 86_400_000), outDir, wardenVersion: 'test' },
    createExportEvidence(runtime.checkpoints, runtime.merkle, runtime.checkpointKeys, 'erasure-test'),
  );
  assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
  const tool = await runVerifier(outDir);
  assert.equal(tool.code, 0, tool.stdout);
  return readFileSync(join(outDir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; personalData?: string });
}

/**
 * Returns a view of `source` whose transactions run `beforeKeyRead` once, just before the first
 * query that reads audit.subject_keys. An export given this view fixes its snapshot first, so
 * whatever `beforeKeyRead` commits happens after the snapshot and before the export reads keys.
 */
function beforeFirstKeyRead(source: DataSource, beforeKeyRead: () => Promise<unknown>): DataSource {
  let pending = true;
  const intercept = (manager: EntityManager): EntityManager =>
    new Proxy(manager, {
      get(target, property) {
        if (property === 'query') {
          return async (sql: string, parameters?: unknown[]) => {
            if (pending && sql.includes('FROM audit.subject_keys')) {
              pending = false;
              await beforeKeyRead();
            }
            return target.query(sql, parameters);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return new Proxy(source, {
    get(target, property) {
      if (property === 'transaction') {
        return (isolation: IsolationLevel, work: (manager: EntityManager) => Promise<unknown>) =>
          target.transaction(isolation, (manager) => work(intercept(manager)));
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function runVerifier(dir: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [VERIFIER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout }));
  });
}

for (const target of await databaseTargets()) {
  describe(`data subject erasure on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let runtime: WardenRuntime;
    let workDir: string;
    let erasure: ErasureService;
    let subjectKeys: SubjectKeyStore;
    /** The erasure's clock: tests move it past the retention minimum instead of waiting 25 months. */
    const started = new Date();
    let clock = started;
    let decisionId = '';
    let caseView: ReviewCaseView;
    /** A decision whose subject was erased while its review was open. */
    let erasedWithOpenReview = '';

    before(async () => {
      db = await target.open();
      await db.database.close();
      runtime = await createRuntime(db.config);
      await runDemoSetup(runtime, { tenant: 'bank-a', actor: 'setup' });
      workDir = mkdtempSync(join(tmpdir(), 'warden-erasure-'));
      subjectKeys = await SubjectKeyStore.open(runtime.database.dataSource, db.config.vaultKeyFile ?? join(db.config.dataDir, 'keys', 'vault-master.key'));
      erasure = new ErasureService(runtime.database.dataSource, runtime.ledger, subjectKeys, POLICY, () => clock);
    });
    after(async () => {
      await runtime?.close();
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('stores the applicant inputs encrypted', async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: APPLICATION });
      decisionId = decision.id;
      assert.equal(decision.personalData, 'open');
      assert.equal(decision.lineage.featureValues.credit_amount, AMOUNT);

      const [row]: { record: { lineage: { featureValues: Record<string, unknown>; inputDigest: string }; personal?: { keyId: string } } }[] =
        await runtime.database.dataSource.query('SELECT record FROM decisions.decision_records WHERE id = $1', [decisionId]);
      assert.equal(row.record.lineage.featureValues.credit_amount, 'sealed');
      assert.equal(row.record.lineage.inputDigest, 'sealed');
      assert.equal(typeof row.record.personal?.keyId, 'string');
      assert.deepEqual(await plaintextCopies(runtime.database.dataSource), []);
    });

    it('reads and replays a sealed decision in clear', async () => {
      const read = await runtime.decisions.get(PRINCIPAL, decisionId);
      assert.equal(read.personalData, 'open');
      assert.equal(read.lineage.featureValues.age_years, 77);
      assert.ok(read.attributions.every((attribution) => attribution.value !== 'sealed'));
      const replay = await runtime.decisions.replay(PRINCIPAL, decisionId);
      assert.deepEqual(replay.differences, []);
      assert.equal(replay.identical, true);

      const [opened] = await runtime.reviews.queue({ subject: 'alice', tenant: 'bank-a', roles: ['senior-reviewer'] }, { limit: 100 }).then((cases) => cases.filter((candidate) => candidate.decisionId === decisionId));
      assert.ok(opened, 'an amount above 15,000 opens a review case');
      caseView = opened;
      const shown = await runtime.reviews.caseDecision('bank-a', caseView);
      assert.equal(shown.application.find((field) => field.name === 'credit_amount')?.value, String(AMOUNT));
    });

    it('keeps review rationales out of the ledger', async () => {
      const reviewer: Principal = { subject: 'alice', tenant: 'bank-a', roles: ['senior-reviewer'] };
      const rationale = 'Asked the applicant for payslips of the last three months';
      await runtime.reviews.claim(reviewer, caseView.id);
      await runtime.reviews.submit(reviewer, { caseId: caseView.id, action: 'REQUEST_INFO', rationale });
      const [event]: { rationale: string; text_salt: Buffer; ledger_seq: string }[] = await runtime.database.dataSource.query(
        'SELECT rationale, text_salt, ledger_seq::text AS ledger_seq FROM review.case_events WHERE case_id = $1 AND rationale IS NOT NULL ORDER BY id DESC LIMIT 1',
        [caseView.id],
      );
      const [entry]: { payload: Record<string, unknown> }[] = await runtime.database.dataSource.query('SELECT payload FROM audit.ledger_entries WHERE seq = $1', [event.ledger_seq]);
      assert.equal(event.rationale, rationale);
      assert.equal(entry.payload.rationaleHmac, createHmac('sha256', event.text_salt).update(rationale, 'utf8').digest('hex'));
      assert.equal('rationaleDigest' in entry.payload, false);
    });

    it('rejects erasure while its review is pending', async () => {
      // However old the record, Regulation B's 25 months start only when the reviewer's decision is sent.
      clock = monthsLater(started, 40);
      try {
        await assert.rejects(erasure.erase({ tenant: 'bank-a', subjectId: SUBJECT, reason: 'ticket DSR-1001 from the applicant', actor: 'dpo' }), (error: unknown) => {
          assert.ok(error instanceof ErasureRefusedError);
          assert.deepEqual(
            error.blockers.map((blocker) => blocker.kind),
            ['review-pending'],
          );
          assert.match(error.message, /1 record\(s\) of credit-application await a reviewer's decision/);
          assert.match(error.message, /once the reviews are decided/);
          return true;
        });
      } finally {
        clock = started;
      }
      const [refused]: { payload: { blockedBy: { kind: string }[] } }[] = await runtime.database.dataSource.query(
        "SELECT payload FROM audit.ledger_entries WHERE type = 'erasure.refused' ORDER BY seq DESC LIMIT 1",
      );
      assert.equal(refused.payload.blockedBy[0].kind, 'review-pending');
    });

    it('counts the minimum from the review decision', async () => {
      await decideOpenCase(runtime, 'bank-a', decisionId);
      const [decided]: { decided_at: Date | null; created_at: Date }[] = await runtime.database.dataSource.query(
        'SELECT c.decided_at, d.created_at FROM review.cases c JOIN decisions.decision_records d ON d.id = c.decision_id WHERE c.id = $1',
        [caseView.id],
      );
      assert.ok(decided.decided_at !== null, 'the case is decided');
      const decidedAt = new Date(decided.decided_at);
      assert.ok(decidedAt > new Date(decided.created_at));
      await assert.rejects(erasure.erase({ tenant: 'bank-a', subjectId: SUBJECT, reason: 'ticket DSR-1001 from the applicant', actor: 'dpo' }), (error: unknown) => {
        assert.ok(error instanceof ErasureRefusedError);
        const [blocker] = error.blockers;
        assert.equal(blocker.kind, 'retention');
        assert.equal(blocker.kind === 'retention' && blocker.until, retentionMinimumEnds(POLICY.rules[0], decidedAt).toISOString());
        return true;
      });
    });

    it('rejects erasure inside the retention minimum', async () => {
      await assert.rejects(erasure.erase({ tenant: 'bank-a', subjectId: SUBJECT, reason: 'ticket DSR-1001 from the applicant', actor: 'dpo' }), (error: unknown) => {
        assert.ok(error instanceof ErasureRefusedError);
        assert.match(error.message, /inside the 25-month minimum of 12 CFR 1002\.12\(b\)\(1\) until \d{4}-\d{2}-\d{2}T/);
        assert.equal(error.blockers[0].kind, 'retention');
        return true;
      });
      const [refused]: { payload: Record<string, unknown> }[] = await runtime.database.dataSource.query(
        "SELECT payload FROM audit.ledger_entries WHERE type = 'erasure.refused' ORDER BY seq DESC LIMIT 1",
      );
      assert.equal(refused.payload.subjectRef, subjectKeys.subjectRef('bank-a', SUBJECT));
      assert.equal(JSON.stringify(refused.payload).includes(SUBJECT), false);
      assert.equal(refused.payload.reasonHmac, subjectKeys.erasureReasonHmac('bank-a', 'ticket DSR-1001 from the applicant'));
      assert.equal('reasonDigest' in refused.payload, false, 'a plain SHA-256 of a ticket number can be guessed');
      assert.equal((await runtime.decisions.get(PRINCIPAL, decisionId)).personalData, 'open');
    });

    it('rejects erasure under a legal hold', async () => {
      clock = monthsLater(started, 26);
      const retention = new RetentionService(runtime.database.dataSource, runtime.ledger, POLICY, () => [USE_CASE], () => clock);
      const hold = await retention.placeHold({ tenant: 'bank-a', useCase: USE_CASE, reason: 'CFPB investigation notice 2028-11', actor: 'counsel' });
      const [placed]: { payload: Record<string, unknown> }[] = await runtime.database.dataSource.query('SELECT payload FROM audit.ledger_entries WHERE seq = $1', [hold.placedLedgerSeq]);
      assert.equal(JSON.stringify(placed.payload).includes('CFPB'), false, 'the hold reason stays out of the ledger');
      await assert.rejects(
        erasure.erase({ tenant: 'bank-a', subjectId: SUBJECT, reason: 'ticket DSR-1001 from the applicant', actor: 'dpo' }),
        (error: unknown) => error instanceof ErasureRefusedError && error.message.includes(`legal hold ${hold.id}`) && error.message.includes('until it is released'),
      );
      await retention.releaseHold({ id: hold.id, reason: 'investigation closed without findings', actor: 'counsel' });
    });

    it('rejects an unknown subject without a ledger entry', async () => {
      await assert.rejects(erasure.erase({ tenant: 'bank-a', subjectId: 'nobody-known', reason: 'ticket DSR-1002 from someone', actor: 'dpo' }), /has no records of this data subject/);
      await assert.rejects(erasure.erase({ tenant: 'bank-a', subjectId: '', reason: 'ticket DSR-1003', actor: 'dpo' }), /Invalid subject id/);
    });

    it('erases the subject once nothing forbids it', async () => {
      const result = await erasure.erase({ tenant: 'bank-a', subjectId: SUBJECT, reason: 'ticket DSR-1001 from the applicant', actor: 'dpo' });
      assert.equal(result.keysDestroyed, 1);
      assert.equal(result.records, 1);
      const [entry]: { type: string; payload: Record<string, unknown> }[] = await runtime.database.dataSource.query('SELECT type, payload FROM audit.ledger_entries WHERE seq = $1', [
        result.ledgerSeq,
      ]);
      assert.equal(entry.type, 'erasure.completed');
      assert.equal(JSON.stringify(entry.payload).includes(SUBJECT), false);
      await assert.rejects(erasure.erase({ tenant: 'bank-a', subjectId: SUBJECT, reason: 'ticket DSR-1001 sent twice', actor: 'dpo' }), /already erased at/);
      const details: { detail: string | null }[] = await runtime.database.dataSource.query('SELECT detail FROM review.case_events WHERE case_id = $1', [caseView.id]);
      assert.ok(details.length > 0);
      for (const { detail } of details) assert.ok(detail === null || detail === '[purged]', `case event detail ${detail} was kept`);
      const texts: { rationale: string | null; text_salt: Buffer | null }[] = await runtime.database.dataSource.query(
        'SELECT rationale, text_salt FROM review.case_events WHERE case_id = $1',
        [caseView.id],
      );
      assert.ok(texts.some((text) => text.rationale === '[purged]'));
      for (const text of texts) assert.equal(text.text_salt, null, 'the salt of a purged rationale is dropped with it');
    });

    it('purges review text written after erasure', async () => {
      // Without a retention rule for the use case, a subject can be erased while a review is open,
      // and a reviewer may still write on the case afterwards.
      const subjectId = 'applicant-Zq7-open-review';
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: { ...APPLICATION, applicantId: subjectId } });
      const reviewer: Principal = { subject: 'alice', tenant: 'bank-a', roles: ['senior-reviewer'] };
      const [open] = (await runtime.reviews.queue(reviewer, { limit: 100 })).filter((candidate) => candidate.decisionId === decision.id);
      assert.ok(open, 'an amount above 15,000 opens a review case');
      const withoutRules = new ErasureService(runtime.database.dataSource, runtime.ledger, subjectKeys, parseRetentionPolicy('version: 1\nrules: {}\n'), () => clock);
      await withoutRules.erase({ tenant: 'bank-a', subjectId, reason: 'ticket DSR-1004 from the applicant', actor: 'dpo' });
      erasedWithOpenReview = decision.id;

      const rationale = 'Payslips arrived after the erasure request was handled';
      await runtime.reviews.claim(reviewer, open.id);
      await runtime.reviews.submit(reviewer, { caseId: open.id, action: 'REQUEST_INFO', rationale });

      const [event]: { rationale: string; text_salt: Buffer | null; ledger_seq: string }[] = await runtime.database.dataSource.query(
        'SELECT rationale, text_salt, ledger_seq::text AS ledger_seq FROM review.case_events WHERE case_id = $1 AND rationale IS NOT NULL ORDER BY id DESC LIMIT 1',
        [open.id],
      );
      assert.equal(event.rationale, '[purged]');
      assert.equal(event.text_salt, null);
      const [entry]: { payload: Record<string, unknown> }[] = await runtime.database.dataSource.query('SELECT payload FROM audit.ledger_entries WHERE seq = $1', [event.ledger_seq]);
      assert.match(String(entry.payload.rationaleHmac), /^[0-9a-f]{64}$/, 'the ledger keeps the keyed digest');
      const stored: { rationale: string }[] = await runtime.database.dataSource.query(
        'SELECT rationale FROM review.case_events WHERE case_id = $1 UNION ALL SELECT rationale FROM review.votes WHERE case_id = $1',
        [open.id],
      );
      assert.equal(stored.some((row) => row.rationale === rationale), false, 'the text is stored nowhere');
    });

    it('shows erased fields on every read path', async () => {
      const read = await runtime.decisions.get(PRINCIPAL, decisionId);
      assert.equal(read.personalData, 'erased');
      assert.ok(Object.values(read.lineage.featureValues).every((value) => value === 'erased'));
      assert.ok(read.attributions.every((attribution) => attribution.value === 'erased'));
      assert.equal(read.outcome.length > 0, true);

      const replay = await runtime.decisions.replay(PRINCIPAL, decisionId);
      assert.equal(replay.erased, true);
      assert.equal(replay.identical, false);
      assert.deepEqual(replay.differences.map((difference) => difference.field), ['lineage.featureValues']);

      const shown = await runtime.reviews.caseDecision('bank-a', caseView);
      assert.equal(shown.application.find((field) => field.name === 'credit_amount')?.value, 'erased');
    });

    it('keeps the ledger and both bundle verifiers passing', async () => {
      const stillSealed = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: { ...APPLICATION, applicantId: 'applicant-still-sealed', credit_amount: 4000 } });
      assert.equal((await verifyLedger(runtime.database.dataSource)).ok, true);
      const outDir = join(workDir, 'bundle');
      const lines = await exportAndVerify(runtime, USE_CASE, started, outDir);
      assert.equal(lines.find((line) => line.id === decisionId)?.personalData, 'erased');
      assert.equal(lines.find((line) => line.id === stillSealed.id)?.personalData, 'sealed');
      assert.equal(lines.find((line) => line.id === erasedWithOpenReview)?.personalData, 'erased');
      assert.equal(lines.filter((line) => line.personalData === undefined).length, lines.length - 3);
      for (const name of readdirSync(outDir)) {
        assert.deepEqual(canariesIn(readFileSync(join(outDir, name)).toString('latin1')), [], `${name} holds a plaintext value of the erased subject`);
      }
    });

    /**
     * Exports while a new subject is erased between the export's snapshot and its read of the
     * erased keys, then exports again. Returns the subject's personalData in both bundles.
     */
    async function exportDuringErasure(name: string): Promise<{ during?: string; after?: string }> {
      const subjectId = `applicant-erased-during-${name}`;
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: { ...APPLICATION, applicantId: subjectId, credit_amount: 5000 } });
      await decideOpenCase(runtime, 'bank-a', decision.id);
      const source = beforeFirstKeyRead(runtime.database.dataSource, () =>
        erasure.erase({ tenant: 'bank-a', subjectId, reason: `ticket DSR-3001 sent during the ${name} export`, actor: 'dpo' }),
      );
      const from = new Date(Date.UTC(started.getUTCFullYear(), started.getUTCMonth(), started.getUTCDate()));
      const outDir = join(workDir, `bundle-during-${name}`);
      await exportBundle(
        source,
        { useCase: USE_CASE, from, to: new Date(from.getTime() + 2 * 86_400_000), outDir, wardenVersion: 'test' },
        createExportEvidence(runtime.checkpoints, runtime.merkle, runtime.checkpointKeys, 'erasure-test'),
      );
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      const [key]: { erased: boolean }[] = await runtime.database.dataSource.query(
        "SELECT erased_at IS NOT NULL AS erased FROM audit.subject_keys WHERE tenant = 'bank-a' AND key_id = (SELECT (record->'personal'->>'keyId')::uuid FROM decisions.decision_records WHERE id = $1)",
        [decision.id],
      );
      assert.equal(key?.erased, true, 'the erasure committed while the export ran');
      const during = readFileSync(join(outDir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; personalData?: string });
      const after = await exportAndVerify(runtime, USE_CASE, started, join(workDir, `bundle-after-${name}`));
      return {
        during: during.find((line) => line.id === decision.id)?.personalData,
        after: after.find((line) => line.id === decision.id)?.personalData,
      };
    }

    // PGlite serves one connection, which the export's transaction holds, so no erasure can commit meanwhile.
    it('seals keys erased mid-export', { skip: target.name === 'embedded' ? 'embedded PGlite has one connection' : undefined }, async () => {
      assert.deepEqual(await exportDuringErasure('held-keys'), { during: 'sealed', after: 'erased' });
    });

    it('marks erasures past held keys', async () => {
      const before = await exportAndVerify(runtime, USE_CASE, started, join(workDir, 'bundle-few-keys'));
      // Erased keys of another tenant, one more than the export reads up front, so each batch
      // looks up its own keys.
      await runtime.database.dataSource.query(
        `INSERT INTO audit.subject_keys (key_id, tenant, subject_ref, wrapped_key, created_at, erased_at, erased_ledger_seq)
         SELECT md5('filler-' || i)::uuid, 'filler-bank', encode(sha256(('filler-' || i)::bytea), 'hex'), NULL, now(), now(), 1
           FROM generate_series(1, $1::int) AS i`,
        [ERASED_KEYS_HELD + 1],
      );
      const after = await exportAndVerify(runtime, USE_CASE, started, join(workDir, 'bundle-many-keys'));
      assert.ok(before.some((line) => line.personalData === 'erased') && before.some((line) => line.personalData === 'sealed'));
      assert.deepEqual(
        after.map((line) => [line.id, line.personalData]),
        before.map((line) => [line.id, line.personalData]),
      );
    });

    it('seals mid-export erasures past held keys', { skip: target.name === 'embedded' ? 'embedded PGlite has one connection' : undefined }, async () => {
      // Runs after 'marks erasures past held keys', so each batch looks up its own keys.
      assert.deepEqual(await exportDuringErasure('batch-lookup'), { during: 'sealed', after: 'erased' });
    });

    it('names an edited key id past held keys', async () => {
      // Runs after 'marks erasures past held keys', so each batch looks up its own keys. An edited
      // key id must fail the export at its decision, not at a uuid cast in that lookup.
      const source = runtime.database.dataSource;
      const [row]: { id: string; record_json: string }[] = await source.query(
        "SELECT id, record_json FROM decisions.decision_records WHERE record ? 'personal' AND record_json IS NOT NULL ORDER BY ledger_seq LIMIT 1",
      );
      const edited = JSON.parse(row.record_json) as { personal: { keyId: string } };
      edited.personal.keyId = 'not-a-uuid';
      const from = new Date(Date.UTC(started.getUTCFullYear(), started.getUTCMonth(), started.getUTCDate()));
      const outDir = join(workDir, 'bundle-edited-key-id');
      await source.query('ALTER TABLE decisions.decision_records DISABLE TRIGGER USER');
      try {
        await source.query('UPDATE decisions.decision_records SET record_json = $2::text, record = $2::text::jsonb WHERE id = $1', [row.id, JSON.stringify(edited)]);
        await assert.rejects(
          exportBundle(
            source,
            { useCase: USE_CASE, from, to: new Date(from.getTime() + 2 * 86_400_000), outDir, wardenVersion: 'test' },
            createExportEvidence(runtime.checkpoints, runtime.merkle, runtime.checkpointKeys, 'erasure-test'),
          ),
          (error: Error) => {
            assert.ok(error instanceof FailedPreconditionError, `${error.name}: ${error.message}`);
            assert.match(error.message, new RegExp(`Decision ${row.id} `));
            return true;
          },
        );
      } finally {
        try {
          await source.query('UPDATE decisions.decision_records SET record_json = $2::text, record = $2::text::jsonb WHERE id = $1', [row.id, row.record_json]);
        } finally {
          await source.query('ALTER TABLE decisions.decision_records ENABLE TRIGGER USER');
        }
      }
    });

    it('leaves no plaintext value of the subject in the database', async () => {
      assert.deepEqual(await plaintextCopies(runtime.database.dataSource), []);
    });

    it('gives a returning subject a new key', async () => {
      const again = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: { ...APPLICATION, credit_amount: 5000 } });
      assert.equal((await runtime.decisions.get(PRINCIPAL, again.id)).lineage.featureValues.credit_amount, 5000);
      assert.equal((await runtime.decisions.get(PRINCIPAL, decisionId)).personalData, 'erased');
    });

    it('keeps verification passing after a purge', async () => {
      clock = monthsLater(started, 27);
      const retention = new RetentionService(runtime.database.dataSource, runtime.ledger, POLICY, () => [USE_CASE], () => clock);
      const [result] = await retention.purge({ actor: 'retention-job' });
      assert.ok(result.purged > 0);
      assert.equal((await verifyLedger(runtime.database.dataSource)).ok, true);
    });

    it('flags a tombstone that no purge entry accounts for', async () => {
      const source = runtime.database.dataSource;
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: { ...APPLICATION, applicantId: 'applicant-hand-purged' } });
      await source.query(
        `UPDATE decisions.decision_records SET record = '{"purged": true, "purgedAt": "2030-01-01T00:00:00.000Z", "rule": "by hand"}'::jsonb WHERE id = $1`,
        [decision.id],
      );
      const verification = await verifyLedger(source);
      assert.equal(verification.ok, false);
      assert.equal(verification.problem, 'unaccounted-purge');
      assert.equal(verification.firstBadSeq, decision.ledgerSeq);
      assert.match(verification.reason ?? '', /retention\.purged entries account for 0/);
    });
  });
}

const FRAUD_USE_CASE = 'payment-fraud';
const FRAUD_POLICY = parseRetentionPolicy(`
version: 1
rules:
  payment-fraud: { minimumMonths: 60, purgeAfterMonths: 61, source: 31 CFR 1010.430(d) }
`);
const FRAUD_PRINCIPAL: Principal = { subject: 'payments-app', tenant: 'demo-bank', roles: ['application'] };
/** A payer account id and an amount above the four-eyes threshold that occur nowhere else. */
const PAYER: Canary = { subject: 'C-payer-Zq7-erasure-canary', amount: 6_543_217 };

for (const target of await databaseTargets()) {
  describe(`payment-fraud subject erasure on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let runtime: WardenRuntime;
    let workDir: string;
    let erasure: ErasureService;
    const started = new Date();
    let decision: DecisionView;

    before(async () => {
      db = await target.open();
      await db.database.close();
      runtime = await createRuntime(db.config);
      await runFraudDemoSetup(runtime, { tenant: 'demo-bank', actor: 'setup' });
      workDir = mkdtempSync(join(tmpdir(), 'warden-fraud-erasure-'));
      const subjectKeys = await SubjectKeyStore.open(runtime.database.dataSource, db.config.vaultKeyFile ?? join(db.config.dataDir, 'keys', 'vault-master.key'));
      // Five years after the payment, past the payment-fraud retention minimum.
      erasure = new ErasureService(runtime.database.dataSource, runtime.ledger, subjectKeys, FRAUD_POLICY, () => monthsLater(started, 61));
    });
    after(async () => {
      await runtime?.close();
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('stores the payment and feature reads sealed', async () => {
      const application = {
        event_time: started.toISOString(),
        type: 'TRANSFER',
        amount: PAYER.amount,
        old_balance_orig: PAYER.amount,
        old_balance_dest: 0,
        name_orig: PAYER.subject,
        name_dest: 'C-payee-of-the-canary',
      };
      decision = await runtime.decisions.decide(FRAUD_PRINCIPAL, { useCase: FRAUD_USE_CASE, application });
      assert.equal(decision.personalData, 'open');
      assert.equal(decision.lineage.requestValues?.name_orig, PAYER.subject);

      const [row]: { record: { lineage: DecisionView['lineage']; personal?: { keyId: string } } }[] =
        await runtime.database.dataSource.query('SELECT record FROM decisions.decision_records WHERE id = $1', [decision.id]);
      assert.equal(typeof row.record.personal?.keyId, 'string');
      assert.equal(row.record.lineage.inputDigest, 'sealed');
      assert.ok(Object.values(row.record.lineage.requestValues ?? {}).every((value) => value === 'sealed'));
      assert.ok(Object.values(row.record.lineage.featureValues).every((value) => value === 'sealed'));
      assert.deepEqual(row.record.lineage.featureReads?.map((read) => [read.view, read.entityKey, read.asOf]), [
        ['customer-activity', 'sealed', 'sealed'],
        ['payee-activity', 'sealed', 'sealed'],
      ]);
      assert.deepEqual(await plaintextCopies(runtime.database.dataSource, PAYER), []);
    });

    it('reads and replays the sealed payment', async () => {
      const read = await runtime.decisions.get(FRAUD_PRINCIPAL, decision.id);
      assert.equal(read.personalData, 'open');
      assert.equal(read.lineage.requestValues?.amount, PAYER.amount);
      assert.equal(read.lineage.featureReads?.[0].entityKey, PAYER.subject);
      const replay = await runtime.decisions.replay(undefined, decision.id);
      assert.deepEqual(replay.differences, []);
      assert.equal(replay.identical, true);
    });

    it('erases the payer and replays as erased', async () => {
      // A held payment waits for an analyst, and the retention minimum runs from the analyst's decision.
      await decideOpenCase(runtime, 'demo-bank', decision.id);
      const result = await erasure.erase({ tenant: 'demo-bank', subjectId: PAYER.subject, reason: 'ticket DSR-2001 from the payer', actor: 'dpo' });
      assert.equal(result.records, 1);

      const read = await runtime.decisions.get(FRAUD_PRINCIPAL, decision.id);
      assert.equal(read.personalData, 'erased');
      assert.ok(Object.values(read.lineage.requestValues ?? {}).every((value) => value === 'erased'));
      assert.deepEqual(read.lineage.featureReads?.map((entry) => [entry.view, entry.entityKey, entry.windowEnd]), [
        ['customer-activity', 'erased', 'erased'],
        ['payee-activity', 'erased', 'erased'],
      ]);
      assert.equal(read.outcome, decision.outcome);

      const replay = await runtime.decisions.replay(undefined, decision.id);
      assert.equal(replay.erased, true);
      assert.equal(replay.identical, false);
      assert.deepEqual(replay.differences.map((difference) => difference.field), ['lineage.featureValues']);
    });

    it('exports the payment as erased and keeps the ledger valid', async () => {
      assert.equal((await verifyLedger(runtime.database.dataSource)).ok, true);
      const outDir = join(workDir, 'bundle');
      const lines = await exportAndVerify(runtime, FRAUD_USE_CASE, started, outDir);
      assert.equal(lines.find((line) => line.id === decision.id)?.personalData, 'erased');
      // The demo's payments name other payers, whose keys still exist.
      assert.ok(lines.filter((line) => line.personalData === 'sealed').length > 0);
      for (const name of readdirSync(outDir)) {
        assert.deepEqual(canariesIn(readFileSync(join(outDir, name)).toString('latin1'), PAYER), [], `${name} holds a plaintext value of the erased payer`);
      }
      assert.deepEqual(await plaintextCopies(runtime.database.dataSource, PAYER), []);
    });
  });
}
