import { createHash } from 'node:crypto';
import { MarkdownTextSplitter, RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { BadUserInputError } from '../../common/src/index.js';
import type { DocumentFormat } from './retrieval.types.js';

/** Target chunk size in characters, and the overlap between neighbouring chunks of a split text. */
export const CHUNK_SIZE = 1200;
export const CHUNK_OVERLAP = 150;
/** Maximum length of a citation or title; longer values are cut. */
const MAX_LABEL_LENGTH = 300;

/** A piece of a document, before embedding. */
export interface DocumentChunk {
  /** Stable id: the same text at the same position of the same document version gets the same id. */
  id: string;
  position: number;
  title: string | null;
  citation: string;
  text: string;
  metadata: Record<string, unknown>;
}

/** Scope of a chunk: the parts of its id other than its text. */
export interface ChunkScope {
  tenant: string;
  collection: string;
  document: string;
  version: number;
}

/** A chunk before it has an id. */
interface ChunkDraft {
  /** JSONL `id` (with a part number when the text was split), or the chunk's ordinal. */
  sourceKey: string;
  title: string | null;
  citation: string;
  text: string;
  metadata: Record<string, unknown>;
}

/**
 * Returns the chunk id: SHA-256 over the tenant, collection, document, version, source key and
 * text, each length-prefixed so no two different tuples hash the same input. Re-chunking an
 * unchanged document version therefore yields the same ids.
 */
export function chunkId(scope: ChunkScope, sourceKey: string, text: string): string {
  const hash = createHash('sha256');
  for (const part of [scope.tenant, scope.collection, scope.document, String(scope.version), sourceKey, text]) {
    hash.update(`${Buffer.byteLength(part)}:`);
    hash.update(part);
  }
  return hash.digest('hex').slice(0, 32);
}

/** Returns the format that a file name's extension implies, or undefined. */
export function formatFromFileName(fileName: string): DocumentFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.md') || lower.endsWith('.markdown')) return 'markdown';
  if (lower.endsWith('.txt') || lower.endsWith('.text')) return 'text';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

/** Splits a document into chunks with stable ids and citations. */
export async function chunkDocument(scope: ChunkScope, format: DocumentFormat, content: string): Promise<DocumentChunk[]> {
  let drafts: ChunkDraft[];
  switch (format) {
    case 'markdown':
      drafts = await splitMarkdown(scope.document, content);
      break;
    case 'text':
      drafts = await splitPlainText(scope.document, content);
      break;
    case 'jsonl':
      drafts = await splitJsonl(content);
      break;
  }
  return drafts.map((draft, position) => ({
    id: chunkId(scope, draft.sourceKey, draft.text),
    position,
    title: draft.title,
    citation: draft.citation,
    text: draft.text,
    metadata: draft.metadata,
  }));
}

/**
 * Splits Markdown with LangChain's Markdown-aware splitter. The citation of a chunk is the
 * document name and the nearest heading at or above the chunk's first line. Empty HTML anchors
 * (`<a id="..."></a>`), which converted legal texts put before each paragraph, are removed first.
 */
async function splitMarkdown(documentName: string, content: string): Promise<ChunkDraft[]> {
  const cleaned = content.replace(/<a\s+(?:id|name)="[^"]*"\s*><\/a>/gi, '').replace(/\r\n?/g, '\n');
  const headings = headingLines(cleaned);
  const splitter = new MarkdownTextSplitter({ chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP });
  const pieces = await splitter.createDocuments([cleaned]);
  return pieces
    .map((piece, ordinal) => {
      const firstLine = Number((piece.metadata as { loc?: { lines?: { from?: number } } }).loc?.lines?.from ?? 1);
      const heading = nearestHeading(headings, firstBodyLine(piece.pageContent, firstLine));
      return {
        sourceKey: String(ordinal),
        title: heading,
        citation: label(heading ? `${documentName}, ${heading}` : documentName),
        text: piece.pageContent.trim(),
        metadata: { line: firstLine },
      };
    })
    .filter((draft) => draft.text !== '');
}

/**
 * Returns the line number of the chunk's first line that is neither blank nor a heading, so a
 * chunk that starts with "# Title" and "## Section" is cited by "Section".
 */
function firstBodyLine(chunk: string, firstLine: number): number {
  const lines = chunk.split('\n');
  const offset = lines.findIndex((line) => line.trim() !== '' && !/^#{1,6}\s/.test(line));
  return firstLine + (offset === -1 ? lines.length - 1 : offset);
}

/** Splits plain text on paragraphs, then lines, then words. Its citation is the document name and the nearest heading-like line. */
async function splitPlainText(documentName: string, content: string): Promise<ChunkDraft[]> {
  const cleaned = content.replace(/\r\n?/g, '\n');
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP });
  const pieces = await splitter.createDocuments([cleaned]);
  const headings = plainTextHeadings(cleaned);
  return pieces
    .map((piece, ordinal) => {
      const firstLine = Number((piece.metadata as { loc?: { lines?: { from?: number } } }).loc?.lines?.from ?? 1);
      const heading = nearestHeading(headings, firstLine);
      return {
        sourceKey: String(ordinal),
        title: heading,
        citation: label(heading ? `${documentName}, ${heading}` : documentName),
        text: piece.pageContent.trim(),
        metadata: { line: firstLine },
      };
    })
    .filter((draft) => draft.text !== '');
}

/**
 * Reads JSONL chunk files: one object per line with `text` and `citation`, optional `id`, `title`
 * and any other fields, which become metadata. Lines with an empty text are skipped. A text
 * longer than CHUNK_SIZE is split further, and every part keeps the line's citation.
 */
async function splitJsonl(content: string): Promise<ChunkDraft[]> {
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP });
  const drafts: ChunkDraft[] = [];
  const seenKeys = new Set<string>();
  const lines = content.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const row = index + 1;
    const record = parseJsonLine(line, row);
    const text = typeof record.text === 'string' ? record.text.trim() : '';
    const citation = typeof record.citation === 'string' ? record.citation.trim() : '';
    if (typeof record.text !== 'string') throw jsonlError(row, 'text', 'must be a string');
    // A heading-only entry (such as an annex whose body is elsewhere) has nothing to search.
    if (text === '') continue;
    if (citation === '') throw jsonlError(row, 'citation', 'must be a non-empty string such as "12 CFR 1002.9(b)(2)"');
    if (record.id !== undefined && typeof record.id !== 'string' && typeof record.id !== 'number') {
      throw jsonlError(row, 'id', 'must be a string or number when present');
    }

    const key = record.id === undefined ? `line-${row}` : String(record.id);
    if (seenKeys.has(key)) throw jsonlError(row, 'id', `repeats id "${key.slice(0, 64)}"; ids must be unique within a file`);
    seenKeys.add(key);
    const title = typeof record.title === 'string' && record.title.trim() !== '' ? label(record.title.trim()) : null;
    const { text: _text, citation: _citation, title: _title, ...metadata } = record;
    const parts = text.length > CHUNK_SIZE ? await splitter.splitText(text) : [text];
    parts.forEach((part, partIndex) => {
      drafts.push({
        sourceKey: parts.length === 1 ? key : `${key}#${partIndex + 1}`,
        title,
        citation: label(citation),
        text: part.trim(),
        metadata: parts.length === 1 ? metadata : { ...metadata, part: partIndex + 1, parts: parts.length },
      });
    });
  }
  return drafts;
}

function parseJsonLine(line: string, row: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw jsonlError(row, 'line', 'is not valid JSON; write one JSON object per line');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw jsonlError(row, 'line', 'must be a JSON object');
  return value as Record<string, unknown>;
}

function jsonlError(row: number, field: string, message: string): BadUserInputError {
  return new BadUserInputError(`Invalid chunk on line ${row}: ${field} ${message}.`, [{ field: `/${row}/${field}`, message }]);
}

/** Returns [line number (1-based), heading text] for every ATX Markdown heading outside code fences. */
function headingLines(markdown: string): Array<[number, string]> {
  const headings: Array<[number, string]> = [];
  let inFence = false;
  markdown.split('\n').forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const match = inFence ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (match) headings.push([index + 1, match[1].replace(/[*_`]/g, '').trim()]);
  });
  return headings;
}

/** Heading-like lines of plain text: a short line without a final period, followed by a blank line. */
function plainTextHeadings(text: string): Array<[number, string]> {
  const lines = text.split('\n');
  const headings: Array<[number, string]> = [];
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    const next = lines[index + 1]?.trim() ?? '';
    if (trimmed !== '' && trimmed.length <= 80 && !/[.,;:]$/.test(trimmed) && next === '') headings.push([index + 1, trimmed]);
  });
  return headings;
}

function nearestHeading(headings: Array<[number, string]>, line: number): string | null {
  let found: string | null = null;
  for (const [headingLine, text] of headings) {
    if (headingLine > line) break;
    found = text;
  }
  return found;
}

function label(value: string): string {
  return value.length > MAX_LABEL_LENGTH ? `${value.slice(0, MAX_LABEL_LENGTH - 3)}...` : value;
}
