import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, canonicalJson, ConflictError, FailedPreconditionError, getLogger, sha256Hex, type FieldError } from '../../common/src/index.js';
import type { CheckpointKeyRecord } from './checkpoints/checkpoint-keys.js';
import type { CheckpointSigner } from './checkpoints/checkpoint-note.js';
import type { CheckpointRecord } from './checkpoints/checkpoint.service.js';
import type { LedgerEntry } from './ledger-hash.js';
import type { InclusionProof } from './merkle/merkle-log.types.js';
import { collectUseCaseSummary, renderSummaryPdf, type UseCaseSummary } from './summary-report.js';
import {
  BUNDLE_FORMAT_VERSION,
  CHECKPOINT_FILE,
  DECISIONS_FILE,
  KEYS_FILE,
  LEDGER_FILE,
  LEDGER_HASH_DEFINITION,
  MANIFEST_FILE,
  MERKLE_LEAF_DEFINITION,
  PROOFS_FILE,
  REVIEW_ENTRY_TYPE_PREFIX,
  SUMMARY_FILE,
  sealManifest,
  toJsonLine,
  type BundleFileDigest,
  type BundleManifest,
  type DecisionLine,
} from './bundle-format.js';
import { readHead, verifyLedger, type LedgerVerification } from './ledger.js';
import { MANIFEST_SIGNATURE_FILE, signManifest } from './manifest-signature.js';
import { decisionsToCsv, decisionsToParquet, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, toAnalystRow, type AnalystRow } from './analyst-formats.js';
import { LEDGER_ENTRY_COLUMNS, toLedgerEntry, toSeqNumber, type LedgerEntryRow } from './ledger-rows.js';

/** Rows read per query or cursor fetch, so that memory stays flat for large exports. */
const EXPORT_BATCH_SIZE = 5000;

/**
 * Proofs generated per read of Merkle nodes. Each proof needs about log2(tree size) nodes. Batches
 * of 2,000 and 5,000 measured slower than 200 (30,000 consecutive leaves, bench:ledger machine).
 */
const PROOF_BATCH_SIZE = 200;

/** Name of the cursor over the exported decisions, open only inside the export's transaction. */
const DECISIONS_CURSOR = 'warden_export_decisions';

export interface ExportBundleOptions {
  useCase: string;
  /** Start of the period, inclusive. */
  from: Date;
  /** End of the period, exclusive. */
  to: Date;
  /** Folder for the bundle. It is created if missing and must not already contain bundle files. */
  outDir: string;
  /** Tenant whose decisions are exported, or every tenant when omitted. */
  tenant?: string;
  /** Only decisions with this outcome, or every outcome when omitted. */
  outcome?: 'APPROVE' | 'DECLINE' | 'REFER' | 'ANSWERED';
  /** Version of Warden that writes the bundle, recorded in the manifest. */
  wardenVersion: string;
}

/**
 * Checkpoint, proofs and keys that an export needs from the ledger. The runtime builds it from the
 * CheckpointService, the Merkle log and the key store.
 */
export interface ExportEvidence {
  /** A signed checkpoint whose tree has at least `minTreeSize` entries, created when none does yet. */
  checkpointCovering(minTreeSize: number): Promise<CheckpointRecord>;
  /** Inclusion proofs of many entries against one tree, in the order given. */
  inclusionProofs(leafIndexes: readonly number[], treeSize: number): Promise<InclusionProof[]>;
  /** Every published checkpoint key, current and retired. */
  verifierKeys(): Promise<CheckpointKeyRecord[]>;
  /** The current checkpoint signing key, published before this returns, which signs manifest.sig. */
  manifestSigner(): Promise<CheckpointSigner>;
}

export interface ExportBundleResult {
  outDir: string;
  manifest: BundleManifest;
}

interface DecisionRow {
  id: string;
  tenant: string;
  use_case: string;
  request_id: string | null;
  actor: string;
  outcome: string;
  score: number;
  model_version: string;
  record: Record<string, unknown>;
  record_digest: string;
  ledger_seq: string | number;
  ledger_hash: string;
  created_at: string;
}

/** Raised by exportBundle when the ledger fails verification, before any file is written. */
export class LedgerVerificationError extends FailedPreconditionError {
  constructor(readonly verification: LedgerVerification) {
    super(`The ledger fails verification at seq ${verification.firstBadSeq}: ${verification.reason}`);
  }
}

/**
 * Writes the decisions of one use case in [from, to) with their ledger entries and review entries,
 * inclusion proofs, checkpoint, keys, analyst files, summary and a manifest (format described in
 * bundle-format.ts). The whole chain is verified first, because a bundle cut from a broken chain
 * would fail checks for reasons no byte of it shows. The decisions, entries, summary figures and
 * chain head are read in one REPEATABLE READ transaction, so they describe the same snapshot. The
 * manifest is written last: a folder without manifest.json is an incomplete export.
 */
export async function exportBundle(dataSource: DataSource, options: ExportBundleOptions, evidence: ExportEvidence): Promise<ExportBundleResult> {
  validateExportOptions(options);
  const chain = await verifyLedger(dataSource);
  if (!chain.ok) throw new LedgerVerificationError(chain);
  const log = getLogger('audit-export');
  const period = { from: options.from.toISOString(), to: options.to.toISOString() };
  const tenant = options.tenant ?? null;

  await mkdir(options.outDir, { recursive: true });
  for (const name of [DECISIONS_FILE, LEDGER_FILE, MANIFEST_FILE, MANIFEST_SIGNATURE_FILE, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, PROOFS_FILE, CHECKPOINT_FILE, KEYS_FILE, SUMMARY_FILE]) {
    if (existsSync(join(options.outDir, name))) {
      throw new ConflictError(`The export folder ${options.outDir} already contains ${name}. Choose an empty folder.`);
    }
  }
  log.info({ useCase: options.useCase, tenant, period, outDir: options.outDir }, 'audit export started');

  const written: string[] = [];
  try {
    const snapshot = await dataSource.transaction('REPEATABLE READ', async (manager) => {
      const decisionsPath = join(options.outDir, DECISIONS_FILE);
      written.push(decisionsPath);
      const decisions = await writeDecisions(manager, decisionsPath, { useCase: options.useCase, period, tenant, outcome: options.outcome ?? null });
      const analystFiles = await writeAnalystFiles(options.outDir, decisions.rows, written);

      const ledgerPath = join(options.outDir, LEDGER_FILE);
      written.push(ledgerPath);
      const reviewSeqs = await readReviewEntrySeqs(manager, decisions.rows);
      const entrySeqs = [...decisions.rows.map((row) => row.ledger_seq), ...reviewSeqs].sort((a, b) => a - b);
      const ledger = await writeDecisionEntries(manager, ledgerPath, entrySeqs);
      // Read in the snapshot, so the PDF's review figures agree with the exported review entries.
      const summary = await collectSummary(manager, options, chain);
      return { decisions, analystFiles, ledger, reviewEntries: reviewSeqs.length, summary, head: await readHead(manager) };
    });
    const { decisions, analystFiles, ledger, reviewEntries, summary, head } = snapshot;
    const firstSeq = ledger.entries[0]?.seq ?? null;
    const lastSeq = ledger.entries.at(-1)?.seq ?? null;

    // The checkpoint must cover the newest exported entry; proofs are generated against its tree.
    const checkpoint = await evidence.checkpointCovering(lastSeq ?? 1);
    const proofsPath = join(options.outDir, PROOFS_FILE);
    written.push(proofsPath);
    const proofsFile = await writeProofs(proofsPath, ledger.entries, checkpoint.treeSize, evidence);
    // The signer is loaded first: a key used for the first time is published then, so keys.json lists it.
    const signer = await evidence.manifestSigner();
    const evidenceFiles = await writeEvidenceFiles(options.outDir, checkpoint.note, await evidence.verifierKeys(), written);

    const summaryPath = join(options.outDir, SUMMARY_FILE);
    written.push(summaryPath);
    const summaryFile = await writeSummary(summaryPath, {
      ...summary,
      checkpoint: { treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, createdAt: checkpoint.createdAt },
    });

    const manifest = sealManifest({
        formatVersion: BUNDLE_FORMAT_VERSION,
        wardenVersion: options.wardenVersion,
        useCase: options.useCase,
        tenant,
        period,
        counts: { decisions: decisions.count, ledgerEntries: ledger.entries.length, reviewEntries },
        outcome: options.outcome ?? null,
        checkpoint: { origin: checkpoint.origin, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, keyId: checkpoint.keyId },
        files: { [DECISIONS_FILE]: decisions.file, [LEDGER_FILE]: ledger.file, [PROOFS_FILE]: proofsFile, [SUMMARY_FILE]: summaryFile, ...analystFiles, ...evidenceFiles },
        ledger: {
          hashDefinition: LEDGER_HASH_DEFINITION,
          merkleLeafDefinition: MERKLE_LEAF_DEFINITION,
          firstSeq,
          lastSeq,
          head,
        },
        createdAt: new Date().toISOString(),
      });

    const manifestPath = join(options.outDir, MANIFEST_FILE);
    written.push(manifestPath);
    await writeFile(manifestPath, manifest.text, { flag: 'wx' });
    const signaturePath = join(options.outDir, MANIFEST_SIGNATURE_FILE);
    written.push(signaturePath);
    await writeFile(signaturePath, signManifest(Buffer.from(manifest.text, 'utf8'), signer), { flag: 'wx' });

    log.info({ outDir: options.outDir, counts: manifest.manifest.counts }, 'audit export finished');
    return { outDir: options.outDir, manifest: manifest.manifest };
  } catch (error) {
    log.error({ err: error, outDir: options.outDir }, 'audit export failed, so its partial files are removed');
    await Promise.all(written.map((path) => rm(path, { force: true })));
    throw error;
  }
}

function validateExportOptions(options: ExportBundleOptions): void {
  const fieldErrors: FieldError[] = [];
  const nonEmpty = (value: unknown): boolean => typeof value === 'string' && value.trim() !== '';

  if (!nonEmpty(options.useCase)) fieldErrors.push({ field: '/useCase', message: 'must be a non-empty use case name' });
  if (!isValidDate(options.from)) fieldErrors.push({ field: '/from', message: 'must be a valid Date' });
  if (!isValidDate(options.to)) fieldErrors.push({ field: '/to', message: 'must be a valid Date' });
  if (isValidDate(options.from) && isValidDate(options.to) && options.from.getTime() >= options.to.getTime()) {
    fieldErrors.push({ field: '/to', message: 'must be later than from, because the period [from, to) excludes to' });
  }
  if (!nonEmpty(options.outDir)) fieldErrors.push({ field: '/outDir', message: 'must be a folder path' });
  if (options.tenant !== undefined && !nonEmpty(options.tenant)) {
    fieldErrors.push({ field: '/tenant', message: 'must be a non-empty tenant id, or omitted for every tenant' });
  }
  if (options.outcome !== undefined && !['APPROVE', 'DECLINE', 'REFER', 'ANSWERED'].includes(options.outcome)) {
    fieldErrors.push({ field: '/outcome', message: 'must be APPROVE, DECLINE, REFER or ANSWERED (answer use cases), or omitted for every outcome' });
  }
  if (!nonEmpty(options.wardenVersion)) fieldErrors.push({ field: '/wardenVersion', message: 'must be a non-empty version' });

  if (fieldErrors.length > 0) throw new BadUserInputError('The export options are invalid. Fix the listed fields.', fieldErrors);
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** A file being written with its running size and SHA-256. */
class DigestingFile {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  private constructor(private readonly handle: FileHandle) {}

  static async create(path: string): Promise<DigestingFile> {
    return new DigestingFile(await open(path, 'wx'));
  }

  async write(text: string): Promise<void> {
    if (text === '') return;
    const data = Buffer.from(text, 'utf8');
    this.hash.update(data);
    this.bytes += data.length;
    await this.handle.write(data);
  }

  async close(): Promise<BundleFileDigest> {
    await this.handle.sync();
    await this.handle.close();
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

/** Creates a file, lets `work` fill it and closes it, also when `work` throws. */
async function writeDigestingFile<T>(path: string, work: (file: DigestingFile) => Promise<T>): Promise<T & { file: BundleFileDigest }> {
  const file = await DigestingFile.create(path);
  let result: T;
  try {
    result = await work(file);
  } catch (error) {
    await file.close().catch(() => undefined);
    throw error;
  }
  return { ...result, file: await file.close() };
}

interface DecisionFilter {
  useCase: string;
  period: { from: string; to: string };
  tenant: string | null;
  outcome: string | null;
}

async function writeDecisions(
  manager: EntityManager,
  path: string,
  filter: DecisionFilter,
): Promise<{ count: number; firstSeq: number | null; lastSeq: number | null; rows: AnalystRow[]; file: BundleFileDigest }> {
  return writeDigestingFile(path, async (file) => {
    let count = 0;
    const analystRows: AnalystRow[] = [];
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    // One server-side cursor runs the query and its sort once. Keyset pages would sort every
    // matching row again for each page, which made large exports quadratic.
    await manager.query(
      `DECLARE ${DECISIONS_CURSOR} NO SCROLL CURSOR FOR
       SELECT id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest,
              ledger_seq, ledger_hash,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
         FROM decisions.decision_records
        WHERE use_case = $1 AND created_at >= $2::timestamptz AND created_at < $3::timestamptz
          AND ($4::text IS NULL OR tenant = $4::text)
          AND ($5::text IS NULL OR outcome = $5::text)
        ORDER BY ledger_seq, id`,
      [filter.useCase, filter.period.from, filter.period.to, filter.tenant, filter.outcome],
    );

    for (;;) {
      const rows: DecisionRow[] = await manager.query(`FETCH ${EXPORT_BATCH_SIZE} FROM ${DECISIONS_CURSOR}`);
      if (rows.length === 0) break;

      const erasedKeys = await erasedSubjectKeys(manager, rows);
      const lines = rows.map((row) => toDecisionLine(row, erasedKeys));
      await file.write(lines.map(toJsonLine).join(''));
      analystRows.push(...lines.map(toAnalystRow));

      count += lines.length;
      firstSeq ??= lines[0].ledgerSeq;
      lastSeq = lines[lines.length - 1].ledgerSeq;
    }
    // A failed export rolls back its transaction, which closes the cursor too.
    await manager.query(`CLOSE ${DECISIONS_CURSOR}`);
    return { count, firstSeq, lastSeq, rows: analystRows };
  });
}

/** Collects the summary figures for the export's filters. The caller adds the bundle's own checkpoint. */
function collectSummary(manager: EntityManager, options: ExportBundleOptions, ledger: LedgerVerification): Promise<UseCaseSummary> {
  return collectUseCaseSummary(manager, {
    useCase: options.useCase,
    from: options.from,
    to: options.to,
    tenant: options.tenant,
    outcome: options.outcome,
    checkpoint: null,
    ledger,
  });
}

/** Renders summary.pdf. */
async function writeSummary(path: string, summary: UseCaseSummary): Promise<BundleFileDigest> {
  const bytes = await renderSummaryPdf(summary);
  await writeFile(path, bytes, { flag: 'wx' });
  return { bytes: bytes.length, sha256: sha256Hex(bytes) };
}

/** Writes checkpoint.txt and keys.json and returns their digests. */
async function writeEvidenceFiles(outDir: string, note: string, keys: CheckpointKeyRecord[], written: string[]): Promise<Record<string, BundleFileDigest>> {
  const published = keys.map(({ keyId, keyName, vkey, createdAt, retiredAt }) => ({ keyId, keyName, vkey, createdAt, retiredAt }));
  const contents: [string, Uint8Array][] = [
    [CHECKPOINT_FILE, Buffer.from(note, 'utf8')],
    [KEYS_FILE, Buffer.from(`${canonicalJson(published)}\n`, 'utf8')],
  ];
  const files: Record<string, BundleFileDigest> = {};
  for (const [name, bytes] of contents) {
    const path = join(outDir, name);
    written.push(path);
    await writeFile(path, bytes, { flag: 'wx' });
    files[name] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
  }
  return files;
}

/** Writes decisions.csv and decisions.parquet for analysts and returns their digests. */
async function writeAnalystFiles(outDir: string, rows: AnalystRow[], written: string[]): Promise<Record<string, BundleFileDigest>> {
  const files: Record<string, BundleFileDigest> = {};
  const contents: [string, Uint8Array][] = [
    [DECISIONS_CSV_FILE, Buffer.from(decisionsToCsv(rows), 'utf8')],
    [DECISIONS_PARQUET_FILE, decisionsToParquet(rows)],
  ];
  for (const [name, bytes] of contents) {
    const path = join(outDir, name);
    written.push(path);
    await writeFile(path, bytes, { flag: 'wx' });
    files[name] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
  }
  return files;
}

/** Returns the ids of the subject keys of `rows` that an erasure destroyed. */
async function erasedSubjectKeys(manager: EntityManager, rows: DecisionRow[]): Promise<Set<string>> {
  const keyIds = rows.flatMap((row) => {
    const personal = row.record.personal as { keyId?: unknown } | undefined;
    return typeof personal?.keyId === 'string' ? [personal.keyId] : [];
  });
  if (keyIds.length === 0) return new Set();
  const erased: { key_id: string }[] = await manager.query(
    'SELECT key_id FROM audit.subject_keys WHERE key_id = ANY($1::uuid[]) AND erased_at IS NOT NULL',
    [[...new Set(keyIds)]],
  );
  return new Set(erased.map((row) => row.key_id));
}

function toDecisionLine(row: DecisionRow, erasedKeys: ReadonlySet<string>): DecisionLine {
  const personal = row.record.personal as { keyId?: string } | undefined;
  return {
    id: row.id,
    tenant: row.tenant,
    useCase: row.use_case,
    requestId: row.request_id,
    actor: row.actor,
    outcome: row.outcome,
    score: row.score,
    modelVersion: row.model_version,
    createdAt: row.created_at,
    ledgerSeq: toSeqNumber(row.ledger_seq),
    ledgerHash: row.ledger_hash,
    recordDigest: row.record_digest,
    record: row.record,
    ...(personal ? { personalData: personal.keyId !== undefined && erasedKeys.has(personal.keyId) ? ('erased' as const) : ('sealed' as const) } : {}),
  };
}

/**
 * Returns the seqs of the review entries of the exported decisions, ascending. Those are the
 * entries of a `review.*` type whose payload.decisionId is an exported decision and whose tenant
 * is that decision's, so an entry that names another tenant's decision never enters the bundle.
 * Runs in the export's snapshot, so entries appended later are left out.
 */
async function readReviewEntrySeqs(manager: EntityManager, decisions: readonly AnalystRow[]): Promise<number[]> {
  const seqs: number[] = [];
  for (let start = 0; start < decisions.length; start += EXPORT_BATCH_SIZE) {
    const batch = decisions.slice(start, start + EXPORT_BATCH_SIZE);
    // The LIKE pattern is a literal so that the partial index ledger_entries_review_decision applies.
    const rows: { seq: string | number }[] = await manager.query(
      `SELECT entry.seq FROM audit.ledger_entries entry
         JOIN unnest($1::text[], $2::text[]) AS exported (id, tenant)
           ON entry.payload->>'decisionId' = exported.id AND entry.tenant = exported.tenant
        WHERE entry.type LIKE '${REVIEW_ENTRY_TYPE_PREFIX}%'`,
      [batch.map((row) => row.id), batch.map((row) => row.tenant)],
    );
    seqs.push(...rows.map((row) => toSeqNumber(row.seq)));
  }
  return seqs.sort((a, b) => a - b);
}

/** Writes the ledger entries at the given ascending seqs (the exported decisions' entries and their review entries). */
async function writeDecisionEntries(manager: EntityManager, path: string, seqs: number[]): Promise<{ entries: LedgerEntry[]; file: BundleFileDigest }> {
  return writeDigestingFile(path, async (file) => {
    const entries: LedgerEntry[] = [];
    for (let start = 0; start < seqs.length; start += EXPORT_BATCH_SIZE) {
      const batch = seqs.slice(start, start + EXPORT_BATCH_SIZE);
      const rows: LedgerEntryRow[] = await manager.query(
        `SELECT ${LEDGER_ENTRY_COLUMNS} FROM audit.ledger_entries WHERE seq = ANY($1::bigint[]) ORDER BY seq`,
        [batch],
      );
      const read = rows.map(toLedgerEntry);
      await file.write(read.map(toJsonLine).join(''));
      entries.push(...read);
    }
    return { entries };
  });
}

/** Writes one inclusion proof per entry against the checkpoint's tree, in the entries' order. */
async function writeProofs(path: string, entries: LedgerEntry[], treeSize: number, evidence: ExportEvidence): Promise<BundleFileDigest> {
  const { file } = await writeDigestingFile(path, async (out) => {
    for (let start = 0; start < entries.length; start += PROOF_BATCH_SIZE) {
      const batch = entries.slice(start, start + PROOF_BATCH_SIZE);
      const proofs = await evidence.inclusionProofs(batch.map((entry) => entry.seq - 1), treeSize);
      await out.write(batch.map((entry, i) => toJsonLine({ seq: entry.seq, ...proofs[i] })).join(''));
    }
    return {};
  });
  return file;
}
