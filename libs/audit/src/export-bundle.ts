import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, rm, rmdir, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, canonicalJson, ConflictError, FailedPreconditionError, getLogger, sha256Hex, type FieldError } from '../../common/src/index.js';
import { hasSingleConnection } from '../../database/src/pool-wait.js';
import type { CheckpointKeyRecord } from './checkpoints/checkpoint-keys.js';
import type { CheckpointSigner } from './checkpoints/checkpoint-note.js';
import type { CheckpointRecord } from './checkpoints/checkpoint.service.js';
import { canonicalJsonValue, entryHashText, type LedgerEntry } from './ledger-hash.js';
import type { MerkleRangeHash } from './merkle/merkle-log.types.js';
import { collectUseCaseSummary, DecisionFigureCounter, renderSummaryPdf, summaryLedger, type UseCaseSummary } from './summary-report.js';
import {
  ACCESS_DENIED_TYPE,
  BUNDLE_FORMAT_VERSION,
  CHECKPOINT_FILE,
  decisionJsonLine,
  DECISIONS_FILE,
  KEYS_FILE,
  LEDGER_FILE,
  LEDGER_HASH_DEFINITION,
  ledgerEntryJsonLine,
  MANIFEST_FILE,
  MERKLE_LEAF_DEFINITION,
  MERKLE_NODES_FILE,
  merkleNodeLine,
  PROOFS_FILE,
  REVIEW_ENTRY_TYPE_PREFIX,
  SUMMARY_FILE,
  sealManifest,
  type BundleFileDigest,
  type BundleManifest,
  type DecisionLine,
} from './bundle-format.js';
import { readHead, type LedgerVerification } from './ledger.js';
import {
  DEFAULT_MAX_VERIFICATION_AGE_SECONDS,
  startExportChainCheck,
  summaryChainCheck,
  type ExportChainCheckMode,
  type StartedChainCheck,
} from './export-chain-check.js';
import { MANIFEST_SIGNATURE_FILE, signManifest } from './manifest-signature.js';
import { BackgroundLeafCheck, checkExportedLeaves } from './export-merkle-check.js';
import { decisionLineProblems } from './verify-bundle.js';
import { AnalystFilesBuilder, analystLayoutFor, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, FinalReviews, type AnalystFiles } from './analyst-formats.js';
import { LEDGER_ENTRY_COLUMNS, STORED_TEXT_MAX_BYTES, toLedgerEntry, toSeqNumber, type LedgerEntryRow } from './ledger-rows.js';

/**
 * Rows per cursor fetch. The next fetch runs in PostgreSQL while this thread writes the previous
 * batch, so memory contains two batches at most.
 */
const EXPORT_BATCH_SIZE = 1000;

/** Name of the cursor over the exported decisions, open only inside the export's transaction. */
const DECISIONS_CURSOR = 'warden_export_decisions';
/**
 * The export transaction's work_mem. With the default 4 MB, the 50,000 decisions of the export
 * benchmark were joined and sorted in 53 MB of temporary files. PostgreSQL then used about a third
 * more CPU per export than with this value, where both fit in memory. Larger exports spill to disk.
 */
const EXPORT_WORK_MEM = '128MB';

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
  /**
   * 'incremental' (the default) verifies only the entries after the newest recorded full
   * verification (`audit.chain_verified`) when it is at most maxVerificationAgeSeconds old, and
   * the whole chain otherwise. 'full' always verifies the whole chain. A passed full verification
   * is recorded, so the next export is incremental.
   */
  chainCheck?: ExportChainCheckMode;
  /** Maximum age in seconds of a recorded full verification that an incremental check builds on (default 7 days). */
  maxVerificationAgeSeconds?: number;
  /** Ledger actor of the `audit.chain_verified` entry that a full check appends (default `system`). */
  actor?: string;
}

/**
 * Checkpoint, multiproof and keys that an export needs from the ledger. The runtime builds it from the
 * CheckpointService, the Merkle log and the key store.
 */
export interface ExportEvidence {
  /** A signed checkpoint whose tree has at least `minTreeSize` entries, created when none does yet. */
  checkpointCovering(minTreeSize: number): Promise<CheckpointRecord>;
  /** The multiproof of many entries in one tree, as MerkleLog.multiproofNodes yields it. */
  multiproofNodes(leafIndexes: readonly number[], treeSize: number): AsyncIterable<MerkleRangeHash[]>;
  /** Every published checkpoint key, current and retired. */
  verifierKeys(): Promise<CheckpointKeyRecord[]>;
  /** The current checkpoint signing key, published before this returns, which signs manifest.sig. */
  manifestSigner(): Promise<CheckpointSigner>;
}

export interface ExportBundleResult {
  outDir: string;
  manifest: BundleManifest;
  /** Milliseconds each phase of the export took, in the order they ran (also logged). */
  phaseMs: Record<string, number>;
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
  /** The jsonb record as read, for a row without record_json; null otherwise (rowRecord parses the text). */
  record: Record<string, unknown> | null;
  /** The record's stored RFC 8785 text, or null for rows written before the column existed. */
  record_json: string | null;
  record_digest: string;
  ledger_seq: string | number;
  ledger_hash: string;
  created_at: string;
}

/** A decision row joined with its own ledger entry; the entry columns are null when it is missing. */
interface DecisionEntryRow extends DecisionRow {
  entry_seq: string | number | null;
  entry_type: string;
  entry_tenant: string;
  entry_actor: string;
  /** The entry's payload: parsed from entry_payload_json when the entry has it, else the jsonb column as read. */
  entry_payload: Record<string, unknown>;
  /** The payload's stored RFC 8785 text, or null for entries appended before the column existed. */
  entry_payload_json: string | null;
  entry_created_at: string;
  entry_prev_hash: string;
  entry_hash: string;
}

/** Raised by exportBundle when the ledger fails verification. Files written before the result arrived are removed. */
export class LedgerVerificationError extends FailedPreconditionError {
  constructor(readonly verification: LedgerVerification) {
    super(`The ledger fails verification at seq ${verification.firstBadSeq}: ${verification.reason}`);
  }
}

/**
 * Writes the decisions of one use case in [from, to) with their ledger entries, review entries and
 * access denials, a Merkle multiproof of those entries, checkpoint, keys, analyst files, summary
 * and a manifest (format described in bundle-format.ts). The chain must verify, because a bundle
 * cut from a broken chain would fail checks for reasons no byte of it shows. By default the check
 * builds on the newest recorded full verification and covers the entries after it
 * (options.chainCheck), and every exported entry's own hash is recomputed. The check runs
 * alongside the reads and ends before anything is signed. The decisions, entries, summary figures and chain head are read in
 * one REPEATABLE READ transaction, so they describe the same snapshot. The manifest is written
 * last: a folder without manifest.json is an incomplete export.
 */
export async function exportBundle(dataSource: DataSource, options: ExportBundleOptions, evidence: ExportEvidence): Promise<ExportBundleResult> {
  validateExportOptions(options);
  const log = getLogger('audit-export');
  const period = { from: options.from.toISOString(), to: options.to.toISOString() };
  const tenant = options.tenant ?? null;

  // mkdir returns the first folder it created, or undefined when outDir existed already.
  const createdFolder = await mkdir(options.outDir, { recursive: true });
  for (const name of [DECISIONS_FILE, LEDGER_FILE, MANIFEST_FILE, MANIFEST_SIGNATURE_FILE, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, MERKLE_NODES_FILE, PROOFS_FILE, CHECKPOINT_FILE, KEYS_FILE, SUMMARY_FILE]) {
    if (existsSync(join(options.outDir, name))) {
      throw new ConflictError(`The export folder ${options.outDir} already contains ${name}. Choose an empty folder.`);
    }
  }
  log.info({ useCase: options.useCase, tenant, period, outDir: options.outDir }, 'audit export started');
  const phases = new PhaseTimer();

  // The chain is verified while the decisions are read and written, in a worker thread on a server
  // database. Its result is awaited before any checkpoint is made or signature written, and a
  // broken chain removes every file written so far.
  let chainCheck: StartedChainCheck | undefined;
  let endTransaction!: () => void;
  const transactionEnded = new Promise<void>((resolve) => (endTransaction = resolve));
  // The CSV and Parquet files are rendered in a worker thread that receives the rows as they are read.
  const analyst = new AnalystFilesBuilder(analystLayoutFor(BUNDLE_FORMAT_VERSION));
  // The exported entries' Merkle leaves are hashed in another worker thread as they are read.
  const leafCheck = new BackgroundLeafCheck();
  const written: string[] = [];
  try {
    const snapshot = await dataSource.transaction('REPEATABLE READ', async (transaction) => {
      const manager = withSerialQueries(transaction);
      // The first query fixes the snapshot, in which the recorded full verification is looked up.
      chainCheck = await startExportChainCheck(manager, dataSource, {
        mode: options.chainCheck ?? 'incremental',
        maxVerificationAgeSeconds: options.maxVerificationAgeSeconds ?? DEFAULT_MAX_VERIFICATION_AGE_SECONDS,
        actor: options.actor ?? 'system',
        startAfter: hasSingleConnection(dataSource) ? transactionEnded : undefined,
      });
      const decisionsPath = join(options.outDir, DECISIONS_FILE);
      const ledgerPath = join(options.outDir, LEDGER_FILE);
      written.push(decisionsPath, ledgerPath);
      const filter: ExportDecisionFilter = { useCase: options.useCase, period, tenant, outcome: options.outcome ?? null };
      const related = await readRelatedEntries(manager, filter);
      phases.end('relatedEntries');
      // The review figures and event counts are read in the snapshot, so the PDF agrees with the
      // exported review entries. The queries queue on the transaction's connection, so PostgreSQL
      // runs them between the cursor's fetches.
      const figures = Promise.all([collectReviewAndEvents(manager, options), readHead(manager)]);
      figures.catch(() => undefined);
      const counter = new DecisionFigureCounter();
      const decisions = await writeDecisionsAndEntries(manager, decisionsPath, ledgerPath, filter, related.entries, { analyst, counter, leafCheck });
      phases.end('decisions');
      const [partial, head] = await figures;
      // The decision figures are counted from the exported lines. The chain's result and the
      // checkpoint are added once they are known.
      const summary: UseCaseSummary = { ...partial, ...counter.figures() };
      phases.end('summaryFigures');
      return { decisions, reviewEntries: related.reviewEntries, accessDenials: related.accessDenials, summary, head };
    }).finally(endTransaction);
    const { decisions, reviewEntries, accessDenials, summary, head } = snapshot;
    const firstSeq = decisions.ledgerSeqs.at(0) ?? null;
    const lastSeq = decisions.ledgerSeqs.at(-1) ?? null;
    const analystBuild = analyst.finish();
    analystBuild.catch(() => undefined);

    const chain = await (chainCheck as StartedChainCheck).result;
    phases.end('verifyChain');
    if (!chain.verification.ok) throw new LedgerVerificationError(chain.verification);

    // The checkpoint must cover the newest exported entry, which may be a review entry or an
    // access denial. The multiproof is generated against its tree.
    const checkpoint = await evidence.checkpointCovering(lastSeq ?? 1);
    phases.end('checkpoint');
    const merkleNodesPath = join(options.outDir, MERKLE_NODES_FILE);
    written.push(merkleNodesPath);
    const merkleNodes = await writeMerkleNodes(merkleNodesPath, decisions.ledgerSeqs, checkpoint.treeSize, evidence);
    const merkleNodesFile = merkleNodes.file;
    // The worker computes the root while this thread writes the other files; its result is awaited
    // before the manifest is signed.
    const wholeSetGivesRoot = leafCheck.check(checkpoint.treeSize, checkpoint.rootHash, merkleNodes.nodes);
    phases.end('merkleNodes');
    const analystFiles = await writeAnalystFiles(options.outDir, await analystBuild, written);
    phases.end('analystFiles');
    // The signer is loaded first: a key used for the first time is published then, so keys.json lists it.
    const signer = await evidence.manifestSigner();
    const evidenceFiles = await writeEvidenceFiles(options.outDir, checkpoint.note, await evidence.verifierKeys(), written);

    const summaryPath = join(options.outDir, SUMMARY_FILE);
    written.push(summaryPath);
    const summaryFile = await writeSummary(summaryPath, {
      ...summary,
      ledger: summaryLedger(chain.verification, summaryChainCheck(chain)),
      checkpoint: { treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, createdAt: checkpoint.createdAt },
    });
    phases.end('summary');

    // The chain check cannot see an exported entry that was stored again with its own recomputed
    // hash before the recorded full verification. The Merkle tree's leaf then differs from it.
    const leafMismatch = await checkExportedLeaves(
      { seqs: decisions.ledgerSeqs, hashes: decisions.ledgerHashes, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash },
      merkleNodes.nodes,
      (leafIndexes, treeSize) => evidence.multiproofNodes(leafIndexes, treeSize),
      await wholeSetGivesRoot,
    );
    if (leafMismatch !== undefined) throw new LedgerVerificationError(leafMismatch);
    phases.end('leafCheck');

    const manifest = sealManifest({
        formatVersion: BUNDLE_FORMAT_VERSION,
        wardenVersion: options.wardenVersion,
        useCase: options.useCase,
        tenant,
        period,
        counts: { decisions: decisions.count, ledgerEntries: decisions.ledgerSeqs.length, reviewEntries, accessDenials },
        outcome: options.outcome ?? null,
        checkpoint: { origin: checkpoint.origin, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, keyId: checkpoint.keyId },
        files: { [DECISIONS_FILE]: decisions.file, [LEDGER_FILE]: decisions.ledgerFile, [MERKLE_NODES_FILE]: merkleNodesFile, [SUMMARY_FILE]: summaryFile, ...analystFiles, ...evidenceFiles },
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

    phases.end('manifest');
    log.info({ outDir: options.outDir, counts: manifest.manifest.counts, phaseMs: phases.durations }, 'audit export finished');
    return { outDir: options.outDir, manifest: manifest.manifest, phaseMs: phases.durations };
  } catch (error) {
    analyst.dispose();
    leafCheck.dispose();
    chainCheck?.abandon();
    log.error({ err: error, outDir: options.outDir }, 'audit export failed, so its partial files are removed');
    await Promise.all(written.map((path) => rm(path, { force: true })));
    // A folder this export created is removed too; rmdir leaves it when anything else is inside.
    if (createdFolder !== undefined) await rmdir(options.outDir).catch(() => undefined);
    throw error;
  }
}

/** Collects the summary's figures other than the decision figures, which the export counts itself. */
function collectReviewAndEvents(manager: EntityManager, options: ExportBundleOptions): Promise<UseCaseSummary> {
  return collectUseCaseSummary(manager, {
    useCase: options.useCase,
    from: options.from,
    to: options.to,
    tenant: options.tenant,
    outcome: options.outcome,
    checkpoint: null,
    ledger: PENDING_VERIFICATION,
    decisionFigures: { decisions: 0, outcomes: {}, meanScore: null, topReasonCodes: [], purgedDecisions: 0 },
  });
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
  if (options.chainCheck !== undefined && options.chainCheck !== 'incremental' && options.chainCheck !== 'full') {
    fieldErrors.push({ field: '/chainCheck', message: `must be incremental or full, got ${String(options.chainCheck)}` });
  }
  const maxAge = options.maxVerificationAgeSeconds;
  if (maxAge !== undefined && (!Number.isSafeInteger(maxAge) || maxAge < 0)) {
    fieldErrors.push({ field: '/maxVerificationAgeSeconds', message: `must be a whole number of seconds from 0, got ${String(maxAge)}` });
  }
  if (options.actor !== undefined && !nonEmpty(options.actor)) fieldErrors.push({ field: '/actor', message: 'must be a non-empty actor, or omitted for system' });

  if (fieldErrors.length > 0) throw new BadUserInputError('The export options are invalid. Fix the listed fields.', fieldErrors);
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/**
 * Stand-in for the chain's verification while the summary figures are read in the export's
 * snapshot. The export replaces it with the real result before the PDF is rendered.
 */
const PENDING_VERIFICATION: LedgerVerification = { ok: false, entries: 0, headSeq: 0, headHash: '' };

/** Milliseconds spent in each named phase of an export, for the log. */
class PhaseTimer {
  readonly durations: Record<string, number> = {};
  private last = performance.now();

  end(phase: string): void {
    const now = performance.now();
    this.durations[phase] = Math.round(now - this.last);
    this.last = now;
  }
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

/** The decisions an export selects: one use case, a period [from, to) as ISO 8601 UTC, and optionally one tenant and outcome. */
export interface ExportDecisionFilter {
  useCase: string;
  period: { from: string; to: string };
  tenant: string | null;
  outcome: string | null;
}

/**
 * Writes decisions.jsonl and ledger.jsonl in one pass: one server-side cursor reads each decision
 * with its own ledger entry, in ledger seq order, and each batch is written to both files and handed
 * to the consumers: the analyst files, the PDF figures and the background leaf check. The related
 * entries (review entries and access denials), sorted by seq, are merged into ledger.jsonl in seq
 * order.
 * `ledgerSeqs` lists every line of ledger.jsonl. Each entry's hash is recomputed from its fields
 * on the way, so an edited entry stops the export even where the chain check does not reach it.
 */
async function writeDecisionsAndEntries(
  manager: EntityManager,
  decisionsPath: string,
  ledgerPath: string,
  filter: ExportDecisionFilter,
  relatedEntries: readonly LedgerEntry[],
  consumers: { analyst: AnalystFilesBuilder; counter: DecisionFigureCounter; leafCheck: BackgroundLeafCheck },
): Promise<{
  count: number;
  ledgerSeqs: number[];
  /** Hash of each line of ledger.jsonl, in the order of ledgerSeqs. */
  ledgerHashes: string[];
  file: BundleFileDigest;
  ledgerFile: BundleFileDigest;
}> {
  const { analyst, counter, leafCheck } = consumers;
  // The analyst files' review columns come from the review.decided entries among the related entries.
  const finalReviews = new FinalReviews(relatedEntries);
  const ledger = await DigestingFile.create(ledgerPath);
  let ledgerFile: BundleFileDigest | undefined;
  try {
    const result = await writeDigestingFile(decisionsPath, async (file) => {
      let count = 0;
      const ledgerSeqs: number[] = [];
      const ledgerHashes: string[] = [];
      let nextRelated = 0;
      let sentToLeafCheck = 0;
      /** Adds the lines of the related entries before `seq` (all that remain when undefined) to `lines`. */
      const addRelatedLinesBefore = (seq: number | undefined, lines: string[]): void => {
        while (nextRelated < relatedEntries.length && (seq === undefined || relatedEntries[nextRelated].seq < seq)) {
          const entry = relatedEntries[nextRelated];
          lines.push(exportedEntryLine(entry));
          ledgerSeqs.push(entry.seq);
          ledgerHashes.push(entry.hash);
          nextRelated += 1;
        }
      };
      // Read before the cursor is declared, so no fetch queues ahead of it. Undefined when there
      // are too many to hold, and each batch then looks up its own keys.
      const allErasedKeys = await readErasedSubjectKeys(manager);
      // One server-side cursor runs the query and its sort once. Keyset pages would sort every
      // matching row again for each page, which made large exports quadratic.
      await declareDecisionsCursor(manager, DECISIONS_CURSOR, filter);

      const fetchBatch = (): Promise<DecisionEntryRow[]> => manager.query(`FETCH ${EXPORT_BATCH_SIZE} FROM ${DECISIONS_CURSOR}`);
      // Two fetches stay queued (withSerialQueries), so PostgreSQL reads ahead while this thread
      // writes a batch, also when another thread held its core during the previous fetch.
      const queued = [fetchBatch(), fetchBatch()];
      for (const fetch of queued) fetch.catch(() => undefined);
      for (;;) {
        const rows = await (queued.shift() as Promise<DecisionEntryRow[]>);
        // The next queued fetch is sent a few promise steps after this one resolved. Yielding once
        // lets it reach the connection before the batch below keeps this thread busy.
        await new Promise((resolve) => setImmediate(resolve));
        if (rows.length === 0) break;
        const next = fetchBatch();
        next.catch(() => undefined);
        queued.push(next);

        // With every erased key read up front, each record is parsed just before its line is
        // written, so that a parsed record dies young instead of surviving garbage collections with
        // the rest of its batch. Otherwise the batch's records are parsed first to look up their keys.
        const parsed = allErasedKeys === undefined ? rows.map(rowRecord) : undefined;
        const erasedKeys = allErasedKeys ?? (await erasedSubjectKeys(manager, parsed ?? []));
        const decisionLines: string[] = [];
        const ledgerLines: string[] = [];
        for (let i = 0; i < rows.length; i += 1) {
          const row = rows[i];
          const line = toDecisionLine(row, parsed?.[i] ?? rowRecord(row), erasedKeys);
          addRelatedLinesBefore(line.ledgerSeq, ledgerLines);
          const entry = toDecisionEntry(row);
          // The entries' own hashes are checked first, in seq order, so an edited entry is reported
          // as a ledger failure at its seq rather than as a decision that contradicts it.
          ledgerLines.push(exportedEntryLine(entry));
          decisionLines.push(decisionJsonLine(line, checkedRecordJson(line, entry, row.record_json)));
          analyst.add(line, finalReviews.of(line));
          counter.add(line.outcome, line.score, line.record);
          ledgerSeqs.push(line.ledgerSeq);
          ledgerHashes.push(entry.hash);
        }
        leafCheck.add(ledgerSeqs, ledgerHashes, sentToLeafCheck);
        sentToLeafCheck = ledgerSeqs.length;
        await Promise.all([file.write(decisionLines.join('')), ledger.write(ledgerLines.join(''))]);
        count += rows.length;
      }
      const lastLines: string[] = [];
      addRelatedLinesBefore(undefined, lastLines);
      leafCheck.add(ledgerSeqs, ledgerHashes, sentToLeafCheck);
      await ledger.write(lastLines.join(''));
      // A failed export rolls back its transaction, which closes the cursor too.
      await manager.query(`CLOSE ${DECISIONS_CURSOR}`);
      return { count, ledgerSeqs, ledgerHashes };
    });
    ledgerFile = await ledger.close();
    return { ...result, ledgerFile };
  } finally {
    if (ledgerFile === undefined) await ledger.close().catch(() => undefined);
  }
}

/**
 * Returns `manager` with a query method that sends each query once the one before it has finished,
 * in call order. The export keeps several queries in flight on its transaction's connection (the
 * read-ahead fetches and the summary queries). node-postgres 8 would queue them itself, but it
 * warns that pg 9 will not, so the chain here sends them instead. Each query is chained on the
 * previous one's own promise, so its sending starts before the code that awaits that promise
 * resumes. It reaches the connection a few promise steps later, hence the yield in the cursor loop.
 */
function withSerialQueries(manager: EntityManager): EntityManager {
  let last: Promise<unknown> = Promise.resolve();
  const query = (sql: string, parameters?: unknown[]): Promise<unknown> => {
    const send = (): Promise<unknown> => manager.query(sql, parameters);
    const result = last.then(send, send);
    last = result;
    return result;
  };
  return new Proxy(manager, { get: (target, property, receiver) => (property === 'query' ? query : Reflect.get(target, property, receiver)) });
}

/**
 * SQL condition under which a stored text column is read as text: it exists and is at most
 * STORED_TEXT_MAX_BYTES. Otherwise its jsonb column is read, as for rows written before the text.
 */
const TEXT_READ = (column: string): string => `coalesce(pg_catalog.octet_length(${column}) <= ${STORED_TEXT_MAX_BYTES}, false)`;

/**
 * Declares the export's cursor over the decisions that `filter` selects, each joined with its own
 * ledger entry, in ledger seq order, inside the caller's transaction. Its work_mem is set for the
 * rest of the transaction (EXPORT_WORK_MEM). The export benchmark reads the same cursor as its peer.
 */
export async function declareDecisionsCursor(manager: EntityManager, cursor: string, filter: ExportDecisionFilter): Promise<void> {
  await manager.query(`SET LOCAL work_mem = '${EXPORT_WORK_MEM}'`);
  await manager.query(
    `DECLARE ${cursor} NO SCROLL CURSOR FOR
     SELECT d.id, d.tenant, d.use_case, d.request_id, d.actor, d.outcome, d.score, d.model_version,
            CASE WHEN ${TEXT_READ('d.record_json')} THEN d.record_json END AS record_json,
            CASE WHEN NOT ${TEXT_READ('d.record_json')} THEN d.record END AS record, d.record_digest,
            d.ledger_seq, d.ledger_hash,
            pg_catalog.to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
            e.seq AS entry_seq, e.type AS entry_type, e.tenant AS entry_tenant, e.actor AS entry_actor,
            CASE WHEN ${TEXT_READ('e.payload_json')} THEN e.payload_json END AS entry_payload_json,
            CASE WHEN NOT ${TEXT_READ('e.payload_json')} THEN e.payload END AS entry_payload,
            pg_catalog.to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS entry_created_at,
            e.prev_hash AS entry_prev_hash, e.hash AS entry_hash
       FROM decisions.decision_records d
       LEFT JOIN audit.ledger_entries e ON e.seq = d.ledger_seq
      WHERE d.use_case = $1 AND d.created_at >= $2::timestamptz AND d.created_at < $3::timestamptz
        AND ($4::text IS NULL OR d.tenant = $4::text)
        AND ($5::text IS NULL OR d.outcome = $5::text)
      ORDER BY d.ledger_seq, d.id`,
    [filter.useCase, filter.period.from, filter.period.to, filter.tenant, filter.outcome],
  );
}

/**
 * Returns the record's canonical JSON after checking the decision line against its record digest
 * and its ledger entry as the verifiers do. Raises FailedPreconditionError on a mismatch, such as a
 * record or outcome edited in the database, so the export never signs a decision that fails
 * verification. `storedJson` is the row's record_json: its bytes are digested as they are, and
 * line.record must be their parsed value.
 */
function checkedRecordJson(line: DecisionLine, entry: LedgerEntry, storedJson: string | null): string | undefined {
  let recordJson: string | undefined;
  let recordDigest: string | undefined;

  // The stored text is used only when it is the digested text in canonical form. A tombstone's text
  // never matches the digest, and a text another writer stored may not be canonical, so both are
  // written from the parsed value instead.
  // NOTE: a text with unsorted keys, or a lone surrogate escape, whose digest the ledger also
  // carries passes these checks, and the verifiers would then reject the exported line.
  if (storedJson !== null && looksCanonical(line.record, storedJson)) {
    const digest = sha256Hex(storedJson);
    if (digest === line.recordDigest) {
      recordJson = storedJson;
      recordDigest = digest;
    }
  }

  if (recordJson === undefined) {
    try {
      recordJson = canonicalJsonValue(line.record);
      recordDigest = sha256Hex(recordJson);
    } catch {
      // A record JSON cannot hold has no digest, which the check below reports.
    }
  }

  const problems = decisionLineProblems(line, entry, recordDigest, (field) => `field "${field}"`);
  if (problems.length > 0) {
    throw new FailedPreconditionError(
      `Decision ${line.id} (ledger seq ${line.ledgerSeq}) does not match its record digest or ledger entry, so nothing was signed: ` +
        `${problems.join('; ')}. Run "warden replay ${line.id}" to see every differing field.`,
    );
  }
  return recordJson;
}

/**
 * Returns the ledger.jsonl line of an exported entry after recomputing the entry's hash from its
 * fields and prevHash. Raises LedgerVerificationError for an entry whose stored hash differs, so
 * a bundle never carries an entry that fails its own hash, also when the entry lies before the
 * recorded full verification that an incremental chain check starts from.
 *
 * The payload is written in canonical form from its parsed value (for a decision's entry, the
 * parse of its payload_json), which is what the bundle verifiers hash. Chain verification hashes a
 * stored text as it is (computeStoredTextEntryHash), so only this check keeps a text outside
 * canonical form that still gives the hash out of a signed bundle. append() never stores one.
 */
function exportedEntryLine(entry: LedgerEntry): string {
  let payloadJson: string | undefined;
  try {
    payloadJson = canonicalJsonValue(entry.payload);
  } catch {
    // A payload JSON cannot hold (such as a lone surrogate) cannot have been hashed by append().
  }
  if (payloadJson === undefined || sha256Hex(entry.prevHash + entryHashText(entry, payloadJson)) !== entry.hash) {
    throw new LedgerVerificationError({
      ok: false,
      entries: 0,
      headSeq: 0,
      headHash: '',
      firstBadSeq: entry.seq,
      problem: 'hash-mismatch',
      reason: `the exported entry seq ${entry.seq} does not hash to its stored hash in canonical form, so its fields were changed after it was appended`,
    });
  }
  return ledgerEntryJsonLine(entry, payloadJson);
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
async function writeAnalystFiles(outDir: string, files: AnalystFiles, written: string[]): Promise<Record<string, BundleFileDigest>> {
  const digests: Record<string, BundleFileDigest> = {};
  const contents: [string, Uint8Array][] = [
    [DECISIONS_CSV_FILE, files.csv],
    [DECISIONS_PARQUET_FILE, files.parquet],
  ];
  for (const [name, bytes] of contents) {
    const path = join(outDir, name);
    written.push(path);
    await writeFile(path, bytes, { flag: 'wx' });
    digests[name] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
  }
  return digests;
}

/**
 * Returns whether `text`, which JSON.parse turned into `value`, is written as JSON.stringify writes
 * the value: no whitespace, no duplicate keys, no escapes JSON.stringify would not write and
 * numbers in ECMAScript form. Key order is not checked: see the NOTE in checkedRecordJson.
 */
function looksCanonical(value: unknown, text: string): boolean {
  return JSON.stringify(value) === text;
}

/** Parses a stored text, and returns undefined when it is not a JSON object, which no writer stores. */
function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Parses a row's record_json, and raises when it is not a JSON object. */
function parseStoredRecord(decisionId: string, text: string): Record<string, unknown> {
  const record = parseJsonObject(text);
  if (record === undefined) {
    throw new FailedPreconditionError(
      `Decision ${decisionId} has a stored record text (record_json) that is not a JSON object, so the row was changed outside Warden ` +
        'and nothing was signed. Compare the row with a backup.',
    );
  }
  return record;
}

/** Parses an entry's payload_json, and raises a ledger failure at its seq when it is not a JSON object. */
function parseStoredPayload(seq: number, text: string): Record<string, unknown> {
  const payload = parseJsonObject(text);
  if (payload === undefined) {
    throw new LedgerVerificationError({
      ok: false,
      entries: 0,
      headSeq: 0,
      headHash: '',
      firstBadSeq: seq,
      problem: 'hash-mismatch',
      reason: `the exported entry seq ${seq} has a payload_json that is not a JSON object, so it was changed after it was appended`,
    });
  }
  return payload;
}

/**
 * Most erased subject keys an export reads before its first batch and keeps in memory (about
 * 100 bytes each). With more, each batch looks up its own keys, a query that queues behind the
 * cursor's read-ahead fetches on the same connection: with sealed records in `npm run
 * bench:export` the export then ran at about 0.8 times the rate.
 */
export const ERASED_KEYS_HELD = 100_000;

/**
 * Returns the ids of every erased subject key, or undefined when there are more than
 * ERASED_KEYS_HELD. Runs in the export's snapshot, so it agrees with the rows the cursor reads.
 */
async function readErasedSubjectKeys(manager: EntityManager): Promise<Set<string> | undefined> {
  const rows: { key_id: string }[] = await manager.query(
    `SELECT key_id FROM audit.subject_keys WHERE erased_at IS NOT NULL LIMIT ${ERASED_KEYS_HELD + 1}`,
  );
  if (rows.length > ERASED_KEYS_HELD) return undefined;
  return new Set(rows.map((row) => row.key_id));
}

/** A uuid as PostgreSQL prints it: lowercase hex in groups of 8-4-4-4-12. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Returns the ids of the subject keys of `records` that an erasure destroyed. */
async function erasedSubjectKeys(manager: EntityManager, records: readonly Record<string, unknown>[]): Promise<Set<string>> {
  const keyIds = records.flatMap((record) => {
    const personal = record.personal as { keyId?: unknown } | undefined;
    // The key store writes canonical ids, and only those can equal the ids that PostgreSQL returns,
    // here as in readErasedSubjectKeys. Any other text would fail the uuid[] cast, and the export with it.
    return typeof personal?.keyId === 'string' && CANONICAL_UUID.test(personal.keyId) ? [personal.keyId] : [];
  });
  if (keyIds.length === 0) return new Set();
  const erased: { key_id: string }[] = await manager.query(
    'SELECT key_id FROM audit.subject_keys WHERE key_id = ANY($1::uuid[]) AND erased_at IS NOT NULL',
    [[...new Set(keyIds)]],
  );
  return new Set(erased.map((row) => row.key_id));
}

/** Returns a row's record: its parsed record_json, or the jsonb column for a row written before record_json existed. */
function rowRecord(row: DecisionRow): Record<string, unknown> {
  if (row.record_json !== null) return parseStoredRecord(row.id, row.record_json);
  return row.record as Record<string, unknown>;
}

function toDecisionLine(row: DecisionRow, record: Record<string, unknown>, erasedKeys: ReadonlySet<string>): DecisionLine {
  const personal = record.personal as { keyId?: string } | undefined;
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
    record,
    ...(personal ? { personalData: personal.keyId !== undefined && erasedKeys.has(personal.keyId) ? ('erased' as const) : ('sealed' as const) } : {}),
  };
}

/** The entries that an export adds to its decisions' own entries, sorted by seq, with the count of each kind. */
interface RelatedEntries {
  entries: LedgerEntry[];
  reviewEntries: number;
  accessDenials: number;
}

/**
 * SQL conditions on the type of each kind of related entry. Each is the predicate of a partial index
 * on (payload->>'decisionId', seq): ledger_entries_review_decision and
 * ledger_entries_denial_decision. The planner uses such an index only when the query states its
 * predicate, so these stay literals and are never passed as parameters.
 */
const REVIEW_ENTRY_CONDITION = `type LIKE '${REVIEW_ENTRY_TYPE_PREFIX}%'` as const;
const ACCESS_DENIED_CONDITION = `type = '${ACCESS_DENIED_TYPE}'` as const;

/**
 * Returns the review entries and access denials of the decisions that the filter selects, merged
 * in seq order. Runs in the export's snapshot, so entries appended later are left out. Their hashes
 * are checked when their lines are written (exportedEntryLine).
 */
async function readRelatedEntries(manager: EntityManager, filter: ExportDecisionFilter): Promise<RelatedEntries> {
  const reviews = await readEntriesNamingDecisions(manager, filter, REVIEW_ENTRY_CONDITION);
  const denials = await readEntriesNamingDecisions(manager, filter, ACCESS_DENIED_CONDITION);
  const entries = [...reviews, ...denials].sort((left, right) => left.seq - right.seq);
  return { entries, reviewEntries: reviews.length, accessDenials: denials.length };
}

/**
 * Returns, sorted by seq, the entries that `typeCondition` selects and that name a decision the
 * filter selects. An entry names a decision when its payload.decisionId is the decision's id, its
 * tenant is the decision's and its seq comes after the decision's own entry. So an entry that
 * names another tenant's decision never enters the bundle.
 */
async function readEntriesNamingDecisions(
  manager: EntityManager,
  filter: ExportDecisionFilter,
  typeCondition: typeof REVIEW_ENTRY_CONDITION | typeof ACCESS_DENIED_CONDITION,
): Promise<LedgerEntry[]> {
  const rows: LedgerEntryRow[] = await manager.query(
    `SELECT ${LEDGER_ENTRY_COLUMNS} FROM audit.ledger_entries
      WHERE ${typeCondition} AND seq IN (
        SELECT e.seq FROM decisions.decision_records d
          JOIN audit.ledger_entries e
            ON e.payload->>'decisionId' = d.id::text AND e.tenant = d.tenant AND e.seq > d.ledger_seq AND e.${typeCondition}
         WHERE d.use_case = $1 AND d.created_at >= $2::timestamptz AND d.created_at < $3::timestamptz
           AND ($4::text IS NULL OR d.tenant = $4::text)
           AND ($5::text IS NULL OR d.outcome = $5::text))
      ORDER BY seq`,
    [filter.useCase, filter.period.from, filter.period.to, filter.tenant, filter.outcome],
  );
  return rows.map(toLedgerEntry);
}

/** Returns the decision's own ledger entry from a joined row, and raises when the entry is missing. */
function toDecisionEntry(row: DecisionEntryRow): LedgerEntry {
  if (row.entry_seq === null) {
    throw new FailedPreconditionError(
      `Decision ${row.id} names ledger seq ${String(row.ledger_seq)}, which is not in the ledger. Run "warden audit verify".`,
    );
  }
  return {
    seq: toSeqNumber(row.entry_seq),
    type: row.entry_type,
    tenant: row.entry_tenant,
    actor: row.entry_actor,
    payload: row.entry_payload_json === null ? row.entry_payload : parseStoredPayload(toSeqNumber(row.entry_seq), row.entry_payload_json),
    createdAt: row.entry_created_at,
    prevHash: row.entry_prev_hash,
    hash: row.entry_hash,
  };
}

/**
 * Writes merkle-nodes.jsonl: the multiproof of the ledger entries with the given seqs (ascending)
 * in the checkpoint's tree, one batch of lines at a time. Returns the lines too, for the root
 * check before signing.
 */
async function writeMerkleNodes(
  path: string,
  seqs: readonly number[],
  treeSize: number,
  evidence: ExportEvidence,
): Promise<{ file: BundleFileDigest; nodes: MerkleRangeHash[] }> {
  return writeDigestingFile(path, async (out) => {
    // NOTE: every line stays in memory until the root check, an estimated 150 bytes each (not measured).
    const nodes: MerkleRangeHash[] = [];
    for await (const batch of evidence.multiproofNodes(seqs.map((seq) => seq - 1), treeSize)) {
      let text = '';
      for (const node of batch) {
        text += merkleNodeLine(node);
        nodes.push(node);
      }
      await out.write(text);
    }
    return { nodes };
  });
}
