import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, ConflictError, FailedPreconditionError, ForbiddenError, getLogger, NotFoundError } from '../../common/src/index.js';
import type { PersonalFieldsRecord, PostgresLedger, SubjectKeyStore } from '../../audit/src/index.js';
import { keyedTextDigest, newTextSalt, openPersonalFields, purgeReviewText, reviewTextMustBePurged } from '../../audit/src/index.js';
import { scrubPii } from '../../guardrails/src/index.js';
import type { WardenMetrics } from '../../monitoring/src/index.js';
import type { Principal } from '../../policy/src/index.js';
import {
  checkFreeText,
  isClaimable,
  planSubmission,
  REVIEW_ACTIONS,
  type CaseState,
  type FinalOutcome,
  type ReviewAction,
  type ReviewSubmission,
} from './case-state.js';
import type { DecisionUpdates } from './decision-updates.js';
import { canonicalSubject, type CaseAccessAction, type CaseAttributes, type ReviewAccess } from './review-access.js';
import type { ReviewConfig } from './review-config.js';
import type { ReviewerLabels } from './reviewer-labels.js';
import type { CaseReason } from './routing.js';
import type { WebhookOutbox } from './webhooks.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_QUEUE_LIMIT = 100;
const MAX_QUEUE_LIMIT = 500;
const REVEAL_REASON_MIN = 10;
const REVEAL_REASON_MAX = 1000;
const MASK = '••••';

/** Everything the review service needs to know about a use case. */
export interface ReviewUseCase {
  review: ReviewConfig;
  /** Reason codes a reviewer may cite, with descriptions. */
  reasonCodes(): Promise<{ code: string; description: string }[]>;
  /** The meaning of a coded application value, such as "no checking account" for A14, or null. */
  describeValue(field: string, value: string): string | null;
}

export interface QueueFilter {
  states?: CaseState[] | null;
  useCase?: string | null;
  assignedToMe?: boolean | null;
  limit?: number | null;
}

export interface SubmitReviewInput {
  caseId: string;
  action: ReviewAction;
  rationale: string;
  reasonCodes?: string[] | null;
  outcome?: FinalOutcome | 'REFER' | null;
}

export interface CaseField {
  name: string;
  value: string;
  masked: boolean;
  /** The meaning of a coded value from the dataset definition; null for numbers and masked fields. */
  description: string | null;
}

export interface CaseVote {
  reviewer: string;
  action: ReviewAction;
  outcome: FinalOutcome;
  rationale: string;
  reasonCodes: string[];
  at: Date;
}

export interface CaseEventView {
  at: Date;
  actor: string;
  action: string;
  fromState: CaseState | null;
  toState: CaseState;
  rationale: string | null;
  reasonCodes: string[];
  detail: string | null;
  ledgerSeq: number;
}

/** A review case as reviewers and auditors see it. */
export interface ReviewCaseView {
  id: string;
  decisionId: string;
  useCase: string;
  state: CaseState;
  priority: number;
  reasons: string[];
  fourEyes: boolean;
  requiredRole: string;
  assignee: string | null;
  requestedBy: string;
  slaDeadline: Date;
  createdAt: Date;
  updatedAt: Date;
  finalOutcome: FinalOutcome | null;
  /** The outcome the model gave, which the review never changes. */
  automaticOutcome: 'APPROVE' | 'DECLINE' | 'REFER';
  modelVersion: string;
}

/** The automatic decision behind a case, with masked application fields. */
export interface CaseDecisionView {
  /** DECISION: a model's decision with attributions; ANSWER: a generated answer, with its question and sources as fields. */
  kind: 'DECISION' | 'ANSWER';
  outcome: string;
  score: number;
  modelVersion: string;
  createdAt: Date;
  reasonCodes: { code: string; description: string; contribution: number }[];
  attributions: { feature: string; value: string; contribution: number }[];
  application: CaseField[];
}

/** The review summary of a case that was just opened: nobody has acted on it yet. */
export function openCaseSummary(seed: CaseSeed): DecisionReviewSummary {
  return { caseId: seed.id, state: 'OPEN', reasons: seed.reasons, finalOutcome: null, decidedAt: null, finalLedgerSeq: null, reviewers: [] };
}

/** The review part of a decision, shown next to the untouched automatic outcome. */
export interface DecisionReviewSummary {
  caseId: string;
  state: CaseState;
  reasons: string[];
  finalOutcome: FinalOutcome | null;
  decidedAt: Date | null;
  finalLedgerSeq: number | null;
  reviewers: string[];
}

/** A new case, created in the transaction that writes its decision. */
export interface CaseSeed {
  id: string;
  tenant: string;
  useCase: string;
  decisionId: string;
  requestedBy: string;
  automaticOutcome: string;
  modelVersion: string;
  reasons: CaseReason[];
  details: string[];
  priority: number;
  fourEyes: boolean;
  slaMinutes: number;
  createdAt: string;
}

interface CaseRow {
  id: string;
  tenant: string;
  use_case: string;
  decision_id: string;
  requested_by: string;
  automatic_outcome: 'APPROVE' | 'DECLINE' | 'REFER';
  model_version: string;
  reasons: string[];
  priority: number;
  four_eyes: boolean;
  required_role: string;
  state: CaseState;
  queue_state: CaseState;
  assignee: string | null;
  sla_deadline: Date;
  final_outcome: FinalOutcome | null;
  final_ledger_seq: string | null;
  decided_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface VoteRow {
  round: number;
  reviewer: string;
  action: ReviewAction;
  outcome: FinalOutcome;
  rationale: string;
  reason_codes: string[];
  created_at: Date;
}

const CASE_COLUMNS = `id, tenant, use_case, decision_id, requested_by, automatic_outcome, model_version, reasons, priority,
  four_eyes, required_role, state, queue_state, assignee, sla_deadline, final_outcome, final_ledger_seq::text AS final_ledger_seq,
  decided_at, created_at, updated_at`;

/**
 * Inserts the cases of a batch of decisions, with their `created` events pointing at each
 * decision's ledger entry. Called inside the decision writer's transaction, so a REFER decision
 * and its case commit together or not at all.
 */
export async function insertCases(manager: EntityManager, seeds: { seed: CaseSeed; ledgerSeq: number }[]): Promise<void> {
  if (seeds.length === 0) return;
  const caseValues: string[] = [];
  const caseParameters: unknown[] = [];
  const eventValues: string[] = [];
  const eventParameters: unknown[] = [];
  for (const { seed, ledgerSeq } of seeds) {
    const id = seed.id;
    const deadline = new Date(Date.parse(seed.createdAt) + seed.slaMinutes * 60_000).toISOString();
    const c = caseParameters.length;
    caseValues.push(
      `($${c + 1}, $${c + 2}, $${c + 3}, $${c + 4}, $${c + 5}, $${c + 6}, $${c + 7}, $${c + 8}, $${c + 9}, $${c + 10}, 'reviewer', 'OPEN', 'OPEN', $${c + 11}, $${c + 12}, $${c + 12})`,
    );
    caseParameters.push(id, seed.tenant, seed.useCase, seed.decisionId, seed.requestedBy, seed.automaticOutcome, seed.modelVersion, seed.reasons, seed.priority, seed.fourEyes, deadline, seed.createdAt);
    const e = eventParameters.length;
    eventValues.push(`($${e + 1}, $${e + 2}, 'created', NULL, 'OPEN', $${e + 3}, $${e + 4}, $${e + 5})`);
    eventParameters.push(id, seed.requestedBy, seed.details.length > 0 ? seed.details.join('; ') : seed.reasons.join(', '), ledgerSeq, seed.createdAt);
  }
  await manager.query(
    `INSERT INTO review.cases (id, tenant, use_case, decision_id, requested_by, automatic_outcome, model_version, reasons, priority,
       four_eyes, required_role, state, queue_state, sla_deadline, created_at, updated_at)
     VALUES ${caseValues.join(', ')}`,
    caseParameters,
  );
  await manager.query(
    `INSERT INTO review.case_events (case_id, actor, action, from_state, to_state, detail, ledger_seq, created_at) VALUES ${eventValues.join(', ')}`,
    eventParameters,
  );
}

/**
 * The review queue: people claim cases, vote, escalate and decide. Every change is one
 * transaction that locks the case row, appends a ledger entry and a history event, and updates
 * the case. The automatic decision is never touched: the final outcome is a new ledger entry that
 * points at it.
 */
export class ReviewService {
  private readonly log = getLogger('review');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
    private readonly access: ReviewAccess,
    private readonly useCases: (name: string) => ReviewUseCase | undefined,
    private readonly updates: DecisionUpdates,
    private readonly webhooks: WebhookOutbox,
    private readonly metrics: WardenMetrics,
    /** Pseudonyms that replace reviewer subjects in metrics, because /metrics needs no token. */
    private readonly reviewerLabels: ReviewerLabels,
    /** Opens the encrypted personal fields of decision records; without it sealed fields read as erased. */
    private readonly subjects?: SubjectKeyStore,
  ) {}

  /** Restores a stored record's personal fields, or sets them to `erased` when its data subject was erased. */
  private async openPersonal(record: DecisionRecordLike): Promise<DecisionRecordLike> {
    const sealed = record as unknown as PersonalFieldsRecord;
    if (!sealed.personal) return record;
    const keys = this.subjects ? await this.subjects.keysById(sealed.tenant, [sealed.personal.keyId]) : new Map();
    return openPersonalFields(sealed, keys).record as unknown as DecisionRecordLike;
  }

  async queue(principal: Principal, filter: QueueFilter = {}): Promise<ReviewCaseView[]> {
    const limit = filter.limit ?? DEFAULT_QUEUE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUEUE_LIMIT) {
      throw new BadUserInputError('Invalid queue limit.', [{ field: 'filter.limit', message: `must be a whole number from 1 to ${MAX_QUEUE_LIMIT}` }]);
    }
    const states = filter.states && filter.states.length > 0 ? filter.states : ['OPEN', 'CLAIMED', 'AWAITING_SECOND_REVIEW', 'ESCALATED', 'INFO_REQUESTED'];
    const rows: CaseRow[] = await this.dataSource.query(
      `SELECT ${CASE_COLUMNS} FROM review.cases
        WHERE tenant = $1 AND state = ANY($2::text[]) AND ($3::text IS NULL OR use_case = $3) AND ($4::text IS NULL OR assignee = $4)
        ORDER BY sla_deadline, priority, created_at
        LIMIT $5`,
      [principal.tenant, states, filter.useCase ?? null, filter.assignedToMe ? principal.subject : null, limit],
    );
    return rows.map(toCaseView);
  }

  /** Open cases by use case, state and SLA status, across tenants, for the queue-depth gauge. */
  async queueDepth(): Promise<{ useCase: string; state: string; overdue: boolean; count: number }[]> {
    const rows: { use_case: string; state: string; overdue: boolean; count: string }[] = await this.dataSource.query(
      `SELECT use_case, state, sla_deadline < now() AS overdue, count(*)::text AS count FROM review.cases
        WHERE state <> 'DECIDED' GROUP BY 1, 2, 3`,
    );
    return rows.map((row) => ({ useCase: row.use_case, state: row.state, overdue: row.overdue, count: Number(row.count) }));
  }

  async getCase(principal: Principal, id: string): Promise<ReviewCaseView> {
    return toCaseView(await this.findCase(this.dataSource, principal.tenant, id));
  }

  /** Reads the automatic decision of a case and hides the use case's masked fields. */
  async caseDecision(tenant: string, caseView: ReviewCaseView): Promise<CaseDecisionView> {
    const rows: { record: DecisionRecordLike }[] = await this.dataSource.query(
      'SELECT record FROM decisions.decision_records WHERE id = $1 AND tenant = $2',
      [caseView.decisionId, tenant],
    );
    const stored = rows[0]?.record;
    if (!stored) throw new NotFoundError(`Decision ${caseView.decisionId} of case ${caseView.id} was not found.`);
    const record = await this.openPersonal(stored);
    if ((record as { purged?: boolean }).purged === true) {
      throw new FailedPreconditionError(`The decision of case ${caseView.id} passed its retention period and its record was purged; the case history remains.`);
    }
    const useCase = this.useCases(caseView.useCase);
    const masked = new Set(useCase?.review.maskedFields ?? []);
    return {
      kind: record.kind === 'answer' ? 'ANSWER' : 'DECISION',
      outcome: record.outcome,
      score: record.score,
      modelVersion: record.modelVersion,
      createdAt: new Date(record.createdAt),
      reasonCodes: record.reasonCodes,
      // The attribution of a masked field is left out: its contribution is linear in the value,
      // so showing it would give the value away. Revealing the field shows it in the application.
      // NOTE: a reason code that names a masked feature still shows its contribution.
      attributions: record.attributions.filter((attribution) => !masked.has(attribution.feature)),
      application: Object.entries(record.lineage.featureValues).map(([name, value]) =>
        masked.has(name)
          ? { name, value: MASK, masked: true, description: null }
          : { name, value: String(value), masked: false, description: useCase?.describeValue(name, String(value)) ?? null },
      ),
    };
  }

  async votes(caseId: string): Promise<CaseVote[]> {
    const rows: VoteRow[] = await this.dataSource.query(
      'SELECT round, reviewer, action, outcome, rationale, reason_codes, created_at FROM review.votes WHERE case_id = $1 ORDER BY created_at, round',
      [caseId],
    );
    return rows.map((row) => ({
      reviewer: row.reviewer,
      action: row.action,
      outcome: row.outcome,
      rationale: row.rationale,
      reasonCodes: row.reason_codes,
      at: new Date(row.created_at),
    }));
  }

  async history(caseId: string): Promise<CaseEventView[]> {
    const rows: {
      actor: string;
      action: string;
      from_state: CaseState | null;
      to_state: CaseState;
      rationale: string | null;
      reason_codes: string[];
      detail: string | null;
      ledger_seq: string;
      created_at: Date;
    }[] = await this.dataSource.query(
      `SELECT actor, action, from_state, to_state, rationale, reason_codes, detail, ledger_seq::text AS ledger_seq, created_at
         FROM review.case_events WHERE case_id = $1 ORDER BY id`,
      [caseId],
    );
    return rows.map((row) => ({
      at: new Date(row.created_at),
      actor: row.actor,
      action: row.action,
      fromState: row.from_state,
      toState: row.to_state,
      rationale: row.rationale,
      reasonCodes: row.reason_codes,
      detail: row.detail,
      ledgerSeq: Number(row.ledger_seq),
    }));
  }

  /**
   * Lists every reviewer who voted on a case of the tenant with their label in the review metrics,
   * so that an operator can find the person behind a label of /metrics.
   */
  async reviewerLabelsOf(tenant: string): Promise<{ reviewer: string; label: string }[]> {
    const rows: { reviewer: string }[] = await this.dataSource.query(
      `SELECT DISTINCT v.reviewer FROM review.votes v JOIN review.cases c ON c.id = v.case_id WHERE c.tenant = $1 ORDER BY v.reviewer`,
      [tenant],
    );
    return rows.map((row) => ({ reviewer: row.reviewer, label: this.reviewerLabels.label(tenant, row.reviewer) }));
  }

  async reasonCodeOptions(useCase: string): Promise<{ code: string; description: string }[]> {
    const found = this.useCases(useCase);
    if (!found) throw new NotFoundError(`Unknown use case "${useCase.slice(0, 64)}".`);
    return found.reasonCodes();
  }

  /** Returns the review of a decision, or null when no case was opened for it. */
  async summaryForDecision(tenant: string | undefined, decisionId: string): Promise<DecisionReviewSummary | null> {
    const rows: CaseRow[] = await this.dataSource.query(
      `SELECT ${CASE_COLUMNS} FROM review.cases WHERE decision_id = $1 AND ($2::text IS NULL OR tenant = $2)`,
      [decisionId, tenant ?? null],
    );
    const row = rows[0];
    if (!row) return null;
    const reviewers: { reviewer: string }[] = await this.dataSource.query(
      'SELECT DISTINCT reviewer FROM review.votes WHERE case_id = $1 ORDER BY reviewer',
      [row.id],
    );
    return {
      caseId: row.id,
      state: row.state,
      reasons: row.reasons,
      finalOutcome: row.final_outcome,
      decidedAt: row.decided_at ? new Date(row.decided_at) : null,
      finalLedgerSeq: row.final_ledger_seq === null ? null : Number(row.final_ledger_seq),
      reviewers: reviewers.map((reviewer) => reviewer.reviewer),
    };
  }

  // NOTE: a claim does not expire. A senior reviewer can release a claim held by someone who is away.
  async claim(principal: Principal, id: string): Promise<ReviewCaseView> {
    return this.change(principal, id, 'claim', async (row) => {
      if (row.state === 'CLAIMED') {
        throw new ConflictError(
          row.assignee === principal.subject ? 'You have already claimed this case.' : `Case ${row.id} is claimed by another reviewer; pick another case.`,
        );
      }
      if (!isClaimable(row.state)) throw new ConflictError(`A case in state ${row.state} cannot be claimed.`);
      return { action: 'claimed', toState: 'CLAIMED', queueState: row.state, assignee: principal.subject };
    });
  }

  async release(principal: Principal, id: string): Promise<ReviewCaseView> {
    return this.change(principal, id, 'release', async (row) => {
      if (row.state !== 'CLAIMED') throw new ConflictError('Only a claimed case can be released.');
      return { action: 'released', toState: row.queue_state, queueState: row.queue_state, assignee: null };
    });
  }

  async submit(principal: Principal, input: SubmitReviewInput): Promise<ReviewCaseView> {
    if (!REVIEW_ACTIONS.includes(input.action)) {
      throw new BadUserInputError('Unknown review action.', [{ field: 'action', message: `must be one of ${REVIEW_ACTIONS.join(', ')}` }]);
    }
    const reasonCodes = [...new Set(input.reasonCodes ?? [])];
    let decidedOutcome: FinalOutcome | null = null;
    const view = await this.change(principal, input.caseId, 'submit', async (row, manager) => {
      const useCase = this.useCases(row.use_case);
      if (!useCase) throw new NotFoundError(`Use case ${row.use_case} is no longer configured.`);
      await checkReasonCodes(useCase, reasonCodes);
      if (input.outcome === 'REFER') {
        throw new BadUserInputError('A reviewer decides; REFER is not a final outcome.', [{ field: 'outcome', message: 'must be APPROVE or DECLINE' }]);
      }
      const round = await currentRound(manager, row.id);
      const votes = round.votes;
      const submission: ReviewSubmission = { action: input.action, rationale: input.rationale, reasonCodes, outcome: input.outcome ?? null };
      const plan = planSubmission(
        {
          state: row.state,
          queueState: row.queue_state,
          assignee: row.assignee,
          automaticOutcome: row.automatic_outcome,
          fourEyes: row.four_eyes,
          requiredRole: row.required_role,
          votes,
        },
        principal.subject,
        submission,
        useCase.review.escalationRole,
      );
      // Rationales are free text: personal data typed into one (an IBAN, a phone number) is masked
      // before it is stored. The ledger gets a keyed digest of the stored text, whose salt the case
      // event keeps until the retention purge or an erasure clears both.
      const rationale = scrubPii(input.rationale.trim());
      const textSalt = newTextSalt();
      const votesAfter = plan.vote ? [...votes.map((vote) => vote.reviewer), principal.subject] : votes.map((vote) => vote.reviewer);
      const ledgerType = plan.finalOutcome ? 'review.decided' : `review.${plan.eventAction}`;
      const payload: Record<string, unknown> = {
        caseId: row.id,
        decisionId: row.decision_id,
        action: input.action,
        fromState: row.state,
        toState: plan.toState,
        reasonCodes,
        rationaleHmac: keyedTextDigest(rationale, textSalt),
      };
      if (plan.vote) payload.vote = plan.vote.outcome;
      // A four-eyes decision states the reasons of both agreeing votes, as an adverse-action
      // notice must name every principal reason.
      const finalReasonCodes = plan.finalOutcome ? await roundReasonCodes(manager, row.id, round.number, reasonCodes) : reasonCodes;
      if (plan.finalOutcome) {
        const decision = await decisionReceipt(manager, row.decision_id);
        Object.assign(payload, {
          reasonCodes: finalReasonCodes,
          automaticOutcome: row.automatic_outcome,
          finalOutcome: plan.finalOutcome,
          reviewers: votesAfter,
          decisionLedgerSeq: decision.ledgerSeq,
          decisionRecordDigest: decision.recordDigest,
        });
      }
      if (plan.disagreement) payload.disagreement = true;
      const receipt = await this.ledger.append(manager, { type: ledgerType, tenant: row.tenant, actor: principal.subject, payload });

      if (plan.vote) {
        await manager.query(
          `INSERT INTO review.votes (case_id, round, reviewer, action, outcome, rationale, reason_codes, ledger_seq, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())`,
          [row.id, round.number, principal.subject, input.action, plan.vote.outcome, rationale, reasonCodes, receipt.seq],
        );
      }
      if (plan.finalOutcome) {
        decidedOutcome = plan.finalOutcome;
        await this.webhooks.enqueue(manager, row.tenant, 'decision.reviewed', {
          decisionId: row.decision_id,
          caseId: row.id,
          useCase: row.use_case,
          automaticOutcome: row.automatic_outcome,
          finalOutcome: plan.finalOutcome,
          reasonCodes: finalReasonCodes,
          ledgerSeq: receipt.seq,
        });
      } else if (plan.toState === 'INFO_REQUESTED') {
        await this.webhooks.enqueue(manager, row.tenant, 'review.info_requested', {
          decisionId: row.decision_id,
          caseId: row.id,
          useCase: row.use_case,
          ledgerSeq: receipt.seq,
        });
      }
      return {
        action: plan.eventAction,
        toState: plan.toState,
        queueState: plan.toState,
        assignee: null,
        requiredRole: plan.requiredRole,
        rationale,
        textSalt,
        reasonCodes,
        finalOutcome: plan.finalOutcome ?? null,
        receipt,
      };
    });
    if (decidedOutcome) this.recordDecisionMetrics(view, decidedOutcome, this.reviewerLabels.label(principal.tenant, principal.subject));
    return view;
  }

  /** Returns a masked application field in clear and records who saw it and why. */
  async reveal(principal: Principal, input: { caseId: string; field: string; reason: string }): Promise<CaseField> {
    checkFreeText(input.reason, 'reason', REVEAL_REASON_MIN, REVEAL_REASON_MAX, 'Revealing personal data needs a reason.');
    const reason = scrubPii(input.reason.trim());
    let revealed: CaseField | undefined;
    await this.change(principal, input.caseId, 'reveal', async (row, manager) => {
      const masked = this.useCases(row.use_case)?.review.maskedFields ?? [];
      if (!masked.includes(input.field)) {
        throw new BadUserInputError(`Field "${input.field.slice(0, 64)}" is not masked in this case.`, [
          { field: 'field', message: `must be one of the masked fields: ${masked.join(', ') || 'none'}` },
        ]);
      }
      const [decision] = (await manager.query('SELECT record FROM decisions.decision_records WHERE id = $1', [row.decision_id])) as {
        record: DecisionRecordLike;
      }[];
      const value = (await this.openPersonal(decision.record)).lineage.featureValues[input.field];
      const text = value === undefined ? '' : String(value);
      revealed = { name: input.field, value: text, masked: false, description: this.useCases(row.use_case)?.describeValue(input.field, text) ?? null };
      const textSalt = newTextSalt();
      const receipt = await this.ledger.append(manager, {
        type: 'review.field_revealed',
        tenant: row.tenant,
        actor: principal.subject,
        payload: { caseId: row.id, decisionId: row.decision_id, field: input.field, reasonHmac: keyedTextDigest(reason, textSalt) },
      });
      return { action: 'field_revealed', toState: row.state, queueState: row.queue_state, assignee: row.assignee, rationale: reason, textSalt, detail: input.field, receipt };
    });
    return revealed!;
  }

  /**
   * Runs one change of a case: locks the row, checks the attribute rules for `accessAction` and
   * lets `plan` compute the change, which may write votes, ledger entries or outbox rows. Then it
   * writes the case and its history event, and publishes the update after the commit.
   */
  private async change(
    principal: Principal,
    id: string,
    accessAction: CaseAccessAction,
    plan: (row: CaseRow, manager: EntityManager) => Promise<PlannedChange>,
  ): Promise<ReviewCaseView> {
    let denied: { caseId: string; decisionId: string } | undefined;
    const transaction = this.dataSource.transaction(async (manager) => {
      const row = await this.findCase(manager, principal.tenant, id, true);
      const attributes: CaseAttributes = {
        requiredRole: row.required_role,
        requester: canonicalSubject(row.requested_by),
        assignee: row.assignee ? canonicalSubject(row.assignee) : '',
        claimed: row.assignee !== null,
      };
      const participants = await caseParticipants(manager, row.id);
      const participated = participants.has(canonicalSubject(principal.subject));
      if (!this.access.isAllowed(principal, accessAction, attributes, participated)) {
        denied = { caseId: row.id, decisionId: row.decision_id };
        throw new ForbiddenError(forbiddenMessage(accessAction, principal, row, attributes, participated));
      }

      const change = await plan(row, manager);
      const receipt =
        change.receipt ??
        (await this.ledger.append(manager, {
          type: `review.${change.action}`,
          tenant: row.tenant,
          actor: principal.subject,
          payload: { caseId: row.id, decisionId: row.decision_id, fromState: row.state, toState: change.toState },
        }));
      // TypeORM returns [rows, affected count] for an UPDATE ... RETURNING on PostgreSQL. decided_at
      // is the createdAt of the final ledger entry, so review times can be proven from the ledger.
      const [rows]: [CaseRow[], number] = await manager.query(
        `UPDATE review.cases SET state = $2, queue_state = $3, assignee = $4, required_role = $5,
            final_outcome = $6, final_ledger_seq = CASE WHEN $6::text IS NULL THEN NULL ELSE $7::bigint END,
            decided_at = CASE WHEN $6::text IS NULL THEN NULL ELSE $8::timestamptz END,
            version = version + 1, updated_at = now()
          WHERE id = $1
          RETURNING ${CASE_COLUMNS}`,
        [row.id, change.toState, change.queueState, change.assignee, change.requiredRole ?? row.required_role, change.finalOutcome ?? null, receipt.seq, receipt.createdAt],
      );
      await manager.query(
        `INSERT INTO review.case_events (case_id, actor, action, from_state, to_state, rationale, text_salt, reason_codes, detail, ledger_seq, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())`,
        [row.id, principal.subject, change.action, row.state, change.toState, change.rationale ?? null, change.textSalt ?? null, change.reasonCodes ?? [], change.detail ?? null, receipt.seq],
      );
      // A case can still be worked after its decision's record was purged or its subject erased.
      // The free text written now is replaced at once, as the purge or erasure replaced the earlier
      // text, and the ledger keeps its keyed digest. This transaction holds the ledger's append lock
      // from its entry on, and a purge or erasure takes it before replacing text, so whichever of
      // the two commits second reads the other's rows.
      if ((change.rationale ?? change.detail ?? null) !== null && (await reviewTextMustBePurged(manager, row.decision_id))) {
        await purgeReviewText(manager, [row.decision_id]);
      }
      return rows[0];
    });
    let updated: CaseRow;
    try {
      updated = await transaction;
    } catch (error) {
      if (denied) await this.recordDenial(principal, accessAction, denied);
      throw error;
    }

    const view = toCaseView(updated);
    this.updates.publish({
      tenant: updated.tenant,
      decisionId: updated.decision_id,
      caseId: updated.id,
      state: updated.state,
      reviewStatus: updated.state === 'DECIDED' ? 'COMPLETED' : 'PENDING',
      finalOutcome: updated.final_outcome,
    });
    this.log.info({ caseId: view.id, decisionId: view.decisionId, state: view.state, action: accessAction }, 'review case changed');
    return view;
  }

  /**
   * Writes an attribute-rule denial to the ledger as `access.denied`, like the gateway does for
   * role denials. The denied transaction has rolled back, so the entry gets its own.
   */
  private async recordDenial(principal: Principal, action: CaseAccessAction, target: { caseId: string; decisionId: string }): Promise<void> {
    try {
      await this.ledger.appendStandalone(this.dataSource, {
        type: 'access.denied',
        tenant: principal.tenant,
        actor: principal.subject,
        payload: { operation: `review.${action}`, resource: 'review-case', action, roles: principal.roles, caseId: target.caseId, decisionId: target.decisionId },
      });
    } catch (error) {
      // The request is still denied when the denial cannot be recorded.
      this.log.error({ err: error, caseId: target.caseId, action }, 'review access denial could not be written to the ledger');
    }
  }

  /** `reviewer` is the reviewer's label from ReviewerLabels, never the subject itself. */
  private recordDecisionMetrics(view: ReviewCaseView, finalOutcome: FinalOutcome, reviewer: string): void {
    const seconds = (Date.now() - view.createdAt.getTime()) / 1000;
    this.metrics.reviewTimeToDecision.record(seconds, { use_case: view.useCase });
    if (Date.now() > view.slaDeadline.getTime()) this.metrics.reviewSlaBreaches.add(1, { use_case: view.useCase });
    // Agreement with a definite automatic outcome, watched per reviewer and model version: a rate
    // that keeps rising can mean reviewers accept the model without checking (automation bias).
    const automatic = view.automaticOutcome;
    let result = 'overridden';
    if (automatic === 'REFER') result = 'referred';
    else if (automatic === finalOutcome) result = 'agreed';
    this.metrics.reviewOutcomes.add(1, { use_case: view.useCase, reviewer, model_version: view.modelVersion, result });
  }

  private async findCase(queryable: Pick<EntityManager, 'query'>, tenant: string, id: string, lock = false): Promise<CaseRow> {
    if (!UUID_PATTERN.test(id)) {
      throw new BadUserInputError(`Invalid case id "${id.slice(0, 64)}".`, [{ field: 'id', message: 'must be a UUID as listed by reviewQueue' }]);
    }
    const rows: CaseRow[] = await queryable.query(
      `SELECT ${CASE_COLUMNS} FROM review.cases WHERE id = $1 AND tenant = $2${lock ? ' FOR UPDATE' : ''}`,
      [id, tenant],
    );
    // Another tenant's case is reported exactly like a missing one.
    if (rows.length === 0) throw new NotFoundError(`Review case ${id} was not found.`);
    return rows[0];
  }
}

interface PlannedChange {
  action: string;
  toState: CaseState;
  queueState: CaseState;
  assignee: string | null;
  requiredRole?: string;
  rationale?: string;
  /** Salt of the keyed digest of `rationale` in the change's ledger entry. */
  textSalt?: Buffer;
  reasonCodes?: string[];
  detail?: string;
  finalOutcome?: FinalOutcome | null;
  /** The ledger receipt when `plan` appended its own entry. */
  receipt?: { seq: number; createdAt: string };
}

/** The fields of a stored decision record that review reads. */
interface DecisionRecordLike {
  /** Set to `answer` on the records of governed answers; absent on decisions. */
  kind?: string;
  outcome: string;
  score: number;
  modelVersion: string;
  createdAt: string;
  reasonCodes: { code: string; description: string; contribution: number }[];
  attributions: { feature: string; value: string; contribution: number }[];
  lineage: { featureValues: Record<string, string | number> };
}

/** Returns the reason codes of the votes already cast in a round, with `own` added, without repeats. */
async function roundReasonCodes(manager: Pick<EntityManager, 'query'>, caseId: string, round: number, own: string[]): Promise<string[]> {
  const rows: { reason_codes: string[] }[] = await manager.query('SELECT reason_codes FROM review.votes WHERE case_id = $1 AND round = $2 ORDER BY created_at', [
    caseId,
    round,
  ]);
  return [...new Set([...rows.flatMap((row) => row.reason_codes), ...own])];
}

/** Returns everyone who voted on a case or escalated it, in canonical form: none of them may decide it later. */
async function caseParticipants(manager: Pick<EntityManager, 'query'>, caseId: string): Promise<Set<string>> {
  const rows: { subject: string }[] = await manager.query(
    `SELECT reviewer AS subject FROM review.votes WHERE case_id = $1
     UNION SELECT actor FROM review.case_events WHERE case_id = $1 AND action = 'escalated'`,
    [caseId],
  );
  return new Set(rows.map((row) => canonicalSubject(row.subject)));
}

/** Reads the votes of the current round. A disagreement escalates the case and starts a new round. */
async function currentRound(manager: Pick<EntityManager, 'query'>, caseId: string): Promise<{ number: number; votes: { reviewer: string; outcome: FinalOutcome }[] }> {
  const rows: VoteRow[] = await manager.query(
    'SELECT round, reviewer, outcome FROM review.votes WHERE case_id = $1 ORDER BY round DESC, created_at',
    [caseId],
  );
  if (rows.length === 0) return { number: 1, votes: [] };
  const latest = rows[0].round;
  const votes = rows.filter((row) => row.round === latest);
  // Two votes close a round (they agreed, or they disagreed and escalated).
  if (votes.length >= 2) return { number: latest + 1, votes: [] };
  return { number: latest, votes: votes.map((vote) => ({ reviewer: vote.reviewer, outcome: vote.outcome })) };
}

async function decisionReceipt(manager: EntityManager, decisionId: string): Promise<{ ledgerSeq: number; recordDigest: string }> {
  const [row] = (await manager.query('SELECT ledger_seq::text AS ledger_seq, record_digest FROM decisions.decision_records WHERE id = $1', [
    decisionId,
  ])) as { ledger_seq: string; record_digest: string }[];
  return { ledgerSeq: Number(row.ledger_seq), recordDigest: row.record_digest };
}

async function checkReasonCodes(useCase: ReviewUseCase, reasonCodes: string[]): Promise<void> {
  if (reasonCodes.length === 0) return;
  const known = new Set((await useCase.reasonCodes()).map((option) => option.code));
  const unknown = reasonCodes.filter((code) => !known.has(code));
  if (unknown.length > 0) {
    throw new BadUserInputError(`Unknown reason code ${unknown.map((code) => `"${code.slice(0, 32)}"`).join(', ')}.`, [
      { field: 'reasonCodes', message: 'use codes listed by reviewReasonCodes for this use case' },
    ]);
  }
}

function forbiddenMessage(action: CaseAccessAction, principal: Principal, row: CaseRow, attributes: CaseAttributes, participated: boolean): string {
  const deciding = action === 'claim' || action === 'submit';
  if (deciding && canonicalSubject(principal.subject) === attributes.requester) {
    return 'You requested this decision, so you cannot review it.';
  }
  if (deciding && participated) {
    return 'You already voted on or escalated this case; a different reviewer must take it from here.';
  }
  if (action === 'release' || action === 'reveal') return `Only the reviewer holding the case can ${action} it${row.assignee ? '' : '; claim it first'}.`;
  return `This case needs the role ${row.required_role}; your roles (${principal.roles.join(', ')}) cannot ${action} it.`;
}

function toCaseView(row: CaseRow): ReviewCaseView {
  return {
    id: row.id,
    decisionId: row.decision_id,
    useCase: row.use_case,
    state: row.state,
    priority: Number(row.priority),
    reasons: row.reasons,
    fourEyes: row.four_eyes,
    requiredRole: row.required_role,
    assignee: row.assignee,
    requestedBy: row.requested_by,
    slaDeadline: new Date(row.sla_deadline),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    finalOutcome: row.final_outcome,
    automaticOutcome: row.automatic_outcome,
    modelVersion: row.model_version,
  };
}
