import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, ConflictError, getLogger, sha256Hex, type FieldError } from '../../common/src/index.js';
import {
  BUNDLE_FORMAT_VERSION,
  DECISIONS_FILE,
  LEDGER_FILE,
  LEDGER_HASH_DEFINITION,
  MANIFEST_FILE,
  sealManifest,
  toJsonLine,
  type BundleFileDigest,
  type BundleManifest,
  type DecisionLine,
} from './bundle-format.js';
import { readHead } from './ledger.js';
import { decisionsToCsv, decisionsToParquet, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, toAnalystRow, type AnalystRow } from './analyst-formats.js';
import { LEDGER_ENTRY_COLUMNS, toLedgerEntry, toSeqNumber, type LedgerEntryRow } from './ledger-rows.js';

/** Rows read per query, so that memory stays flat for large exports. */
const EXPORT_BATCH_SIZE = 500;

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
  outcome?: 'APPROVE' | 'DECLINE' | 'REFER';
  /** Version of Warden that writes the bundle, recorded in the manifest. */
  wardenVersion: string;
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

/**
 * Writes the decisions of one use case in [from, to) with the ledger segment that covers them and
 * a manifest (format described in bundle-format.ts). Everything is read in one REPEATABLE READ
 * transaction, so the files and the recorded chain head describe the same snapshot. The manifest
 * is written last: a folder without manifest.json is an incomplete export.
 */
export async function exportBundle(dataSource: DataSource, options: ExportBundleOptions): Promise<ExportBundleResult> {
  validateExportOptions(options);
  const log = getLogger('audit-export');
  const period = { from: options.from.toISOString(), to: options.to.toISOString() };
  const tenant = options.tenant ?? null;

  await mkdir(options.outDir, { recursive: true });
  for (const name of [DECISIONS_FILE, LEDGER_FILE, MANIFEST_FILE, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE]) {
    if (existsSync(join(options.outDir, name))) {
      throw new ConflictError(`The export folder ${options.outDir} already contains ${name}. Choose an empty folder.`);
    }
  }
  log.info({ useCase: options.useCase, tenant, period, outDir: options.outDir }, 'audit export started');

  const written: string[] = [];
  try {
    const manifest = await dataSource.transaction('REPEATABLE READ', async (manager) => {
      const decisionsPath = join(options.outDir, DECISIONS_FILE);
      written.push(decisionsPath);
      const decisions = await writeDecisions(manager, decisionsPath, { useCase: options.useCase, period, tenant, outcome: options.outcome ?? null });
      const analystFiles = await writeAnalystFiles(options.outDir, decisions.rows, written);

      const ledgerPath = join(options.outDir, LEDGER_FILE);
      written.push(ledgerPath);
      const ledger = await writeLedgerSegment(manager, ledgerPath, decisions.firstSeq, decisions.lastSeq);

      const head = await readHead(manager);
      return sealManifest({
        formatVersion: BUNDLE_FORMAT_VERSION,
        wardenVersion: options.wardenVersion,
        useCase: options.useCase,
        tenant,
        period,
        counts: { decisions: decisions.count, ledgerEntries: ledger.count },
        outcome: options.outcome ?? null,
        files: { [DECISIONS_FILE]: decisions.file, [LEDGER_FILE]: ledger.file, ...analystFiles },
        ledger: {
          hashDefinition: LEDGER_HASH_DEFINITION,
          firstSeq: decisions.firstSeq,
          lastSeq: decisions.lastSeq,
          segmentPrevHash: ledger.segmentPrevHash,
          head,
        },
        createdAt: new Date().toISOString(),
      });
    });

    const manifestPath = join(options.outDir, MANIFEST_FILE);
    written.push(manifestPath);
    await writeFile(manifestPath, manifest.text, { flag: 'wx' });

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
  if (options.outcome !== undefined && !['APPROVE', 'DECLINE', 'REFER'].includes(options.outcome)) {
    fieldErrors.push({ field: '/outcome', message: 'must be APPROVE, DECLINE or REFER, or omitted for every outcome' });
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
    // Keyset cursor over (ledger_seq, id): the pair is unique even if two rows share a seq.
    let cursor = { seq: '0', id: '00000000-0000-0000-0000-000000000000' };

    for (;;) {
      const rows: DecisionRow[] = await manager.query(
        `SELECT id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest,
                ledger_seq, ledger_hash,
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
           FROM decisions.decision_records
          WHERE use_case = $1 AND created_at >= $2::timestamptz AND created_at < $3::timestamptz
            AND ($4::text IS NULL OR tenant = $4::text)
            AND ($8::text IS NULL OR outcome = $8::text)
            AND (ledger_seq, id) > ($5::bigint, $6::uuid)
          ORDER BY ledger_seq, id
          LIMIT $7`,
        [filter.useCase, filter.period.from, filter.period.to, filter.tenant, cursor.seq, cursor.id, EXPORT_BATCH_SIZE, filter.outcome],
      );
      if (rows.length === 0) break;

      const lines = rows.map(toDecisionLine);
      await file.write(lines.map(toJsonLine).join(''));
      analystRows.push(...lines.map(toAnalystRow));

      count += lines.length;
      firstSeq ??= lines[0].ledgerSeq;
      lastSeq = lines[lines.length - 1].ledgerSeq;
      const lastRow = rows[rows.length - 1];
      cursor = { seq: String(lastRow.ledger_seq), id: lastRow.id };
    }
    return { count, firstSeq, lastSeq, rows: analystRows };
  });
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

function toDecisionLine(row: DecisionRow): DecisionLine {
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
  };
}

/**
 * Writes every ledger entry with firstSeq <= seq <= lastSeq. When the export is limited to one
 * tenant, the segment still contains other tenants' entries in that range, because the chain cannot
 * be recomputed without them.
 */
async function writeLedgerSegment(
  manager: EntityManager,
  path: string,
  firstSeq: number | null,
  lastSeq: number | null,
): Promise<{ count: number; segmentPrevHash: string | null; file: BundleFileDigest }> {
  // NOTE: those entries expose other tenants' decision ids, outcomes and digests to the bundle's
  // reader. Merkle inclusion proofs against a signed checkpoint would avoid that.
  return writeDigestingFile(path, async (file) => {
    let count = 0;
    let segmentPrevHash: string | null = null;
    if (firstSeq !== null && lastSeq !== null) {
      let afterSeq = firstSeq - 1;
      for (;;) {
        const rows: LedgerEntryRow[] = await manager.query(
          `SELECT ${LEDGER_ENTRY_COLUMNS} FROM audit.ledger_entries
            WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
          [afterSeq, lastSeq, EXPORT_BATCH_SIZE],
        );
        if (rows.length === 0) break;

        const entries = rows.map(toLedgerEntry);
        await file.write(entries.map(toJsonLine).join(''));

        segmentPrevHash ??= entries[0].prevHash;
        count += entries.length;
        afterSeq = entries[entries.length - 1].seq;
      }
    }
    return { count, segmentPrevHash };
  });
}
