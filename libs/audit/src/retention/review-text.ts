import type { EntityManager } from 'typeorm';

/** Replacement text of a review rationale or detail once its decision no longer carries personal data. */
export const PURGED_TEXT = '[purged]';

/**
 * Replaces the rationales and details of the votes and case events of `decisionIds` with
 * `[purged]` and drops the salts of the rationales' keyed digests: reviewers write free text about
 * the applicant, which must go when the record is purged or its subject erased. The ledger keeps
 * each rationale's digest, which no one can test without the salt, and the trigger on the review
 * history allows this change only for such decisions. Returns the rows changed.
 */
export async function purgeReviewText(manager: EntityManager, decisionIds: readonly string[]): Promise<number> {
  if (decisionIds.length === 0) return 0;
  const cases = 'SELECT id FROM review.cases WHERE decision_id = ANY($1::uuid[])';
  // Each UPDATE is wrapped in a SELECT because TypeORM returns [rows, count] for a bare UPDATE ... RETURNING.
  const votes: unknown[] = await manager.query(
    `WITH changed AS (UPDATE review.votes SET rationale = $2 WHERE case_id IN (${cases}) AND rationale <> $2 RETURNING case_id) SELECT case_id FROM changed`,
    [decisionIds, PURGED_TEXT],
  );
  const events: unknown[] = await manager.query(
    `WITH changed AS (
       UPDATE review.case_events
          SET rationale = CASE WHEN rationale IS NULL THEN NULL ELSE $2 END, detail = CASE WHEN detail IS NULL THEN NULL ELSE $2 END, text_salt = NULL
        WHERE case_id IN (${cases}) AND ((rationale IS NOT NULL AND rationale <> $2) OR (detail IS NOT NULL AND detail <> $2) OR text_salt IS NOT NULL)
        RETURNING case_id)
     SELECT case_id FROM changed`,
    [decisionIds, PURGED_TEXT],
  );
  return votes.length + events.length;
}

/**
 * Returns whether the review text of `decisionId` must be purged: its record is a retention
 * tombstone, or the subject key of its personal fields was destroyed. The same condition lets the
 * review history trigger replace the text.
 */
export async function reviewTextMustBePurged(manager: EntityManager, decisionId: string): Promise<boolean> {
  const [row]: { gone: boolean }[] = await manager.query(
    `SELECT d.record ? 'purged' OR EXISTS (
              SELECT 1 FROM audit.subject_keys k
               WHERE k.key_id::text = d.record->'personal'->>'keyId' AND k.erased_at IS NOT NULL) AS gone
       FROM decisions.decision_records d WHERE d.id = $1`,
    [decisionId],
  );
  return row?.gone === true;
}
