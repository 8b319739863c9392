import { Inject } from '@nestjs/common';
import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { BadUserInputError } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { DocumentFormatInput, DocumentIngestResult, SearchModeInput, SearchResult } from './retrieval.types.js';

/** Largest document sent in one GraphQL call; larger files go through `warden docs ingest`. */
const MAX_GRAPHQL_DOCUMENT_CHARACTERS = 2_000_000;

@Resolver(() => SearchResult)
export class RetrievalResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Query(() => [SearchResult], { description: 'Hybrid search over one document collection that the caller is entitled to read' })
  @Requires('collection', 'read')
  async search(
    @CurrentPrincipal() principal: Principal,
    @Args('collection') collection: string,
    @Args('query') query: string,
    @Args('k', { type: () => Int, defaultValue: 10, description: 'number of results, 1 to 50' }) k: number,
    @Args('mode', { type: () => SearchModeInput, defaultValue: SearchModeInput.HYBRID }) mode: SearchModeInput,
  ): Promise<SearchResult[]> {
    return this.runtime.retrieval.search(principal, { tenant: principal.tenant, collection, query, k, mode });
  }

  @Mutation(() => DocumentIngestResult, { description: 'Stores a document as a new version of the collection; an unchanged document adds nothing' })
  @Requires('collection', 'ingest')
  async ingestDocument(
    @CurrentPrincipal() principal: Principal,
    @Args('collection') collection: string,
    @Args('document', { description: 'document name, unique within the collection' }) document: string,
    @Args('format', { type: () => DocumentFormatInput }) format: DocumentFormatInput,
    @Args('content') content: string,
  ): Promise<DocumentIngestResult> {
    if (content.length > MAX_GRAPHQL_DOCUMENT_CHARACTERS) {
      throw new BadUserInputError(`The document has ${content.length} characters.`, [
        { field: 'content', message: `must be at most ${MAX_GRAPHQL_DOCUMENT_CHARACTERS} characters; use warden docs ingest for larger files` },
      ]);
    }
    const report = await this.runtime.retrieval.ingestAs(principal, { collection, document, format, content, source: 'graphql' });
    return { ...report, ledgerSeq: report.ledger?.seq ?? null };
  }
}
