/**
 * The roles, resources and actions that Warden's guards and policies/casbin/policy.csv share.
 * A token naming a role outside KNOWN_ROLES is rejected, and policy lines are checked against
 * RESOURCE_ACTIONS by the enforcer's specs, so a typo fails a test instead of silently granting
 * nothing.
 */
export const KNOWN_ROLES = ['application', 'analyst', 'reviewer', 'senior-reviewer', 'auditor', 'admin'] as const;

export type WardenRole = (typeof KNOWN_ROLES)[number];

/** Every action that a guard may check, keyed by resource. */
export const RESOURCE_ACTIONS = {
  decision: ['create', 'read', 'replay'],
  dataset: ['ingest', 'read'],
  model: ['train', 'read'],
  ledger: ['verify', 'read'],
  export: ['create'],
  policy: ['read'],
  checkpoint: ['read', 'create'],
  review: ['read', 'work', 'reveal'],
  'use-case': ['read', 'suspend'],
  session: ['read'],
  guardrail: ['scan', 'restore'],
  answer: ['create', 'read'],
  llm: ['invoke'],
  'llm-usage': ['read'],
  collection: ['read', 'ingest'],
  feature: ['read'],
} as const satisfies Record<string, readonly string[]>;

export type PolicyResource = keyof typeof RESOURCE_ACTIONS;

/** The caller of a request, as proven by a verified bearer token. */
export interface Principal {
  /** Stable id of the user or application (the token's `sub`). */
  subject: string;
  /** Tenant (bank or business unit) the caller acts for, which is the casbin domain. */
  tenant: string;
  /** Role names granted to the caller in that tenant. */
  roles: string[];
}

/**
 * Tenant ids: letters, digits, dot, underscore and hyphen, starting with a letter or digit, at
 * most 128 characters. The pattern excludes "*", which policy lines use for "every tenant", and
 * the comma and whitespace that casbin's CSV policy format would split on.
 */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isWardenRole(value: string): value is WardenRole {
  return (KNOWN_ROLES as readonly string[]).includes(value);
}

export function isValidTenant(value: string): boolean {
  return TENANT_PATTERN.test(value);
}
