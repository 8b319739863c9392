import type { DataSource, EntityManager } from 'typeorm';
import { deriveKey, getLogger, loadOrCreateMasterKey, openAesGcm, sealAesGcm } from '../../common/src/index.js';
import { ERASED, type SubjectKey, type SubjectKeyState } from '../../audit/src/index.js';
import type { PiiEntityType } from './pii/index.js';
import { PlaceholderMap } from './placeholders.js';

/**
 * The encrypted store behind typed placeholders: for each scope (a proxy call, an answer) the
 * original value of every placeholder, encrypted with AES-256-GCM under a key of its tenant. The
 * tenant key is derived from one master key with HKDF-SHA256, so no key of one tenant opens
 * another tenant's values. The tenant, scope and placeholder are bound into each ciphertext as
 * associated data, so a row copied to another scope or tenant fails to decrypt instead of
 * restoring the wrong value. This table is the one place where personal data from prompts is
 * kept; everything else stores placeholders. Entries of an answer asked for a named data subject
 * are sealed under that subject's key (`subject_key_id`) instead, so erasure destroys them too.
 */
export class PlaceholderVault {
  private readonly log = getLogger('placeholder-vault');
  private readonly tenantKeys = new Map<string, Buffer>();

  private constructor(
    private readonly dataSource: DataSource,
    private readonly masterKey: Buffer,
  ) {}

  /** Opens the vault with the master key in `keyFile`, creating the key (mode 0600) when the file does not exist. */
  static async open(dataSource: DataSource, keyFile: string): Promise<PlaceholderVault> {
    return new PlaceholderVault(dataSource, await loadOrCreateMasterKey(keyFile, 'placeholder vault key'));
  }

  /**
   * Encrypts and stores every entry of `map` under `scope`, keeping a placeholder already stored for
   * the scope. With `subjectKey` the values are sealed under that data subject's key instead of the
   * tenant key, so erasing the subject leaves them unreadable.
   */
  async store(tenant: string, scope: string, map: PlaceholderMap, manager: EntityManager = this.dataSource.manager, subjectKey?: SubjectKey): Promise<void> {
    const entries = map.entries();
    if (entries.length === 0) return;
    const values: string[] = [];
    const parameters: unknown[] = [];
    entries.forEach((entry, index) => {
      const base = index * 6;
      values.push(`($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6})`);
      const sealed = subjectKey
        ? sealAesGcm(subjectKey.key, entry.value, associatedData(tenant, scope, entry.placeholder, subjectKey.keyId))
        : this.encrypt(tenant, scope, entry.placeholder, entry.value);
      parameters.push(tenant, scope, entry.placeholder, entry.entityType, sealed, subjectKey?.keyId ?? null);
    });
    await manager.query(
      `INSERT INTO guardrails.vault_entries (tenant, scope, placeholder, entity_type, sealed, subject_key_id)
       VALUES ${values.join(', ')} ON CONFLICT (tenant, scope, placeholder) DO NOTHING`,
      parameters,
    );
  }

  /**
   * Loads and decrypts the placeholders of `scope`, or returns an empty map when none were stored.
   * An entry sealed under a subject key is opened with that key from `subjectKeys`. When that key is
   * missing or destroyed (its subject was erased), the entry reads as `erased`.
   */
  async load(tenant: string, scope: string, subjectKeys: ReadonlyMap<string, SubjectKeyState> = new Map()): Promise<PlaceholderMap> {
    const rows: { placeholder: string; entity_type: PiiEntityType; sealed: Buffer; subject_key_id: string | null }[] = await this.dataSource.query(
      'SELECT placeholder, entity_type, sealed, subject_key_id FROM guardrails.vault_entries WHERE tenant = $1 AND scope = $2',
      [tenant, scope],
    );
    const entries = rows.flatMap((row) => {
      const subjectKey = row.subject_key_id === null ? undefined : subjectKeys.get(row.subject_key_id);
      if (row.subject_key_id !== null && subjectKey?.state !== 'active') return [{ placeholder: row.placeholder, entityType: row.entity_type, value: ERASED }];
      try {
        const value =
          subjectKey?.state === 'active'
            ? openAesGcm(subjectKey.key, row.sealed, associatedData(tenant, scope, row.placeholder, row.subject_key_id as string)).toString('utf8')
            : this.decrypt(tenant, scope, row.placeholder, row.sealed);
        return [{ placeholder: row.placeholder, entityType: row.entity_type, value }];
      } catch (error) {
        // A row that does not decrypt was altered or moved; it restores nothing rather than a wrong value.
        this.log.error({ err: error, tenant, scope, placeholder: row.placeholder }, 'vault entry failed authentication and was skipped');
        return [];
      }
    });
    return new PlaceholderMap(entries);
  }

  private encrypt(tenant: string, scope: string, placeholder: string, value: string): Buffer {
    return sealAesGcm(this.tenantKey(tenant), value, associatedData(tenant, scope, placeholder));
  }

  private decrypt(tenant: string, scope: string, placeholder: string, sealed: Buffer): string {
    return openAesGcm(this.tenantKey(tenant), sealed, associatedData(tenant, scope, placeholder)).toString('utf8');
  }

  private tenantKey(tenant: string): Buffer {
    let key = this.tenantKeys.get(tenant);
    if (!key) {
      key = deriveKey(this.masterKey, `warden placeholder vault v1 tenant ${tenant}`);
      this.tenantKeys.set(tenant, key);
    }
    return key;
  }
}

/** Binds tenant, scope and placeholder (and the subject key id, for entries sealed under one) into the ciphertext. */
function associatedData(tenant: string, scope: string, placeholder: string, subjectKeyId?: string): Buffer {
  return Buffer.from(JSON.stringify(subjectKeyId === undefined ? [tenant, scope, placeholder] : [tenant, scope, placeholder, subjectKeyId]), 'utf8');
}
