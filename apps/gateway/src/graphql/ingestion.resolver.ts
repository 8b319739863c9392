import { Inject } from '@nestjs/common';
import { Args, Mutation, Resolver } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { BadUserInputError } from '../../../../libs/common/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { IngestResult } from './ingestion.types.js';

/** Upper bound on records per GraphQL call; larger loads go through `warden ingest`. */
const MAX_RECORDS_PER_CALL = 10_000;

@Resolver(() => IngestResult)
export class IngestionResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Mutation(() => IngestResult, { description: 'Validates records, stores the good ones and quarantines the rest' })
  @Requires('dataset', 'ingest')
  async ingestRecords(
    @CurrentPrincipal() principal: Principal,
    @Args('dataset') dataset: string,
    @Args('records', { type: () => [GraphQLJSONObject] }) records: Record<string, unknown>[],
  ): Promise<IngestResult> {
    if (records.length > MAX_RECORDS_PER_CALL) {
      throw new BadUserInputError(`Too many records in one call: ${records.length}.`, [
        { field: 'records', message: `must hold at most ${MAX_RECORDS_PER_CALL} records; split the load or use warden ingest` },
      ]);
    }
    const result = await this.runtime.ingestion.ingest({
      tenant: principal.tenant,
      actor: principal.subject,
      dataset,
      records,
      source: 'graphql',
    });
    this.runtime.metrics.ingestedRecords.add(result.accepted, { dataset, result: 'accepted' });
    this.runtime.metrics.ingestedRecords.add(result.quarantined, { dataset, result: 'quarantined' });
    this.runtime.metrics.ingestedRecords.add(result.duplicates, { dataset, result: 'duplicate' });
    return result as IngestResult;
  }
}
