import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { GraphQLJSONObject, GraphQLSafeInt } from 'graphql-scalars';
import { FeatureRead } from './feature.types.js';

export enum DecisionOutcome {
  APPROVE = 'APPROVE',
  DECLINE = 'DECLINE',
  REFER = 'REFER',
}
registerEnumType(DecisionOutcome, { name: 'DecisionOutcome', description: 'Result of the use case decision rule' });

export enum ReviewStatus {
  NOT_REQUIRED = 'NOT_REQUIRED',
  PENDING = 'PENDING',
  COMPLETED = 'COMPLETED',
}
registerEnumType(ReviewStatus, { name: 'ReviewStatus', description: 'Whether a person still has to review the decision' });

@InputType({ description: 'A request for an automated decision' })
export class DecideInput {
  @Field({ description: 'Use case name, such as credit-application' })
  useCase!: string;

  @Field(() => GraphQLJSONObject, { description: 'Application fields, validated against the use case' })
  application!: Record<string, unknown>;

  @Field({ nullable: true, description: 'Idempotency key per tenant and use case: the same key and application return the same decision; the same key with another application is a CONFLICT' })
  requestId?: string;
}

@ObjectType({ description: 'A factor that pushed the applicant toward decline, as an adverse-action statement' })
export class ReasonCode {
  @Field()
  code!: string;

  @Field()
  description!: string;

  @Field(() => Float, { description: 'Contribution in log-odds of default, measured from the approval cut-off' })
  contribution!: number;
}

@ObjectType({ description: 'Exact SHAP value of one feature for the linear model, in log-odds of default' })
export class Attribution {
  @Field()
  feature!: string;

  @Field({ description: "The applicant's value of the feature" })
  value!: string;

  @Field(() => Float)
  contribution!: number;
}

@ObjectType({ description: 'Everything needed to replay a decision' })
export class DecisionLineage {
  @Field({ description: 'SHA-256 of the canonical JSON of the validated application' })
  inputDigest!: string;

  @Field(() => GraphQLJSONObject, { description: 'Feature values the model received' })
  featureValues!: Record<string, unknown>;

  @Field()
  modelVersion!: string;

  @Field()
  modelArtifactSha256!: string;

  @Field()
  datasetVersion!: string;

  @Field()
  useCaseConfigHash!: string;

  @Field()
  policyHash!: string;

  @Field()
  reasonCodeMapHash!: string;

  @Field(() => [String], { description: 'Application fields accepted but never used (prohibited bases)' })
  droppedFields!: string[];

  @Field()
  recordDigest!: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'The validated request, for a use case whose model reads feature views' })
  requestValues?: Record<string, unknown>;

  @Field(() => [FeatureRead], { nullable: true, description: 'Online feature reads the decision used, with view versions and as-of times' })
  featureReads?: FeatureRead[];
}

@ObjectType({ description: 'An automated decision with its explanation and ledger receipt' })
export class Decision {
  @Field(() => ID)
  id!: string;

  @Field()
  useCase!: string;

  @Field(() => DecisionOutcome)
  outcome!: DecisionOutcome;

  @Field(() => Float, { description: 'Probability of default from the model' })
  score!: number;

  @Field(() => [ReasonCode])
  reasonCodes!: ReasonCode[];

  @Field(() => [Attribution])
  attributions!: Attribution[];

  @Field()
  modelVersion!: string;

  @Field({ description: 'Use-case policy version and the policy bundle hash it ran under' })
  policyVersion!: string;

  @Field(() => ReviewStatus)
  reviewStatus!: ReviewStatus;

  @Field(() => DecisionOutcome, {
    nullable: true,
    description: "The final outcome: the reviewer's once a review completes, the automatic one when none is needed, null while pending",
  })
  finalOutcome!: DecisionOutcome | null;

  @Field(() => GraphQLSafeInt)
  ledgerSeq!: number;

  @Field()
  ledgerHash!: string;

  @Field()
  createdAt!: Date;

  @Field(() => DecisionLineage)
  lineage!: DecisionLineage;
}

@ObjectType({ description: 'One field whose replayed value differs from the recorded one' })
export class ReplayDifference {
  @Field()
  field!: string;

  @Field()
  recorded!: string;

  @Field()
  replayed!: string;
}

@ObjectType({ description: 'Result of recomputing a decision from its lineage' })
export class ReplayResult {
  @Field(() => ID)
  decisionId!: string;

  @Field()
  identical!: boolean;

  @Field(() => [ReplayDifference])
  differences!: ReplayDifference[];
}
