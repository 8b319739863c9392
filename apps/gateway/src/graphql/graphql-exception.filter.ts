import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { GqlContextType } from '@nestjs/graphql';

/**
 * Hands errors from GraphQL guards and resolvers back to GraphQL, where formatGraphqlError maps
 * them to a code and logs the unexpected ones as JSON with the request id. Without this filter,
 * Nest's default handler also writes every error, an expected NOT_FOUND or UNAUTHENTICATED
 * included, to the console as plain text with its stack. HTTP routes keep Nest's default handling.
 */
@Catch()
export class GraphqlExceptionFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<GqlContextType>() === 'graphql') return exception;
    super.catch(exception, host);
    return undefined;
  }
}
