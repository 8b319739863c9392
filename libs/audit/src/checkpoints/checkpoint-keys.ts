import type { DataSource } from 'typeorm';
import { FailedPreconditionError, getLogger } from '../../../common/src/index.js';
import type { LedgerAppender } from '../ledger.types.js';
import { generateCheckpointKey, loadOrCreateCheckpointKey, replaceCheckpointKeyFile } from './checkpoint-key-file.js';
import { formatVerifierKey, keyIdOf, rawEd25519PublicKey, type CheckpointSigner, type CheckpointVerifierKey } from './checkpoint-note.js';

/**
 * Tenant of the ledger entries about checkpoints and their keys. A checkpoint covers every
 * tenant's entries, and "*" can never be a real tenant id (TENANT_PATTERN in libs/policy excludes it).
 */
export const CHECKPOINT_LEDGER_TENANT = '*';

/** A public key in audit.checkpoint_keys. */
export interface CheckpointKeyRecord {
  /** `<key name>+<key hash hex>`, as signature lines name the key. */
  keyId: string;
  keyName: string;
  /** Raw 32-byte Ed25519 public key, standard base64. */
  publicKey: string;
  /** Verifier key string `<key name>+<key hash hex>+<base64(0x01 || public key)>`. */
  vkey: string;
  createdAt: string;
  /** Time the key stopped signing, or null while it is current. */
  retiredAt: string | null;
}

/** The key that signs the next checkpoint. */
export interface ActiveCheckpointKey {
  keyId: string;
  signer: CheckpointSigner;
}

export interface KeyRotation {
  keyId: string;
  vkey: string;
  /** Keys that were current before and are retired now. */
  retiredKeyIds: string[];
}

interface KeyRow {
  key_id: string;
  key_name: string;
  public_key: Buffer | Uint8Array;
  vkey: string;
  created_at: string;
  retired_at: string | null;
}

const KEY_COLUMNS = `key_id, key_name, public_key, vkey,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS retired_at`;

/**
 * The checkpoint signing key: the private key in a PEM file, every public key that ever signed in
 * audit.checkpoint_keys. The file is read again for every signature, so a rotation by another
 * process (the `warden audit rotate-key` command beside a running gateway) takes effect at the
 * next checkpoint.
 */
export class CheckpointKeyStore {
  private readonly log = getLogger('audit-checkpoints');

  constructor(
    private readonly dataSource: DataSource,
    private readonly keyFile: string,
    private readonly ledger: LedgerAppender,
  ) {}

  /**
   * Loads the private key (creating the file on first use) and publishes its public key under
   * `keyName` if this is the first signature with that pair. Raises FailedPreconditionError when
   * the key was retired, because a checkpoint signed by a retired key would mislead verifiers.
   */
  async activeKey(keyName: string): Promise<ActiveCheckpointKey> {
    const privateKey = await loadOrCreateCheckpointKey(this.keyFile);
    const publicKey = rawEd25519PublicKey(privateKey);
    const keyId = keyIdOf(keyName, publicKey);

    // A key the database has never seen is published only while no other key is current. Any later
    // key must come from rotate-key, which records the rotation in the ledger, because a key file
    // replaced by other means would otherwise start signing with no trace in the ledger.
    const inserted: { key_id: string }[] = await this.dataSource.query(
      `INSERT INTO audit.checkpoint_keys (key_id, key_name, public_key, vkey)
       SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM audit.checkpoint_keys WHERE retired_at IS NULL)
       ON CONFLICT (key_id) DO NOTHING RETURNING key_id`,
      [keyId, keyName, publicKey, formatVerifierKey(keyName, publicKey)],
    );
    if (inserted.length > 0) this.log.info({ keyId }, 'published checkpoint public key');

    const rows: { retired: boolean; public_key: Buffer | Uint8Array }[] = await this.dataSource.query(
      'SELECT retired_at IS NOT NULL AS retired, public_key FROM audit.checkpoint_keys WHERE key_id = $1',
      [keyId],
    );
    if (rows.length === 0) {
      const current: { key_id: string }[] = await this.dataSource.query('SELECT key_id FROM audit.checkpoint_keys WHERE retired_at IS NULL ORDER BY created_at');
      this.log.warn({ keyId, currentKeyIds: current.map((row) => row.key_id) }, 'checkpoint key file contains a key this database never published');
      throw new FailedPreconditionError(
        `The checkpoint signing key in ${this.keyFile} (${keyId}) was never published by this database, whose current key is ${current.map((row) => row.key_id).join(', ')}. ` +
          'Restore the key file of this database, or run warden audit rotate-key to start signing with a new key recorded in the ledger.',
      );
    }
    if (!Buffer.from(rows[0].public_key).equals(publicKey)) {
      // Two keys with the same name and 4-byte hash: about one pair in four billion.
      throw new FailedPreconditionError(`Checkpoint key ${keyId} collides with a published key. Run warden audit rotate-key.`);
    }
    if (rows[0].retired) {
      throw new FailedPreconditionError(
        `The checkpoint signing key in ${this.keyFile} (${keyId}) was retired. Restore the current key file or run warden audit rotate-key.`,
      );
    }
    return { keyId, signer: { keyName, privateKey, publicKey } };
  }

  /**
   * Creates a new signing key, publishes its public key, retires every other current key, records
   * the rotation in the ledger and then replaces the key file. Old public keys stay in the table,
   * so checkpoints signed before still verify.
   */
  async rotate(keyName: string, actor: string): Promise<KeyRotation> {
    let generated = generateCheckpointKey();
    let publicKey = rawEd25519PublicKey(generated.privateKey);
    // A 4-byte key hash can repeat; a new key must not reuse a published id.
    while ((await this.find(keyIdOf(keyName, publicKey))) !== undefined) {
      generated = generateCheckpointKey();
      publicKey = rawEd25519PublicKey(generated.privateKey);
    }
    const keyId = keyIdOf(keyName, publicKey);
    const vkey = formatVerifierKey(keyName, publicKey);

    const retiredKeyIds = await this.dataSource.transaction(async (manager) => {
      await manager.query('INSERT INTO audit.checkpoint_keys (key_id, key_name, public_key, vkey) VALUES ($1, $2, $3, $4)', [
        keyId,
        keyName,
        publicKey,
        vkey,
      ]);
      // Wrapped in a SELECT because TypeORM returns [rows, count] for a bare UPDATE.
      const retired: { key_id: string }[] = await manager.query(
        `WITH retired AS (
           UPDATE audit.checkpoint_keys SET retired_at = now() WHERE retired_at IS NULL AND key_id <> $1 RETURNING key_id
         ) SELECT key_id FROM retired`,
        [keyId],
      );
      const ids = retired.map((row) => row.key_id).sort();
      await this.ledger.append(manager, {
        type: 'checkpoint.key-rotated',
        tenant: CHECKPOINT_LEDGER_TENANT,
        actor,
        payload: { keyId, vkey, retiredKeyIds: ids },
      });
      return ids;
    });

    // NOTE: if this rename fails, the new key is published but the file still contains a retired key,
    // so checkpoints stop with a message until rotate-key runs again.
    await replaceCheckpointKeyFile(this.keyFile, generated.pem);
    this.log.info({ keyId, retiredKeyIds }, 'rotated checkpoint signing key');
    return { keyId, vkey, retiredKeyIds };
  }

  /** Lists every published public key, oldest first. */
  async list(): Promise<CheckpointKeyRecord[]> {
    const rows: KeyRow[] = await this.dataSource.query(`SELECT ${KEY_COLUMNS} FROM audit.checkpoint_keys ORDER BY created_at, key_id`);
    return rows.map(toKeyRecord);
  }

  /** Returns every published key, retired or not, in the form verifyCheckpoint takes. */
  async verifierKeys(): Promise<CheckpointVerifierKey[]> {
    const rows: { key_name: string; public_key: Buffer | Uint8Array }[] = await this.dataSource.query(
      'SELECT key_name, public_key FROM audit.checkpoint_keys ORDER BY created_at, key_id',
    );
    return rows.map((row) => ({ keyName: row.key_name, publicKey: Buffer.from(row.public_key) }));
  }

  private async find(keyId: string): Promise<CheckpointKeyRecord | undefined> {
    const rows: KeyRow[] = await this.dataSource.query(`SELECT ${KEY_COLUMNS} FROM audit.checkpoint_keys WHERE key_id = $1`, [keyId]);
    return rows.length > 0 ? toKeyRecord(rows[0]) : undefined;
  }
}

function toKeyRecord(row: KeyRow): CheckpointKeyRecord {
  return {
    keyId: row.key_id,
    keyName: row.key_name,
    publicKey: Buffer.from(row.public_key).toString('base64'),
    vkey: row.vkey,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}
