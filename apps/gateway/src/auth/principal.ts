import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { Request } from 'express';
import type { Principal } from '../../../../libs/policy/src/index.js';

/** The express request with the principal the policy guard attached. */
export type AuthenticatedRequest = Request & { principal?: Principal };

export function requestFromContext(context: ExecutionContext): AuthenticatedRequest {
  if (context.getType<string>() === 'graphql') {
    return GqlExecutionContext.create(context).getContext<{ req: AuthenticatedRequest }>().req;
  }
  return context.switchToHttp().getRequest<AuthenticatedRequest>();
}

/** Injects the authenticated caller into a resolver argument. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = requestFromContext(context).principal;
  if (!principal) throw new Error('CurrentPrincipal used on a handler that the policy guard did not authenticate');
  return principal;
});
