import { assertClockMatchesDatabase } from './clock-check.js';
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, canonicalJson, FailedPreconditionError, getLogger, NotFoundError, sha256Hex } from '../../../common/src/index.js';
import { keyedTextDigest, newTextSalt } from '../keyed-text.js';
import type { PostgresLedger } from '../ledger.js';
import { PURGED_TEXT } from './review-text.js';
import { checkHoldReason, HOLD_PLACED, HOLD_RELEASED, HOLD_TEXT_PURGED, holdIdsDigest, LEGAL_HOLD_TEXT, ledgerReasonOf, purgeHoldText, type HoldReasonCheck } from './hold-text.js';
import { countDueRows, deleteDueRows, emptyRowCounts, totalRows, DATASET_TABLES, type DatasetRowCounts } from './dataset-purge.js';
import { purgeCutoff, type DatasetRetentionRule, type LegalHoldTextRule, type OtherDeadLettersRule, type RetentionPolicy, type VaultRetentionRule } from './retention-rules.js';
import { purgeReviewText } from './review-text.js';

export interface LegalHold {
  id: string;
  tenant: string;
  /** Null when the hold covers every use case of the tenant. */
  useCase: string | null;
  /** Reason given when the hold was placed, or `[purged]` once the legalHoldText rule cleared it. */
  reason: string;
  placedBy: string;
  placedAt: Date;
  placedLedgerSeq: number;
  releasedBy: string | null;
  releasedAt: Date | null;
  /** Reason given when the hold was released: null while it is active, `[purged]` once the legalHoldText rule cleared it. */
  releaseReason: string | null;
  /** When the retention purge cleared both reasons, or null. */
  reasonsPurgedAt: Date | null;
}

/** A hold's stored reasons compared with its ledger entries (see `warden hold verify`). */
export interface LegalHoldReasonCheck {
  id: string;
  placed: HoldReasonCheck;
  /** Null while the hold is active. */
  released: HoldReasonCheck | null;
}

export interface PurgeResult {
  useCase: string;
  source: string;
  /** Records created before this instant were due. */
  cutoff: string;
  /** Records past retention and not held, at `cutoff`. */
  due: number;
  /** Records this run purged; 0 for a dry run. */
  purged: number;
  /** Due records kept because a legal hold covers them. */
  held: number;
  /** Ledger entry of the purge; null for a dry run or when nothing was due. */
  ledgerSeq: number | null;
}

/** The purge of one dataset rule: ingested rows and the feature aggregates built from them. */
export interface DatasetPurgeResult {
  dataset: string;
  source: string;
  /** Rows stored before this instant were due. */
  cutoff: string;
  /** Records stored before this instant were due: `cutoff` less the views' maximum window and bucket width. */
  recordCutoff: string;
  /** Feature buckets that start before this instant were due; the same instant as `recordCutoff`. */
  bucketCutoff: string;
  /** Due rows of tenants without a covering legal hold, summed over the tables of `dueRows`. */
  due: number;
  /** Rows this run deleted; 0 for a dry run. */
  purged: number;
  /** Due rows kept because a legal hold covers their tenant's use of the dataset. */
  held: number;
  dueRows: DatasetRowCounts;
  purgedRows: DatasetRowCounts;
  heldRows: DatasetRowCounts;
  /** Tenants whose due rows a legal hold kept. */
  heldTenants: string[];
  /** Last `retention.dataset-purged` entry of this run; null for a dry run or when nothing was due. */
  ledgerSeq: number | null;
}

/** Use cases that depend on a dataset and the feature views built from it. */
export interface DatasetLinks {
  /** Use cases that train on the dataset or read a feature view whose source it is. */
  useCases: string[];
  /**
   * The maximum window in milliseconds of the configured feature views whose source is the
   * dataset, 0 without views. A decision made at the rows' cutoff read buckets this far back, and
   * its replay reads the records of that window.
   */
  maxWindowMs: number;
  /**
   * The widest bucket of the same views in milliseconds, 0 without views. A read cuts its window at
   * the start of the bucket that contains its time, up to one bucket earlier than that time.
   */
  maxBucketMs: number;
}

/** Most records purged in one transaction, so a large backlog never holds locks for long. */
const PURGE_BATCH = 1000;

/**
 * Applies the retention rules of policies/retention.yaml and manages legal holds. A purge replaces
 * each due record with a tombstone and writes one `retention.purged` ledger entry per use case
 * and batch, naming the rule and a digest of the purged ids. Placing and releasing a hold are
 * ledger entries too. They carry a keyed digest of the reason (see keyed-text.ts), and the text
 * itself stays in audit.legal_holds until the legalHoldText rule purges it.
 */
export class RetentionService {
  private readonly log = getLogger('retention');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
    private readonly policy: RetentionPolicy,
    /** Use cases a hold may name: the configured ones. A misspelt name would protect nothing. */
    private readonly knownUseCases: () => string[],
    /** The time purges and holds are stamped with; tests pass a fixed clock. */
    private readonly clock?: () => Date,
    /**
     * Returns the use cases of a dataset and the reach of its feature views. Without it, any
     * active hold of a tenant keeps all of its ingested data, and records and buckets are cut at the
     * rule's cutoff.
     */
    private readonly datasetLinks?: (dataset: string) => DatasetLinks,
  ) {}

  /** Returns the injected clock's time, or the system time, which purge and erasure check against the database's. */
  private now(): Date {
    return this.clock ? this.clock() : new Date();
  }

  async placeHold(input: { tenant: string; useCase: string | null; reason: string; actor: string }): Promise<LegalHold & { recordsCovered: number }> {
    const reason = checkReason(input.reason, 'place');
    if (input.useCase !== null && !this.knownUseCases().includes(input.useCase)) {
      throw new BadUserInputError(`Unknown use case "${input.useCase.slice(0, 64)}".`, [
        { field: 'useCase', message: `must be one of: ${this.knownUseCases().join(', ')}; omit it to hold every use case of the tenant` },
      ]);
    }
    const id = randomUUID();
    const placedAt = this.now();
    const salt = newTextSalt();
    return this.dataSource.transaction(async (manager) => {
      // Serializes with purge batches, so a record is never purged by a batch that selected it
      // before this hold committed.
      await manager.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
      // The reason may name people (a litigant, a suspect), so the ledger gets only its keyed digest.
      const receipt = await this.ledger.append(manager, {
        type: HOLD_PLACED,
        tenant: input.tenant,
        actor: input.actor,
        payload: { holdId: id, useCase: input.useCase, reasonHmac: keyedTextDigest(reason, salt) },
      });
      await manager.query(
        `INSERT INTO audit.legal_holds (id, tenant, use_case, reason, reason_salt, placed_by, placed_at, placed_ledger_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [id, input.tenant, input.useCase, reason, salt, input.actor, placedAt, receipt.seq],
      );
      // A hold on a tenant without records is allowed (records may come later), but reported, as
      // it often means a misspelt tenant.
      const [{ n }]: { n: number }[] = await manager.query(
        `SELECT count(*)::int AS n FROM decisions.decision_records WHERE tenant = $1 AND ($2::text IS NULL OR use_case = $2) AND NOT (record ? 'purged')`,
        [input.tenant, input.useCase],
      );
      this.log.info({ holdId: id, tenant: input.tenant, useCase: input.useCase, ledgerSeq: receipt.seq, recordsCovered: n }, 'legal hold placed');
      return {
        id,
        tenant: input.tenant,
        useCase: input.useCase,
        reason,
        placedBy: input.actor,
        placedAt,
        placedLedgerSeq: receipt.seq,
        releasedBy: null,
        releasedAt: null,
        releaseReason: null,
        reasonsPurgedAt: null,
        recordsCovered: n,
      };
    });
  }

  async releaseHold(input: { id: string; reason: string; actor: string }): Promise<LegalHold> {
    const reason = checkReason(input.reason, 'release');
    return this.dataSource.transaction(async (manager) => {
      const rows: HoldRow[] = await manager.query('SELECT * FROM audit.legal_holds WHERE id::text = $1 FOR UPDATE', [input.id]);
      const row = rows[0];
      if (!row) throw new NotFoundError(`Legal hold ${input.id.slice(0, 64)} was not found. List holds with warden hold list.`);
      if (row.released_at) throw new BadUserInputError(`Legal hold ${row.id} was already released.`, [{ field: 'id', message: 'must name an active hold' }]);
      const salt = newTextSalt();
      const receipt = await this.ledger.append(manager, {
        type: HOLD_RELEASED,
        tenant: row.tenant,
        actor: input.actor,
        payload: { holdId: row.id, useCase: row.use_case, reasonHmac: keyedTextDigest(reason, salt) },
      });
      const releasedAt = this.now();
      await manager.query(
        `UPDATE audit.legal_holds SET released_by = $2, released_at = $3, released_ledger_seq = $4, release_reason = $5, release_reason_salt = $6 WHERE id = $1`,
        [row.id, input.actor, releasedAt, receipt.seq, reason, salt],
      );
      this.log.info({ holdId: row.id, tenant: row.tenant, ledgerSeq: receipt.seq }, 'legal hold released');
      return { ...toHold(row), releasedBy: input.actor, releasedAt, releaseReason: reason };
    });
  }

  async listHolds(includeReleased = false): Promise<LegalHold[]> {
    const rows: HoldRow[] = await this.dataSource.query(
      `SELECT * FROM audit.legal_holds WHERE $1 OR released_at IS NULL ORDER BY placed_at, id`,
      [includeReleased],
    );
    return rows.map(toHold);
  }

  /**
   * Compares a hold's stored reasons with the digests (or, in entries written before digests, the
   * text) of its ledger entries. The output contains each salt while its text is stored, so anyone
   * who keeps the text and the salt can prove the match later without Warden.
   */
  async verifyHold(id: string): Promise<LegalHoldReasonCheck> {
    type EntryColumns = { placed_type: string; placed_tenant: string; placed_payload: Record<string, unknown> };
    type ReleaseColumns = { released_type: string | null; released_tenant: string | null; released_payload: Record<string, unknown> | null };
    const rows: (HoldRow & EntryColumns & ReleaseColumns)[] = await this.dataSource.query(
      `SELECT h.*, p.type AS placed_type, p.tenant AS placed_tenant, p.payload AS placed_payload,
              r.type AS released_type, r.tenant AS released_tenant, r.payload AS released_payload
         FROM audit.legal_holds h
         JOIN audit.ledger_entries p ON p.seq = h.placed_ledger_seq
         LEFT JOIN audit.ledger_entries r ON r.seq = h.released_ledger_seq
        WHERE h.id::text = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError(`Legal hold ${id.slice(0, 64)} was not found. List holds with warden hold list --all.`);
    const changedOutsideWarden = (detail: string): FailedPreconditionError =>
      new FailedPreconditionError(`Legal hold ${row.id} does not match the ledger: ${detail}, so the row was changed outside Warden.`);
    const check = (seq: string, type: string, entryTenant: string, payload: Record<string, unknown>, text: string, salt: Buffer | null): HoldReasonCheck => {
      const recorded = ledgerReasonOf(payload);
      // The entry type matters: a row pointed at the hold's release entry would otherwise show the
      // release reason as the reason the hold was placed for.
      if (entryTenant !== row.tenant || payload.holdId !== row.id || !recorded) {
        throw changedOutsideWarden(`ledger entry ${seq} is not a ${type} entry of this hold with a reason`);
      }
      return checkHoldReason(Number(seq), recorded, text, salt);
    };
    if (row.placed_type !== HOLD_PLACED) throw changedOutsideWarden(`its placement names ledger entry ${row.placed_ledger_seq}, a ${row.placed_type} entry`);
    const purgedText = row.reason === PURGED_TEXT || row.release_reason === PURGED_TEXT;
    if (purgedText && (row.text_purged_at === null || row.released_at === null)) {
      throw changedOutsideWarden(`its reason reads ${PURGED_TEXT}, but no purge of released holds cleared it`);
    }
    const released = row.released_at !== null || row.released_ledger_seq !== null || row.release_reason !== null;
    if (released && (row.released_at === null || row.released_ledger_seq === null || row.released_type !== HOLD_RELEASED)) {
      throw changedOutsideWarden(
        row.released_ledger_seq === null
          ? 'it reads as released but names no legal-hold.released entry'
          : `its release names ledger entry ${row.released_ledger_seq}, a ${row.released_type ?? 'missing'} entry`,
      );
    }
    return {
      id: row.id,
      placed: check(row.placed_ledger_seq, HOLD_PLACED, row.placed_tenant, row.placed_payload, row.reason, row.reason_salt),
      released:
        released && row.released_ledger_seq !== null && row.released_payload && row.released_tenant !== null
          ? check(row.released_ledger_seq, HOLD_RELEASED, row.released_tenant, row.released_payload, row.release_reason ?? '', row.release_reason_salt)
          : null,
    };
  }

  /**
   * Purges every record past its use case's retention period that no active legal hold covers.
   * `asOf` previews the rules at another time and is accepted only with `dryRun`, so a purge can
   * never run ahead of the clock. Safe to run repeatedly and from several processes: a purged
   * record is never selected again, and rows are locked while they are replaced.
   */
  async purge(options: { asOf?: Date; dryRun?: boolean; actor: string }): Promise<(PurgeResult | DatasetPurgeResult)[]> {
    if (options.asOf && !options.dryRun) {
      throw new BadUserInputError('A purge at another time than now can only be previewed.', [
        { field: 'asOf', message: 'use it together with dryRun (--dry-run), or omit it to purge as of now' },
      ]);
    }
    const now = this.now();
    // A preview destroys nothing, and an injected clock is a test's deliberate choice.
    if (!options.dryRun && !this.clock) await assertClockMatchesDatabase(this.dataSource, now);
    const asOf = options.asOf ?? now;
    const results: (PurgeResult | DatasetPurgeResult)[] = [];
    for (const rule of this.policy.rules) {
      const cutoff = purgeCutoff(rule, asOf);
      const [{ due, held }]: { due: number; held: number }[] = await this.dataSource.query(
        `SELECT count(*) FILTER (WHERE NOT ${HELD})::int AS due, count(*) FILTER (WHERE ${HELD})::int AS held
           FROM decisions.decision_records d
          WHERE d.use_case = $1 AND d.created_at < $2 AND NOT (d.record ? 'purged') AND NOT ${AWAITING_NOTICE}`,
        [rule.useCase, cutoff],
      );
      const result: PurgeResult = { useCase: rule.useCase, source: rule.source, cutoff: cutoff.toISOString(), due, purged: 0, held, ledgerSeq: null };
      if (!options.dryRun) {
        for (let remaining = due; remaining > 0; ) {
          const batch = await this.purgeBatch(rule.useCase, rule.source, cutoff, now, options.actor);
          if (batch.count === 0) break;
          result.purged += batch.count;
          result.ledgerSeq = batch.ledgerSeq;
          remaining -= batch.count;
        }
      }
      results.push(result);
      this.log.info({ ...result, dryRun: options.dryRun ?? false }, 'retention rule applied');
    }
    for (const rule of this.policy.datasets ?? []) {
      const result = await this.purgeDataset(rule, asOf, now, options.dryRun ?? false, options.actor);
      results.push(result);
      this.log.info({ ...result, dryRun: options.dryRun ?? false }, 'dataset retention applied');
    }
    if (this.policy.placeholderVault) {
      const result = await this.purgeVault(this.policy.placeholderVault, asOf, options.dryRun ?? false, options.actor);
      results.push(result);
      this.log.info({ ...result, dryRun: options.dryRun ?? false }, 'placeholder vault retention applied');
    }
    if (this.policy.otherDeadLetters) {
      const result = await this.purgeOtherDeadLetters(this.policy.otherDeadLetters, asOf, now, options.dryRun ?? false, options.actor);
      results.push(result);
      this.log.info({ ...result, dryRun: options.dryRun ?? false }, 'dead letter retention applied');
    }
    if (this.policy.legalHoldText) {
      const result = await this.purgeHoldReasons(this.policy.legalHoldText, asOf, now, options.dryRun ?? false, options.actor);
      results.push(result);
      this.log.info({ ...result, dryRun: options.dryRun ?? false }, 'legal hold text retention applied');
    }
    return results;
  }

  /**
   * Clears the place and release reasons of holds released before the legalHoldText rule's
   * cutoff and drops their salts. One `retention.hold-text-purged` entry per tenant and batch
   * counts the holds and digests their sorted ids, and each hold names the entry's seq. Active holds
   * keep their reasons, so they are never due and `held` is always 0.
   */
  private async purgeHoldReasons(rule: LegalHoldTextRule, asOf: Date, now: Date, dryRun: boolean, actor: string): Promise<PurgeResult> {
    const cutoff = purgeCutoff({ useCase: LEGAL_HOLD_TEXT, minimumMonths: rule.purgeAfterMonths, purgeAfterMonths: rule.purgeAfterMonths, source: rule.source }, asOf);
    const [{ due }]: { due: number }[] = await this.dataSource.query(
      'SELECT count(*)::int AS due FROM audit.legal_holds WHERE released_at < $1 AND text_purged_at IS NULL',
      [cutoff],
    );
    const result: PurgeResult = { useCase: LEGAL_HOLD_TEXT, source: rule.source, cutoff: cutoff.toISOString(), due, purged: 0, held: 0, ledgerSeq: null };
    if (dryRun) return result;

    for (;;) {
      const batch = await this.dataSource.transaction(async (manager) => {
        await manager.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
        let lastSeq: number | null = null;
        const groups = await purgeHoldText(manager, cutoff, now, PURGE_BATCH, async (tenants) => {
          const receipts = await this.ledger.appendMany(
            manager,
            tenants.map(({ tenant, holdIds }) => ({
              type: HOLD_TEXT_PURGED,
              tenant,
              actor,
              payload: {
                rule: rule.source,
                cutoff: cutoff.toISOString(),
                purgedAt: now.toISOString(),
                holds: holdIds.length,
                holdIdsDigest: holdIdsDigest(holdIds),
                retentionPolicyHash: this.policy.hash,
              },
            })),
          );
          lastSeq = receipts[receipts.length - 1].seq;
          return receipts.map((receipt) => receipt.seq);
        });
        return { count: groups.reduce((sum, group) => sum + group.holdIds.length, 0), ledgerSeq: lastSeq };
      });
      if (batch.count === 0) break;
      result.purged += batch.count;
      result.ledgerSeq = batch.ledgerSeq;
    }
    return result;
  }

  /**
   * Deletes a dataset's quarantine rows and dead letters stored before the rule's cutoff, and its
   * records and feature aggregates from before the cutoff less the views' maximum window and
   * bucket. Each transaction deletes at most PURGE_BATCH rows per table of one tenant and appends
   * one `retention.dataset-purged` entry with the counts, so every deletion is accounted for in the
   * transaction that makes it. A tenant is skipped while an active legal hold covers every use
   * case of it, or a use case that trains on the dataset or reads features built from it.
   * NOTE: records count from ingested_at, not from the event time that some datasets carry
   * (`events.timeField`). An event ingested late is kept longer than the period counted from when
   * it happened, never shorter, so the purge cannot undercut the legal minimum.
   */
  private async purgeDataset(rule: DatasetRetentionRule, asOf: Date, now: Date, dryRun: boolean, actor: string): Promise<DatasetPurgeResult> {
    const cutoff = purgeCutoff({ useCase: rule.dataset, minimumMonths: rule.minimumMonths, purgeAfterMonths: rule.purgeAfterMonths, source: rule.source }, asOf);
    const links = this.datasetLinks?.(rule.dataset);
    // Online reads use the buckets and replay recomputes the features from the records, so a
    // decision kept after `cutoff` needs both as far back as its oldest window reaches.
    // NOTE: this assumes a decision's feature time (request.asOf) is not earlier than the decision.
    const readCutoff = new Date(cutoff.getTime() - (links?.maxWindowMs ?? 0) - (links?.maxBucketMs ?? 0));
    const cutoffs = { rows: cutoff, records: readCutoff, buckets: readCutoff };
    const dueByTenant = await countDueRows(this.dataSource.manager, rule.dataset, cutoffs);
    const heldTenants = await this.tenantsHoldingDataset(this.dataSource.manager, [...dueByTenant.keys()], links);
    const result: DatasetPurgeResult = {
      dataset: rule.dataset,
      source: rule.source,
      cutoff: cutoff.toISOString(),
      recordCutoff: cutoffs.records.toISOString(),
      bucketCutoff: cutoffs.buckets.toISOString(),
      due: 0,
      purged: 0,
      held: 0,
      dueRows: emptyRowCounts(),
      purgedRows: emptyRowCounts(),
      heldRows: emptyRowCounts(),
      heldTenants: [...heldTenants].sort(),
      ledgerSeq: null,
    };
    for (const [tenant, counts] of dueByTenant) addRows(heldTenants.has(tenant) ? result.heldRows : result.dueRows, counts);
    result.due = totalRows(result.dueRows);
    result.held = totalRows(result.heldRows);
    if (dryRun) return result;

    const tenants = [...dueByTenant.keys()].filter((tenant) => !heldTenants.has(tenant)).sort();
    for (const tenant of tenants) {
      for (;;) {
        const batch = await this.dataSource.transaction(async (manager) => {
          await manager.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
          // Hold placement takes the same lock, so a hold placed since the count is seen here.
          if ((await this.tenantsHoldingDataset(manager, [tenant], links)).size > 0) return null;
          const deleted = await deleteDueRows(manager, tenant, rule.dataset, cutoffs, PURGE_BATCH);
          if (totalRows(deleted) === 0) return null;
          const receipt = await this.ledger.append(manager, {
            type: DATASET_PURGED,
            tenant,
            actor,
            payload: {
              dataset: rule.dataset,
              rule: rule.source,
              cutoff: cutoff.toISOString(),
              recordCutoff: cutoffs.records.toISOString(),
              bucketCutoff: cutoffs.buckets.toISOString(),
              purgedAt: now.toISOString(),
              ...deleted,
              retentionPolicyHash: this.policy.hash,
            },
          });
          return { deleted, ledgerSeq: receipt.seq };
        });
        if (batch === null) break;
        addRows(result.purgedRows, batch.deleted);
        result.ledgerSeq = batch.ledgerSeq;
      }
    }
    result.purged = totalRows(result.purgedRows);
    return result;
  }

  /** Returns the tenants among `tenants` with an active hold on every use case or on a use case of the dataset. */
  private async tenantsHoldingDataset(manager: Pick<EntityManager, 'query'>, tenants: string[], links: DatasetLinks | undefined): Promise<Set<string>> {
    if (tenants.length === 0) return new Set();
    // Without links the use cases of the dataset are unknown, so a hold on any use case counts.
    const rows: { tenant: string }[] = await manager.query(
      `SELECT DISTINCT tenant FROM audit.legal_holds
        WHERE released_at IS NULL AND tenant = ANY($1::text[]) AND (use_case IS NULL OR $2::text[] IS NULL OR use_case = ANY($2::text[]))`,
      [tenants, links ? links.useCases : null],
    );
    return new Set(rows.map((row) => row.tenant));
  }

  /**
   * Deletes placeholder vault entries older than the vault rule. Vault entries name no use case, so
   * only a hold on every use case of their tenant keeps them. One `retention.vault-purged` entry
   * per tenant and batch counts the entries and digests their sorted scopes.
   */
  private async purgeVault(rule: VaultRetentionRule, asOf: Date, dryRun: boolean, actor: string): Promise<PurgeResult> {
    const cutoff = purgeCutoff({ useCase: VAULT_USE_CASE, minimumMonths: rule.purgeAfterMonths, purgeAfterMonths: rule.purgeAfterMonths, source: rule.source }, asOf);
    const [{ due, held }]: { due: number; held: number }[] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE NOT ${TENANT_HELD})::int AS due, count(*) FILTER (WHERE ${TENANT_HELD})::int AS held
         FROM guardrails.vault_entries v WHERE v.created_at < $1`,
      [cutoff],
    );
    const result: PurgeResult = { useCase: VAULT_USE_CASE, source: rule.source, cutoff: cutoff.toISOString(), due, purged: 0, held, ledgerSeq: null };
    if (dryRun) return result;

    await this.deleteInBatches(
      result,
      'retention.vault-purged',
      actor,
      (manager) =>
        manager.query(
          `WITH deleted AS (
             DELETE FROM guardrails.vault_entries WHERE (tenant, scope, placeholder) IN (
               SELECT v.tenant, v.scope, v.placeholder FROM guardrails.vault_entries v
                WHERE v.created_at < $1 AND NOT ${TENANT_HELD} LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)
             RETURNING tenant, scope)
           SELECT tenant, scope AS key FROM deleted`,
          [cutoff],
        ),
      (scopes) => ({
        rule: rule.source,
        cutoff: cutoff.toISOString(),
        entries: scopes.length,
        scopesDigest: sha256Hex([...new Set(scopes)].sort().join('\n')),
        retentionPolicyHash: this.policy.hash,
      }),
    );
    return result;
  }

  /**
   * Deletes rows until none is due, one transaction per batch. Each batch takes the retention lock
   * and runs `deleteBatch`, which returns the tenant and a key of each deleted row. It then appends
   * one entry of `type` per tenant with `payloadFor` that tenant's keys. The counts and the last seq
   * go into `result`.
   */
  private async deleteInBatches(
    result: PurgeResult,
    type: string,
    actor: string,
    deleteBatch: (manager: EntityManager) => Promise<{ tenant: string; key: string }[]>,
    payloadFor: (keys: string[]) => Record<string, unknown>,
  ): Promise<void> {
    for (;;) {
      const batch = await this.dataSource.transaction(async (manager) => {
        await manager.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
        const deleted = await deleteBatch(manager);
        if (deleted.length === 0) return { count: 0, ledgerSeq: null };
        const byTenant = new Map<string, string[]>();
        for (const row of deleted) byTenant.set(row.tenant, [...(byTenant.get(row.tenant) ?? []), row.key]);
        const receipts = await this.ledger.appendMany(
          manager,
          [...byTenant].sort(([left], [right]) => left.localeCompare(right)).map(([tenant, keys]) => ({ type, tenant, actor, payload: payloadFor(keys) })),
        );
        return { count: deleted.length, ledgerSeq: receipts[receipts.length - 1].seq };
      });
      if (batch.count === 0) break;
      result.purged += batch.count;
      result.ledgerSeq = batch.ledgerSeq;
    }
  }

  /**
   * Deletes dead letters stored before the otherDeadLetters rule's cutoff whose subject names no
   * dataset under `datasets` (those go with their dataset's rule). A hold on every use case of the
   * tenant keeps them, and so does a hold on a use case that trains on the dataset their subject
   * names or reads its features. One `retention.dead-letters-purged` entry per tenant and batch
   * counts them and digests their sorted ids.
   */
  private async purgeOtherDeadLetters(rule: OtherDeadLettersRule, asOf: Date, now: Date, dryRun: boolean, actor: string): Promise<PurgeResult> {
    const cutoff = purgeCutoff({ useCase: OTHER_DEAD_LETTERS, minimumMonths: rule.purgeAfterMonths, purgeAfterMonths: rule.purgeAfterMonths, source: rule.source }, asOf);
    const datasets = (this.policy.datasets ?? []).map((datasetRule) => datasetRule.dataset);
    const parameters = async (manager: Pick<EntityManager, 'query'>): Promise<unknown[]> => [cutoff, datasets, ...(await this.deadLetterHoldLinks(manager, cutoff, datasets))];
    const [{ due, held }]: { due: number; held: number }[] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE NOT ${DEAD_LETTER_HELD})::int AS due, count(*) FILTER (WHERE ${DEAD_LETTER_HELD})::int AS held
         FROM streaming.dead_letters l WHERE ${OTHER_DEAD_LETTER_DUE}`,
      await parameters(this.dataSource.manager),
    );
    const result: PurgeResult = { useCase: OTHER_DEAD_LETTERS, source: rule.source, cutoff: cutoff.toISOString(), due, purged: 0, held, ledgerSeq: null };
    if (dryRun) return result;

    await this.deleteInBatches(
      result,
      DEAD_LETTERS_PURGED,
      actor,
      async (manager) =>
        manager.query(
          `WITH deleted AS (
             DELETE FROM streaming.dead_letters WHERE id IN (
               SELECT l.id FROM streaming.dead_letters l
                WHERE ${OTHER_DEAD_LETTER_DUE} AND NOT ${DEAD_LETTER_HELD} LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)
             RETURNING tenant, id)
           SELECT tenant, id::text AS key FROM deleted`,
          await parameters(manager),
        ),
      (ids) => ({
        rule: rule.source,
        cutoff: cutoff.toISOString(),
        purgedAt: now.toISOString(),
        deadLetters: ids.length,
        // Numeric order, so that an auditor holding the ids can rebuild the digest.
        idsDigest: sha256Hex(ids.sort((left, right) => (BigInt(left) < BigInt(right) ? -1 : 1)).join('\n')),
        retentionPolicyHash: this.policy.hash,
      }),
    );
    return result;
  }

  /**
   * Returns the parameters $3 to $5 of DEAD_LETTER_HELD for the dead letters due at `cutoff`. They
   * pair each dataset that their subjects name with each use case linked to it. The last one is
   * true when no links are known, so that a hold on any use case counts.
   */
  private async deadLetterHoldLinks(manager: Pick<EntityManager, 'query'>, cutoff: Date, datasets: string[]): Promise<[string[], string[], boolean]> {
    if (!this.datasetLinks) return [[], [], true];
    const named: { name: string }[] = await manager.query(
      `SELECT DISTINCT substring(l.subject from '[^.]*$') AS name FROM streaming.dead_letters l WHERE ${OTHER_DEAD_LETTER_DUE}`,
      [cutoff, datasets],
    );
    const pairs = named.flatMap(({ name }) => (this.datasetLinks as (dataset: string) => DatasetLinks)(name).useCases.map((useCase) => [name, useCase] as const));
    return [pairs.map(([name]) => name), pairs.map(([, useCase]) => useCase), false];
  }

  private async purgeBatch(useCase: string, source: string, cutoff: Date, now: Date, actor: string): Promise<{ count: number; ledgerSeq: number | null }> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
      const rows: { id: string; tenant: string }[] = await manager.query(
        `SELECT d.id, d.tenant FROM decisions.decision_records d
          WHERE d.use_case = $1 AND d.created_at < $2 AND NOT (d.record ? 'purged') AND NOT ${HELD} AND NOT ${AWAITING_NOTICE}
          ORDER BY d.ledger_seq LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED`,
        [useCase, cutoff],
      );
      if (rows.length === 0) return { count: 0, ledgerSeq: null };

      const ids = rows.map((row) => row.id).sort();
      const tombstone = { purged: true, purgedAt: now.toISOString(), rule: `${useCase}: ${source}` };
      // The record and its text change together; a trigger would clear a stale record_json otherwise.
      await manager.query(`UPDATE decisions.decision_records SET record = $2::text::jsonb, record_json = $2::text WHERE id = ANY($1::uuid[])`, [
        ids,
        canonicalJson(tombstone),
      ]);

      // One entry per tenant names the rule, the count and a digest of the sorted ids, so an
      // auditor holding the ids can prove which records this purge removed.
      const byTenant = new Map<string, string[]>();
      for (const row of rows) byTenant.set(row.tenant, [...(byTenant.get(row.tenant) ?? []), row.id]);
      // A review change appends its entry, then purges its own text if the record is a tombstone.
      // Holding the append lock from here on means such a change either committed before this
      // purge's text replacement, which then covers it, or runs after this purge committed.
      await this.ledger.lockAppends(manager);
      const reviewRows = new Map<string, number>();
      for (const [tenant, tenantIds] of byTenant) reviewRows.set(tenant, await purgeReviewText(manager, tenantIds));
      const receipts = await this.ledger.appendMany(
        manager,
        [...byTenant].sort(([left], [right]) => left.localeCompare(right)).map(([tenant, tenantIds]) => ({
          type: 'retention.purged',
          tenant,
          actor,
          payload: {
            useCase,
            rule: source,
            cutoff: cutoff.toISOString(),
            // Equals the tombstones' purgedAt, so `audit verify` can match each tombstone to its entry.
            purgedAt: tombstone.purgedAt,
            count: tenantIds.length,
            // Review history rows (votes and case events) whose rationale or detail became [purged].
            reviewTextPurged: reviewRows.get(tenant) ?? 0,
            idsDigest: sha256Hex([...tenantIds].sort().join('\n')),
            retentionPolicyHash: this.policy.hash,
          },
        })),
      );
      const receipt = receipts[receipts.length - 1];
      return { count: ids.length, ledgerSeq: receipt.seq };
    });
  }
}

/** Advisory lock key shared by purge batches, hold placement and erasures; any constant other than the ledger's. */
export const RETENTION_LOCK = 7_265_746_101;

/** A record is held while an active hold names its tenant and its use case (or every use case). */
export const HELD = `EXISTS (SELECT 1 FROM audit.legal_holds h
  WHERE h.released_at IS NULL AND h.tenant = d.tenant AND (h.use_case IS NULL OR h.use_case = d.use_case))`;

/**
 * True for a decision `d` whose review case was not decided before the cutoff $2. The applicant
 * learns the action taken only when the reviewer decides, and Regulation B counts its 25 months
 * from that notice (12 CFR 1002.12(b)(1)), so such a record is not yet due, whatever its age.
 */
export const AWAITING_NOTICE = `EXISTS (SELECT 1 FROM review.cases c
  WHERE c.decision_id = d.id AND (c.decided_at IS NULL OR c.decided_at >= $2))`;

/** Ledger entry type of a dataset purge batch: one per tenant and transaction, with the rows deleted per table. */
export const DATASET_PURGED = 'retention.dataset-purged';

function addRows(total: DatasetRowCounts, rows: DatasetRowCounts): void {
  for (const table of DATASET_TABLES) total[table] += rows[table];
}

/** The name purge results and log lines give the placeholder vault's rule. */
export const VAULT_USE_CASE = 'placeholder-vault';

/** The name purge results and log lines give the otherDeadLetters rule. */
export const OTHER_DEAD_LETTERS = 'other-dead-letters';

/** Ledger entry type of a batch of the otherDeadLetters rule: one per tenant and transaction. */
export const DEAD_LETTERS_PURGED = 'retention.dead-letters-purged';

/**
 * True for a dead letter `l` stored before the cutoff $1 whose subject does not end with
 * `.<dataset>` for a dataset of $2: exactly the dead letters that no dataset rule matches.
 */
const OTHER_DEAD_LETTER_DUE = `l.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) AS d(name) WHERE right(l.subject, length(d.name) + 1) = '.' || d.name)`;

/** A vault entry is held while an active hold covers every use case of its tenant. */
const TENANT_HELD = `EXISTS (SELECT 1 FROM audit.legal_holds h WHERE h.released_at IS NULL AND h.tenant = v.tenant AND h.use_case IS NULL)`;

/**
 * True for a dead letter `l` while an active hold covers every use case of its tenant, or a use
 * case linked to the dataset its subject names. $3 and $4 list those datasets and use cases in
 * pairs, and $5 makes a hold on any use case count when no links are known.
 */
const DEAD_LETTER_HELD = `EXISTS (SELECT 1 FROM audit.legal_holds h
  WHERE h.released_at IS NULL AND h.tenant = l.tenant AND (h.use_case IS NULL OR $5::boolean OR h.use_case IN (
    SELECT m.use_case FROM unnest($3::text[], $4::text[]) AS m(dataset, use_case)
     WHERE right(l.subject, length(m.dataset) + 1) = '.' || m.dataset)))`;

interface HoldRow {
  id: string;
  tenant: string;
  use_case: string | null;
  reason: string;
  reason_salt: Buffer | null;
  placed_by: string;
  placed_at: Date;
  placed_ledger_seq: string;
  released_by: string | null;
  released_at: Date | null;
  released_ledger_seq: string | null;
  release_reason: string | null;
  release_reason_salt: Buffer | null;
  text_purged_at: Date | null;
}

function toHold(row: HoldRow): LegalHold {
  return {
    id: row.id,
    tenant: row.tenant,
    useCase: row.use_case,
    reason: row.reason,
    placedBy: row.placed_by,
    placedAt: new Date(row.placed_at),
    placedLedgerSeq: Number(row.placed_ledger_seq),
    releasedBy: row.released_by,
    releasedAt: row.released_at ? new Date(row.released_at) : null,
    releaseReason: row.release_reason,
    reasonsPurgedAt: row.text_purged_at ? new Date(row.text_purged_at) : null,
  };
}

function checkReason(reason: string, action: 'place' | 'release'): string {
  const trimmed = reason.trim();
  if (trimmed.length < 10 || trimmed.length > 2000) {
    const example = action === 'place' ? 'the case or proceeding that requires the hold' : 'why the case or proceeding no longer requires it';
    throw new BadUserInputError('Invalid reason.', [{ field: 'reason', message: `must be 10 to 2,000 characters, such as ${example}` }]);
  }
  return trimmed;
}
