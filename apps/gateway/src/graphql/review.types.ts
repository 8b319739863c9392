import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { Attribution, DecisionOutcome, ReasonCode } from './decision.types.js';

export enum CaseState {
  OPEN = 'OPEN',
  CLAIMED = 'CLAIMED',
  AWAITING_SECOND_REVIEW = 'AWAITING_SECOND_REVIEW',
  ESCALATED = 'ESCALATED',
  INFO_REQUESTED = 'INFO_REQUESTED',
  DECIDED = 'DECIDED',
}
registerEnumType(CaseState, { name: 'CaseState', description: 'State of a review case in its workflow' });

export enum ReviewAction {
  APPROVE = 'APPROVE',
  DECLINE = 'DECLINE',
  OVERRIDE = 'OVERRIDE',
  ESCALATE = 'ESCALATE',
  REQUEST_INFO = 'REQUEST_INFO',
}
registerEnumType(ReviewAction, { name: 'ReviewAction', description: "A reviewer's action on a claimed case" });

@ObjectType({ description: 'The caller as its token proves it' })
export class SessionPrincipal {
  @Field()
  subject!: string;

  @Field()
  tenant!: string;

  @Field(() => [String])
  roles!: string[];
}

@InputType({ description: 'Which cases to list; by default every case that is not decided' })
export class ReviewQueueFilter {
  @Field(() => [CaseState], { nullable: true })
  states?: CaseState[] | null;

  @Field({ nullable: true })
  useCase?: string;

  @Field({ nullable: true, description: 'Only cases the caller has claimed' })
  assignedToMe?: boolean;

  @Field(() => Int, { nullable: true, description: 'At most this many cases (1-500, default 100)' })
  limit?: number;
}

@InputType({ description: "A reviewer's decision on a claimed case" })
export class SubmitReviewInput {
  @Field(() => ID)
  caseId!: string;

  @Field(() => ReviewAction)
  action!: ReviewAction;

  @Field({ description: 'Why, in 10 to 4,000 characters; stored with the case, its digest in the ledger' })
  rationale!: string;

  @Field(() => [String], { nullable: true, description: 'Reason codes from reviewReasonCodes; required when the outcome is DECLINE' })
  reasonCodes?: string[];

  @Field(() => DecisionOutcome, { nullable: true, description: 'The new outcome of an OVERRIDE: APPROVE or DECLINE' })
  outcome?: DecisionOutcome;
}

@InputType({ description: 'A request to see one masked field of a case' })
export class RevealFieldInput {
  @Field(() => ID)
  caseId!: string;

  @Field()
  field!: string;

  @Field({ description: 'Why the reviewer needs the value, 10 to 1,000 characters; recorded in the ledger' })
  reason!: string;
}

@ObjectType({ description: 'One application field; masked fields show a placeholder until revealed' })
export class CaseField {
  @Field()
  name!: string;

  @Field()
  value!: string;

  @Field()
  masked!: boolean;

  @Field(() => String, { nullable: true, description: 'Meaning of a coded value, such as "no checking account" for A14' })
  description!: string | null;
}

@ObjectType({ description: 'A reason code a reviewer may cite' })
export class ReasonCodeOption {
  @Field()
  code!: string;

  @Field()
  description!: string;
}

@ObjectType({ description: 'One vote of a reviewer' })
export class ReviewVote {
  @Field()
  reviewer!: string;

  @Field(() => ReviewAction)
  action!: ReviewAction;

  @Field(() => DecisionOutcome)
  outcome!: DecisionOutcome;

  @Field()
  rationale!: string;

  @Field(() => [String])
  reasonCodes!: string[];

  @Field()
  at!: Date;
}

@ObjectType({ description: 'The automatic decision behind a case, which the review never changes' })
export class CaseDecision {
  @Field({ description: 'DECISION for a model decision; ANSWER for a generated answer, whose question, draft and sources are the application fields' })
  kind!: string;

  @Field(() => DecisionOutcome)
  outcome!: DecisionOutcome;

  @Field(() => Float, { description: 'Probability of default for a decision; groundedness (0 to 1) for an answer' })
  score!: number;

  @Field()
  modelVersion!: string;

  @Field()
  createdAt!: Date;

  @Field(() => [ReasonCode])
  reasonCodes!: ReasonCode[];

  @Field(() => [Attribution], { description: 'Contributions in log-odds from the approval cut-off; positive pushes toward decline' })
  attributions!: Attribution[];

  @Field(() => [CaseField])
  application!: CaseField[];
}

@ObjectType({ description: 'One step of a case, with the ledger entry that records it' })
export class CaseEvent {
  @Field()
  at!: Date;

  @Field()
  actor!: string;

  @Field({ description: 'created, claimed, released, voted, decided, escalated, info_requested or field_revealed' })
  action!: string;

  @Field(() => CaseState, { nullable: true })
  fromState!: CaseState | null;

  @Field(() => CaseState)
  toState!: CaseState;

  @Field(() => String, { nullable: true })
  rationale!: string | null;

  @Field(() => [String])
  reasonCodes!: string[];

  @Field(() => String, { nullable: true })
  detail!: string | null;

  @Field(() => GraphQLSafeInt, { description: 'Sequence number of the ledger entry' })
  ledgerSeq!: number;
}

@ObjectType({ description: 'A decision that a routing rule sent to a person' })
export class ReviewCase {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  decisionId!: string;

  @Field()
  useCase!: string;

  @Field(() => CaseState)
  state!: CaseState;

  @Field(() => Int, { description: '1 is the most urgent, 3 the least' })
  priority!: number;

  @Field(() => [String], { description: 'REFER_BAND, THRESHOLD_EXCEEDED, QUALITY_SAMPLE, USE_CASE_SUSPENDED or LOW_GROUNDEDNESS' })
  reasons!: string[];

  @Field({ description: 'Two different reviewers must agree' })
  fourEyes!: boolean;

  @Field()
  requiredRole!: string;

  @Field(() => String, { nullable: true })
  assignee!: string | null;

  @Field({ description: 'Subject that requested the decision, who may not review it' })
  requestedBy!: string;

  @Field()
  slaDeadline!: Date;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  @Field(() => DecisionOutcome, { nullable: true })
  finalOutcome!: DecisionOutcome | null;
}

@ObjectType({ description: 'The review of a decision, next to its unchanged automatic outcome' })
export class DecisionReview {
  @Field(() => ID)
  caseId!: string;

  @Field(() => CaseState)
  state!: CaseState;

  @Field(() => [String])
  reasons!: string[];

  @Field(() => DecisionOutcome, { nullable: true })
  finalOutcome!: DecisionOutcome | null;

  @Field(() => Date, { nullable: true })
  decidedAt!: Date | null;

  @Field(() => GraphQLSafeInt, { nullable: true, description: 'Sequence number of the ledger entry of the final outcome' })
  finalLedgerSeq!: number | null;

  @Field(() => [String])
  reviewers!: string[];
}

@ObjectType({ description: 'Whether a use case is stopped' })
export class UseCaseStatus {
  @Field()
  useCase!: string;

  @Field()
  suspended!: boolean;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field(() => String, { nullable: true })
  changedBy!: string | null;

  @Field(() => Date, { nullable: true })
  changedAt!: Date | null;
}

@ObjectType({ description: 'A change in the review of a decision' })
export class DecisionUpdate {
  @Field(() => ID)
  decisionId!: string;

  @Field(() => ID, { nullable: true })
  caseId!: string | null;

  @Field(() => CaseState, { nullable: true })
  state!: CaseState | null;

  @Field({ description: 'NOT_REQUIRED, PENDING or COMPLETED' })
  reviewStatus!: string;

  @Field(() => DecisionOutcome, { nullable: true })
  finalOutcome!: DecisionOutcome | null;
}
