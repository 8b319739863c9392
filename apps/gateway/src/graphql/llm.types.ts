import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: "Usage and cost of a tenant's LLM calls through the proxy for one use case and model in a period" })
export class LlmUsageGroup {
  @Field({ description: 'Use case the calls were booked to (X-Warden-Use-Case), or unspecified' })
  useCase!: string;

  @Field({ description: 'Public model name the callers sent' })
  model!: string;

  @Field(() => Int)
  calls!: number;

  @Field(() => Int)
  okCalls!: number;

  @Field(() => Int)
  failedCalls!: number;

  @Field(() => Int)
  deniedCalls!: number;

  @Field(() => Int, { description: 'Calls that reached an upstream without reported usage and without a local tokenizer; their tokens and cost are not in the sums' })
  unknownUsageCalls!: number;

  @Field(() => Int, { description: 'Calls whose tokens Warden counted with the configured tokenizer' })
  locallyCountedCalls!: number;

  @Field(() => Int)
  promptTokens!: number;

  @Field(() => Int)
  completionTokens!: number;

  @Field({ description: 'Sum of the known costs as a decimal string with 12 decimal places' })
  cost!: string;

  @Field({ description: 'ISO 4217 currency of cost' })
  currency!: string;
}
