import { randomBytes, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { BadUserInputError, NotFoundError, sha256Hex } from '../../common/src/index.js';
import type { PostgresLedger } from '../../audit/src/index.js';
import { isValidTenant, isWardenRole, KNOWN_ROLES, type Principal } from '../../policy/src/index.js';

/** Prefix of every Warden API key, so scanners and people recognize one. */
export const API_KEY_PREFIX = 'wdn_';

/** API key as listed: never the key itself, which is shown only once when created. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  tenant: string;
  roles: string[];
  /** First characters of the key, enough to tell keys apart. */
  keyPrefix: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** The key; it is stored only as a SHA-256 hash and cannot be shown again. */
  key: string;
}

/** How long a verified key is remembered in this process, in milliseconds. */
const CACHE_MS = 5_000;

/**
 * API keys for machine callers of the OpenAI-compatible proxy. A key is 32 random bytes, so an
 * unsalted SHA-256 is enough to store it: no dictionary can guess it.
 *
 * NOTE: a revoked key keeps working for up to 5 seconds on other gateway replicas, because they
 * still have it in their cache. The replica that revokes it clears its cache at once.
 */
export class ApiKeyStore {
  private readonly cache = new Map<string, { principal: Principal | null; expiresMs: number }>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
  ) {}

  /** Creates a key for a tenant and roles and records `apikey.created` in the ledger. */
  async create(request: { tenant: string; roles: string[]; name: string; actor: string }): Promise<CreatedApiKey> {
    const roles = [...new Set(request.roles)];
    const problems = [];
    if (!isValidTenant(request.tenant)) problems.push({ field: '--tenant', message: 'must be a tenant id: letters, digits, dot, underscore and hyphen' });
    if (roles.length === 0 || !roles.every(isWardenRole)) problems.push({ field: '--role', message: `must be one or more of ${KNOWN_ROLES.join(', ')}` });
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(request.name)) {
      problems.push({ field: '--name', message: 'must be 1 to 64 letters, digits, dot, underscore or hyphen' });
    }
    if (problems.length > 0) throw new BadUserInputError('The API key request is invalid.', problems);

    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = randomUUID();
    const createdAt = new Date().toISOString();
    const keyPrefix = key.slice(0, 10);
    await this.dataSource.transaction(async (manager) => {
      const existing: unknown[] = await manager.query('SELECT 1 FROM llm.api_keys WHERE tenant = $1 AND name = $2', [request.tenant, request.name]);
      if (existing.length > 0) {
        throw new BadUserInputError(`An API key named "${request.name}" already exists in tenant ${request.tenant}.`, [
          { field: '--name', message: 'must be unique in the tenant; choose another name or revoke the old key' },
        ]);
      }
      await manager.query(
        `INSERT INTO llm.api_keys (id, key_hash, key_prefix, name, tenant, roles, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [id, sha256Hex(key), keyPrefix, request.name, request.tenant, roles, request.actor, createdAt],
      );
      await this.ledger.append(manager, {
        type: 'apikey.created',
        tenant: request.tenant,
        actor: request.actor,
        payload: { keyId: id, name: request.name, roles, keyPrefix },
      });
    });
    return { id, name: request.name, tenant: request.tenant, roles, keyPrefix, createdAt, revokedAt: null, key };
  }

  /** Revokes a tenant's key by name and records `apikey.revoked`. Raises NotFoundError for an unknown or revoked key. */
  async revoke(request: { tenant: string; name: string; actor: string }): Promise<ApiKeyInfo> {
    const info = await this.dataSource.transaction(async (manager) => {
      // Wrapped in a SELECT because TypeORM returns [rows, count] for a bare UPDATE ... RETURNING.
      const rows: ApiKeyRow[] = await manager.query(
        `WITH revoked AS (
           UPDATE llm.api_keys SET revoked_at = now() WHERE tenant = $1 AND name = $2 AND revoked_at IS NULL
           RETURNING ${COLUMNS}
         )
         SELECT * FROM revoked`,
        [request.tenant, request.name],
      );
      if (rows.length === 0) throw new NotFoundError(`No active API key named "${request.name}" exists in tenant ${request.tenant}.`);
      await this.ledger.append(manager, {
        type: 'apikey.revoked',
        tenant: request.tenant,
        actor: request.actor,
        payload: { keyId: rows[0].id, name: request.name },
      });
      return toInfo(rows[0]);
    });
    this.cache.clear();
    return info;
  }

  async list(tenant: string): Promise<ApiKeyInfo[]> {
    const rows: ApiKeyRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM llm.api_keys WHERE tenant = $1 ORDER BY created_at`, [tenant]);
    return rows.map(toInfo);
  }

  /** Returns the principal of an active key, or null for an unknown or revoked key. */
  async verify(key: string): Promise<Principal | null> {
    if (!key.startsWith(API_KEY_PREFIX) || key.length > 100) return null;
    const hash = sha256Hex(key);
    const cached = this.cache.get(hash);
    if (cached && cached.expiresMs > Date.now()) return cached.principal;

    const rows: ApiKeyRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM llm.api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, [hash]);
    const principal = rows.length === 0 ? null : { subject: `apikey:${rows[0].name}`, tenant: rows[0].tenant, roles: rows[0].roles };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, expiresMs: Date.now() + CACHE_MS });
    return principal;
  }
}

const COLUMNS = 'id, name, tenant, roles, key_prefix, created_at, revoked_at';

interface ApiKeyRow {
  id: string;
  name: string;
  tenant: string;
  roles: string[];
  key_prefix: string;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

function toInfo(row: ApiKeyRow): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    tenant: row.tenant,
    roles: row.roles,
    keyPrefix: row.key_prefix,
    createdAt: new Date(row.created_at).toISOString(),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at).toISOString(),
  };
}
