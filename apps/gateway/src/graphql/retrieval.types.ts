import { Field, Float, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { GraphQLSafeInt } from 'graphql-scalars';

export enum SearchModeInput {
  HYBRID = 'hybrid',
  VECTOR = 'vector',
  TEXT = 'text',
}

registerEnumType(SearchModeInput, {
  name: 'SearchMode',
  description: 'HYBRID fuses vector and full-text ranks (reciprocal rank fusion); VECTOR and TEXT use one method',
});

export enum DocumentFormatInput {
  MARKDOWN = 'markdown',
  TEXT = 'text',
  JSONL = 'jsonl',
}

registerEnumType(DocumentFormatInput, { name: 'DocumentFormat' });

@ObjectType({ description: 'A chunk of a document found by search, with its citation' })
export class SearchResult {
  @Field(() => ID)
  chunkId!: string;

  @Field()
  documentName!: string;

  @Field(() => Int)
  documentVersion!: number;

  @Field()
  collection!: string;

  @Field({ description: 'Where the text comes from, such as "Regulation (EU) 2016/679 (GDPR), Article 17(1)"' })
  citation!: string;

  @Field()
  text!: string;

  @Field(() => Float, { description: 'Fused score in HYBRID mode, cosine similarity in VECTOR mode, full-text rank in TEXT mode; higher is better' })
  score!: number;

  @Field(() => Int, { nullable: true, description: '1-based rank in the vector list, null when absent' })
  vectorRank!: number | null;

  @Field(() => Int, { nullable: true, description: '1-based rank in the full-text list, null when absent' })
  textRank!: number | null;
}

@ObjectType({ description: 'What one document ingest stored' })
export class DocumentIngestResult {
  @Field()
  collection!: string;

  @Field()
  document!: string;

  @Field({ description: 'created, updated (a new version retired the previous one) or unchanged' })
  status!: string;

  @Field(() => Int)
  version!: number;

  @Field({ description: 'SHA-256 of the content' })
  digest!: string;

  @Field(() => Int)
  chunks!: number;

  @Field(() => Int)
  retiredChunks!: number;

  @Field(() => GraphQLSafeInt, { nullable: true, description: 'Sequence number of the docs.ingested ledger entry; null when nothing changed' })
  ledgerSeq!: number | null;
}
