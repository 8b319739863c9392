import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EntityManager } from 'typeorm';
import { join } from 'node:path';
import {
  ErasureService,
  parseRetentionPolicy,
  PostgresLedger,
  RetentionService,
  SubjectKeyStore,
} from '../../libs/audit/src/index.js';
import { createRuntime, runDemoSetup, type WardenRuntime } from '../../libs/decisions/src/index.js';
import type { Principal } from '../../libs/policy/src/index.js';
import type { ReviewCaseView } from '../../libs/review/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

const USE_CASE = 'credit-application';
const POLICY = parseRetentionPolicy(`
version: 1
rules:
  credit-application: { minimumMonths: 25, purgeAfterMonths: 26, source: 12 CFR 1002.12(b)(1) }
`);
const PRINCIPAL: Principal = { subject: 'loan-app', tenant: 'bank-a', roles: ['application'] };
const REVIEWER: Principal = { subject: 'alice', tenant: 'bank-a', roles: ['senior-reviewer'] };
const APPLICATION = {
  applicantId: 'applicant-purge-race',
  checking_status: 'A11', duration_months: 47, credit_history: 'A31', purpose: 'A40', credit_amount: 654_321,
  savings_status: 'A61', employment_since: 'A72', installment_rate_pct: 4, other_debtors: 'A101', residence_since: 1,
  property: 'A124', age_years: 77, other_installment_plans: 'A141', housing: 'A151', existing_credits: 2, job: 'A172',
  num_dependents: 1, telephone: 'A191',
};
const RATIONALE = 'Applicant mentioned a second household income from rental flats';

/**
 * A ledger that stops a purge before it takes the append lock, after it wrote its tombstones,
 * until the test lets it go on.
 */
class PausingLedger extends PostgresLedger {
  reached!: () => void;
  readonly atLock = new Promise<void>((resolve) => (this.reached = resolve));
  release!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  override async lockAppends(manager: EntityManager): Promise<void> {
    this.reached();
    await this.gate;
    return super.lockAppends(manager);
  }
}

function monthsLater(time: Date, months: number): Date {
  const later = new Date(time);
  later.setUTCMonth(later.getUTCMonth() + months);
  return later;
}

const [, server] = await databaseTargets();

// Embedded PGlite has one connection, so its transactions never overlap and this cannot happen there.
describe('review text written during erasure or purge', { skip: server.skipReason }, () => {
  let db: TestDatabase;
  let runtime: WardenRuntime;
  let caseView: ReviewCaseView;
  /** A second applicant's case, which the erasure test erases. */
  let erasedCase: ReviewCaseView;

  before(async () => {
    db = await server.open();
    await db.database.close();
    runtime = await createRuntime(db.config);
    await runDemoSetup(runtime, { tenant: 'bank-a', actor: 'setup' });
    const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: APPLICATION });
    const other = await runtime.decisions.decide(PRINCIPAL, { useCase: USE_CASE, application: { ...APPLICATION, applicantId: 'applicant-erasure-race' } });
    const cases = await runtime.reviews.queue(REVIEWER, { limit: 100 });
    const opened = cases.find((candidate) => candidate.decisionId === decision.id);
    const otherOpened = cases.find((candidate) => candidate.decisionId === other.id);
    assert.ok(opened, 'an amount above 15,000 opens a review case');
    assert.ok(otherOpened, 'the second applicant has a review case too');
    caseView = opened;
    erasedCase = otherOpened;
    await runtime.reviews.claim(REVIEWER, caseView.id);
    await runtime.reviews.claim(REVIEWER, erasedCase.id);
  });
  after(async () => {
    await runtime?.close();
    await db?.cleanup();
  });

  it('erasure racing a review submission', async () => {
    const source = runtime.database.dataSource;
    const keys = await SubjectKeyStore.open(source, db.config.vaultKeyFile ?? join(db.config.dataDir, 'keys', 'vault-master.key'));
    let reached!: () => void;
    const atDestroy = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const destroy = keys.destroy.bind(keys);
    keys.destroy = async (...args: Parameters<SubjectKeyStore['destroy']>) => {
      await destroy(...args);
      reached();
      await gate;
    };
    const clock = monthsLater(new Date(), 26);
    const erasure = new ErasureService(source, runtime.ledger, keys, POLICY, () => clock);

    // The erasure has appended its entry and destroyed the key, and waits with its transaction open.
    const erase = erasure.erase({ tenant: 'bank-a', subjectId: 'applicant-erasure-race', reason: 'ticket DSR-2001 from the applicant', actor: 'dpo' });
    await atDestroy;
    let settled = false;
    const submit = runtime.reviews.submit(REVIEWER, { caseId: erasedCase.id, action: 'REQUEST_INFO', rationale: RATIONALE }).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const settledWhileOpen = settled;
    release();
    await erase;
    await submit;

    assert.equal(settledWhileOpen, false, 'the review waited for the ledger append lock that the erasure holds');
    const stored: { rationale: string }[] = await source.query(
      'SELECT rationale FROM review.case_events WHERE case_id = $1 UNION ALL SELECT rationale FROM review.votes WHERE case_id = $1',
      [erasedCase.id],
    );
    assert.equal(stored.filter((row) => row.rationale === RATIONALE).length, 0, 'the rationale is stored in clear after the erasure');
  });

  it('purge racing a review submission', async () => {
    const ledger = new PausingLedger();
    const clock = monthsLater(new Date(), 27);
    const retention = new RetentionService(runtime.database.dataSource, ledger, POLICY, () => [USE_CASE], () => clock);

    // The purge has written the tombstone, not yet committed, and waits before it takes the append
    // lock and replaces the review text, with its transaction open. The review does not see the
    // tombstone and commits its text; the purge must then replace it.
    const purge = retention.purge({ actor: 'retention-job' });
    await ledger.atLock;

    const submit = runtime.reviews.submit(REVIEWER, { caseId: caseView.id, action: 'REQUEST_INFO', rationale: RATIONALE });
    const submitted = await Promise.race([submit.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000))]);
    ledger.release();
    const [result] = await purge;
    await submit;

    assert.equal(submitted, true, 'the review committed while the purge transaction was open');
    assert.ok(result.purged > 0, 'the purge removed the demo records and this one');
    const [record]: { purged: boolean }[] = await runtime.database.dataSource.query(
      "SELECT record ? 'purged' AS purged FROM decisions.decision_records WHERE id = $1",
      [caseView.decisionId],
    );
    assert.equal(record.purged, true, 'the record is a tombstone, so no later purge selects it again');
    const stored: { rationale: string }[] = await runtime.database.dataSource.query(
      'SELECT rationale FROM review.case_events WHERE case_id = $1 UNION ALL SELECT rationale FROM review.votes WHERE case_id = $1',
      [caseView.id],
    );
    assert.equal(stored.filter((row) => row.rationale === RATIONALE).length, 0, 'the rationale is stored in clear after the purge');
  });
});
