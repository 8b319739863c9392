import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { ReviewStatus } from './decision.types.js';

export enum AnswerMode {
  EXTRACTIVE = 'EXTRACTIVE',
  GENERATIVE = 'GENERATIVE',
}
registerEnumType(AnswerMode, {
  name: 'AnswerMode',
  description: 'EXTRACTIVE: retrieved passages quoted verbatim, no generated text; GENERATIVE: written by an LLM from the passages',
});

export enum AnswerRelease {
  RELEASED = 'RELEASED',
  WITHHELD = 'WITHHELD',
}
registerEnumType(AnswerRelease, { name: 'AnswerRelease', description: 'Whether the caller may read the answer text' });

@InputType({ description: 'A question for a governed answer over a document collection' })
export class AskInput {
  @Field({ description: 'Answer use case, such as regulatory-qa (policies/answers)' })
  useCase!: string;

  @Field({ description: 'Collection to answer from; the use case lists the allowed ones' })
  collection!: string;

  @Field({ description: 'The question, 3 to 2,000 characters; personal data in it is masked before use' })
  question!: string;

  @Field(() => String, {
    nullable: true,
    description:
      "The bank's id of the person the question is about (1 to 128 printable characters, never stored in clear). The question, the answer and its placeholder values are then encrypted under that person's key, which `warden erase --subject` destroys",
  })
  subjectId?: string | null;
}

@ObjectType({ description: 'A passage an answer rests on' })
export class AnswerCitation {
  @Field()
  chunkId!: string;

  @Field({ description: 'Where the passage comes from, such as 12 CFR 1002.9(a)(2)' })
  citation!: string;

  @Field()
  documentName!: string;

  @Field(() => Int)
  documentVersion!: number;

  @Field(() => Float, { description: 'Retrieval score (reciprocal rank fusion)' })
  score!: number;

  @Field({ description: 'The passage text' })
  text!: string;
}

@ObjectType({ description: "One guardrail's verdict on one part of the request or answer" })
export class GuardrailVerdictResult {
  @Field({ description: 'pii, injection, output-pii or groundedness' })
  guardrail!: string;

  @Field({ description: 'question, answer or passage:<chunk id>' })
  target!: string;

  @Field({ description: 'pass, flag, block or error' })
  verdict!: string;

  @Field({ description: 'Entity types, rules or scores; never the matched text' })
  detail!: string;
}

@ObjectType({ description: 'A governed answer with its citations, recorded in the ledger' })
export class Answer {
  @Field(() => ID)
  id!: string;

  @Field()
  useCase!: string;

  @Field(() => AnswerMode)
  mode!: AnswerMode;

  @Field(() => String, { nullable: true, description: 'The answer; null until a reviewer releases it when review is required' })
  text!: string | null;

  @Field(() => [AnswerCitation], { description: 'Empty while the answer is withheld' })
  citations!: AnswerCitation[];

  @Field(() => Float, { description: 'Share of judged answer sentences that the cited passages support, 0 to 1 (1 for extractive answers)' })
  groundedness!: number;

  @Field(() => ReviewStatus)
  reviewStatus!: ReviewStatus;

  @Field(() => AnswerRelease, { nullable: true, description: 'Null while a review is pending' })
  release!: AnswerRelease | null;

  @Field(() => [GuardrailVerdictResult])
  guardrails!: GuardrailVerdictResult[];

  @Field(() => GraphQLSafeInt, { description: 'Sequence number of the decision.created ledger entry that records the answer' })
  ledgerSeq!: number;

  @Field()
  createdAt!: Date;

  @Field({ description: 'open: encrypted for a data subject and readable; erased: that subject was erased and the question and text read "erased"; unsealed: stored without a data subject' })
  personalData!: string;
}
