import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { getLogger, isWardenError, requestContext, scrubText } from '../../../../libs/common/src/index.js';
import type { WardenDatabase } from '../../../../libs/database/src/index.js';

const log = getLogger('graphql-errors');

/** Error codes that GraphQL itself or Apollo produce before any resolver runs; they pass through. */
const PROTOCOL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * Maps every error to a safe response, in one place. Warden's typed errors keep their code,
 * message and field errors; protocol errors from GraphQL pass through; anything else becomes a
 * generic INTERNAL_SERVER_ERROR carrying only the request id, and is logged with its details.
 */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown, database?: Pick<WardenDatabase, 'poolWaitTimeout'>): GraphQLFormattedError {
  const unwrapped = unwrapResolverError(error);
  const original = database?.poolWaitTimeout(unwrapped) ?? unwrapped;
  const requestId = requestContext.getStore()?.requestId;

  if (isWardenError(original)) {
    // Messages can quote what the caller sent, such as an unknown field name, so personal data in
    // them is masked like in the logs.
    const extensions: Record<string, unknown> = { code: original.code };
    if (original.fieldErrors.length > 0) {
      extensions.fieldErrors = original.fieldErrors.map((fieldError) => ({ field: scrubText(fieldError.field), message: scrubText(fieldError.message) }));
    }
    return { message: scrubText(original.message), path: formatted.path, locations: formatted.locations, extensions };
  }

  const code = formatted.extensions?.code;
  if (typeof code === 'string' && PROTOCOL_CODES.has(code)) {
    // GraphQL quotes the offending value of a variable or the name of an unknown field, which can
    // be personal data such as an IBAN sent in the wrong variable, so these are masked too.
    return { message: scrubText(formatted.message), locations: formatted.locations, path: formatted.path, extensions: { code } };
  }

  log.error({ err: original, path: formatted.path }, 'unexpected error in a GraphQL operation');
  return {
    message: `Internal error. Quote request id ${requestId ?? 'unknown'} when you report it.`,
    path: formatted.path,
    locations: formatted.locations,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}
