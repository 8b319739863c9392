import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  ErasureService,
  parseRetentionPolicy,
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
    // With a rule for the use case, an open review would reject the erasure. Without one, the
    // subject is erased while the case is worked.
    const erasure = new ErasureService(source, runtime.ledger, keys, parseRetentionPolicy('version: 1\nrules: {}\n'), () => clock);

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

  it('purge leaves a record under review', async () => {
    // A record whose case is open is not due, so a purge never replaces text that a reviewer is writing.
    const clock = monthsLater(new Date(), 27);
    const retention = new RetentionService(runtime.database.dataSource, runtime.ledger, POLICY, () => [USE_CASE], () => clock);
    const [result] = await retention.purge({ actor: 'retention-job' });
    await runtime.reviews.submit(REVIEWER, { caseId: caseView.id, action: 'REQUEST_INFO', rationale: RATIONALE });

    assert.ok(result.purged > 0, 'the purge removed the demo records');
    const [record]: { purged: boolean }[] = await runtime.database.dataSource.query(
      "SELECT record ? 'purged' AS purged FROM decisions.decision_records WHERE id = $1",
      [caseView.decisionId],
    );
    assert.equal(record.purged, false, 'the record under review is kept');
    const stored: { rationale: string }[] = await runtime.database.dataSource.query(
      'SELECT rationale FROM review.case_events WHERE case_id = $1 UNION ALL SELECT rationale FROM review.votes WHERE case_id = $1',
      [caseView.id],
    );
    assert.equal(stored.filter((row) => row.rationale === RATIONALE).length, 1, 'the reviewer keeps the text of an open case');
  });
});
