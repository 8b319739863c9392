// TypeScript shapes of the review GraphQL contract that the gateway serves on /graphql.
// DateTime values arrive as ISO 8601 strings.

export const CASE_STATES = ['OPEN', 'CLAIMED', 'AWAITING_SECOND_REVIEW', 'ESCALATED', 'INFO_REQUESTED', 'DECIDED'] as const;
export type CaseState = (typeof CASE_STATES)[number];

export const REVIEW_ACTIONS = ['APPROVE', 'DECLINE', 'OVERRIDE', 'ESCALATE', 'REQUEST_INFO'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export type DecisionOutcome = 'APPROVE' | 'DECLINE' | 'REFER';

export interface Principal {
  subject: string;
  tenant: string;
  roles: string[];
}

export interface ReviewQueueFilter {
  states?: CaseState[];
  useCase?: string;
  assignedToMe?: boolean;
  limit?: number;
}

/** The fields of a case that the queue table needs. */
export interface ReviewCaseSummary {
  id: string;
  decisionId: string;
  useCase: string;
  state: CaseState;
  /** 1 is the most urgent, 3 the least. */
  priority: number;
  reasons: string[];
  fourEyes: boolean;
  requiredRole: string;
  assignee: string | null;
  requestedBy: string;
  slaDeadline: string;
  createdAt: string;
  updatedAt: string;
  finalOutcome: DecisionOutcome | null;
}

export interface ReviewCase extends ReviewCaseSummary {
  votes: ReviewVote[];
  decision: CaseDecision;
  history: CaseEvent[];
}

export interface ReviewVote {
  reviewer: string;
  action: ReviewAction;
  outcome: DecisionOutcome;
  rationale: string;
  reasonCodes: string[];
  at: string;
}

export interface CaseDecision {
  /** DECISION: a model decision; ANSWER: a generated answer held back for review. */
  kind: 'DECISION' | 'ANSWER';
  /** The automatic outcome, which review never changes. */
  outcome: DecisionOutcome;
  /** Probability of default for a decision, groundedness for an answer; 0..1. */
  score: number;
  modelVersion: string;
  createdAt: string;
  reasonCodes: ReasonCode[];
  attributions: Attribution[];
  application: CaseField[];
}

export interface ReasonCode {
  code: string;
  description: string;
  contribution: number;
}

/** A feature's contribution in log-odds. A positive value pushes toward decline. */
export interface Attribution {
  feature: string;
  value: string;
  contribution: number;
}

export interface CaseField {
  name: string;
  value: string;
  masked: boolean;
  /** Meaning of a coded value, such as "no checking account" for A14; null for numbers and masked fields. */
  description: string | null;
}

export interface ReasonCodeOption {
  code: string;
  description: string;
}

export interface CaseEvent {
  at: string;
  actor: string;
  /** created, claimed, released, voted, decided, escalated, info_requested or field_revealed. */
  action: string;
  fromState: CaseState | null;
  toState: CaseState;
  rationale: string | null;
  reasonCodes: string[];
  detail: string | null;
  ledgerSeq: number;
}

export interface SubmitReviewInput {
  caseId: string;
  action: ReviewAction;
  rationale: string;
  reasonCodes?: string[];
  outcome?: DecisionOutcome;
}

export interface RevealFieldInput {
  caseId: string;
  field: string;
  reason: string;
}

/** Length limits that the gateway enforces on free text. The forms check them before sending. */
export const RATIONALE_LENGTH = { min: 10, max: 4000 } as const;
export const REVEAL_REASON_LENGTH = { min: 10, max: 1000 } as const;
