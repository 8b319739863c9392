import { assertClockMatchesDatabase } from '../retention/clock-check.js';
import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, FailedPreconditionError, getLogger, NotFoundError } from '../../../common/src/index.js';
import type { PostgresLedger } from '../ledger.js';
import { retentionMinimumEnds, type RetentionPolicy } from '../retention/retention-rules.js';
import { RETENTION_LOCK } from '../retention/retention.service.js';
import { purgeReviewText } from '../retention/review-text.js';
import type { SubjectKeyStore } from './subject-keys.js';

/** Something that forbids erasing a subject now, with the time it stops doing so. */
export type ErasureBlocker =
  | { kind: 'legal-hold'; holdId: string; useCase: string | null; placedAt: string; until: 'released' }
  | { kind: 'retention'; useCase: string; rule: string; minimumMonths: number; until: string; records: number }
  | { kind: 'review-pending'; useCase: string; rule: string; records: number; until: 'decided' };

export interface ErasureResult {
  subjectRef: string;
  keysDestroyed: number;
  /** Decision and answer records whose personal fields now read as erased (purged records excluded). */
  records: number;
  ledgerSeq: number;
  erasedAt: string;
}

/** Raised when a legal hold or a retention minimum forbids the erasure; the refusal is a ledger entry. */
export class ErasureRefusedError extends FailedPreconditionError {
  constructor(
    readonly blockers: ErasureBlocker[],
    readonly ledgerSeq: number,
  ) {
    const retry = [
      ...(blockers.some((blocker) => blocker.kind === 'retention') ? ['after the date named'] : []),
      ...(blockers.some((blocker) => blocker.kind === 'review-pending') ? ['once the reviews are decided'] : []),
      ...(blockers.some((blocker) => blocker.kind === 'legal-hold') ? ['once the hold is released'] : []),
    ].join(' and ');
    super(`Erasure rejected (ledger seq ${ledgerSeq}): ${blockers.map(describeBlocker).join('; ')}. Retry the erasure ${retry}.`);
  }
}

/** Maximum length of a subject id, in characters. */
/** Maximum length of a data-subject id, in UTF-16 code units (the unit of JavaScript string lengths). */
export const MAX_SUBJECT_ID_LENGTH = 128;

/**
 * Erases a data subject (GDPR Art. 17) by destroying their subject keys, after checking that no
 * active legal hold and no retention minimum forbids it (GDPR Art. 17(3)(b) and (e) exempt data
 * a law requires the bank to keep, such as Regulation B's 25 months). The records, digests and
 * ledger stay, so every proof still verifies; their personal fields read as `erased` from then
 * on. A completed and a refused erasure are both ledger entries, which carry keyed hashes of the
 * subject id and of the reason, never the id or the reason text. Entries written before the
 * reason was keyed carry `reasonDigest`, its plain SHA-256.
 */
export class ErasureService {
  private readonly log = getLogger('erasure');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
    private readonly keys: SubjectKeyStore,
    private readonly policy: RetentionPolicy,
    /** The time an erasure is checked and stamped with; tests pass a fixed clock. */
    private readonly clock?: () => Date,
  ) {}

  /** Returns the injected clock's time, or the system time, which purge and erasure check against the database's. */
  private now(): Date {
    return this.clock ? this.clock() : new Date();
  }

  async erase(input: { tenant: string; subjectId: string; reason: string; actor: string }): Promise<ErasureResult> {
    const subjectId = checkSubjectId(input.subjectId);
    const reason = input.reason.trim();
    if (reason.length < 10 || reason.length > 2000) {
      throw new BadUserInputError('Invalid reason.', [{ field: 'reason', message: 'must be 10 to 2,000 characters, such as the ticket number of the erasure request' }]);
    }
    const subjectRef = this.keys.subjectRef(input.tenant, subjectId);
    const now = this.now();
    if (!this.clock) await assertClockMatchesDatabase(this.dataSource, now);

    const outcome = await this.dataSource.transaction(async (manager) => {
      // Serializes with purges and hold placement, so a hold placed now is seen by this check.
      await manager.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
      const keys = await this.keys.keysOfSubject(manager, input.tenant, subjectRef);
      const active = keys.filter((key) => key.erasedAt === null).map((key) => key.keyId);
      if (keys.length === 0) {
        throw new NotFoundError(`Tenant ${input.tenant} has no records of this data subject. Check the subject id and --tenant.`);
      }
      if (active.length === 0) {
        const last = keys[keys.length - 1];
        throw new FailedPreconditionError(
          `This data subject was already erased at ${last.erasedAt?.toISOString()} (ledger seq ${last.erasedLedgerSeq}); nothing is left to erase.`,
        );
      }

      const records = await subjectRecords(manager, input.tenant, active);
      const blockers = await this.blockers(manager, input.tenant, records, now);
      const basePayload = { subjectRef, reasonHmac: this.keys.erasureReasonHmac(input.tenant, reason) };
      if (blockers.length > 0) {
        const receipt = await this.ledger.append(manager, {
          type: 'erasure.refused',
          tenant: input.tenant,
          actor: input.actor,
          payload: { ...basePayload, blockedBy: blockers },
        });
        return { refused: true as const, blockers, ledgerSeq: receipt.seq };
      }

      const receipt = await this.ledger.append(manager, {
        type: 'erasure.completed',
        tenant: input.tenant,
        actor: input.actor,
        payload: { ...basePayload, keyIds: active, records: records.length, useCases: [...new Set(records.map((record) => record.useCase))].sort() },
      });
      await this.keys.destroy(manager, active, now, receipt.seq);
      // After the key is gone the trigger allows replacing the reviewers' free text about these decisions.
      await purgeReviewText(manager, records.map((record) => record.id));
      return {
        refused: false as const,
        result: { subjectRef, keysDestroyed: active.length, records: records.length, ledgerSeq: receipt.seq, erasedAt: now.toISOString() },
      };
    });

    if (outcome.refused) {
      this.log.warn({ tenant: input.tenant, subjectRef, ledgerSeq: outcome.ledgerSeq, blockers: outcome.blockers.map((blocker) => blocker.kind) }, 'erasure rejected');
      throw new ErasureRefusedError(outcome.blockers, outcome.ledgerSeq);
    }
    this.log.info({ tenant: input.tenant, subjectRef, ledgerSeq: outcome.result.ledgerSeq, records: outcome.result.records }, 'data subject erased');
    return outcome.result;
  }

  /** Lists the active legal holds and retention minimums that cover any of the subject's records at `now`. */
  private async blockers(manager: EntityManager, tenant: string, records: SubjectRecord[], now: Date): Promise<ErasureBlocker[]> {
    const useCases = [...new Set(records.map((record) => record.useCase))];
    const holds: { id: string; use_case: string | null; placed_at: Date }[] = await manager.query(
      `SELECT id, use_case, placed_at FROM audit.legal_holds
        WHERE released_at IS NULL AND tenant = $1 AND (use_case IS NULL OR use_case = ANY($2::text[]))
        ORDER BY placed_at, id`,
      [tenant, useCases],
    );
    const blockers: ErasureBlocker[] = holds.map((hold) => ({
      kind: 'legal-hold',
      holdId: hold.id,
      useCase: hold.use_case,
      placedAt: new Date(hold.placed_at).toISOString(),
      until: 'released',
    }));

    for (const rule of this.policy.rules) {
      const ruled = records.filter((record) => record.useCase === rule.useCase);
      // The minimum runs from the notice of the action taken: the decision itself, or the reviewer's
      // final outcome for a decision sent to review. A pending review has not notified anyone yet.
      const pending = ruled.filter((record) => record.inReview && record.decidedAt === null);
      if (pending.length > 0) {
        blockers.push({ kind: 'review-pending', useCase: rule.useCase, rule: rule.source, records: pending.length, until: 'decided' });
      }
      const inside = ruled
        .filter((record) => !pending.includes(record))
        .map((record) => retentionMinimumEnds(rule, record.decidedAt ?? record.createdAt))
        .filter((ends) => ends > now);
      if (inside.length === 0) continue;
      const until = new Date(Math.max(...inside.map((ends) => ends.getTime())));
      blockers.push({ kind: 'retention', useCase: rule.useCase, rule: rule.source, minimumMonths: rule.minimumMonths, until: until.toISOString(), records: inside.length });
    }
    return blockers;
  }
}

interface SubjectRecord {
  id: string;
  useCase: string;
  createdAt: Date;
  /** Whether a review case was opened for the decision. */
  inReview: boolean;
  /** When the reviewer decided the case, or null without a decided case. */
  decidedAt: Date | null;
}

/** Reads the subject's records that still carry sealed personal fields (purged tombstones carry none), with their review cases. */
async function subjectRecords(manager: EntityManager, tenant: string, keyIds: string[]): Promise<SubjectRecord[]> {
  const rows: { id: string; use_case: string; created_at: Date; in_review: boolean; decided_at: Date | null }[] = await manager.query(
    `SELECT d.id, d.use_case, d.created_at, c.id IS NOT NULL AS in_review, c.decided_at
       FROM decisions.decision_records d LEFT JOIN review.cases c ON c.decision_id = d.id
      WHERE d.tenant = $1 AND d.record ? 'personal' AND d.record->'personal'->>'keyId' = ANY($2::text[])`,
    [tenant, keyIds],
  );
  return rows.map((row) => ({
    id: row.id,
    useCase: row.use_case,
    createdAt: new Date(row.created_at),
    inReview: row.in_review,
    decidedAt: row.decided_at === null ? null : new Date(row.decided_at),
  }));
}

function describeBlocker(blocker: ErasureBlocker): string {
  if (blocker.kind === 'legal-hold') {
    return `legal hold ${blocker.holdId} (${blocker.useCase ?? 'every use case'}, placed ${blocker.placedAt}) is active until it is released`;
  }
  if (blocker.kind === 'review-pending') {
    return `${blocker.records} record(s) of ${blocker.useCase} await a reviewer's decision, from which the minimum of ${blocker.rule} runs`;
  }
  return `${blocker.records} record(s) of ${blocker.useCase} are inside the ${blocker.minimumMonths}-month minimum of ${blocker.rule} until ${blocker.until}`;
}

/**
 * Tells whether a data-subject id can be stored and later erased: 1 to 128 UTF-16 code units,
 * well-formed Unicode (no lone surrogate, which UTF-8 would turn into U+FFFD and so merge with
 * another id) and no control characters. Decisions and erasure both apply this rule.
 */
export function isValidSubjectId(subjectId: string): boolean {
  return subjectId.length > 0 && subjectId.length <= MAX_SUBJECT_ID_LENGTH && subjectId.isWellFormed() && !/[\u0000-\u001f\u007f]/.test(subjectId);
}

function checkSubjectId(subjectId: string): string {
  if (!isValidSubjectId(subjectId)) {
    throw new BadUserInputError('Invalid subject id.', [
      { field: 'subject', message: `must be 1 to ${MAX_SUBJECT_ID_LENGTH} printable characters, the id the bank application sent (such as applicantId, the payer's account id or the subjectId of ask)` },
    ]);
  }
  return subjectId;
}
