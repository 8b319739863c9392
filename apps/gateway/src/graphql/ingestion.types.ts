import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'A problem with one field of a quarantined record' })
export class QuarantineFieldError {
  @Field()
  field!: string;

  @Field()
  message!: string;
}

@ObjectType({ description: 'A record that failed schema or data-quality checks and was kept in quarantine' })
export class QuarantinedRecord {
  @Field(() => Int, { description: '1-based position of the record in the request' })
  row!: number;

  @Field({ nullable: true })
  recordKey?: string;

  @Field(() => [QuarantineFieldError])
  errors!: QuarantineFieldError[];
}

@ObjectType({ description: 'Counts of one ingestion batch' })
export class IngestResult {
  @Field()
  batchId!: string;

  @Field()
  dataset!: string;

  @Field()
  datasetVersion!: string;

  @Field(() => Int)
  accepted!: number;

  @Field(() => Int)
  quarantined!: number;

  @Field(() => Int)
  duplicates!: number;

  @Field(() => [QuarantinedRecord], { description: 'The first 100 quarantined records with their errors' })
  quarantine!: QuarantinedRecord[];
}
