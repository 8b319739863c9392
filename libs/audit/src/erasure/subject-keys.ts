import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { deriveKey, getLogger, loadOrCreateMasterKey, openAesGcm, SEALING_KEY_BYTES, sealAesGcm } from '../../../common/src/index.js';

/** The key that encrypts one data subject's personal fields. */
export interface SubjectKey {
  keyId: string;
  key: Buffer;
}

/** A subject key as found by id: the key, or the erasure that destroyed it. */
export type SubjectKeyState = { state: 'active'; key: Buffer } | { state: 'erased'; erasedAt: Date; ledgerSeq: number };

/**
 * Per-data-subject keys in `audit.subject_keys`. Each subject key is 32 random bytes, wrapped
 * with AES-256-GCM under a per-tenant key that HKDF-SHA256 derives from the master key file (the
 * placeholder vault's key file, with another HKDF label), with the tenant and key id as associated
 * data. Subjects are looked up by an HMAC-SHA256 of their id, so the id itself is never stored.
 * Unwrapped keys are not cached: an erasure on one replica takes effect on every other one at once.
 */
export class SubjectKeyStore {
  private readonly log = getLogger('subject-keys');

  private constructor(
    private readonly dataSource: DataSource,
    private readonly masterKey: Buffer,
    private readonly clock: () => Date,
  ) {}

  /** Opens the store with the master key in `keyFile`, creating the key (mode 0600) when the file does not exist. */
  static async open(dataSource: DataSource, keyFile: string, clock: () => Date = () => new Date()): Promise<SubjectKeyStore> {
    return new SubjectKeyStore(dataSource, await loadOrCreateMasterKey(keyFile, 'subject key master key'), clock);
  }

  /** Returns the pseudonymous reference of a subject id in a tenant (64 hex characters). */
  subjectRef(tenant: string, subjectId: string): string {
    return createHmac('sha256', deriveKey(this.masterKey, `warden subject ref v1 tenant ${tenant}`)).update(subjectId, 'utf8').digest('hex');
  }

  /**
   * Returns the keyed digest of an erasure reason: HMAC-SHA-256 under a per-tenant key derived
   * from the master key. A reader of the ledger or an export cannot test guessed reasons, such as
   * ticket numbers, but Warden can still check a reason someone presents.
   */
  erasureReasonHmac(tenant: string, reason: string): string {
    return createHmac('sha256', deriveKey(this.masterKey, `warden erasure reason v1 tenant ${tenant}`)).update(reason, 'utf8').digest('hex');
  }

  /** Returns the subject's active key, creating one when the subject has none (or only erased ones). */
  async activeKey(tenant: string, subjectId: string, manager: EntityManager = this.dataSource.manager): Promise<SubjectKey> {
    const subjectRef = this.subjectRef(tenant, subjectId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const rows: { key_id: string; wrapped_key: Buffer }[] = await manager.query(
        'SELECT key_id, wrapped_key FROM audit.subject_keys WHERE tenant = $1 AND subject_ref = $2 AND erased_at IS NULL',
        [tenant, subjectRef],
      );
      if (rows[0]) return { keyId: rows[0].key_id, key: this.unwrap(tenant, rows[0].key_id, rows[0].wrapped_key) };

      const keyId = randomUUID();
      const key = randomBytes(SEALING_KEY_BYTES);
      // Two first decisions of one subject may race; the unique index keeps one key and the loser reads it.
      const inserted: unknown[] = await manager.query(
        `INSERT INTO audit.subject_keys (key_id, tenant, subject_ref, wrapped_key, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, subject_ref) WHERE erased_at IS NULL DO NOTHING RETURNING key_id`,
        [keyId, tenant, subjectRef, this.wrap(tenant, keyId, key), this.clock()],
      );
      if (inserted.length > 0) return { keyId, key };
    }
    throw new Error(`could not create or read the subject key of tenant ${tenant}`);
  }

  /** Looks up keys by id within a tenant; a key id that is not found is absent from the map. */
  async keysById(tenant: string, keyIds: readonly string[]): Promise<Map<string, SubjectKeyState>> {
    const found = new Map<string, SubjectKeyState>();
    if (keyIds.length === 0) return found;
    const rows: { key_id: string; wrapped_key: Buffer | null; erased_at: Date | null; erased_ledger_seq: string | null }[] = await this.dataSource.query(
      'SELECT key_id, wrapped_key, erased_at, erased_ledger_seq::text AS erased_ledger_seq FROM audit.subject_keys WHERE tenant = $1 AND key_id = ANY($2::uuid[])',
      [tenant, [...new Set(keyIds)]],
    );
    for (const row of rows) {
      if (row.wrapped_key === null) {
        found.set(row.key_id, { state: 'erased', erasedAt: new Date(row.erased_at as Date), ledgerSeq: Number(row.erased_ledger_seq) });
        continue;
      }
      try {
        found.set(row.key_id, { state: 'active', key: this.unwrap(tenant, row.key_id, row.wrapped_key) });
      } catch (error) {
        // A wrapped key that fails authentication was altered or belongs to another master key; its
        // records read as unavailable rather than failing the whole request.
        this.log.error({ err: error, tenant, keyId: row.key_id }, 'subject key failed authentication and was skipped');
      }
    }
    return found;
  }

  /** Lists the keys of a subject, active and erased, for an erasure to lock and destroy. */
  async keysOfSubject(manager: EntityManager, tenant: string, subjectRef: string): Promise<{ keyId: string; erasedAt: Date | null; erasedLedgerSeq: number | null }[]> {
    const rows: { key_id: string; erased_at: Date | null; erased_ledger_seq: string | null }[] = await manager.query(
      `SELECT key_id, erased_at, erased_ledger_seq::text AS erased_ledger_seq FROM audit.subject_keys
        WHERE tenant = $1 AND subject_ref = $2 ORDER BY created_at, key_id FOR UPDATE`,
      [tenant, subjectRef],
    );
    return rows.map((row) => ({
      keyId: row.key_id,
      erasedAt: row.erased_at ? new Date(row.erased_at) : null,
      erasedLedgerSeq: row.erased_ledger_seq === null ? null : Number(row.erased_ledger_seq),
    }));
  }

  /** Destroys keys: the wrapped bytes are cleared in the same transaction as the erasure's ledger entry. */
  async destroy(manager: EntityManager, keyIds: readonly string[], erasedAt: Date, ledgerSeq: number): Promise<void> {
    await manager.query(
      'UPDATE audit.subject_keys SET wrapped_key = NULL, erased_at = $2, erased_ledger_seq = $3 WHERE key_id = ANY($1::uuid[]) AND erased_at IS NULL',
      [keyIds, erasedAt, ledgerSeq],
    );
  }

  private wrap(tenant: string, keyId: string, key: Buffer): Buffer {
    return sealAesGcm(this.wrappingKey(tenant), key, keyAssociatedData(tenant, keyId));
  }

  private unwrap(tenant: string, keyId: string, wrapped: Buffer): Buffer {
    return openAesGcm(this.wrappingKey(tenant), wrapped, keyAssociatedData(tenant, keyId));
  }

  private wrappingKey(tenant: string): Buffer {
    return deriveKey(this.masterKey, `warden subject key wrapping v1 tenant ${tenant}`);
  }
}

function keyAssociatedData(tenant: string, keyId: string): Buffer {
  return Buffer.from(JSON.stringify(['subject-key', tenant, keyId]), 'utf8');
}
