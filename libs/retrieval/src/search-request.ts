import { BadUserInputError, type FieldError } from '../../common/src/index.js';
import type { SearchMode, SearchRequest } from './retrieval.types.js';

export const MAX_SEARCH_K = 50;
export const MAX_QUERY_LENGTH = 2000;
/** Collection names: lowercase letters, digits, dot, underscore and hyphen, starting with a letter or digit, at most 64 characters. */
export const COLLECTION_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SEARCH_MODES: readonly SearchMode[] = ['hybrid', 'vector', 'text'];

/** Checks a search request and returns it with defaults applied; BadUserInputError lists every bad field. */
export function validateSearchRequest(request: SearchRequest): Required<SearchRequest> {
  const errors: FieldError[] = [];
  const collectionError = checkCollectionName(request.collection);
  if (collectionError) errors.push(collectionError);
  const query = typeof request.query === 'string' ? request.query.trim() : '';
  if (query === '') errors.push({ field: 'query', message: 'must be a non-empty question or keywords' });
  else if (query.length > MAX_QUERY_LENGTH) errors.push({ field: 'query', message: `must be at most ${MAX_QUERY_LENGTH} characters, got ${query.length}; shorten the query` });
  if (!Number.isInteger(request.k) || request.k < 1 || request.k > MAX_SEARCH_K) {
    errors.push({ field: 'k', message: `must be a whole number from 1 to ${MAX_SEARCH_K}, got ${String(request.k)}` });
  }
  const mode = request.mode ?? 'hybrid';
  if (!SEARCH_MODES.includes(mode)) errors.push({ field: 'mode', message: `must be one of ${SEARCH_MODES.join(', ')}` });
  if (errors.length > 0) throw new BadUserInputError(`Invalid search request: ${errors.map((error) => error.field).join(', ')}.`, errors);
  return { tenant: request.tenant, collection: request.collection, query, k: request.k, mode };
}

/** Returns a field error when `name` is not a valid collection name. */
export function checkCollectionName(name: unknown, field = 'collection'): FieldError | undefined {
  if (typeof name === 'string' && COLLECTION_PATTERN.test(name)) return undefined;
  const shown = typeof name === 'string' ? `"${name.slice(0, 64)}"` : String(name);
  return { field, message: `must be 1 to 64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, such as bank-policies; got ${shown}` };
}

/**
 * Turns a question into a websearch_to_tsquery query that matches chunks with ANY of its words.
 * websearch_to_tsquery alone ANDs every word, so a natural question matches almost nothing; the
 * rank then rewards chunks that contain more of the words, closer together.
 */
export function anyWordQuery(query: string): string {
  const words = query.normalize('NFKC').match(/[\p{L}\p{N}]+(?:[.\-'][\p{L}\p{N}]+)*/gu) ?? [];
  const kept = [...new Set(words.map((word) => word.toLowerCase()))].filter((word) => !['or', 'and', 'not'].includes(word));
  return kept.join(' or ');
}
