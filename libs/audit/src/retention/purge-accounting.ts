import type { DataSource } from 'typeorm';
import { sha256Hex } from '../../../common/src/index.js';
import { findUnaccountedHoldTextPurges } from './hold-text.js';

/**
 * Purged data that no ledger entry accounts for: tombstoned decision records without a matching
 * `retention.purged` entry, or legal holds (use case `legal-hold-text`) whose reasons were
 * cleared without a matching `retention.hold-text-purged` entry.
 */
export interface UnaccountedPurge {
  tenant: string;
  useCase: string;
  /** Null for hold reasons cleared by hand, which carry no purge time. */
  purgedAt: string | null;
  /** Records (or holds) purged in the group. */
  tombstones: number;
  accounted: number;
  /** Ledger seq of the `decision.created` (or `legal-hold.placed`) entry of the group's first record. */
  firstSeq: number;
  /** A sentence naming the group and the first seq. */
  reason: string;
}

/** Returns every unaccounted purge: decision tombstones first, then hold reasons. */
export async function findUnaccountedPurges(dataSource: DataSource): Promise<UnaccountedPurge[]> {
  return [...(await findUnaccountedTombstones(dataSource)), ...(await findUnaccountedHoldTextPurges(dataSource))];
}

/**
 * Checks that every tombstone of a decision record is accounted for by `retention.purged` ledger
 * entries: per tenant, use case and purge time, the tombstones must number exactly what the
 * entries count, and when one entry covers the group, its digest of the sorted ids must match. A
 * record replaced by hand (the trigger allows the tombstone shape outside a legal hold) shows up
 * here. Entries written before they named `purgedAt` are pooled per tenant and use case.
 */
async function findUnaccountedTombstones(dataSource: DataSource): Promise<UnaccountedPurge[]> {
  const tombstones: { tenant: string; use_case: string; purged_at: string; n: number; first_seq: string; ids: string }[] = await dataSource.query(
    `SELECT tenant, use_case, record->>'purgedAt' AS purged_at, count(*)::int AS n, min(ledger_seq)::text AS first_seq,
            string_agg(id::text, E'\\n' ORDER BY id::text COLLATE "C") AS ids
       FROM decisions.decision_records WHERE record ? 'purged'
      GROUP BY 1, 2, 3 ORDER BY min(ledger_seq)`,
  );
  if (tombstones.length === 0) return [];
  const entries: { tenant: string; use_case: string; purged_at: string | null; total: number; entries: number; ids_digest: string }[] = await dataSource.query(
    `SELECT tenant, payload->>'useCase' AS use_case, payload->>'purgedAt' AS purged_at,
            sum((payload->>'count')::int)::int AS total, count(*)::int AS entries, min(payload->>'idsDigest') AS ids_digest
       FROM audit.ledger_entries WHERE type = 'retention.purged'
      GROUP BY 1, 2, 3`,
  );
  const byKey = new Map(entries.filter((entry) => entry.purged_at !== null).map((entry) => [groupKey(entry.tenant, entry.use_case, entry.purged_at as string), entry]));
  const legacy = new Map<string, number>();
  for (const entry of entries.filter((candidate) => candidate.purged_at === null)) {
    legacy.set(groupKey(entry.tenant, entry.use_case), (legacy.get(groupKey(entry.tenant, entry.use_case)) ?? 0) + entry.total);
  }

  const problems: UnaccountedPurge[] = [];
  for (const group of tombstones) {
    const entry = byKey.get(groupKey(group.tenant, group.use_case, group.purged_at));
    let accounted = entry?.total ?? 0;
    if (accounted < group.n) {
      const pool = legacy.get(groupKey(group.tenant, group.use_case)) ?? 0;
      const fromLegacy = Math.min(pool, group.n - accounted);
      legacy.set(groupKey(group.tenant, group.use_case), pool - fromLegacy);
      accounted += fromLegacy;
    }
    const base = { tenant: group.tenant, useCase: group.use_case, purgedAt: group.purged_at, tombstones: group.n, accounted, firstSeq: Number(group.first_seq) };
    const firstRecord = `the first such record's decision entry is seq ${group.first_seq}`;
    if (accounted !== group.n) {
      problems.push({
        ...base,
        reason: `${group.n} record(s) of tenant ${group.tenant}, use case ${group.use_case}, are tombstones purged at ${group.purged_at}, but retention.purged entries account for ${accounted}; ${firstRecord}`,
      });
    } else if (entry?.entries === 1 && entry.total === group.n && entry.ids_digest !== sha256Hex(group.ids)) {
      problems.push({
        ...base,
        reason: `the tombstones of tenant ${group.tenant}, use case ${group.use_case}, purged at ${group.purged_at} are not the records their retention.purged entry names (idsDigest differs); ${firstRecord}`,
      });
    }
  }
  return problems;
}

function groupKey(...parts: string[]): string {
  return JSON.stringify(parts);
}
