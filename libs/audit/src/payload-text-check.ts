/**
 * The CHECK constraint that keeps each ledger entry's payload text equal to its jsonb payload
 * (migration 1796342402500). Chain verification reads the text alone where the constraint is in
 * force, and compares the two columns of each entry where it is not.
 *
 * Trust model: the constraint is in force when it exists on audit.ledger_entries under its name,
 * PostgreSQL has validated it, and its definition is exactly the one the migration wrote. Someone
 * who can drop it and edit the jsonb can add it again only as NOT VALID (validation would reject
 * the edit) or with another definition, and both make verification compare again. verifyLedger
 * reads the state before and after it reads the chain: a constraint dropped while the chain was
 * read, and not validated again by the end, makes it read the chain again. Someone who can write
 * PostgreSQL's catalogs directly can defeat this check, as they can defeat the comparison it
 * replaces.
 */
import type { EntityManager } from 'typeorm';

/** Name of the constraint, as the migration created it. */
export const PAYLOAD_TEXT_CHECK = 'ledger_entries_payload_json_matches';

/** pg_get_constraintdef of the constraint as the migration created it, on PostgreSQL 15 and PGlite. */
export const PAYLOAD_TEXT_CHECK_DEFINITION = 'CHECK (((payload_json IS NULL) OR ((payload_json)::jsonb = payload)))';

/** State of the constraint: in force, or the reason it is not. */
export type PayloadTextCheck = { inForce: true } | { inForce: false; reason: 'missing' | 'not-validated' | 'other-definition' };

/** Reads the state of the payload text constraint through a data source or a transaction. */
export async function readPayloadTextCheck(queryable: Pick<EntityManager, 'query'>): Promise<PayloadTextCheck> {
  const rows: { validated: boolean; definition: string }[] = await queryable.query(
    `SELECT convalidated AS validated, pg_catalog.pg_get_constraintdef(oid) AS definition
       FROM pg_catalog.pg_constraint
      WHERE conrelid = 'audit.ledger_entries'::regclass AND conname = $1 AND contype = 'c'`,
    [PAYLOAD_TEXT_CHECK],
  );
  if (rows.length === 0) return { inForce: false, reason: 'missing' };
  const [row] = rows;
  if (!row.validated) return { inForce: false, reason: 'not-validated' };
  if (row.definition !== PAYLOAD_TEXT_CHECK_DEFINITION) return { inForce: false, reason: 'other-definition' };
  return { inForce: true };
}
