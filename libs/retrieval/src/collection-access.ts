import { join } from 'node:path';
import { newEnforcer, type Enforcer } from 'casbin';
import type { SearchPrincipal } from './retrieval.types.js';

export type CollectionAction = 'read' | 'ingest';

/**
 * Per-collection grants (policies/casbin/collection-model.conf and collection-policy.csv): which
 * collections each role may search or ingest into, per tenant, with keyMatch patterns. The RBAC
 * check of resource `collection` decides whether a caller may use retrieval at all; these rules
 * decide which collections.
 */
export class CollectionAccess {
  private constructor(private readonly enforcer: Enforcer) {}

  static async create(policyDir: string): Promise<CollectionAccess> {
    const enforcer = await newEnforcer(join(policyDir, 'casbin', 'collection-model.conf'), join(policyDir, 'casbin', 'collection-policy.csv'));
    return new CollectionAccess(enforcer);
  }

  /** Returns true when any of the caller's roles may take `action` on the collection in the caller's tenant. */
  isAllowed(principal: SearchPrincipal, collection: string, action: CollectionAction): boolean {
    return principal.roles.some((role) => this.enforcer.enforceSync(role, principal.tenant, collection, action));
  }

  /** Returns the names among `collections` that the caller may take `action` on. */
  allowedCollections(principal: SearchPrincipal, collections: readonly string[], action: CollectionAction): string[] {
    return collections.filter((collection) => this.isAllowed(principal, collection, action));
  }
}
