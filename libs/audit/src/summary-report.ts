import PDFDocument from 'pdfkit';
import { EntityManager, type DataSource } from 'typeorm';
import { verifyLedger, type LedgerVerification } from './ledger.js';

/** Either a transaction's EntityManager or a DataSource: both run `query(sql, parameters)`. */
type Queryable = Pick<EntityManager, 'query'>;

/** Figures of one use case and period, for the PDF summary that accompanies an export. */
export interface UseCaseSummary {
  useCase: string;
  tenant: string | null;
  /** Outcome the summary is limited to, or null for every outcome. */
  outcome: string | null;
  period: { from: string; to: string };
  generatedAt: string;
  decisions: number;
  outcomes: Record<string, number>;
  /**
   * Mean score over the period's decisions, or null without decisions. Its meaning is the use
   * case's: a probability of default for credit, of fraud for payments, groundedness for answers.
   */
  meanScore: number | null;
  /** The most frequent reason codes of DECLINE and REFER decisions, most frequent first. */
  topReasonCodes: { code: string; count: number }[];
  /** Decisions whose record a retention purge replaced, so that their reason codes are gone. */
  purgedDecisions: number;
  /**
   * Counts of the tenant's ledger events in the period by type, such as `access.denied` or
   * `review.decided`, for every use case. A gateway denial names no use case.
   */
  events: Record<string, number>;
  /** Counts of the period's ledger events that name this use case in payload.useCase. */
  useCaseEvents: UseCaseEvents;
  /** Human review of the period's decisions, or null where the database has no review tables. */
  review: ReviewFigures | null;
  ledger: { ok: boolean; entries: number; headSeq: number; headHash: string; firstBadSeq?: number; check?: SummaryChainCheck };
  /** The checkpoint the summary refers to (an export's own), or the latest when none is given. */
  checkpoint: { treeSize: number; rootHash: string; createdAt: string } | null;
}

/**
 * The chain check that an export ran. 'full' verified every entry. 'incremental' verified the
 * entries after throughSeq, building on the full verification recorded by ledger entry anchorSeq.
 * A summary outside an export has none.
 */
export type SummaryChainCheck =
  | { kind: 'full' }
  | { kind: 'incremental'; throughSeq: number; verifiedAt: string; anchorSeq: number };

/** Ledger events of one use case: what its guardrails withheld and how often it was suspended. */
export interface UseCaseEvents {
  /** `answer.blocked` entries: answers that a guardrail withheld, for the question or the answer. */
  answersBlocked: number;
  /**
   * `llm.call` entries with a guardrail verdict `block` or the error `guardrail_unavailable`: proxy
   * calls that a guardrail stopped before the upstream, withheld the reply of, or stopped because
   * it could not check them. Calls stopped by the rate limit are not counted.
   */
  callsBlocked: number;
  /** `use_case.suspended` entries. */
  suspensions: number;
}

/** Figures of the human review of a summary's decisions. */
export interface ReviewFigures {
  /** Review cases opened for the decisions. */
  cases: number;
  /** Cases with a final outcome. */
  decided: number;
  /** Decided cases whose automatic outcome was APPROVE or DECLINE and that a person changed. */
  overridden: number;
  /** Median and 90th percentile of the time from case creation to final outcome, in seconds. */
  medianSeconds: number | null;
  p90Seconds: number | null;
  /** Cases decided after their SLA deadline, or still open past it. */
  slaBreaches: number;
}

export interface SummaryOptions {
  useCase: string;
  from: Date;
  to: Date;
  tenant?: string;
  outcome?: string;
  /** The checkpoint to report; the newest stored checkpoint when omitted, none when null. */
  checkpoint?: { treeSize: number; rootHash: string; createdAt: string } | null;
  /** A verification of the whole ledger the caller already ran; the ledger is verified here when omitted. */
  ledger?: LedgerVerification;
  /**
   * The decision figures, counted by a caller that reads every decision of the scope anyway (an
   * export, with DecisionFigureCounter). They are queried when omitted.
   */
  decisionFigures?: DecisionFigures;
}

/** The figures of a summary that come from its decisions alone. */
export type DecisionFigures = Pick<UseCaseSummary, 'decisions' | 'outcomes' | 'meanScore' | 'topReasonCodes' | 'purgedDecisions'>;

/** Outcomes whose reason codes a summary counts. */
const REASONED_OUTCOMES: ReadonlySet<string> = new Set(['DECLINE', 'REFER']);

/**
 * Counts the figures of DecisionFigures while a caller reads the decisions, with the same results
 * as queryDecisionFigures. A reason code is the string `code` field of an element of an array
 * record.reasonCodes. Ties in the top five are broken by code in code point order.
 */
export class DecisionFigureCounter {
  private decisions = 0;
  private scoreSum = 0;
  private readonly outcomes = new Map<string, number>();
  private readonly reasons = new Map<string, number>();
  private purged = 0;

  add(outcome: string, score: number, record: Record<string, unknown>): void {
    this.decisions += 1;
    this.scoreSum += score;
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (record.purged === true) this.purged += 1;
    if (!REASONED_OUTCOMES.has(outcome) || !Array.isArray(record.reasonCodes)) return;
    for (const reason of record.reasonCodes as unknown[]) {
      const code = typeof reason === 'object' && reason !== null ? (reason as { code?: unknown }).code : undefined;
      if (typeof code === 'string') this.reasons.set(code, (this.reasons.get(code) ?? 0) + 1);
    }
  }

  figures(): DecisionFigures {
    const byCode = (left: [string, number], right: [string, number]): number => right[1] - left[1] || compareCodePoints(left[0], right[0]);
    return {
      decisions: this.decisions,
      outcomes: Object.fromEntries([...this.outcomes].sort(([left], [right]) => (left < right ? -1 : 1))),
      meanScore: this.decisions > 0 ? this.scoreSum / this.decisions : null,
      topReasonCodes: [...this.reasons].sort(byCode).slice(0, 5).map(([code, count]) => ({ code, count })),
      purgedDecisions: this.purged,
    };
  }
}

/** Returns the part of a chain verification that a summary reports, with the export's kind of check when given. */
export function summaryLedger(verification: LedgerVerification, check?: SummaryChainCheck): UseCaseSummary['ledger'] {
  return {
    ok: verification.ok,
    entries: verification.entries,
    headSeq: verification.headSeq,
    headHash: verification.headHash,
    firstBadSeq: verification.firstBadSeq,
    ...(check ? { check } : {}),
  };
}

/**
 * Collects the figures of a summary from the database, verifying the whole ledger unless the caller
 * did. Given a transaction's EntityManager, it reads that transaction's snapshot. Pass `ledger` then,
 * because the verification would run outside the transaction, which blocks on embedded PGlite's
 * single connection.
 */
export async function collectUseCaseSummary(dataSource: DataSource | EntityManager, options: SummaryOptions): Promise<UseCaseSummary> {
  const tenant = options.tenant ?? null;
  const outcome = options.outcome ?? null;
  const window = [options.useCase, options.from.toISOString(), options.to.toISOString(), tenant, outcome];
  const decisionFigures = options.decisionFigures ?? (await queryDecisionFigures(dataSource, window));
  const eventRows: { type: string; n: number }[] = await dataSource.query(
    `SELECT type, count(*)::int AS n FROM audit.ledger_entries
      WHERE created_at >= $1 AND created_at < $2 AND ($3::text IS NULL OR tenant = $3) GROUP BY type ORDER BY type`,
    [options.from.toISOString(), options.to.toISOString(), tenant],
  );

  const useCaseEvents = await queryUseCaseEvents(dataSource, options.useCase, options.from, options.to, tenant);
  const review = await collectReviewFigures(dataSource, window);
  const ledger = options.ledger ?? (await verifyLedger(dataSource instanceof EntityManager ? dataSource.connection : dataSource));

  return {
    useCase: options.useCase,
    tenant,
    outcome,
    period: { from: options.from.toISOString(), to: options.to.toISOString() },
    generatedAt: new Date().toISOString(),
    ...decisionFigures,
    events: Object.fromEntries(eventRows.map((row) => [row.type, row.n])),
    useCaseEvents,
    review,
    ledger: summaryLedger(ledger),
    checkpoint: options.checkpoint !== undefined ? options.checkpoint : await latestCheckpoint(dataSource),
  };
}

/**
 * Counts the period's guardrail blocks and suspensions of one use case: the entries of those types
 * whose payload.useCase names it. Only entries of the three types are read from the period's
 * entries, so the jsonb of decision entries is not opened.
 */
async function queryUseCaseEvents(queryable: Queryable, useCase: string, from: Date, to: Date, tenant: string | null): Promise<UseCaseEvents> {
  const [row]: { answers_blocked: number; calls_blocked: number; suspensions: number }[] = await queryable.query(
    `SELECT count(*) FILTER (WHERE type = 'answer.blocked')::int AS answers_blocked,
            count(*) FILTER (
              WHERE type = 'llm.call' AND (payload->'guardrails' @> '[{"verdict": "block"}]' OR payload->>'errorCode' = 'guardrail_unavailable')
            )::int AS calls_blocked,
            count(*) FILTER (WHERE type = 'use_case.suspended')::int AS suspensions
       FROM audit.ledger_entries
      WHERE created_at >= $1 AND created_at < $2 AND ($3::text IS NULL OR tenant = $3)
        AND type IN ('answer.blocked', 'llm.call', 'use_case.suspended') AND payload->>'useCase' = $4`,
    [from.toISOString(), to.toISOString(), tenant, useCase],
  );
  return { answersBlocked: row.answers_blocked, callsBlocked: row.calls_blocked, suspensions: row.suspensions };
}

/** Orders strings by Unicode code point, as PostgreSQL's C collation orders UTF-8 text. */
function compareCodePoints(left: string, right: string): number {
  const leftPoints = [...left];
  const rightPoints = [...right];
  for (let i = 0; i < Math.min(leftPoints.length, rightPoints.length); i += 1) {
    const difference = (leftPoints[i].codePointAt(0) as number) - (rightPoints[i].codePointAt(0) as number);
    if (difference !== 0) return difference;
  }
  return leftPoints.length - rightPoints.length;
}

/** Queries the decision figures of a summary's scope. Parameters as decisionScope. */
async function queryDecisionFigures(dataSource: Queryable, window: unknown[]): Promise<DecisionFigures> {
  const scope = decisionScope('');
  const outcomeRows: { outcome: string; n: number; mean: number; purged: number }[] = await dataSource.query(
    `SELECT outcome, count(*)::int AS n, avg(score) AS mean, count(*) FILTER (WHERE record->'purged' = 'true'::jsonb)::int AS purged
       FROM decisions.decision_records WHERE ${scope} GROUP BY outcome ORDER BY outcome`,
    window,
  );
  // COLLATE "C" orders ties by code point, as DecisionFigureCounter does.
  const reasonRows: { code: string; n: number }[] = await dataSource.query(
    `SELECT (reason->>'code') COLLATE "C" AS code, count(*)::int AS n
       FROM decisions.decision_records,
            jsonb_array_elements(CASE WHEN jsonb_typeof(record->'reasonCodes') = 'array' THEN record->'reasonCodes' END) AS reason
      WHERE ${scope} AND outcome IN ('DECLINE', 'REFER') AND jsonb_typeof(reason->'code') = 'string'
      GROUP BY 1 ORDER BY n DESC, code LIMIT 5`,
    window,
  );
  const decisions = outcomeRows.reduce((sum, row) => sum + row.n, 0);
  const scoreSum = outcomeRows.reduce((sum, row) => sum + row.n * Number(row.mean), 0);
  return {
    decisions,
    outcomes: Object.fromEntries(outcomeRows.map((row) => [row.outcome, row.n])),
    meanScore: decisions > 0 ? scoreSum / decisions : null,
    topReasonCodes: reasonRows.map((row) => ({ code: row.code, count: row.n })),
    purgedDecisions: outcomeRows.reduce((sum, row) => sum + row.purged, 0),
  };
}

/**
 * Returns the filter of a summary's decisions over decision_records columns, prefixed with
 * `prefix` (such as "d.") when the table has an alias. Parameters: use case, from, to, tenant, outcome.
 */
function decisionScope(prefix: string): string {
  return `${prefix}use_case = $1 AND ${prefix}created_at >= $2 AND ${prefix}created_at < $3 AND ($4::text IS NULL OR ${prefix}tenant = $4) AND ($5::text IS NULL OR ${prefix}outcome = $5)`;
}

/** Counts the review cases of the decisions in a summary's scope. */
async function collectReviewFigures(dataSource: Queryable, window: unknown[]): Promise<ReviewFigures | null> {
  const [{ present }] = await dataSource.query("SELECT to_regclass('review.cases') IS NOT NULL AS present");
  if (!present) return null;
  const [row] = (await dataSource.query(
    `SELECT count(*)::int AS cases,
            count(c.final_outcome)::int AS decided,
            count(*) FILTER (WHERE c.automatic_outcome <> 'REFER' AND c.final_outcome IS NOT NULL AND c.final_outcome <> c.automatic_outcome)::int AS overridden,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.decided_at - c.created_at)) AS median_seconds,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.decided_at - c.created_at)) AS p90_seconds,
            count(*) FILTER (WHERE coalesce(c.decided_at, now()) > c.sla_deadline)::int AS sla_breaches
       FROM review.cases c JOIN decisions.decision_records d ON d.id = c.decision_id
      WHERE ${decisionScope('d.')}`,
    window,
  )) as { cases: number; decided: number; overridden: number; median_seconds: number | null; p90_seconds: number | null; sla_breaches: number }[];
  return {
    cases: row.cases,
    decided: row.decided,
    overridden: row.overridden,
    medianSeconds: row.median_seconds === null ? null : Number(row.median_seconds),
    p90Seconds: row.p90_seconds === null ? null : Number(row.p90_seconds),
    slaBreaches: row.sla_breaches,
  };
}

/** Reads the newest checkpoint when the checkpoint table exists; older schemas have none. */
async function latestCheckpoint(dataSource: Queryable): Promise<UseCaseSummary['checkpoint']> {
  const [{ present }] = await dataSource.query("SELECT to_regclass('audit.checkpoints') IS NOT NULL AS present");
  if (!present) return null;
  const rows: { size_text: string; root_hash: string; created_at: Date }[] = await dataSource.query(
    // Ordered by the bigint column, not by the text alias, which would put 9 after 21.
    'SELECT tree_size::text AS size_text, root_hash, created_at FROM audit.checkpoints ORDER BY audit.checkpoints.tree_size DESC, id DESC LIMIT 1',
  );
  if (rows.length === 0) return null;
  return { treeSize: Number(rows[0].size_text), rootHash: String(rows[0].root_hash), createdAt: new Date(rows[0].created_at).toISOString() };
}

/**
 * Renders the summary as a one-page PDF. The creation date inside the file is the summary's
 * `generatedAt`, so the same summary renders to the same text.
 */
export function renderSummaryPdf(summary: UseCaseSummary): Promise<Uint8Array> {
  const document = new PDFDocument({ size: 'A4', margin: 50, info: { Title: `Warden summary: ${summary.useCase}`, CreationDate: new Date(summary.generatedAt) } });
  const chunks: Buffer[] = [];
  document.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise<Uint8Array>((resolve, reject) => {
    document.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    document.on('error', reject);
  });

  document.fontSize(18).text(`Warden decision summary: ${summary.useCase}`);
  document.moveDown(0.5).fontSize(10);
  document.text(`Tenant: ${summary.tenant ?? 'all tenants'}`);
  document.text(`Outcomes: ${summary.outcome ?? 'all'}`);
  document.text(`Period: ${summary.period.from} to ${summary.period.to} (end excluded)`);
  document.text(`Generated: ${summary.generatedAt}`);

  section(document, 'Volumes and automatic outcomes');
  document.text(`Decisions: ${summary.decisions}`);
  // The three credit outcomes always appear, then any other outcome of the period (ANSWERED for answers).
  const outcomes = [...new Set(['APPROVE', 'REFER', 'DECLINE', ...Object.keys(summary.outcomes).sort()])];
  for (const outcome of outcomes) {
    const count = summary.outcomes[outcome] ?? 0;
    const share = summary.decisions > 0 ? ((100 * count) / summary.decisions).toFixed(1) : '0.0';
    document.text(`${outcome}: ${count} (${share}%)`);
  }
  document.text('Outcomes are the automatic ones. A reviewer\'s final outcome is in the review.decided entries of ledger.jsonl and in the review_outcome column of decisions.csv.');
  document.text(`Mean score: ${summary.meanScore === null ? 'n/a' : summary.meanScore.toFixed(4)} (the use case's score, such as a probability of default)`);

  section(document, 'Most frequent reason codes of DECLINE and REFER decisions');
  if (summary.topReasonCodes.length === 0) document.text('None in this period.');
  for (const reason of summary.topReasonCodes) document.text(`${reason.code}: ${reason.count}`);
  if (summary.purgedDecisions > 0) {
    document.text(`Reason codes are unavailable for ${summary.purgedDecisions} decisions whose records a retention purge replaced.`);
  }

  section(document, 'Oversight and guardrails');
  // An answer that the proxy withheld has both entries, so the two counts are not added up.
  const { answersBlocked, callsBlocked, suspensions } = summary.useCaseEvents;
  document.text(`Guardrail blocks of this use case: answers withheld ${answersBlocked}, proxy calls blocked or withheld ${callsBlocked}`);
  document.text(`Suspensions of this use case: ${suspensions}`);
  const review = summary.review;
  if (review) {
    document.text(`Review cases: ${review.cases} opened, ${review.decided} decided by a person`);
    document.text(`Reviewer overrides of an automatic outcome: ${review.overridden}`);
    document.text(`Review time to decision: median ${formatSeconds(review.medianSeconds)}, 90th percentile ${formatSeconds(review.p90Seconds)}`);
    document.text(`SLA breaches: ${review.slaBreaches}`);
  } else {
    document.text('Review cases: no review tables in this database');
  }
  // Policy denials of the gateway name an operation, not a use case, so this count covers the tenant.
  document.text(`Access denials by policy, every operation of ${summary.tenant ?? 'all tenants'}: ${summary.events['access.denied'] ?? 0}`);

  section(document, 'Ledger integrity');
  document.text(chainStatusLine(summary.ledger));
  const checkLine = chainCheckLine(summary.ledger);
  if (checkLine !== undefined) document.text(checkLine);
  document.text(`Head hash: ${summary.ledger.headHash}`);
  if (summary.checkpoint) {
    document.text(`Checkpoint: tree size ${summary.checkpoint.treeSize}, signed ${summary.checkpoint.createdAt}`);
    document.text(`Checkpoint root: ${summary.checkpoint.rootHash}`);
  } else {
    document.text('Checkpoint: none yet');
  }

  document.end();
  return finished;
}

/** Returns the summary's first ledger line: whether the chain verified, and through which seq. */
function chainStatusLine(ledger: UseCaseSummary['ledger']): string {
  if (!ledger.ok) return `Hash chain FAILED verification at seq ${ledger.firstBadSeq}`;
  // An incremental check counts only the entries it verified itself, so the total is not stated.
  if (ledger.check?.kind === 'incremental') return `Hash chain verified through head seq ${ledger.headSeq}`;
  return `Hash chain verified: ${ledger.entries} entries, head seq ${ledger.headSeq}`;
}

/** Returns the line that names the chain check an export ran, or undefined outside an export. */
function chainCheckLine(ledger: UseCaseSummary['ledger']): string | undefined {
  const check = ledger.check;
  if (check === undefined || !ledger.ok) return undefined;
  if (check.kind === 'full') return `Check: full verification by this export of ${ledger.entries} entries`;
  const recorded = `Check: verified in full through seq ${check.throughSeq} at ${check.verifiedAt} (recorded by entry seq ${check.anchorSeq})`;
  if (ledger.headSeq <= check.throughSeq) return `${recorded}; no later entries`;
  return `${recorded}; seq ${check.throughSeq + 1} to ${ledger.headSeq} verified by this export`;
}

function section(document: PDFKit.PDFDocument, title: string): void {
  document.moveDown(1).fontSize(13).text(title).moveDown(0.3).fontSize(10);
}

/** Formats a duration in seconds for the summary, such as "42 s" or "3.5 h". */
function formatSeconds(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
