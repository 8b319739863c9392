import { createHash, randomUUID } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { DataSource } from 'typeorm';
import type { PostgresLedger } from '../../audit/src/index.js';
import { BadUserInputError, ConflictError, FailedPreconditionError, ForbiddenError, getLogger, NotFoundError } from '../../common/src/index.js';
import { isValidTenant } from '../../policy/src/index.js';
import { chunkDocument, formatFromFileName } from './chunking.js';
import { checkDocumentName } from './document-name.js';
import type { CollectionAccess, CollectionAction } from './collection-access.js';
import type { Embedder } from './embedder.js';
import { reciprocalRankFusion } from './rank-fusion.js';
import {
  chunkDetails,
  countScope,
  findCollection,
  findCurrentDocument,
  insertChunks,
  insertCollection,
  insertDocument,
  nearestChunks,
  retireDocument,
  setDocumentLedgerSeq,
  textMatches,
  type CollectionRow,
  type RankedChunk,
  type SearchScope,
} from './retrieval.repository.js';
import type { DocumentFormat, IngestDocumentCommand, IngestFileCommand, IngestReport, SearchHit, SearchPrincipal, SearchRequest } from './retrieval.types.js';
import { anyWordQuery, checkCollectionName, validateSearchRequest } from './search-request.js';

/** Largest document accepted by one ingest. */
export const MAX_DOCUMENT_BYTES = 20 * 1024 * 1024;
const DOCUMENT_FORMATS: readonly DocumentFormat[] = ['markdown', 'text', 'jsonl'];

/** The RBAC check of the gateway's policy enforcer, which the service repeats for callers outside the gateway. */
export interface RoleCheck {
  isAllowed(principal: SearchPrincipal, resource: string, action: string): boolean;
}

export interface RetrievalOptions {
  /** RRF constant k; larger values flatten the difference between ranks. */
  rrfK?: number;
  /** Candidates each method contributes to the fusion, as a multiple of the requested k. */
  candidateFactor?: number;
  /** Minimum candidates each method contributes. */
  minCandidates?: number;
  /**
   * Scopes with at most this many live chunks are searched exactly, without the HNSW index:
   * exact search over a few thousand vectors takes a few milliseconds and cannot miss a
   * neighbour. Larger scopes use the index with iterative scans.
   */
  exactScanMaxChunks?: number;
  /** Weight of the full-text list in the fusion; the vector list weighs 1. */
  textWeight?: number;
}

/**
 * Defaults chosen on the TAT-QA dev queries (test/bench/retrieval.bench.ts, BENCH_RRF_SWEEP=1):
 * a small RRF constant and a double weight for the full-text list gave the best nDCG@10 and
 * MRR@10 with the lexical embedder, whose vector list is the weaker of the two there.
 */
const DEFAULTS: Required<RetrievalOptions> = { rrfK: 10, candidateFactor: 2, minCandidates: 20, exactScanMaxChunks: 2000, textWeight: 2 };
/** pgvector's hnsw.ef_search range is 1 to 1000. */
const MAX_EF_SEARCH = 1000;

/**
 * Collections of versioned documents per tenant, and entitled hybrid search over their chunks.
 *
 * Search first checks the caller's roles (casbin RBAC, resource `collection`) and the
 * per-collection grants. It then runs pgvector cosine search and PostgreSQL full-text search,
 * with the tenant, the entitled collection ids and the live-chunk condition inside the SQL.
 * Reciprocal rank fusion merges the two lists.
 */
export class RetrievalService {
  private readonly log = getLogger('retrieval');
  private readonly options: Required<RetrievalOptions>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
    private readonly roles: RoleCheck,
    private readonly access: CollectionAccess,
    readonly embedder: Embedder,
    options: RetrievalOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * Returns the k best chunks of one collection for a query. Raises BadUserInputError for an
   * invalid request and NotFoundError when the tenant has no such collection. Raises
   * ForbiddenError, after writing `access.denied` to the ledger, when the caller may not read the
   * collection. Raises FailedPreconditionError when another embedder than the configured one
   * embedded the collection.
   */
  async search(principal: SearchPrincipal, request: SearchRequest): Promise<SearchHit[]> {
    const valid = validateSearchRequest(request);
    if (valid.tenant !== principal.tenant) {
      await this.deny(principal, valid.collection, 'read', 'tenant');
      throw new ForbiddenError(`You act for tenant ${principal.tenant} and cannot search collection "${valid.collection}" of another tenant.`);
    }
    await this.authorize(principal, valid.collection, 'read');

    const collection = await findCollection(this.dataSource, valid.tenant, valid.collection);
    if (!collection) {
      throw new NotFoundError(`Collection "${valid.collection}" does not exist in tenant ${valid.tenant}. Ingest a document into it first (warden docs ingest --collection ${valid.collection} --file PATH).`);
    }
    if (valid.mode !== 'text') this.checkEmbedder(collection);

    const scope: SearchScope = { tenant: valid.tenant, collectionIds: [collection.id] };
    const depth = Math.max(valid.k * this.options.candidateFactor, this.options.minCandidates);
    // A single-method search needs only k rows from its list; hybrid fuses deeper lists.
    let vectorLimit = depth;
    let textLimit = depth;
    if (valid.mode === 'vector') {
      vectorLimit = valid.k;
      textLimit = 0;
    } else if (valid.mode === 'text') {
      vectorLimit = 0;
      textLimit = valid.k;
    }
    const queryEmbedding = vectorLimit > 0 ? (await this.embedder.embed([valid.query]))[0] : undefined;
    const textQuery = anyWordQuery(valid.query);

    return this.dataSource.transaction(async (manager) => {
      let vectorList: RankedChunk[] = [];
      if (queryEmbedding) {
        const scopeSize = await countScope(manager, scope);
        const exact = scopeSize <= this.options.exactScanMaxChunks;
        if (!exact) {
          // Iterative scans keep reading the HNSW graph until enough rows pass the tenant and
          // collection filter (pgvector 0.8+), instead of filtering a fixed top-ef list down to
          // fewer than k. relaxed_order may return rows slightly out of order; the query sorts them.
          await manager.query(`SET LOCAL hnsw.iterative_scan = relaxed_order`);
          await manager.query(`SET LOCAL hnsw.ef_search = ${Math.min(MAX_EF_SEARCH, Math.max(40, vectorLimit))}`);
        }
        vectorList = await nearestChunks(manager, scope, queryEmbedding, vectorLimit, !exact);
        if (!exact && vectorList.length < Math.min(vectorLimit, scopeSize)) {
          // The iterative scan stops after hnsw.max_scan_tuples (20,000 by default), which a small
          // scope among many other chunks can reach; the exact scan then finds the rest.
          this.log.warn({ tenant: scope.tenant, found: vectorList.length, limit: vectorLimit, scopeSize }, 'index scan returned too few rows; searching exactly');
          vectorList = await nearestChunks(manager, scope, queryEmbedding, vectorLimit, false);
        }
      }
      const textList = textLimit > 0 && textQuery !== '' ? await textMatches(manager, scope, textQuery, textLimit) : [];

      const weights = [1, this.options.textWeight];
      const fused = reciprocalRankFusion([vectorList, textList], (item) => item.id, { k: this.options.rrfK, weights }).slice(0, valid.k);
      const details = await chunkDetails(manager, scope, fused.map((entry) => entry.id));
      const hits: SearchHit[] = [];
      for (const entry of fused) {
        const row = details.get(entry.id);
        if (!row) continue;
        const [vectorRank, textRank] = entry.ranks;
        const similarity = vectorRank === null ? null : vectorList[vectorRank - 1].score;
        const textScore = textRank === null ? null : textList[textRank - 1].score;
        let score = entry.score;
        if (valid.mode === 'vector') score = similarity ?? 0;
        if (valid.mode === 'text') score = textScore ?? 0;
        hits.push({
          chunkId: row.id,
          documentId: row.document_id,
          documentName: row.document_name,
          documentVersion: row.document_version,
          collection: row.collection,
          citation: row.citation,
          text: row.text,
          score,
          vectorRank,
          textRank,
          similarity,
          textScore,
          metadata: row.metadata,
        });
      }
      return hits;
    });
  }

  /**
   * Raises ForbiddenError, after writing `access.denied` to the ledger, unless the caller's roles
   * permit `action` on resource `collection` and the collection grants cover this collection.
   */
  async authorize(principal: SearchPrincipal, collection: string, action: CollectionAction): Promise<void> {
    if (this.roles.isAllowed(principal, 'collection', action) && this.access.isAllowed(principal, collection, action)) return;
    await this.deny(principal, collection, action, 'policy');
    throw new ForbiddenError(`Your roles (${principal.roles.join(', ')}) do not permit ${action} on collection "${collection}".`);
  }

  /** Ingests a document for a caller whose roles and collection grants must permit `ingest` in its own tenant. */
  async ingestAs(principal: SearchPrincipal, command: Omit<IngestDocumentCommand, 'tenant' | 'actor'>): Promise<IngestReport> {
    await this.authorize(principal, command.collection, 'ingest');
    return this.ingest({ ...command, tenant: principal.tenant, actor: principal.subject });
  }

  /** Ingests a document from the local file system. Only for trusted callers such as the CLI: the path is read as given. */
  async ingestFile(command: IngestFileCommand): Promise<IngestReport> {
    const fileName = basename(command.path);
    let content: string;
    try {
      content = readRegularFile(command.path, MAX_DOCUMENT_BYTES);
    } catch (error) {
      if (error instanceof BadUserInputError) throw error;
      throw new BadUserInputError(`File ${command.path} cannot be read.`, [{ field: 'file', message: 'must be an existing, readable file' }]);
    }
    const format = command.format ?? formatFromFileName(fileName);
    if (!format) {
      throw new BadUserInputError(`Cannot tell the format of ${fileName}.`, [
        { field: 'format', message: 'use a .md, .txt or .jsonl file, or pass --format markdown, text or jsonl' },
      ]);
    }
    return this.ingest({
      tenant: command.tenant,
      actor: command.actor,
      collection: command.collection,
      document: command.document ?? fileName,
      format,
      content,
      source: `file:${fileName}`,
    });
  }

  /**
   * Stores a document version: chunks it, embeds the chunks, and in one transaction retires the
   * previous version's chunks, stores the new ones and appends `docs.ingested` to the ledger.
   * Content identical to the current version (same SHA-256) adds nothing and writes no entry.
   * Raises FailedPreconditionError when another embedder produced the collection's vectors.
   */
  async ingest(command: IngestDocumentCommand): Promise<IngestReport> {
    validateIngestCommand(command);
    const digest = createHash('sha256').update(command.content, 'utf8').digest('hex');
    const embedding = { provider: this.embedder.provider, model: this.embedder.model, dimension: this.embedder.dimension };

    const existing = await findCollection(this.dataSource, command.tenant, command.collection);
    if (existing) this.checkEmbedder(existing);
    const before = existing ? await findCurrentDocument(this.dataSource, existing.id, command.document) : { current: undefined, maxVersion: 0 };
    if (before.current?.digest === digest) {
      return {
        collection: command.collection,
        document: command.document,
        status: 'unchanged',
        documentId: before.current.id,
        version: before.current.version,
        digest,
        chunks: before.current.chunk_count,
        addedChunks: 0,
        retiredChunks: 0,
        embedding,
        ledger: null,
      };
    }

    // Chunking and embedding run before the transaction, so no lock waits on the embedder.
    const version = before.maxVersion + 1;
    const chunks = await chunkDocument({ tenant: command.tenant, collection: command.collection, document: command.document, version }, command.format, command.content);
    if (chunks.length === 0) {
      throw new BadUserInputError(`Document ${command.document} has no text to index.`, [{ field: 'content', message: 'must contain text' }]);
    }
    const vectors = await this.embedder.embed(chunks.map((chunk) => embeddingInput(chunk.title, chunk.citation, chunk.text)));

    const documentId = randomUUID();
    const report = await this.dataSource.transaction(async (manager) => {
      await insertCollection(manager, {
        id: randomUUID(),
        tenant: command.tenant,
        name: command.collection,
        embedding_provider: embedding.provider,
        embedding_model: embedding.model,
        dimension: embedding.dimension,
      });
      const collection = (await findCollection(manager, command.tenant, command.collection, true))!;
      this.checkEmbedder(collection);
      const now = await findCurrentDocument(manager, collection.id, command.document);
      if (now.maxVersion !== before.maxVersion) {
        throw new ConflictError(`Document ${command.document} in collection "${command.collection}" changed during this ingest. Run the ingest again.`);
      }

      const retiredChunks = now.current ? await retireDocument(manager, now.current.id) : 0;
      await insertDocument(manager, {
        id: documentId,
        tenant: command.tenant,
        collectionId: collection.id,
        name: command.document,
        version,
        digest,
        format: command.format,
        source: command.source,
        chunkCount: chunks.length,
      });
      await insertChunks(manager, { tenant: command.tenant, collectionId: collection.id, documentId, ...embedding }, chunks, vectors);
      const ledger = await this.ledger.append(manager, {
        type: 'docs.ingested',
        tenant: command.tenant,
        actor: command.actor,
        payload: {
          collection: command.collection,
          document: command.document,
          documentId,
          version,
          digest,
          format: command.format,
          source: command.source,
          chunks: chunks.length,
          retiredChunks,
          previousVersion: now.current?.version ?? null,
          embedding,
        },
      });
      await setDocumentLedgerSeq(manager, documentId, ledger.seq);
      const status: IngestReport['status'] = now.current ? 'updated' : 'created';
      return { status, retiredChunks, ledger };
    });

    this.log.info(
      { tenant: command.tenant, collection: command.collection, document: command.document, version, chunks: chunks.length, retiredChunks: report.retiredChunks, ledgerSeq: report.ledger.seq },
      'document ingested',
    );
    return {
      collection: command.collection,
      document: command.document,
      status: report.status,
      documentId,
      version,
      digest,
      chunks: chunks.length,
      addedChunks: chunks.length,
      retiredChunks: report.retiredChunks,
      embedding,
      ledger: report.ledger,
    };
  }

  /** Raises FailedPreconditionError when the collection's vectors come from another embedder than the configured one. */
  private checkEmbedder(collection: CollectionRow): void {
    const { provider, model, dimension } = this.embedder;
    if (collection.embedding_provider === provider && collection.embedding_model === model && collection.dimension === dimension) return;
    throw new FailedPreconditionError(
      `Collection "${collection.name}" holds ${collection.embedding_provider} embeddings of model ${collection.embedding_model} with ${collection.dimension} dimensions, ` +
        `but the configured embedder is ${provider} ${model} with ${dimension} dimensions, and vectors of different embedders cannot be compared. ` +
        `Set WARDEN_EMBEDDING_PROVIDER, WARDEN_EMBEDDING_MODEL and WARDEN_EMBEDDING_DIMENSION back to the collection's embedder, or ingest into a new collection.`,
    );
  }

  private async deny(principal: SearchPrincipal, collection: string, action: CollectionAction, reason: 'policy' | 'tenant'): Promise<void> {
    this.log.warn({ tenant: principal.tenant, collection, action, roles: principal.roles, reason }, 'collection access denied');
    try {
      await this.ledger.appendStandalone(this.dataSource, {
        type: 'access.denied',
        tenant: principal.tenant,
        actor: principal.subject,
        payload: { operation: `retrieval.${action === 'read' ? 'search' : 'ingest'}`, resource: 'collection', action, collection, roles: principal.roles, reason },
      });
    } catch (error) {
      // The request is still denied when the denial cannot be recorded.
      this.log.error({ err: error, collection, action }, 'collection access denial could not be written to the ledger');
    }
  }
}

/** The text embedded for a chunk: its title and citation give the vector the section's topic. */
function embeddingInput(title: string | null, citation: string, text: string): string {
  return [title, citation, text].filter((part) => part).join('\n');
}

/**
 * Reads a regular file as UTF-8 and rejects anything else: a FIFO, a socket or a device such as
 * /dev/zero reports size 0 and would be read without end. The size is checked on the open file,
 * and a file that grows while it is read is rejected rather than read past its checked size.
 */
function readRegularFile(path: string, maxBytes: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new BadUserInputError(`${basename(path)} is not a regular file.`, [{ field: 'file', message: 'must be a regular file, not a directory, pipe, socket or device; save the document to a file first' }]);
    }
    if (stats.size > maxBytes) {
      throw new BadUserInputError(`File ${basename(path)} has ${stats.size} bytes.`, [{ field: 'file', message: `must be at most ${maxBytes} bytes; split the document` }]);
    }
    // One byte more than the checked size, to notice a file that grew.
    const buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) read = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > stats.size) {
      throw new BadUserInputError(`File ${basename(path)} changed while it was read.`, [{ field: 'file', message: 'must not change during ingest; retry when it is written completely' }]);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function validateIngestCommand(command: IngestDocumentCommand): void {
  const errors = [];
  const collectionError = checkCollectionName(command.collection);
  if (collectionError) errors.push(collectionError);
  const documentError = checkDocumentName(command.document);
  if (documentError) errors.push(documentError);
  if (!DOCUMENT_FORMATS.includes(command.format)) errors.push({ field: 'format', message: `must be one of ${DOCUMENT_FORMATS.join(', ')}` });
  if (typeof command.content !== 'string' || command.content.trim() === '') errors.push({ field: 'content', message: 'must contain text' });
  else if (Buffer.byteLength(command.content) > MAX_DOCUMENT_BYTES) errors.push({ field: 'content', message: `must be at most ${MAX_DOCUMENT_BYTES} bytes; split the document` });
  if (typeof command.tenant !== 'string' || !isValidTenant(command.tenant)) {
    errors.push({ field: 'tenant', message: 'must be a tenant id of letters, digits, ".", "_" or "-", such as demo-bank' });
  }
  for (const field of ['actor', 'source'] as const) {
    if (typeof command[field] !== 'string' || command[field].trim() === '') errors.push({ field, message: 'must be a non-empty string' });
  }
  if (errors.length > 0) throw new BadUserInputError(`Invalid document ingest: ${errors.map((error) => error.field).join(', ')}.`, errors);
}
