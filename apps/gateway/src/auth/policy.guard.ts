import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, getLogger, requestContext, UnauthenticatedError } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { requestFromContext } from './principal.js';
import { PUBLIC_KEY, REQUIRES_KEY, type RequiredPermission } from './requires.decorator.js';

/**
 * Global guard: authenticates the bearer token and checks the handler's declared permission with
 * casbin. Deny by default: a handler without @Requires (and not @Public) is refused, and every
 * denial of an authenticated caller is written to the ledger.
 */
@Injectable()
export class PolicyGuard implements CanActivate {
  private readonly log = getLogger('policy-guard');

  constructor(
    private readonly reflector: Reflector,
    @Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;

    const request = requestFromContext(context);
    const principal = await this.runtime.tokens.verify(bearerToken(request.headers.authorization));
    request.principal = principal;
    const store = requestContext.getStore();
    if (store) {
      store.tenant = principal.tenant;
      store.actor = principal.subject;
    }

    const required = this.reflector.getAllAndOverride<RequiredPermission | undefined>(REQUIRES_KEY, targets);
    const operation = `${context.getClass().name}.${context.getHandler().name}`;
    if (required && this.runtime.policy.isAllowed(principal, required.resource, required.action)) return true;

    const resource = required?.resource ?? 'undeclared';
    const action = required?.action ?? 'undeclared';
    this.runtime.metrics.accessDenied.add(1, { resource, action });
    this.log.warn({ operation, resource, action, roles: principal.roles }, 'access denied by policy');
    try {
      await this.runtime.ledger.appendStandalone(this.runtime.database.dataSource, {
        type: 'access.denied',
        tenant: principal.tenant,
        actor: principal.subject,
        payload: { operation, resource, action, roles: principal.roles, requestId: store?.requestId ?? null },
      });
    } catch (error) {
      // The request is still denied when the denial cannot be recorded, and the failure is logged.
      this.log.error({ err: error, operation, resource, action }, 'access denial could not be written to the ledger');
    }
    throw new ForbiddenError(`Your roles (${principal.roles.join(', ')}) do not permit ${action} on ${resource}.`);
  }
}

function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw new UnauthenticatedError('Send a bearer token in the Authorization header: "Authorization: Bearer <token>".');
  return match[1];
}
