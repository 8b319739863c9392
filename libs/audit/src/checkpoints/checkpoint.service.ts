import type { DataSource } from 'typeorm';
import { BadUserInputError, FailedPreconditionError, getLogger } from '../../../common/src/index.js';
import type { LedgerEntry } from '../ledger-hash.js';
import { LEDGER_ENTRY_COLUMNS, toLedgerEntry, toSeqNumber, type LedgerEntryRow } from '../ledger-rows.js';
import type { LedgerAppender } from '../ledger.types.js';
import type { ConsistencyProof, InclusionProof, MerkleLog } from '../merkle/merkle-log.types.js';
import { CHECKPOINT_LEDGER_TENANT, type CheckpointKeyStore } from './checkpoint-keys.js';
import { assertValidOrigin, formatCheckpoint, signCheckpoint } from './checkpoint-note.js';
import type { WitnessDelivery, WitnessPublisher } from './checkpoint-witness.js';

/** A stored checkpoint. */
export interface CheckpointRecord {
  id: number;
  treeSize: number;
  /** RFC 6962 root hash of the first treeSize ledger entries, lowercase hex. */
  rootHash: string;
  origin: string;
  keyId: string;
  /** The signed note (C2SP tlog-checkpoint), exactly as published. */
  note: string;
  /** Seq of the `checkpoint.created` ledger entry, which lies after the checkpointed size. */
  ledgerSeq: number;
  createdAt: string;
}

export interface CreatedCheckpoint extends CheckpointRecord {
  /** One outcome per configured witness; empty when none is configured. */
  witnesses: WitnessDelivery[];
}

/** Proof that ledger entry `seq` is leaf seq - 1 of the latest checkpoint's tree. */
export interface LedgerInclusionProof extends InclusionProof {
  seq: number;
  checkpoint: CheckpointRecord;
  /** The entry itself: its `hash` is the leaf data, so SHA-256(0x00 || hash bytes) is leafHash. */
  entry: LedgerEntry;
}

/** Proof that the tree of `fromSize` leaves is a prefix of the tree of `toSize` leaves. */
export interface LedgerConsistencyProof extends ConsistencyProof {
  /** The newest checkpoint of exactly fromSize leaves, if one exists. */
  fromCheckpoint: CheckpointRecord | null;
  /** The newest checkpoint of exactly toSize leaves, if one exists. */
  toCheckpoint: CheckpointRecord | null;
}

export interface CheckpointServiceOptions {
  /** Log name in the first line of every note; defaults to `warden.local/<log id of this database>`. */
  origin?: string;
  /** Source of the checkpoint time, which tests pin. Defaults to the system clock. */
  clock?: () => Date;
}

interface CheckpointRow {
  id: string | number;
  tree_size: string | number;
  root_hash: string;
  origin: string;
  key_id: string;
  note: string;
  ledger_seq: string | number;
  created_at: string;
}

const CHECKPOINT_COLUMNS = `id, tree_size, root_hash, origin, key_id, note, ledger_seq,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

const MAX_LIST_LIMIT = 1000;

/**
 * Signs the size and root of the ledger's Merkle tree as checkpoints, stores them, records each in
 * the ledger and hands it to the witnesses. Also serves inclusion and consistency proofs against
 * stored checkpoints.
 */
export class CheckpointService {
  private readonly log = getLogger('audit-checkpoints');
  private readonly clock: () => Date;
  private origin: string | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly merkle: MerkleLog,
    private readonly keys: CheckpointKeyStore,
    private readonly ledger: LedgerAppender,
    private readonly witnesses: WitnessPublisher,
    options: CheckpointServiceOptions = {},
  ) {
    if (options.origin !== undefined) assertValidOrigin(options.origin);
    this.origin = options.origin;
    this.clock = options.clock ?? (() => new Date());
  }

  /** Returns the log's origin, reading the database's log id the first time when none was configured. */
  async logOrigin(): Promise<string> {
    if (this.origin === undefined) {
      const rows: { log_id: string }[] = await this.dataSource.query('SELECT log_id::text AS log_id FROM audit.checkpoint_log');
      if (rows.length !== 1) throw new FailedPreconditionError('The checkpoint log id is missing. Run warden migrate.');
      this.origin = `warden.local/${rows[0].log_id}`;
    }
    return this.origin;
  }

  /**
   * Syncs the Merkle tree with the ledger, signs its size and root, stores the checkpoint with a
   * `checkpoint.created` ledger entry in one transaction, and then publishes the note. A witness
   * failure is recorded in the result and never undoes the checkpoint.
   */
  async create(actor: string): Promise<CreatedCheckpoint> {
    const origin = await this.logOrigin();
    const key = await this.keys.activeKey(origin);
    const treeSize = await this.merkle.sync();
    const rootHash = await this.merkle.rootHash(treeSize);
    const createdAt = this.clock().toISOString();
    const note = signCheckpoint(formatCheckpoint({ origin, treeSize, rootHash, time: createdAt }), key.signer);

    const record = await this.dataSource.transaction(async (manager) => {
      const receipt = await this.ledger.append(manager, {
        type: 'checkpoint.created',
        tenant: CHECKPOINT_LEDGER_TENANT,
        actor,
        payload: { treeSize, rootHash, keyId: key.keyId, origin },
      });
      const rows: CheckpointRow[] = await manager.query(
        `INSERT INTO audit.checkpoints (tree_size, root_hash, origin, key_id, note, ledger_seq, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz) RETURNING ${CHECKPOINT_COLUMNS}`,
        [treeSize, rootHash, origin, key.keyId, note, receipt.seq, createdAt],
      );
      return toCheckpointRecord(rows[0]);
    });
    this.log.info({ checkpointId: record.id, treeSize, rootHash, keyId: key.keyId, ledgerSeq: record.ledgerSeq }, 'checkpoint created');

    const witnesses = await this.witnesses.publish(record.id, note);
    return { ...record, witnesses };
  }

  /** Returns the checkpoint of the largest tree, or undefined before the first checkpoint. */
  async latest(): Promise<CheckpointRecord | undefined> {
    const rows: CheckpointRow[] = await this.dataSource.query(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit.checkpoints ORDER BY tree_size DESC, id DESC LIMIT 1`,
    );
    return rows.length > 0 ? toCheckpointRecord(rows[0]) : undefined;
  }

  /** Lists the newest checkpoints first. */
  async list(limit = 20): Promise<CheckpointRecord[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new BadUserInputError(`Invalid checkpoint limit ${String(limit)}.`, [
        { field: 'limit', message: `must be a whole number from 1 to ${MAX_LIST_LIMIT}` },
      ]);
    }
    const rows: CheckpointRow[] = await this.dataSource.query(`SELECT ${CHECKPOINT_COLUMNS} FROM audit.checkpoints ORDER BY id DESC LIMIT $1`, [
      limit,
    ]);
    return rows.map(toCheckpointRecord);
  }

  /**
   * Returns whether the ledger contains entries that no checkpoint covers yet, not counting the
   * `checkpoint.created` entries themselves, which would otherwise make every checkpoint call for
   * another.
   */
  async hasUncheckpointedEntries(): Promise<boolean> {
    const latest = await this.latest();
    const rows: unknown[] = await this.dataSource.query(
      "SELECT 1 FROM audit.ledger_entries WHERE seq > $1 AND type <> 'checkpoint.created' LIMIT 1",
      [latest?.treeSize ?? 0],
    );
    return rows.length > 0;
  }

  /** Proves that ledger entry `seq` is in the latest checkpoint's tree. */
  async inclusionProof(seq: number): Promise<LedgerInclusionProof> {
    if (!Number.isSafeInteger(seq) || seq < 1) {
      throw new BadUserInputError(`Invalid ledger seq ${String(seq)}.`, [{ field: 'seq', message: 'must be a whole number from 1' }]);
    }
    const checkpoint = await this.requireLatest();
    if (seq > checkpoint.treeSize) {
      throw new BadUserInputError(`Ledger entry ${seq} is beyond the latest checkpoint, which covers ${checkpoint.treeSize} entries.`, [
        { field: 'seq', message: `must be from 1 to ${checkpoint.treeSize}; create a checkpoint (warden audit checkpoint, or the createCheckpoint mutation) to cover later entries` },
      ]);
    }

    const proof = await this.merkle.inclusionProof(seq - 1, checkpoint.treeSize);
    if (proof.rootHash !== checkpoint.rootHash) {
      // The stored tree and the signed checkpoint disagree: a proof would not verify, so none is given.
      throw new Error(`the Merkle root of size ${checkpoint.treeSize} differs from checkpoint ${checkpoint.id}`);
    }
    const rows: LedgerEntryRow[] = await this.dataSource.query(`SELECT ${LEDGER_ENTRY_COLUMNS} FROM audit.ledger_entries WHERE seq = $1`, [seq]);
    return { ...proof, seq, checkpoint, entry: toLedgerEntry(rows[0]) };
  }

  /** Proves that the tree of fromSize leaves is a prefix of the tree of toSize leaves. */
  async consistencyProof(fromSize: number, toSize: number): Promise<LedgerConsistencyProof> {
    const fieldErrors = [];
    if (!Number.isSafeInteger(fromSize) || fromSize < 1) fieldErrors.push({ field: 'fromSize', message: 'must be a whole number from 1' });
    if (!Number.isSafeInteger(toSize) || toSize < 1) fieldErrors.push({ field: 'toSize', message: 'must be a whole number from 1' });
    if (fieldErrors.length > 0) throw new BadUserInputError('Invalid tree sizes for a consistency proof.', fieldErrors);

    const latest = await this.requireLatest();
    if (fromSize > toSize || toSize > latest.treeSize) {
      throw new BadUserInputError(`Tree sizes ${fromSize} and ${toSize} are out of range.`, [
        {
          field: fromSize > toSize ? 'fromSize' : 'toSize',
          message: `must satisfy 1 <= fromSize <= toSize <= ${latest.treeSize}, the size of the latest checkpoint`,
        },
      ]);
    }

    const proof = await this.merkle.consistencyProof(fromSize, toSize);
    return { ...proof, fromCheckpoint: await this.checkpointOfSize(fromSize), toCheckpoint: await this.checkpointOfSize(toSize) };
  }

  private async requireLatest(): Promise<CheckpointRecord> {
    const latest = await this.latest();
    if (!latest) throw new FailedPreconditionError('No checkpoint exists yet. Create one with warden audit checkpoint or the createCheckpoint mutation.');
    return latest;
  }

  private async checkpointOfSize(treeSize: number): Promise<CheckpointRecord | null> {
    const rows: CheckpointRow[] = await this.dataSource.query(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit.checkpoints WHERE tree_size = $1 ORDER BY id DESC LIMIT 1`,
      [treeSize],
    );
    return rows.length > 0 ? toCheckpointRecord(rows[0]) : null;
  }
}

function toCheckpointRecord(row: CheckpointRow): CheckpointRecord {
  return {
    id: toSeqNumber(row.id),
    treeSize: toSeqNumber(row.tree_size),
    rootHash: row.root_hash,
    origin: row.origin,
    keyId: row.key_id,
    note: row.note,
    ledgerSeq: toSeqNumber(row.ledger_seq),
    createdAt: row.created_at,
  };
}
