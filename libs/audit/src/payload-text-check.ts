/**
 * The CHECK constraint that keeps each ledger entry's payload text equal to its jsonb payload
 * (migration 1796342402500). Chain verification reads the text alone where the constraint is in
 * force, and compares the two columns of each entry where it is not.
 *
 * Trust model: the constraint is in force when it exists on audit.ledger_entries under its name,
 * PostgreSQL has validated it, its definition is exactly the one the migration wrote, and it
 * depends on nothing but columns of that table. The printed definition alone is not enough: it
 * leaves out an operator that is visible on the search_path, so a payload column retyped to a
 * domain with an always-true `=` in `public` prints the same. PostgreSQL 15 and PGlite record no
 * dependency on pinned built-in objects, so any recorded one other than a column is on an object
 * that someone created later (reason 'other-objects'). Someone who can drop it and edit the jsonb
 * can add it again only as NOT VALID (validation would reject the edit) or with another
 * definition, and both make verification compare again. verifyLedger reads the state before and
 * after it reads the chain: a constraint dropped while the chain was read, and not validated again
 * by the end, makes it read the chain again. Someone who can write PostgreSQL's catalogs directly
 * can defeat this check, as they can defeat the comparison it replaces.
 */
import type { EntityManager } from 'typeorm';
import { isStoredTextError } from './chain-range.js';

/** Name of the constraint, as the migration created it. */
export const PAYLOAD_TEXT_CHECK = 'ledger_entries_payload_json_matches';

/** pg_get_constraintdef of the constraint as the migration created it, on PostgreSQL 15 and PGlite. */
export const PAYLOAD_TEXT_CHECK_DEFINITION = 'CHECK (((payload_json IS NULL) OR ((payload_json)::jsonb = payload)))';

/** State of the constraint: in force, or the reason it is not. */
export type PayloadTextCheck = { inForce: true } | { inForce: false; reason: 'missing' | 'not-validated' | 'other-definition' | 'other-objects' };

/** Reads the state of the payload text constraint through a data source or a transaction. */
export async function readPayloadTextCheck(queryable: Pick<EntityManager, 'query'>): Promise<PayloadTextCheck> {
  // Every operator is named with its schema: an `=` on (oid, regclass) in `public` would otherwise
  // be chosen over pg_catalog's and could point this query at another table's constraint.
  const rows: { validated: boolean; definition: string; other_objects: boolean }[] = await queryable.query(
    `SELECT c.convalidated AS validated, pg_catalog.pg_get_constraintdef(c.oid) AS definition,
            EXISTS (SELECT FROM pg_catalog.pg_depend d
                     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
                       AND d.objid OPERATOR(pg_catalog.=) c.oid
                       AND NOT (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                                AND d.refobjid OPERATOR(pg_catalog.=) c.conrelid)) AS other_objects
       FROM pg_catalog.pg_constraint c
      WHERE c.conrelid OPERATOR(pg_catalog.=) 'audit.ledger_entries'::pg_catalog.regclass
        AND c.conname OPERATOR(pg_catalog.=) $1::pg_catalog.name
        AND c.contype OPERATOR(pg_catalog.=) 'c'::pg_catalog."char"`,
    [PAYLOAD_TEXT_CHECK],
  );
  if (rows.length === 0) return { inForce: false, reason: 'missing' };
  const [row] = rows;
  if (!row.validated) return { inForce: false, reason: 'not-validated' };
  if (row.definition !== PAYLOAD_TEXT_CHECK_DEFINITION) return { inForce: false, reason: 'other-definition' };
  if (row.other_objects) return { inForce: false, reason: 'other-objects' };
  return { inForce: true };
}

/** Returns what an operator does about a constraint that is not in force, for logs and CLI output. */
export function payloadTextCheckFix(reason: Exclude<PayloadTextCheck, { inForce: true }>['reason']): string {
  if (reason === 'missing' || reason === 'not-validated') return 'run `warden audit validate-payload-check`';
  return `find out who changed it, drop it (ALTER TABLE audit.ledger_entries DROP CONSTRAINT ${PAYLOAD_TEXT_CHECK}) and run \`warden audit validate-payload-check\``;
}

/** Result of validatePayloadTextCheck: the state before, and the state after with the time it took. */
export interface PayloadTextValidation {
  before: PayloadTextCheck;
  after: PayloadTextCheck;
  /** True when the constraint was missing and this call added it. */
  added: boolean;
  /** Set when validation found an entry whose text differs from its jsonb, is not JSON or is nested too deeply. */
  editedEntries: boolean;
  durationMs: number;
}

/** The constraint as migration 1796342402500 adds it, NOT VALID. */
const ADD_PAYLOAD_TEXT_CHECK = `ALTER TABLE audit.ledger_entries ADD CONSTRAINT ${PAYLOAD_TEXT_CHECK}
  CHECK (payload_json IS NULL OR payload_json::jsonb = payload) NOT VALID`;

/**
 * Adds the payload text constraint where it is missing and validates it. Validation reads every
 * entry under a SHARE UPDATE EXCLUSIVE lock, which lets appends go on. A constraint with another
 * definition or other objects is left as it is (`after` gives the reason), because only an operator can
 * tell whether to drop it. When an entry's text differs from its jsonb, the constraint stays NOT
 * VALID and `editedEntries` is set: the entry was edited behind the ledger's triggers, and
 * `warden audit verify` names it.
 */
export async function validatePayloadTextCheck(dataSource: Pick<EntityManager, 'query'>): Promise<PayloadTextValidation> {
  const started = performance.now();
  const before = await readPayloadTextCheck(dataSource);
  let added = false;
  let editedEntries = false;
  if (!before.inForce && (before.reason === 'missing' || before.reason === 'not-validated')) {
    if (before.reason === 'missing') {
      await dataSource.query(ADD_PAYLOAD_TEXT_CHECK);
      added = true;
    }
    try {
      await dataSource.query(`ALTER TABLE audit.ledger_entries VALIDATE CONSTRAINT ${PAYLOAD_TEXT_CHECK}`);
    } catch (error) {
      // 23514 check_violation is a text that differs from its jsonb. isStoredTextError covers texts PostgreSQL cannot parse.
      const code = (error as { code?: unknown } | null)?.code;
      if (code !== '23514' && !isStoredTextError(error)) throw error;
      editedEntries = true;
    }
  }
  const after = await readPayloadTextCheck(dataSource);
  return { before, after, added, editedEntries, durationMs: Math.round(performance.now() - started) };
}
