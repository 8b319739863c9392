// A reviewer's decision with reason codes, as the first database work of a freshly started Warden.
// The review service checks the codes inside its transaction. Reading them once stored a policy
// snapshot through a second connection, which the embedded database's one-connection pool never
// gave, so the request and every later one waited forever.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntime, type WardenRuntime } from '../../libs/decisions/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { REVIEWED_USE_CASE, REVIEWERS, seedReviewedDecisions, type ReviewedDecisions } from '../support/reviewed-decisions.js';

/** How long the decision may take before the test calls it stuck. */
const STUCK_MS = 30_000;

for (const target of await databaseTargets()) {
  describe(`review after a restart on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let seeded: ReviewedDecisions;
    let restarted: WardenRuntime | undefined;
    let reasonCode: string;

    before(async () => {
      db = await target.open();
      seeded = await seedReviewedDecisions(db);
      reasonCode = (await seeded.runtime.reviews.reasonCodeOptions(REVIEWED_USE_CASE))[0].code;
      await seeded.runtime.close();
      restarted = await createRuntime(db.config);
    });
    after(async () => {
      await restarted?.close();
      await db?.cleanup();
    });

    it('decides a case with reason codes', async () => {
      const runtime = restarted as WardenRuntime;
      await runtime.reviews.claim(REVIEWERS.alice, seeded.released.caseId);
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the review decision did not finish within ${STUCK_MS} ms`)), STUCK_MS);
      });
      try {
        const decided = await Promise.race([
          runtime.reviews.submit(REVIEWERS.alice, {
            caseId: seeded.released.caseId,
            action: 'DECLINE',
            rationale: 'Debt ratio exceeds the policy limit.',
            reasonCodes: [reasonCode],
          }),
          stuck,
        ]);
        assert.equal(decided.state, 'DECIDED');
        assert.equal(decided.finalOutcome, 'DECLINE');
      } finally {
        clearTimeout(timer);
      }
    });
  });
}
