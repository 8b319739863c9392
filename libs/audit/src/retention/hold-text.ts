import type { DataSource, EntityManager } from 'typeorm';
import { sha256Hex } from '../../../common/src/index.js';
import { keyedTextDigestMatches } from '../keyed-text.js';
import type { UnaccountedPurge } from './purge-accounting.js';
import { PURGED_TEXT } from './review-text.js';

/** The name purge results and accounting problems give the purge of released holds' reasons. */
export const LEGAL_HOLD_TEXT = 'legal-hold-text';

/** Ledger entry types of placing and releasing a legal hold. */
export const HOLD_PLACED = 'legal-hold.placed';
export const HOLD_RELEASED = 'legal-hold.released';

/** Ledger entry type of a purge of hold reasons: one per tenant and batch. */
export const HOLD_TEXT_PURGED = 'retention.hold-text-purged';

/**
 * The reason as a `legal-hold.placed` or `legal-hold.released` entry records it: `reasonHmac`
 * (HMAC-SHA-256 under the salt kept in audit.legal_holds) in entries written from this version on,
 * or `reason`, the text itself, in older entries, which the ledger can never drop.
 */
export type LedgerReason = { format: 'hmac-sha256'; digest: string } | { format: 'text'; text: string };

/** Reads the reason of a hold entry's payload in either format; undefined when it has neither field. */
export function ledgerReasonOf(payload: Record<string, unknown>): LedgerReason | undefined {
  if (typeof payload.reasonHmac === 'string') return { format: 'hmac-sha256', digest: payload.reasonHmac };
  if (typeof payload.reason === 'string') return { format: 'text', text: payload.reason };
  return undefined;
}

/** Outcome of comparing one stored hold reason with its ledger entry. */
export interface HoldReasonCheck {
  ledgerSeq: number;
  ledgerFormat: LedgerReason['format'];
  /**
   * `matches` or `differs` while the text is stored. `purged` once the purge cleared it: an
   * hmac-sha256 entry can then no longer be tested by anyone, but a `text` entry still contains it.
   */
  status: 'matches' | 'differs' | 'purged';
  /** Hex salt of the digest while the text is stored, so its holder can prove the match outside Warden. */
  salt: string | null;
}

/** Compares a stored reason and its salt with what the hold's ledger entry records. */
export function checkHoldReason(ledgerSeq: number, recorded: LedgerReason, text: string, salt: Uint8Array | null): HoldReasonCheck {
  const base = { ledgerSeq, ledgerFormat: recorded.format };
  if (text === PURGED_TEXT) return { ...base, status: 'purged', salt: null };
  const matches = recorded.format === 'text' ? recorded.text === text : salt !== null && keyedTextDigestMatches(text, salt, recorded.digest);
  return { ...base, status: matches ? 'matches' : 'differs', salt: salt ? Buffer.from(salt).toString('hex') : null };
}

/** Released holds whose reasons a purge cleared, one group per tenant. */
export interface PurgedHoldText {
  tenant: string;
  holdIds: string[];
}

/**
 * Replaces the place and release reasons of up to `limit` holds released before `cutoff` with
 * `[purged]` and drops their salts, so no one can test a guess against the ledger digests any
 * more. Each tenant's rows are stamped with `purgedAt` and the seq of the tenant's ledger entry,
 * which `appendEntries` writes and returns. Rows are locked and skipped when another purge has
 * them, so concurrent purges never clear the same hold twice.
 */
export async function purgeHoldText(
  manager: EntityManager,
  cutoff: Date,
  purgedAt: Date,
  limit: number,
  appendEntries: (groups: PurgedHoldText[]) => Promise<number[]>,
): Promise<PurgedHoldText[]> {
  const rows: { id: string; tenant: string }[] = await manager.query(
    `SELECT id, tenant FROM audit.legal_holds
      WHERE released_at < $1 AND text_purged_at IS NULL
      ORDER BY released_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
    [cutoff],
  );
  if (rows.length === 0) return [];

  const byTenant = new Map<string, string[]>();
  for (const row of rows) byTenant.set(row.tenant, [...(byTenant.get(row.tenant) ?? []), row.id]);
  const groups = [...byTenant]
    .sort(([left], [right]) => left.localeCompare(right))
    .map(([tenant, holdIds]) => ({ tenant, holdIds: [...holdIds].sort() }));
  const seqs = await appendEntries(groups);

  for (const [index, group] of groups.entries()) {
    await manager.query(
      `UPDATE audit.legal_holds
          SET reason = $2, reason_salt = NULL, release_reason = CASE WHEN release_reason IS NULL THEN NULL ELSE $2 END,
              release_reason_salt = NULL, text_purged_at = $3, text_purged_ledger_seq = $4
        WHERE id = ANY($1::uuid[])`,
      [group.holdIds, PURGED_TEXT, purgedAt, seqs[index]],
    );
  }
  return groups;
}

/** SHA-256 of the sorted hold ids, one per line, as `retention.hold-text-purged` entries carry it. */
export function holdIdsDigest(holdIds: readonly string[]): string {
  return sha256Hex([...holdIds].sort().join('\n'));
}

/**
 * Checks that every hold whose reason was destroyed is accounted for. A reason counts as destroyed
 * when it reads `[purged]`, when the row carries purge marks, or when the ledger keeps only its
 * keyed digest and the salt is gone. The row must name a `retention.hold-text-purged` entry of its
 * tenant that counts exactly the holds naming it and carries the digest of their ids. Each of
 * those holds must have been released before the entry's cutoff, and the cutoff must not be later
 * than the entry's purgedAt. A reason cleared by hand in SQL names no such entry.
 * NOTE: the check cannot tell whether the cutoff obeyed the legalHoldText rule, because ledger
 * verification runs without the retention policy. An entry appended by someone with write access
 * can therefore purge the reasons of a hold released the same day.
 */
export async function findUnaccountedHoldTextPurges(dataSource: DataSource): Promise<UnaccountedPurge[]> {
  const groups: {
    tenant: string;
    seq: string | null;
    purged_at: Date | null;
    n: number;
    first_seq: string;
    ids: string;
    unreleased: boolean;
    last_released_at: Date | null;
  }[] = await dataSource.query(
    `SELECT h.tenant, h.text_purged_ledger_seq::text AS seq, min(h.text_purged_at) AS purged_at, count(*)::int AS n,
            min(h.placed_ledger_seq)::text AS first_seq, string_agg(h.id::text, E'\\n' ORDER BY h.id::text COLLATE "C") AS ids,
            bool_or(h.released_at IS NULL) AS unreleased, max(h.released_at) AS last_released_at
       FROM audit.legal_holds h
       LEFT JOIN audit.ledger_entries p ON p.seq = h.placed_ledger_seq
       LEFT JOIN audit.ledger_entries r ON r.seq = h.released_ledger_seq
      WHERE h.text_purged_at IS NOT NULL OR h.text_purged_ledger_seq IS NOT NULL OR h.reason = $1 OR h.release_reason = $1
         OR (p.payload ? 'reasonHmac' AND h.reason_salt IS NULL)
         OR (r.payload ? 'reasonHmac' AND h.release_reason_salt IS NULL)
      GROUP BY h.tenant, h.text_purged_ledger_seq ORDER BY min(h.placed_ledger_seq)`,
    [PURGED_TEXT],
  );
  if (groups.length === 0) return [];
  const entries: { seq: string; tenant: string; holds: number | null; digest: string | null; cutoff: string | null; purged_at: string | null }[] = await dataSource.query(
    `SELECT seq::text AS seq, tenant, (payload->>'holds')::int AS holds, payload->>'holdIdsDigest' AS digest,
            payload->>'cutoff' AS cutoff, payload->>'purgedAt' AS purged_at
       FROM audit.ledger_entries WHERE type = $1`,
    [HOLD_TEXT_PURGED],
  );
  const bySeq = new Map(entries.map((entry) => [entry.seq, entry]));

  const problems: UnaccountedPurge[] = [];
  for (const group of groups) {
    const entry = group.seq === null ? undefined : bySeq.get(group.seq);
    const accounted = entry?.tenant === group.tenant ? (entry.holds ?? 0) : 0;
    const base = {
      tenant: group.tenant,
      useCase: LEGAL_HOLD_TEXT,
      purgedAt: group.purged_at ? new Date(group.purged_at).toISOString() : null,
      tombstones: group.n,
      accounted,
      firstSeq: Number(group.first_seq),
    };
    const firstHold = `the first such hold's legal-hold.placed entry is seq ${group.first_seq}`;
    const cutoff = entry?.cutoff ? new Date(entry.cutoff).getTime() : Number.NaN;
    const entryPurgedAt = entry?.purged_at ? new Date(entry.purged_at).getTime() : Number.NaN;
    if (!entry || entry.tenant !== group.tenant) {
      problems.push({ ...base, reason: `${group.n} legal hold(s) of tenant ${group.tenant} have purged reasons, but no ${HOLD_TEXT_PURGED} entry of that tenant accounts for them; ${firstHold}` });
    } else if (entry.holds !== group.n || entry.digest !== sha256Hex(group.ids)) {
      problems.push({
        ...base,
        reason: `the legal holds of tenant ${group.tenant} with reasons purged by ledger seq ${group.seq} are not the holds that entry names (count or holdIdsDigest differs); ${firstHold}`,
      });
    } else if (
      group.unreleased ||
      Number.isNaN(cutoff) ||
      Number.isNaN(entryPurgedAt) ||
      cutoff > entryPurgedAt ||
      (group.last_released_at !== null && new Date(group.last_released_at).getTime() >= cutoff)
    ) {
      problems.push({
        ...base,
        reason: `ledger seq ${group.seq} purged the reasons of legal holds of tenant ${group.tenant} that were not released before its cutoff, or its cutoff is later than its purgedAt; ${firstHold}`,
      });
    }
  }
  return problems;
}
