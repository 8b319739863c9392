import { SetMetadata } from '@nestjs/common';

export const REQUIRES_KEY = 'warden:requires';
export const PUBLIC_KEY = 'warden:public';

/** The permission a handler needs, checked by the policy guard against casbin. */
export interface RequiredPermission {
  resource: string;
  action: string;
}

/** Declares the casbin resource and action that a resolver or route needs. */
export const Requires = (resource: string, action: string) => SetMetadata(REQUIRES_KEY, { resource, action } satisfies RequiredPermission);

/** Marks a route that needs no token (health and metrics probes). Everything else is denied without one. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
