import type { LedgerReceipt } from '../../audit/src/index.js';

export type SearchMode = 'hybrid' | 'vector' | 'text';

export type DocumentFormat = 'markdown' | 'text' | 'jsonl';

/** One chunk found by a search, with where it came from and how each method ranked it. */
export interface SearchHit {
  chunkId: string;
  documentId: string;
  documentName: string;
  documentVersion: number;
  collection: string;
  citation: string;
  text: string;
  /** Fused score (higher is better): reciprocal rank fusion in hybrid mode, else the method's own score. */
  score: number;
  /** 1-based rank in the vector list, or null when the chunk is not in it. */
  vectorRank: number | null;
  /** 1-based rank in the full-text list, or null when the chunk is not in it. */
  textRank: number | null;
  /** Cosine similarity to the query embedding, when the chunk is in the vector list. */
  similarity: number | null;
  /** PostgreSQL ts_rank_cd of the chunk for the query, when the chunk is in the full-text list. */
  textScore: number | null;
  metadata: Record<string, unknown>;
}

export interface SearchRequest {
  tenant: string;
  collection: string;
  query: string;
  /** Number of hits to return, 1 to MAX_SEARCH_K. */
  k: number;
  mode?: SearchMode;
}

/** The caller of a search: the subject, tenant and roles of a verified token. */
export interface SearchPrincipal {
  tenant: string;
  roles: string[];
  subject: string;
}

/** A document to ingest whose content is already in memory. */
export interface IngestDocumentCommand {
  tenant: string;
  /** Subject of the token or operator that ingests, recorded in the ledger. */
  actor: string;
  collection: string;
  /** Document name, unique within the collection, such as `credit-policy.md`. */
  document: string;
  format: DocumentFormat;
  content: string;
  /** Origin such as `file:credit-policy.md` or `demo`, stored with the version and in the ledger. */
  source: string;
}

/** A document to ingest from the local file system (trusted callers such as the CLI). */
export interface IngestFileCommand {
  tenant: string;
  actor: string;
  collection: string;
  path: string;
  /** Overrides the format that the file extension implies. */
  format?: DocumentFormat;
  /** Overrides the document name, which defaults to the file name. */
  document?: string;
}

/** What one ingest did. */
export interface IngestReport {
  collection: string;
  document: string;
  /** `created`: first version; `updated`: a new version retired the previous one; `unchanged`: same digest as the current version, nothing added. */
  status: 'created' | 'updated' | 'unchanged';
  documentId: string;
  version: number;
  /** SHA-256 (hex) of the document's content. */
  digest: string;
  /** Chunks of the current version. */
  chunks: number;
  /** Chunks newly stored by this ingest. */
  addedChunks: number;
  /** Chunks of the previous version that this ingest retired. */
  retiredChunks: number;
  embedding: { provider: string; model: string; dimension: number };
  /** Ledger entry `docs.ingested`, or null when nothing changed. */
  ledger: LedgerReceipt | null;
}
