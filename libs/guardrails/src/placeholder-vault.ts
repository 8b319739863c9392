import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { createPrivateFileOnce, FailedPreconditionError, getLogger, readPrivateFile } from '../../common/src/index.js';
import type { PiiEntityType } from './pii/index.js';
import { PlaceholderMap } from './placeholders.js';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The encrypted store behind typed placeholders: for each scope (a proxy call, an answer) the
 * original value of every placeholder, encrypted with AES-256-GCM under a key of its tenant. The
 * tenant key is derived from one master key with HKDF-SHA256, so no key of one tenant opens
 * another tenant's values. The tenant, scope and placeholder are bound into each ciphertext as
 * associated data, so a row copied to another scope or tenant fails to decrypt instead of
 * restoring the wrong value. This table is the one place where personal data from prompts is
 * kept; everything else stores placeholders.
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
    return new PlaceholderVault(dataSource, await loadOrCreateMasterKey(keyFile));
  }

  /** Encrypts and stores every entry of `map` under `scope`; a placeholder already stored for the scope is kept. */
  async store(tenant: string, scope: string, map: PlaceholderMap, manager: EntityManager = this.dataSource.manager): Promise<void> {
    const entries = map.entries();
    if (entries.length === 0) return;
    const values: string[] = [];
    const parameters: unknown[] = [];
    entries.forEach((entry, index) => {
      const base = index * 5;
      values.push(`($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5})`);
      parameters.push(tenant, scope, entry.placeholder, entry.entityType, this.encrypt(tenant, scope, entry.placeholder, entry.value));
    });
    await manager.query(
      `INSERT INTO guardrails.vault_entries (tenant, scope, placeholder, entity_type, sealed)
       VALUES ${values.join(', ')} ON CONFLICT (tenant, scope, placeholder) DO NOTHING`,
      parameters,
    );
  }

  /** Loads and decrypts the placeholders of `scope`; an empty map when none were stored. */
  async load(tenant: string, scope: string): Promise<PlaceholderMap> {
    const rows: { placeholder: string; entity_type: PiiEntityType; sealed: Buffer }[] = await this.dataSource.query(
      'SELECT placeholder, entity_type, sealed FROM guardrails.vault_entries WHERE tenant = $1 AND scope = $2',
      [tenant, scope],
    );
    const entries = rows.flatMap((row) => {
      try {
        return [{ placeholder: row.placeholder, entityType: row.entity_type, value: this.decrypt(tenant, scope, row.placeholder, row.sealed) }];
      } catch (error) {
        // A row that does not decrypt was altered or moved; it restores nothing rather than a wrong value.
        this.log.error({ err: error, tenant, scope, placeholder: row.placeholder }, 'vault entry failed authentication and was skipped');
        return [];
      }
    });
    return new PlaceholderMap(entries);
  }

  private encrypt(tenant: string, scope: string, placeholder: string, value: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.tenantKey(tenant), nonce);
    cipher.setAAD(associatedData(tenant, scope, placeholder));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]);
  }

  private decrypt(tenant: string, scope: string, placeholder: string, sealed: Buffer): string {
    const nonce = sealed.subarray(0, NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.tenantKey(tenant), nonce);
    decipher.setAAD(associatedData(tenant, scope, placeholder));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  }

  private tenantKey(tenant: string): Buffer {
    let key = this.tenantKeys.get(tenant);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.masterKey, Buffer.alloc(0), `warden placeholder vault v1 tenant ${tenant}`, KEY_BYTES));
      this.tenantKeys.set(tenant, key);
    }
    return key;
  }
}

function associatedData(tenant: string, scope: string, placeholder: string): Buffer {
  return Buffer.from(JSON.stringify([tenant, scope, placeholder]), 'utf8');
}

/** Reads the 32-byte master key (hex) from `path`, or creates it there with mode 0600. */
async function loadOrCreateMasterKey(path: string): Promise<Buffer> {
  const existing = await readMasterKey(path);
  if (existing) return existing;

  if (await createPrivateFileOnce(path, `${randomBytes(KEY_BYTES).toString('hex')}\n`)) {
    getLogger('placeholder-vault').info({ path }, 'created placeholder vault key');
  }
  const key = await readMasterKey(path);
  if (!key) throw new FailedPreconditionError(`The placeholder vault key ${path} vanished while it was created. Try again.`);
  return key;
}

async function readMasterKey(path: string): Promise<Buffer | undefined> {
  const text = await readPrivateFile(path, 'placeholder vault key');
  if (text === undefined) return undefined;
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    throw new FailedPreconditionError(`The placeholder vault key ${path} must hold 64 hex characters (32 bytes). Restore it from backup.`);
  }
  return Buffer.from(hex, 'hex');
}
