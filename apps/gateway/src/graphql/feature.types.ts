import { Field, ObjectType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

@ObjectType({ description: 'Feature values of one entity as of one time, read from a feature view' })
export class FeatureRead {
  @Field({ description: 'Feature view name, such as payee-activity' })
  view!: string;

  @Field()
  viewVersion!: string;

  @Field({ description: 'SHA-256 of the view definition the values were computed with' })
  viewHash!: string;

  @Field({ description: 'Entity key, such as an account id' })
  entityKey!: string;

  @Field({ description: 'Requested as-of time (ISO 8601)' })
  asOf!: string;

  @Field({ description: 'End of every window: the start of the bucket containing asOf; only earlier events count' })
  windowEnd!: string;

  @Field(() => GraphQLJSONObject, { description: 'Feature values by name; null where a window has no value' })
  values!: Record<string, number | null>;
}
