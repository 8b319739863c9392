import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { canonicalJson, digestJson, sha256Hex } from '../../libs/common/src/index.js';
import {
  BUNDLE_FORMAT_VERSION,
  BUNDLE_FORMAT_VERSION_V2,
  BUNDLE_FORMAT_VERSION_V3,
  BUNDLE_FORMAT_VERSION_V4,
  BUNDLE_FORMAT_VERSION_V5,
  CHECKPOINT_FILE,
  CheckpointKeyStore,
  CheckpointService,
  computeEntryHash,
  createExportEvidence,
  DECISIONS_FILE,
  exportBundle,
  formatVerifierKey,
  hashMerkleLeaf,
  hashToHex,
  KEYS_FILE,
  LEDGER_FILE,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  MERKLE_NODES_FILE,
  signManifest,
  PostgresLedger,
  PostgresMerkleLog,
  PROOFS_FILE,
  rawEd25519PublicKey,
  sealManifest,
  signCheckpoint,
  readBundleSigners,
  verifyBundle,
  verifyBundleFiles,
  WitnessPublisher,
  type BundleFormatVersion,
  type BundleManifest,
  type CheckpointSigner,
  type BundleVerification,
  type DecisionLine,
  type ExportEvidence,
  type LedgerEntry,
} from '../../libs/audit/src/index.js';
import { DECISIONS_CSV_FILE } from '../../libs/audit/src/analyst-formats.js';
import { convertFilesToV3, convertFilesToV4, convertFolderToV3, convertFolderToV4, convertFolderToV5 } from '../support/older-bundles.js';
import { databaseTargets, REPO_ROOT, type TestDatabase } from '../support/databases.js';
import { REVIEWED_USE_CASE, seedReviewedDecisions, type ReviewedDecision, type ReviewedDecisions } from '../support/reviewed-decisions.js';

const TOOL = join(REPO_ROOT, 'tools', 'warden-verify-bundle.mjs');
const SYSTEM_NODE = '/usr/bin/node';
const ORIGIN = 'warden.test/standalone-verifier';
const USE_CASE = 'credit-limit';
const JANUARY = { from: new Date('2026-01-01T00:00:00.000Z'), to: new Date('2026-02-01T00:00:00.000Z') };

/** The tool must run on an older system Node than the project's, so CI has to provide one. */
function systemNodeSkipReason(): string | undefined {
  if (existsSync(SYSTEM_NODE)) return undefined;
  if (process.env.CI === 'true') throw new Error(`CI needs ${SYSTEM_NODE} to run the standalone verifier on the system Node`);
  return `no ${SYSTEM_NODE} on this machine, so the tool is not run on the system Node`;
}

/**
 * Problems that only Warden's verifier reports, because it rebuilds the CSV and Parquet files
 * from decisions.jsonl while the standalone tool checks their SHA-256 only.
 */
const ANALYST_REBUILD_PROBLEM = /^decisions\.(csv|parquet): (does not match what|cannot be rebuilt from) decisions\.jsonl/;

interface ToolRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

interface ToolReport {
  ok: boolean;
  problems: string[];
  checked: {
    decisions: number;
    purgedRecords: number;
    ledgerEntries: number;
    /** Null for a v2 bundle, which has no review entries. */
    reviewEntries: number | null;
    /** Null for a bundle before format v5, which has no access.denied entries. */
    accessDenials: number | null;
    proofs: number;
    /** Lines of merkle-nodes.jsonl, or null before format v4. */
    merkleNodes: number | null;
    checkpoint: { origin: string; treeSize: number; rootHash: string; keyIds: string[] } | null;
  };
}

function runTool(nodePath: string, args: string[]): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    // An empty environment and a neutral working folder, as on a regulator's machine.
    const child = spawn(nodePath, [TOOL, ...args], { cwd: tmpdir(), env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

async function verifyWithTool(nodePath: string, dir: string): Promise<{ exitCode: number | null; report: ToolReport }> {
  const run = await runTool(nodePath, [dir]);
  assert.equal(run.stderr, '', `the tool wrote to stderr for ${dir}`);
  return { exitCode: run.exitCode, report: JSON.parse(run.stdout) as ToolReport };
}

interface DecisionSeed {
  tenant: string;
  useCase: string;
  createdAt: string;
  outcome: 'APPROVE' | 'DECLINE' | 'REFER';
  score: number;
}

/** Writes a decision row and its `decision.created` entry in one transaction, with the record and payload fields the pipeline writes. */
async function recordDecision(manager: EntityManager, ledger: PostgresLedger, seed: DecisionSeed): Promise<void> {
  const id = randomUUID();
  const requestId = `req-${id.slice(0, 8)}`;
  const record = {
    id,
    tenant: seed.tenant,
    useCase: seed.useCase,
    requestId,
    actor: 'svc-loans',
    outcome: seed.outcome,
    score: seed.score,
    modelVersion: 'logreg-1.0.0',
    createdAt: seed.createdAt,
    reasonCodes: [{ code: 'DTI_HIGH', text: 'Debt to income "high"\tabove 0.4 \\ limit \u2028 é 😀' }],
    // Numbers whose canonical form needs ECMAScript formatting: exponents and shortest round-trip digits.
    features: { debt_to_income: 0.30000000000000004, tiny: 1e-7, huge: 1e21, income: 52000.5, months_on_book: 7, é: 1, '😀': 2, דּ: 3 },
  };
  const recordDigest = digestJson(record);
  const receipt = await ledger.append(manager, {
    type: 'decision.created',
    tenant: seed.tenant,
    actor: 'svc-loans',
    payload: { decisionId: id, useCase: seed.useCase, outcome: seed.outcome, modelVersion: 'logreg-1.0.0', recordDigest },
  });
  await manager.query(
    `INSERT INTO decisions.decision_records
       (id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest, ledger_seq, ledger_hash, created_at)
     VALUES ($1, $2, $3, $4, 'svc-loans', $5, $6, 'logreg-1.0.0', $7::jsonb, $8, $9, $10, $11::timestamptz)`,
    [id, seed.tenant, seed.useCase, requestId, seed.outcome, seed.score, JSON.stringify(record), recordDigest, receipt.seq, receipt.hash, seed.createdAt],
  );
}

async function recordDecisions(source: DataSource, ledger: PostgresLedger, seeds: DecisionSeed[]): Promise<void> {
  for (const seed of seeds) await source.transaction((manager) => recordDecision(manager, ledger, seed));
}

type BundleBytes = Map<string, Buffer>;

function readBundle(dir: string): BundleBytes {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

function writeBundle(dir: string, files: BundleBytes): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
}

function textLines(bytes: Buffer): string[] {
  return bytes.toString('utf8').trimEnd().split('\n');
}

function joinLines(lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

function readManifest(files: BundleBytes): BundleManifest {
  return JSON.parse(files.get(MANIFEST_FILE)!.toString('utf8')) as BundleManifest;
}

/** Sets the manifest's formatVersion and seals it again without signing, as a forger would. */
function relabelManifest(files: BundleBytes, formatVersion: string): void {
  const unsigned = readManifest(files) as unknown as Record<string, unknown>;
  delete unsigned.manifestDigest;
  unsigned.formatVersion = formatVersion;
  files.set(MANIFEST_FILE, Buffer.from(sealManifest(unsigned as never).text, 'utf8'));
}

/**
 * Records every listed file's current size and SHA-256 in the manifest and seals it again, as a
 * forger would. With a signer, the forger also holds the signing key and signs manifest.sig again,
 * so that the checks behind the signature are what the case exercises. The signed statement names
 * the manifest's own format version unless `signedVersion` is given.
 */
function reseal(files: BundleBytes, signer: CheckpointSigner | null, signedVersion?: BundleFormatVersion): void {
  const { manifestDigest: _old, ...unsigned } = readManifest(files);
  signedVersion ??= unsigned.formatVersion;
  for (const name of Object.keys(unsigned.files)) {
    const bytes = files.get(name);
    if (bytes) unsigned.files[name] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
  }
  const manifestBytes = Buffer.from(sealManifest(unsigned).text, 'utf8');
  files.set(MANIFEST_FILE, manifestBytes);
  if (signer) files.set(MANIFEST_SIGNATURE_FILE, Buffer.from(signManifest(manifestBytes, signer, signedVersion), 'utf8'));
}

/** Changes manifest.json's fields without sealing it; reseal then seals it. */
function editManifest(files: BundleBytes, edit: (manifest: Record<string, any>) => void): void {
  const manifest = readManifest(files) as unknown as Record<string, any>;
  edit(manifest);
  files.set(MANIFEST_FILE, Buffer.from(`${canonicalJson(manifest)}\n`, 'utf8'));
}

/**
 * Rewrites a v3 bundle as format v2 would have written it: the old version, no
 * counts.reviewEntries.
 */
function convertToV2(files: BundleBytes, signer: CheckpointSigner): void {
  editManifest(files, (manifest) => {
    manifest.formatVersion = BUNDLE_FORMAT_VERSION_V2;
    delete manifest.counts.reviewEntries;
  });
  reseal(files, signer, BUNDLE_FORMAT_VERSION_V2);
}

/** Returns the lines of merkle-nodes.jsonl. */
function merkleNodeLines(files: BundleBytes): string[] {
  return textLines(files.get(MERKLE_NODES_FILE)!);
}

function setMerkleNodeLines(files: BundleBytes, lines: string[]): void {
  files.set(MERKLE_NODES_FILE, joinLines(lines));
}

/**
 * Replaces the checkpoint with one that the key holder signs for a smaller tree (with that tree's
 * real root), records it in the manifest and reseals, as a forger with the key would.
 */
function shrinkCheckpoint(files: BundleBytes, signer: CheckpointSigner, treeSize: number, rootHash: string): void {
  const note = files.get(CHECKPOINT_FILE)!.toString('utf8');
  const [origin, _size, _root, ...extensions] = note.slice(0, note.lastIndexOf('\n\n')).split('\n');
  const body = `${[origin, String(treeSize), Buffer.from(rootHash, 'hex').toString('base64'), ...extensions].join('\n')}\n`;
  files.set(CHECKPOINT_FILE, Buffer.from(signCheckpoint(body, signer), 'utf8'));
  editManifest(files, (manifest) => {
    manifest.checkpoint.treeSize = treeSize;
    manifest.checkpoint.rootHash = rootHash;
  });
  reseal(files, signer);
}

/** Signs the note's body with a fresh Ed25519 key that Warden never published; returns the new note and the key's verifier key. */
function signWithForeignKey(note: string): { note: string; vkey: string } {
  const body = note.slice(0, note.lastIndexOf('\n\n') + 1);
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = rawEd25519PublicKey(privateKey);
  return { note: signCheckpoint(body, { keyName: ORIGIN, privateKey, publicKey }), vkey: formatVerifierKey(ORIGIN, publicKey) };
}

interface TamperCase {
  name: string;
  change(files: BundleBytes): void;
  /** Whether both verifiers must accept the changed bundle. Most cases must fail. */
  expectOk?: boolean;
  /** A problem the standalone tool must report. */
  toolProblem?: RegExp;
}

interface CaseOutcome {
  name: string;
  warden: BundleVerification;
  /** One run of the tool per Node binary. */
  runs: { nodePath: string; exitCode: number | null; report: ToolReport }[];
}

/** Writes each changed copy, then runs the tool on every Node binary (a few children at a time) and Warden's verifyBundle on it. */
async function runCases(bundleDir: string, casesDir: string, cases: TamperCase[], nodePaths: string[]): Promise<CaseOutcome[]> {
  const original = readBundle(bundleDir);
  const prepared = cases.map((tamper, index) => {
    const files: BundleBytes = new Map([...original].map(([name, bytes]) => [name, Buffer.from(bytes)]));
    tamper.change(files);
    const dir = join(casesDir, `case-${index}`);
    writeBundle(dir, files);
    return { tamper, dir };
  });

  const outcomes: CaseOutcome[] = [];
  const CONCURRENCY = 6;
  for (let start = 0; start < prepared.length; start += CONCURRENCY) {
    const batch = prepared.slice(start, start + CONCURRENCY);
    const results = await Promise.all(
      batch.map(async ({ tamper, dir }) => {
        const runs = await Promise.all(nodePaths.map(async (nodePath) => ({ nodePath, ...(await verifyWithTool(nodePath, dir)) })));
        return { name: tamper.name, warden: await verifyBundle(dir), runs };
      }),
    );
    outcomes.push(...results);
  }
  return outcomes;
}

/** Checks that both verifiers reach the same verdict and list the same problems, apart from the CSV and Parquet rebuild. */
function assertAgreement(outcome: CaseOutcome, expectOk: boolean): void {
  const { name, warden } = outcome;
  assert.equal(warden.ok, expectOk, `Warden's verifier on ${name}: ${warden.problems.join(' | ')}`);
  for (const { nodePath, exitCode, report } of outcome.runs) {
    const details = `${name} on ${nodePath}\n  tool:   ${report.problems.join(' | ')}\n  warden: ${warden.problems.join(' | ')}`;
    assert.equal(report.ok, expectOk, `standalone tool: ${details}`);
    assert.equal(exitCode, expectOk ? 0 : 5, `exit status: ${details}`);
    assert.deepEqual(report.problems, warden.problems.filter((problem) => !ANALYST_REBUILD_PROBLEM.test(problem)), `problem lists: ${details}`);
  }
}

/** Checks each outcome with assertAgreement, and that the tool reports the case's expected problem. */
function assertCaseOutcomes(cases: TamperCase[], outcomes: CaseOutcome[]): void {
  outcomes.forEach((outcome, index) => {
    const { expectOk = false, toolProblem } = cases[index];
    assertAgreement(outcome, expectOk);
    if (toolProblem) {
      const { problems } = outcome.runs[0].report;
      assert.ok(problems.some((problem) => toolProblem.test(problem)), `${outcome.name}: no problem matches ${toolProblem}: ${problems.join(' | ')}`);
    }
  });
}

/** Lists the Node binaries the tamper cases run on: this one, and the system Node where there is one. */
function nodeBinaries(): string[] {
  return systemNodeSkipReason() === undefined && SYSTEM_NODE !== process.execPath ? [process.execPath, SYSTEM_NODE] : [process.execPath];
}

/** Byte positions to flip in a file: both ends, the line ends around the middle and a few spread points. */
function samplePositions(bytes: Buffer): number[] {
  const length = bytes.length;
  if (length === 0) return [];
  const middle = Math.floor(length / 2);
  const newline = bytes.indexOf(0x0a, middle);
  const positions = [0, 1, Math.floor(length / 7), Math.floor(length / 3), middle, Math.floor((2 * length) / 3), length - 2, length - 1];
  if (newline >= 0) positions.push(newline, newline + 1);
  return [...new Set(positions.filter((position) => position >= 0 && position < length))].sort((a, b) => a - b);
}

for (const target of await databaseTargets()) {
  describe(`standalone bundle verifier on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let workDir: string;
    let bundleDir: string;
    /** The same bundle rewritten as format v3, with proofs.jsonl. */
    let bundleV3Dir: string;
    /** The same bundle rewritten as format v4, without counts.accessDenials. */
    let bundleV4Dir: string;
    /** The same bundle rewritten as format v5, with analyst files without the review columns. */
    let bundleV5Dir: string;
    let merkle: PostgresMerkleLog;
    let manifest: BundleManifest;
    let retiredKeyId: string;
    let evidence: ExportEvidence;
    let keyHolder: CheckpointSigner;

    before(async () => {
      db = await target.open();
      workDir = mkdtempSync(join(tmpdir(), 'warden-standalone-'));
      const source = db.database.dataSource;
      const ledger = new PostgresLedger();
      merkle = new PostgresMerkleLog(source);
      const keys = new CheckpointKeyStore(source, join(workDir, 'checkpoint-key.pem'), ledger);
      const checkpoints = new CheckpointService(source, merkle, keys, ledger, new WitnessPublisher(source, {}), { origin: ORIGIN });
      evidence = createExportEvidence(checkpoints, merkle, keys, 'standalone-test');

      await recordDecisions(source, ledger, [
        { tenant: 'bank-a', useCase: USE_CASE, createdAt: '2026-01-03T08:00:00.000Z', outcome: 'APPROVE', score: 0.12 },
        { tenant: 'bank-b', useCase: USE_CASE, createdAt: '2026-01-05T09:30:00.125Z', outcome: 'REFER', score: 0.5 },
      ]);
      await ledger.appendStandalone(source, { type: 'access.denied', tenant: 'bank-c', actor: 'mallory', payload: { route: '/graphql' } });
      await recordDecisions(source, ledger, [
        { tenant: 'bank-c', useCase: USE_CASE, createdAt: '2026-01-08T10:00:00.000Z', outcome: 'DECLINE', score: 0.91 },
      ]);
      // A checkpoint under the first key, then a rotation: keys.json then lists a retired key too.
      await checkpoints.create('standalone-test');
      retiredKeyId = (await keys.list())[0].keyId;
      await keys.rotate(ORIGIN, 'standalone-test');
      await recordDecisions(source, ledger, [
        { tenant: 'bank-a', useCase: USE_CASE, createdAt: '2026-01-15T12:00:00.000Z', outcome: 'DECLINE', score: 0.77 },
        { tenant: 'bank-a', useCase: 'fraud-alert', createdAt: '2026-01-16T12:00:00.000Z', outcome: 'APPROVE', score: 0.2 },
        { tenant: 'bank-b', useCase: USE_CASE, createdAt: '2026-01-20T16:45:59.999Z', outcome: 'APPROVE', score: 0.3 },
        { tenant: 'bank-c', useCase: USE_CASE, createdAt: '2026-02-01T00:00:00.000Z', outcome: 'REFER', score: 0.55 },
      ]);

      bundleDir = join(workDir, 'bundle');
      ({ manifest } = await exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir: bundleDir, wardenVersion: '0.1.0' }, evidence));
      // The current key after the rotation, which signed the bundle's manifest.
      keyHolder = await evidence.manifestSigner();
      bundleV3Dir = join(workDir, 'bundle-v3');
      cpSync(bundleDir, bundleV3Dir, { recursive: true });
      await convertFolderToV3(bundleV3Dir, merkle, keyHolder);
      bundleV4Dir = join(workDir, 'bundle-v4');
      cpSync(bundleDir, bundleV4Dir, { recursive: true });
      convertFolderToV4(bundleV4Dir, keyHolder);
      bundleV5Dir = join(workDir, 'bundle-v5');
      cpSync(bundleDir, bundleV5Dir, { recursive: true });
      convertFolderToV5(bundleV5Dir, keyHolder);
    });
    after(async () => {
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('verifies a bundle with the system Node', { skip: systemNodeSkipReason() }, async () => {
      const { exitCode, report } = await verifyWithTool(SYSTEM_NODE, bundleDir);
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
      assert.equal(exitCode, 0);
      assert.deepEqual(report.checked, {
        decisions: 5,
        purgedRecords: 0,
        ledgerEntries: 5,
        reviewEntries: 0,
        accessDenials: 0,
        proofs: 5,
        merkleNodes: textLines(readFileSync(join(bundleDir, MERKLE_NODES_FILE))).length,
        checkpoint: { origin: ORIGIN, treeSize: manifest.checkpoint.treeSize, rootHash: manifest.checkpoint.rootHash, keyIds: [manifest.checkpoint.keyId] },
        manifestSignature: { keyIds: [manifest.checkpoint.keyId] },
      });
    });

    it('verifies a bundle with this Node', async () => {
      const { exitCode, report } = await verifyWithTool(process.execPath, bundleDir);
      assert.deepEqual(await verifyBundle(bundleDir), { ok: true, problems: [] });
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
      assert.equal(exitCode, 0);
      assert.equal(report.checked.decisions, 5);
      assert.equal(report.checked.ledgerEntries, 5);
      assert.equal(report.checked.proofs, 5);
      assert.ok(report.checked.merkleNodes! >= 1, 'the multiproof has lines');
      assert.equal(manifest.formatVersion, BUNDLE_FORMAT_VERSION);
      assert.equal(manifest.counts.decisions, 5);
      // The export signed a new checkpoint with the rotated key, and the retired key is still published.
      assert.notEqual(manifest.checkpoint.keyId, retiredKeyId);
      assert.deepEqual(report.checked.checkpoint?.keyIds, [manifest.checkpoint.keyId]);
      const published = JSON.parse(readFileSync(join(bundleDir, KEYS_FILE), 'utf8')) as { keyId: string }[];
      assert.deepEqual(published.map((key) => key.keyId).sort(), [manifest.checkpoint.keyId, retiredKeyId].sort());
    });

    it('verifies a format v3 bundle', async () => {
      const { exitCode, report } = await verifyWithTool(process.execPath, bundleV3Dir);
      assert.deepEqual(await verifyBundle(bundleV3Dir), { ok: true, problems: [] });
      assert.deepEqual(report.problems, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked.proofs, 5);
      assert.equal(report.checked.merkleNodes, null);
      assert.ok(!existsSync(join(bundleV3Dir, MERKLE_NODES_FILE)), 'the v3 bundle still has merkle-nodes.jsonl');
      assert.equal(readManifest(readBundle(bundleV3Dir)).formatVersion, BUNDLE_FORMAT_VERSION_V3);
    });

    it('verifies a format v4 bundle', async () => {
      const { exitCode, report } = await verifyWithTool(process.execPath, bundleV4Dir);
      assert.deepEqual(await verifyBundle(bundleV4Dir), { ok: true, problems: [] });
      assert.deepEqual(report.problems, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked.reviewEntries, 0);
      assert.equal(report.checked.accessDenials, null, 'a v4 bundle has no access denials to count');
      const v4 = readManifest(readBundle(bundleV4Dir));
      assert.equal(v4.formatVersion, BUNDLE_FORMAT_VERSION_V4);
      assert.equal('accessDenials' in v4.counts, false);
      assert.deepEqual(await readBundleSigners(bundleV4Dir), { checkpoint: [manifest.checkpoint.keyId], manifest: [manifest.checkpoint.keyId] });
    });

    it('verifies a format v5 bundle', async () => {
      const { exitCode, report } = await verifyWithTool(process.execPath, bundleV5Dir);
      assert.deepEqual(await verifyBundle(bundleV5Dir), { ok: true, problems: [] });
      assert.deepEqual(report.problems, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked.accessDenials, 0);
      const v5 = readManifest(readBundle(bundleV5Dir));
      assert.equal(v5.formatVersion, BUNDLE_FORMAT_VERSION_V5);
      assert.ok(!readFileSync(join(bundleV5Dir, DECISIONS_CSV_FILE), 'utf8').includes('review_outcome'), 'the v5 CSV has no review columns');
      assert.ok(readFileSync(join(bundleDir, DECISIONS_CSV_FILE), 'utf8').split('\r\n')[0].endsWith(',review_outcome,reviewed_at'));
    });

    it('rejects a v6 bundle relabelled as v5 without rewriting its analyst files', async () => {
      const files = readBundle(bundleDir);
      const relabelled = readManifest(files);
      const { manifestDigest: _digest, ...unsigned } = relabelled;
      const manifestText = sealManifest({ ...unsigned, formatVersion: BUNDLE_FORMAT_VERSION_V5 }).text;
      files.set(MANIFEST_FILE, Buffer.from(manifestText, 'utf8'));
      files.set(MANIFEST_SIGNATURE_FILE, Buffer.from(signManifest(Buffer.from(manifestText, 'utf8'), keyHolder, BUNDLE_FORMAT_VERSION_V5), 'utf8'));
      const result = verifyBundleFiles(files);
      assert.deepEqual(result.problems.filter((problem) => !/^decisions\.(csv|parquet): /.test(problem)), []);
      assert.match(result.problems.join('\n'), /decisions\.csv: does not match what decisions\.jsonl produces/);
      assert.match(result.problems.join('\n'), /decisions\.parquet: does not match what decisions\.jsonl produces/);
    });

    it('verifies tenant and outcome exports', async () => {
      const tenantDir = join(workDir, 'bank-b');
      await exportBundle(db.database.dataSource, { useCase: USE_CASE, ...JANUARY, tenant: 'bank-b', outDir: tenantDir, wardenVersion: '0.1.0' }, evidence);
      const tenant = await verifyWithTool(process.execPath, tenantDir);
      assert.deepEqual(await verifyBundle(tenantDir), { ok: true, problems: [] });
      assert.equal(tenant.exitCode, 0, tenant.report.problems.join(' | '));
      assert.equal(tenant.report.checked.decisions, 2);
      assert.equal(tenant.report.checked.ledgerEntries, 2);
      assert.equal(tenant.report.checked.proofs, 2, 'both entries of the sparse export are proven');
      assert.ok(tenant.report.checked.merkleNodes! >= 2, 'two scattered leaves need ranges on both sides');

      const declineDir = join(workDir, 'declines');
      await exportBundle(db.database.dataSource, { useCase: USE_CASE, ...JANUARY, outcome: 'DECLINE', outDir: declineDir, wardenVersion: '0.1.0' }, evidence);
      const declines = await verifyWithTool(process.execPath, declineDir);
      assert.deepEqual(await verifyBundle(declineDir), { ok: true, problems: [] });
      assert.equal(declines.exitCode, 0, declines.report.problems.join(' | '));
      assert.equal(declines.report.checked.decisions, 2);

      const emptyDir = join(workDir, 'empty');
      const june = { from: new Date('2025-06-01T00:00:00.000Z'), to: new Date('2025-07-01T00:00:00.000Z') };
      await exportBundle(db.database.dataSource, { useCase: USE_CASE, ...june, outDir: emptyDir, wardenVersion: '0.1.0' }, evidence);
      const empty = await verifyWithTool(process.execPath, emptyDir);
      assert.deepEqual(await verifyBundle(emptyDir), { ok: true, problems: [] });
      assert.equal(empty.exitCode, 0, empty.report.problems.join(' | '));
      assert.deepEqual([empty.report.checked.decisions, empty.report.checked.ledgerEntries, empty.report.checked.proofs, empty.report.checked.merkleNodes], [0, 0, 0, 0]);
      assert.equal(readFileSync(join(emptyDir, MERKLE_NODES_FILE), 'utf8'), '', 'an export without entries has an empty multiproof');
    });

    it('agrees with verifyBundle on flipped bytes', async () => {
      const cases: TamperCase[] = [];
      for (const [name, bytes] of readBundle(bundleDir)) {
        for (const position of samplePositions(bytes)) {
          cases.push({
            name: `${name} byte ${position}`,
            change: (files) => {
              files.get(name)![position] ^= 0x01;
            },
          });
        }
      }
      assert.ok(cases.length >= 9 * 8, `only ${cases.length} flipped bytes were sampled`);

      const outcomes = await runCases(bundleDir, join(workDir, 'flipped'), cases, [process.execPath]);
      for (const outcome of outcomes) {
        assertAgreement(outcome, false);
        const file = outcome.name.split(' ')[0];
        const { problems } = outcome.runs[0].report;
        assert.ok(problems.some((problem) => problem.startsWith(file)), `${outcome.name}: no problem names ${file}`);
      }
    });

    it('agrees with verifyBundle on forgeries', async () => {
      const note = readFileSync(join(bundleDir, CHECKPOINT_FILE), 'utf8');
      const foreign = signWithForeignKey(note);
      // A real tree one leaf short of the last exported seq, for a checkpoint the key holder signs anew.
      const smallerTree = { treeSize: manifest.ledger.lastSeq! - 1, rootHash: await merkle.rootHash(manifest.ledger.lastSeq! - 1) };
      const cases: TamperCase[] = [
        {
          name: 'forged ledger entry with a recomputed hash, manifest resealed',
          change: (files) => {
            forgeEntryWithNewHash(files, 3, false);
            reseal(files, keyHolder);
          },
          // The forged leaf hangs together with its decision, but the multiproof leads to another root.
          toolProblem: /^merkle-nodes\.jsonl: the root computed from ledger\.jsonl and merkle-nodes\.jsonl differs from manifest\.json checkpoint\.rootHash$/,
        },
        {
          name: 'merkle-nodes.jsonl deleted',
          change: (files) => files.delete(MERKLE_NODES_FILE),
          toolProblem: /^merkle-nodes\.jsonl: missing$/,
        },
        {
          name: 'node line removed, manifest resealed',
          change: (files) => {
            const lines = merkleNodeLines(files);
            lines.splice(1, 1);
            setMerkleNodeLines(files, lines);
            reseal(files, keyHolder);
          },
          toolProblem: /^merkle-nodes\.jsonl: no line gives the range \[\d+, \d+\), which the root computation needs$/,
        },
        {
          name: 'node line added after the tree, manifest resealed',
          change: (files) => {
            const { treeSize } = readManifest(files).checkpoint;
            setMerkleNodeLines(files, [...merkleNodeLines(files), canonicalJson({ start: treeSize, end: treeSize + 1, hash: 'ab'.repeat(32) })]);
            reseal(files, keyHolder);
          },
          toolProblem: /^merkle-nodes\.jsonl line \d+ \(range \[\d+, \d+\)\): the root computation does not read this range, which ends after the checkpoint's tree size \d+$/,
        },
        {
          name: 'node line covering an exported leaf, manifest resealed',
          change: (files) => {
            const entry = JSON.parse(textLines(files.get(LEDGER_FILE)!)[2]) as LedgerEntry;
            const leaf = { start: entry.seq - 1, end: entry.seq, hash: hashToHex(hashMerkleLeaf(Buffer.from(entry.hash, 'hex'))) };
            const lines = merkleNodeLines(files);
            const at = lines.findIndex((line) => (JSON.parse(line) as { start: number }).start > leaf.start);
            lines.splice(at < 0 ? lines.length : at, 0, canonicalJson(leaf));
            setMerkleNodeLines(files, lines);
            reseal(files, keyHolder);
          },
          toolProblem: /^merkle-nodes\.jsonl line \d+ \(range \[\d+, \d+\)\): the root computation does not read this range, which contains the leaf of seq \d+ of ledger\.jsonl$/,
        },
        {
          name: 'node hash changed, manifest resealed',
          change: (files) => {
            const lines = merkleNodeLines(files);
            const node = JSON.parse(lines[0]) as { hash: string };
            node.hash = `${node.hash[0] === '0' ? '1' : '0'}${node.hash.slice(1)}`;
            lines[0] = canonicalJson(node);
            setMerkleNodeLines(files, lines);
            reseal(files, keyHolder);
          },
          toolProblem: /^merkle-nodes\.jsonl: the root computed from ledger\.jsonl and merkle-nodes\.jsonl differs from manifest\.json checkpoint\.rootHash$/,
        },
        {
          name: 'node line repeated, manifest resealed',
          change: (files) => {
            const lines = merkleNodeLines(files);
            lines.splice(1, 0, lines[0]);
            setMerkleNodeLines(files, lines);
            reseal(files, keyHolder);
          },
          toolProblem: /^merkle-nodes\.jsonl line 2 \(range \[\d+, \d+\)\): repeats line 1$/,
        },
        {
          name: 'node lines swapped, manifest resealed',
          change: (files) => {
            const lines = merkleNodeLines(files);
            [lines[0], lines[1]] = [lines[1], lines[0]];
            setMerkleNodeLines(files, lines);
            reseal(files, keyHolder);
          },
          // The lines still give every range, so only the order is wrong.
          toolProblem: /^merkle-nodes\.jsonl line 2 \(range \[\d+, \d+\)\): start \d+ is not after the previous line's start \d+; lines must be sorted by start$/,
        },
        {
          name: 'node line with an uppercase hash, manifest resealed',
          change: (files) => {
            const lines = merkleNodeLines(files);
            const node = JSON.parse(lines[0]) as { hash: string };
            lines[0] = canonicalJson({ ...node, hash: node.hash.toUpperCase() });
            setMerkleNodeLines(files, lines);
            reseal(files, keyHolder);
          },
          toolProblem: /^merkle-nodes\.jsonl line 1 \(range \[\d+, \d+\)\) field "hash" must be 64 lowercase hex characters$/,
        },
        {
          name: 'node line with an empty range and an extra field, manifest resealed',
          change: (files) => {
            const lines = merkleNodeLines(files);
            const node = JSON.parse(lines[0]) as { start: number };
            lines[0] = canonicalJson({ ...node, end: node.start, level: 0 });
            setMerkleNodeLines(files, lines);
            reseal(files, keyHolder);
          },
          toolProblem: /^merkle-nodes\.jsonl line 1 fields "start" and "end": must be integers with 0 <= start < end, found \d+ and \d+$/,
        },
        {
          name: 'entry removed from ledger.jsonl with the nodes unchanged, manifest resealed',
          change: (files) => {
            for (const name of [LEDGER_FILE, DECISIONS_FILE]) {
              const lines = textLines(files.get(name)!);
              lines.splice(1, 1);
              files.set(name, joinLines(lines));
            }
            editManifest(files, (manifest) => {
              manifest.counts.ledgerEntries -= 1;
              manifest.counts.decisions -= 1;
            });
            reseal(files, keyHolder);
          },
          // Without the entry's leaf, the computation needs a range over it that the file lacks.
          toolProblem: /^merkle-nodes\.jsonl: no line gives the range \[\d+, \d+\), which the root computation needs$/,
        },
        {
          name: 'checkpoint shrunk below the last seq by the key holder, manifest resealed',
          change: (files) => shrinkCheckpoint(files, keyHolder, smallerTree.treeSize, smallerTree.rootHash),
          toolProblem: /^merkle-nodes\.jsonl: the root cannot be computed, because seq \d+ of ledger\.jsonl is outside the checkpoint's tree of size \d+$/,
        },
        {
          name: 'proofs.jsonl of the v3 format added, manifest resealed',
          change: (files) => {
            files.set(PROOFS_FILE, Buffer.from('\n', 'utf8'));
            editManifest(files, (manifest) => {
              manifest.files[PROOFS_FILE] = { bytes: 1, sha256: sha256Hex('\n') };
            });
            reseal(files, keyHolder);
          },
          toolProblem: /^manifest\.json: field "files\.proofs\.jsonl" is not a file a Warden bundle contains$/,
        },
        {
          name: 'forged record, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(DECISIONS_FILE)!);
            const forged = JSON.parse(lines[1]) as DecisionLine;
            forged.record.reasonCodes = [];
            lines[1] = canonicalJson(forged);
            files.set(DECISIONS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^decisions\.jsonl line 2 field "recordDigest": [0-9a-f]{64} does not match the record, which digests to [0-9a-f]{64}$/,
        },
        {
          name: 'forged record with a new digest, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(DECISIONS_FILE)!);
            const forged = JSON.parse(lines[2]) as DecisionLine;
            forged.record.score = 0.01;
            forged.score = 0.01;
            forged.recordDigest = digestJson(forged.record);
            lines[2] = canonicalJson(forged);
            files.set(DECISIONS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^decisions\.jsonl line 3 field "recordDigest": differs from payload\.recordDigest of the ledger entry at seq \d+$/,
        },
        {
          name: 'record replaced by a tombstone older than the decision, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(DECISIONS_FILE)!);
            const forged = JSON.parse(lines[0]) as DecisionLine;
            forged.record = { purged: true, purgedAt: '2000-01-01T00:00:00.000Z', rule: 'made up' };
            lines[0] = canonicalJson(forged);
            files.set(DECISIONS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^decisions\.jsonl line 1 field "record": purgedAt 2000-01-01T00:00:00\.000Z is before the decision's createdAt /,
        },
        {
          name: 'actor changed on a decision line, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(DECISIONS_FILE)!);
            const forged = { ...(JSON.parse(lines[0]) as DecisionLine), actor: 'someone-else' };
            lines[0] = canonicalJson(forged);
            files.set(DECISIONS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^decisions\.jsonl line 1 field "actor": differs from the actor of the ledger entry at seq \d+$/,
        },
        {
          name: 'extra field on a decision line, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(DECISIONS_FILE)!);
            const padded = { ...(JSON.parse(lines[0]) as DecisionLine), reviewerNote: 'approved by phone' };
            lines[0] = canonicalJson(padded);
            files.set(DECISIONS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^decisions\.jsonl line 1 field "reviewerNote" is not part of the bundle format; remove it, or export the bundle again$/,
        },
        {
          name: 'extra field on a ledger line, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(LEDGER_FILE)!);
            const padded = { ...(JSON.parse(lines[0]) as Record<string, unknown>), witness: 'none' };
            lines[0] = canonicalJson(padded);
            files.set(LEDGER_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl line 1 field "witness" is not part of the bundle format; remove it, or export the bundle again$/,
        },
        {
          name: 'outcome changed beside its record, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(DECISIONS_FILE)!);
            const forged = JSON.parse(lines[0]) as DecisionLine;
            forged.outcome = 'DECLINE';
            lines[0] = canonicalJson(forged);
            files.set(DECISIONS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^decisions\.jsonl line 1 field "outcome": "DECLINE" differs from record\.outcome, "APPROVE"$/,
        },
        {
          name: 'forged ledger entry, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(LEDGER_FILE)!);
            const forged = JSON.parse(lines[1]) as LedgerEntry;
            forged.payload.outcome = 'APPROVE';
            lines[1] = canonicalJson(forged);
            files.set(LEDGER_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl line 2 \(seq \d+\): hash does not match the entry's fields and prevHash$/,
        },
        {
          name: 'signature from an unpublished key',
          change: (files) => files.set(CHECKPOINT_FILE, Buffer.from(foreign.note, 'utf8')),
          toolProblem: /^checkpoint\.txt: size is \d+ bytes but manifest\.json records \d+$|^checkpoint\.txt: SHA-256 is /,
        },
        {
          name: 'signature from an unpublished key, manifest resealed',
          change: (files) => {
            files.set(CHECKPOINT_FILE, Buffer.from(foreign.note, 'utf8'));
            reseal(files, keyHolder);
          },
          toolProblem: /^checkpoint\.txt: no signature is from a known key \(signed by warden\.test\/standalone-verifier\+[0-9a-f]{8}\)$/,
        },
        {
          name: 'signature from a key added to keys.json, manifest resealed',
          change: (files) => {
            files.set(CHECKPOINT_FILE, Buffer.from(foreign.note, 'utf8'));
            const published = JSON.parse(files.get(KEYS_FILE)!.toString('utf8')) as Record<string, unknown>[];
            published.push({ keyId: 'forged', keyName: ORIGIN, vkey: foreign.vkey, createdAt: '2026-02-01T00:00:00.000Z', retiredAt: null });
            files.set(KEYS_FILE, Buffer.from(`${canonicalJson(published)}\n`, 'utf8'));
            reseal(files, keyHolder);
          },
          toolProblem: /^checkpoint\.txt: not signed by manifest\.json checkpoint\.keyId warden\.test\/standalone-verifier\+[0-9a-f]{8}$/,
        },
        {
          name: "published key's hash on a foreign signature, manifest resealed",
          change: (files) => {
            const genuine = signatureField(note);
            const forged = signatureField(foreign.note);
            const spliced = Buffer.concat([genuine.subarray(0, 4), forged.subarray(4)]).toString('base64');
            files.set(CHECKPOINT_FILE, Buffer.from(note.replace(genuine.toString('base64'), spliced), 'utf8'));
            reseal(files, keyHolder);
          },
          toolProblem: /^checkpoint\.txt: the signature of key warden\.test\/standalone-verifier\+[0-9a-f]{8} does not match the checkpoint body$/,
        },
        {
          name: 'signing key dropped from keys.json',
          change: (files) => files.set(KEYS_FILE, withoutKey(files.get(KEYS_FILE)!, manifest.checkpoint.keyId)),
          toolProblem: /^keys\.json: size is \d+ bytes but manifest\.json records \d+$/,
        },
        {
          name: 'signing key dropped from keys.json, manifest resealed',
          change: (files) => {
            files.set(KEYS_FILE, withoutKey(files.get(KEYS_FILE)!, manifest.checkpoint.keyId));
            reseal(files, keyHolder);
          },
          toolProblem: /^checkpoint\.txt: no signature is from a known key/,
        },
        {
          name: 'manifest checkpoint.treeSize changed and resealed',
          change: (files) => {
            const { manifestDigest: _old, ...unsigned } = readManifest(files);
            unsigned.checkpoint.treeSize += 1;
            files.set(MANIFEST_FILE, Buffer.from(sealManifest(unsigned).text, 'utf8'));
          },
          toolProblem: /^checkpoint\.txt: tree size \d+ differs from manifest\.json checkpoint\.treeSize \d+$/,
        },
        {
          name: 'manifest tenant narrowed and resealed',
          change: (files) => {
            const { manifestDigest: _old, ...unsigned } = readManifest(files);
            unsigned.tenant = 'bank-a';
            files.set(MANIFEST_FILE, Buffer.from(sealManifest(unsigned).text, 'utf8'));
          },
          toolProblem: /^decisions\.jsonl line 2 field "tenant": "bank-b" is not the exported tenant "bank-a"$/,
        },
        {
          name: 'manifest period shortened and resealed',
          change: (files) => {
            const { manifestDigest: _old, ...unsigned } = readManifest(files);
            unsigned.period.to = '2026-01-20T00:00:00.000Z';
            files.set(MANIFEST_FILE, Buffer.from(sealManifest(unsigned).text, 'utf8'));
          },
          toolProblem: /^decisions\.jsonl line 5 field "createdAt": 2026-01-20T16:45:59\.999Z is outside \[2026-01-01T00:00:00\.000Z, 2026-01-20T00:00:00\.000Z\)$/,
        },
        {
          name: 'manifest format version changed and resealed',
          change: (files) => relabelManifest(files, 'warden.audit-export.v9'),
          toolProblem: /^manifest\.json: field "formatVersion" must be "warden\.audit-export\.v6", "warden\.audit-export\.v5", "warden\.audit-export\.v4", "warden\.audit-export\.v3" or "warden\.audit-export\.v2"$/,
        },
        {
          name: 'manifest relabelled as the retired format v1 and resealed',
          change: (files) => relabelManifest(files, 'warden.audit-export.v1'),
          toolProblem: /^manifest\.json: field "formatVersion" is "warden\.audit-export\.v1", a format without signatures or proofs that this verifier does not read\./,
        },
        {
          name: 'manifest without its final newline',
          change: (files) => files.set(MANIFEST_FILE, files.get(MANIFEST_FILE)!.subarray(0, -1)),
          toolProblem: /^manifest\.json: bytes are not the RFC 8785 canonical JSON followed by one newline$/,
        },
        {
          name: 'personalData on a record without sealed fields, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(DECISIONS_FILE)!);
            lines[0] = canonicalJson({ ...(JSON.parse(lines[0]) as DecisionLine), personalData: 'erased' });
            files.set(DECISIONS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^decisions\.jsonl line 1 field "personalData" is only allowed for a record with sealed personal fields$/,
        },
        {
          name: 'decisions.csv changed, manifest resealed without the key',
          change: (files) => {
            files.set('decisions.csv', Buffer.from(files.get('decisions.csv')!.toString('utf8').replace('DECLINE', 'APPROVE'), 'utf8'));
            reseal(files, null);
          },
          toolProblem: /^manifest\.sig: the signed statement is not the SHA-256 of this manifest\.json; the manifest was changed after signing$/,
        },
        {
          name: 'manifest.sig deleted',
          change: (files) => files.delete(MANIFEST_SIGNATURE_FILE),
          toolProblem: /^manifest\.sig: missing; without it nothing shows that the manifest came from the ledger's key holder$/,
        },
        {
          name: 'manifest signed by an unpublished key',
          change: (files) => {
            const { privateKey } = generateKeyPairSync('ed25519');
            const stranger = { keyName: ORIGIN, privateKey, publicKey: rawEd25519PublicKey(privateKey) };
            files.set(MANIFEST_SIGNATURE_FILE, Buffer.from(signManifest(files.get(MANIFEST_FILE)!, stranger), 'utf8'));
          },
          toolProblem: /^manifest\.sig: no signature is from a known key \(signed by warden\.test\/standalone-verifier\+[0-9a-f]{8}\)$/,
        },
        {
          name: 'manifest.sig with a cosignature of an unknown key',
          change: (files) => {
            const note = files.get(MANIFEST_SIGNATURE_FILE)!.toString('utf8');
            // A signature line of a key the verifier does not know is skipped, so the note still passes on the current key.
            files.set(MANIFEST_SIGNATURE_FILE, Buffer.from(note.replace(/\n$/, `\n\u2014 other.example ${Buffer.alloc(68, 7).toString('base64')}\n`), 'utf8'));
          },
          expectOk: true,
        },
        {
          name: 'retired key dropped from keys.json, manifest resealed',
          // The retired key signed nothing in this bundle, so both verifiers must still accept it.
          change: (files) => {
            files.set(KEYS_FILE, withoutKey(files.get(KEYS_FILE)!, retiredKeyId));
            reseal(files, keyHolder);
          },
          expectOk: true,
        },
      ];

      assertCaseOutcomes(cases, await runCases(bundleDir, join(workDir, 'forged'), cases, nodeBinaries()));
    });

    it('agrees with verifyBundle on forged v3 proofs', async () => {
      const cases: TamperCase[] = [
        {
          name: 'forged ledger entry with a recomputed hash, manifest resealed',
          change: (files) => {
            forgeEntryWithNewHash(files, 3, false);
            reseal(files, keyHolder);
          },
          toolProblem: /^proofs\.jsonl line 4 field "leafHash": is not SHA-256\(0x00 \|\| hash\) of the entry at seq \d+$/,
        },
        {
          name: 'forged ledger entry with a recomputed hash and leaf hash, manifest resealed',
          change: (files) => {
            forgeEntryWithNewHash(files, 3, true);
            reseal(files, keyHolder);
          },
          // The entry and its proof line hang together, but the leaf is not in the signed tree.
          toolProblem: /^proofs\.jsonl line 4: inclusion proof does not verify: the proof leads to a different root hash$/,
        },
        {
          name: 'two proof lines swapped, manifest resealed',
          change: (files) => {
            const lines = textLines(files.get(PROOFS_FILE)!);
            [lines[0], lines[1]] = [lines[1], lines[0]];
            files.set(PROOFS_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^proofs\.jsonl line 1 field "seq": \d+ is not the seq \d+ of ledger\.jsonl line 1$/,
        },
        {
          name: 'two proof lines swapped',
          change: (files) => {
            const lines = textLines(files.get(PROOFS_FILE)!);
            [lines[2], lines[4]] = [lines[4], lines[2]];
            files.set(PROOFS_FILE, joinLines(lines));
          },
          toolProblem: /^proofs\.jsonl: SHA-256 is [0-9a-f]{64} but manifest\.json records [0-9a-f]{64}$/,
        },
        {
          name: 'proofs.jsonl deleted',
          change: (files) => files.delete(PROOFS_FILE),
          toolProblem: /^proofs\.jsonl: missing$/,
        },
        {
          name: 'bundle without review entries converted to format v2, signed by the key holder',
          change: (files) => convertToV2(files, keyHolder),
          expectOk: true,
        },
        {
          name: 'format v2 manifest signed as v3',
          change: (files) => {
            convertToV2(files, keyHolder);
            files.set(MANIFEST_SIGNATURE_FILE, Buffer.from(signManifest(files.get(MANIFEST_FILE)!, keyHolder, BUNDLE_FORMAT_VERSION_V3), 'utf8'));
          },
          toolProblem: /^manifest\.sig: the signed statement is not the SHA-256 of this manifest\.json; the manifest was changed after signing$/,
        },
      ];
      assertCaseOutcomes(cases, await runCases(bundleV3Dir, join(workDir, 'forged-v3'), cases, nodeBinaries()));
    });

    it('passes a resealed CSV that only Warden rebuilds', async () => {
      // The tool checks decisions.csv by its SHA-256 alone, as its header states, while Warden's
      // verifier rebuilds the file from decisions.jsonl. This pins that documented difference.
      const [outcome] = await runCases(bundleDir, join(workDir, 'csv'), [
        {
          name: 'decisions.csv row changed, manifest resealed',
          change: (files) => {
            files.set('decisions.csv', Buffer.from(files.get('decisions.csv')!.toString('utf8').replace('DECLINE', 'APPROVE'), 'utf8'));
            reseal(files, keyHolder);
          },
        },
      ], [process.execPath]);
      assert.deepEqual(outcome.runs[0].report.problems, []);
      assert.equal(outcome.runs[0].exitCode, 0);
      assert.deepEqual(outcome.warden.problems, ['decisions.csv: does not match what decisions.jsonl and the review.decided entries of ledger.jsonl produce; if both pass every other check, rebuild decisions.csv from them']);
    });
  });
}

describe('standalone bundle verifier usage', () => {
  it('rejects a missing folder', async () => {
    const missing = join(tmpdir(), `warden-no-bundle-${randomUUID()}`);
    const run = await runTool(process.execPath, [missing]);
    assert.equal(run.exitCode, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `warden-verify-bundle: the bundle folder ${missing} does not exist. Pass the folder that contains manifest.json.\n`);
  });

  it('rejects a missing argument', async () => {
    const run = await runTool(process.execPath, []);
    assert.equal(run.exitCode, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^warden-verify-bundle: expected exactly one argument, the bundle folder, got 0\.\n\nUsage: node warden-verify-bundle\.mjs BUNDLE_DIR\n/);
  });

  it('reports a folder without a manifest', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'warden-empty-bundle-'));
    try {
      const run = await runTool(process.execPath, [empty]);
      assert.equal(run.exitCode, 5);
      assert.deepEqual(JSON.parse(run.stdout), {
        ok: false,
        problems: ['manifest.json: missing; a bundle without a manifest is incomplete'],
        checked: { decisions: 0, purgedRecords: 0, ledgerEntries: 0, reviewEntries: null, accessDenials: null, proofs: 0, merkleNodes: null, checkpoint: null, manifestSignature: null },
      });
      assert.deepEqual(await verifyBundle(empty), { ok: false, problems: ['manifest.json: missing; a bundle without a manifest is incomplete'] });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

/**
 * Changes the actor of the entry on a ledger.jsonl line and recomputes its hash, and the decision's
 * ledgerHash (and, when asked, the proof's leafHash) to match, as a careful forger would.
 */
function forgeEntryWithNewHash(files: BundleBytes, index: number, updateLeafHash: boolean): void {
  const forged = replaceEntryWithNewHash(files, index, (entry) => {
    entry.actor = 'someone-else';
  }, updateLeafHash);

  const decisionLines = textLines(files.get(DECISIONS_FILE)!);
  const decision = JSON.parse(decisionLines[index]) as DecisionLine;
  decision.ledgerHash = forged.hash;
  decisionLines[index] = canonicalJson(decision);
  files.set(DECISIONS_FILE, joinLines(decisionLines));
}

/** Returns the raw bytes of a note's first signature: the 4-byte key hash and the 64-byte signature. */
function signatureField(note: string): Buffer {
  const line = note.slice(note.lastIndexOf('\n\n') + 2).split('\n')[0];
  return Buffer.from(line.split(' ')[2], 'base64');
}

/** Returns keys.json without the key with the given id, in canonical form. */
function withoutKey(bytes: Buffer, keyId: string): Buffer {
  const published = JSON.parse(bytes.toString('utf8')) as { keyId: string }[];
  const kept = published.filter((key) => key.keyId !== keyId);
  assert.equal(kept.length, published.length - 1, `keys.json has no key ${keyId}`);
  return Buffer.from(`${canonicalJson(kept)}\n`, 'utf8');
}

/**
 * One line of ledger.jsonl with the proofs.jsonl line of the same index. A v4 bundle has no
 * proofs.jsonl, so proofLine is then undefined.
 */
interface EntryWithProof {
  entry: LedgerEntry;
  proofLine?: string;
}

/** Finds the first ledger.jsonl line that `match` accepts, with its index and proof line. */
function findEntry(files: BundleBytes, match: (entry: LedgerEntry) => boolean): EntryWithProof & { index: number } {
  const entries = textLines(files.get(LEDGER_FILE)!).map((line) => JSON.parse(line) as LedgerEntry);
  const index = entries.findIndex(match);
  assert.ok(index >= 0, 'no ledger.jsonl line matches');
  const proofs = files.get(PROOFS_FILE);
  return { index, entry: entries[index], proofLine: proofs ? textLines(proofs)[index] : undefined };
}

/**
 * Inserts an entry at its place in seq order, with its proof in a v3 bundle, and counts it in the
 * manifest. A v4 bundle's merkle-nodes.jsonl stays unchanged, because no forger can split a
 * subtree hash to make room for the new leaf.
 */
function insertEntry(files: BundleBytes, { entry, proofLine }: EntryWithProof): void {
  const ledgerLines = textLines(files.get(LEDGER_FILE)!);
  const at = ledgerLines.findIndex((line) => (JSON.parse(line) as LedgerEntry).seq > entry.seq);
  const index = at < 0 ? ledgerLines.length : at;
  ledgerLines.splice(index, 0, canonicalJson(entry));
  files.set(LEDGER_FILE, joinLines(ledgerLines));
  const proofs = files.get(PROOFS_FILE);
  if (proofs && proofLine !== undefined) {
    const proofLines = textLines(proofs);
    proofLines.splice(index, 0, proofLine);
    files.set(PROOFS_FILE, joinLines(proofLines));
  }
  editManifest(files, (manifest) => {
    manifest.counts.ledgerEntries += 1;
    if (entry.type.startsWith('review.')) manifest.counts.reviewEntries += 1;
    if (entry.type === 'access.denied' && 'accessDenials' in manifest.counts) manifest.counts.accessDenials += 1;
  });
}

/**
 * Changes the entry on a ledger.jsonl line with `forge` and recomputes its hash (and, when asked
 * and the bundle has proofs.jsonl, the proof's leafHash) to match, as a careful forger would.
 * Returns the changed entry.
 */
function replaceEntryWithNewHash(files: BundleBytes, index: number, forge: (entry: LedgerEntry) => void, updateLeafHash = true): LedgerEntry {
  const lines = textLines(files.get(LEDGER_FILE)!);
  const forged = JSON.parse(lines[index]) as LedgerEntry;
  forge(forged);
  const { prevHash, hash: _old, ...fields } = forged;
  forged.hash = computeEntryHash(prevHash, fields);
  lines[index] = canonicalJson(forged);
  files.set(LEDGER_FILE, joinLines(lines));
  if (!updateLeafHash || !files.has(PROOFS_FILE)) return forged;

  const proofLines = textLines(files.get(PROOFS_FILE)!);
  const proof = JSON.parse(proofLines[index]) as { leafHash: string };
  proof.leafHash = hashToHex(hashMerkleLeaf(Buffer.from(forged.hash, 'hex')));
  proofLines[index] = canonicalJson(proof);
  files.set(PROOFS_FILE, joinLines(proofLines));
  return forged;
}

for (const target of await databaseTargets()) {
  describe(`standalone verifier on review entries on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let seeded: ReviewedDecisions;
    let workDir: string;
    let keyHolder: CheckpointSigner;
    /** bank-a's REFER decisions: the approved and the released case with their review entries. */
    let referDir: string;
    /** The same bundle rewritten as format v3. */
    let referV3Dir: string;
    /** Every decision of bank-a, the overridden large loan included. */
    let bankADir: string;
    let bankBDir: string;

    before(async () => {
      db = await target.open();
      seeded = await seedReviewedDecisions(db);
      workDir = mkdtempSync(join(tmpdir(), 'warden-standalone-reviews-'));
      const exportTo = async (name: string, options: { tenant: string; outcome?: 'REFER' }): Promise<string> => {
        const outDir = join(workDir, name);
        await exportBundle(seeded.runtime.database.dataSource, { useCase: REVIEWED_USE_CASE, ...seeded.period, outDir, wardenVersion: '0.1.0', ...options }, seeded.evidence);
        return outDir;
      };
      referDir = await exportTo('bank-a-refer', { tenant: 'bank-a', outcome: 'REFER' });
      bankADir = await exportTo('bank-a', { tenant: 'bank-a' });
      bankBDir = await exportTo('bank-b', { tenant: 'bank-b' });
      keyHolder = await seeded.evidence.manifestSigner();
      referV3Dir = join(workDir, 'bank-a-refer-v3');
      cpSync(referDir, referV3Dir, { recursive: true });
      await convertFolderToV3(referV3Dir, seeded.runtime.merkle, keyHolder);
    });
    after(async () => {
      await seeded?.runtime.close();
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('verifies review entries with both verifiers', async () => {
      const { exitCode, report } = await verifyWithTool(process.execPath, referDir);
      assert.deepEqual(await verifyBundle(referDir), { ok: true, problems: [] });
      assert.deepEqual(report.problems, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked.reviewEntries, 5, 'claimed, field_revealed and decided of one case; claimed and released of the other');
      assert.equal(report.checked.proofs, report.checked.ledgerEntries);
      assert.ok(report.checked.merkleNodes! >= 2, 'the sparse export needs ranges between its leaves');

      const v3 = await verifyWithTool(process.execPath, referV3Dir);
      assert.deepEqual(await verifyBundle(referV3Dir), { ok: true, problems: [] });
      assert.deepEqual(v3.report.problems, []);
      assert.equal(v3.report.checked.proofs, report.checked.ledgerEntries);
    });

    it('agrees with verifyBundle on forged review entries', async () => {
      const isDecided = (decision: ReviewedDecision) => (entry: LedgerEntry) => entry.type === 'review.decided' && entry.payload.decisionId === decision.decisionId;
      // Read as v3, so the entries taken from these bundles come with a proof line for the v3 cases.
      const bankA = readBundle(bankADir);
      const bankB = readBundle(bankBDir);
      await convertFilesToV3(bankA, seeded.runtime.merkle, keyHolder);
      await convertFilesToV3(bankB, seeded.runtime.merkle, keyHolder);
      const overriddenDecided = findEntry(bankA, isDecided(seeded.overridden));
      const overriddenCreated = findEntry(bankA, (entry) => entry.type === 'decision.created' && entry.payload.decisionId === seeded.overridden.decisionId);
      const otherTenantDecided = findEntry(bankB, isDecided(seeded.otherTenant));
      const approved = seeded.referApproved.decisionId;

      const cases: TamperCase[] = [
        {
          name: 'review outcome changed, manifest resealed',
          change: (files) => {
            const { index } = findEntry(files, isDecided(seeded.referApproved));
            const lines = textLines(files.get(LEDGER_FILE)!);
            const forged = JSON.parse(lines[index]) as LedgerEntry;
            forged.payload.finalOutcome = 'DECLINE';
            lines[index] = canonicalJson(forged);
            files.set(LEDGER_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl line \d+ \(seq \d+\): hash does not match the entry's fields and prevHash$/,
        },
        {
          name: 'review outcome changed with a recomputed hash and leaf hash, manifest resealed',
          change: (files) => {
            replaceEntryWithNewHash(files, findEntry(files, isDecided(seeded.referApproved)).index, (entry) => {
              entry.payload.finalOutcome = 'DECLINE';
            });
            reseal(files, keyHolder);
          },
          toolProblem:
            /^proofs\.jsonl line \d+: inclusion proof does not verify: the proof leads to a different root hash$|^merkle-nodes\.jsonl: the root computed from ledger\.jsonl and merkle-nodes\.jsonl differs from manifest\.json checkpoint\.rootHash$/,
        },
        {
          name: 'review entry and its proof dropped, manifest resealed',
          change: (files) => {
            const { index } = findEntry(files, isDecided(seeded.referApproved));
            for (const name of [LEDGER_FILE, PROOFS_FILE].filter((file) => files.has(file))) {
              const lines = textLines(files.get(name)!);
              lines.splice(index, 1);
              files.set(name, joinLines(lines));
            }
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl: contains 4 review entries but manifest\.json counts\.reviewEntries is 5$/,
        },
        {
          name: 'review entry of a decision outside the export, manifest resealed',
          change: (files) => {
            insertEntry(files, overriddenDecided);
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(`^ledger\\.jsonl line \\d+ \\(seq ${overriddenDecided.entry.seq}\\) field "payload\\.decisionId": "${seeded.overridden.decisionId}" is not the id of a decision in decisions\\.jsonl$`),
        },
        {
          name: "another tenant's review entry, manifest resealed",
          change: (files) => {
            insertEntry(files, otherTenantDecided);
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(`^ledger\\.jsonl line \\d+ \\(seq ${otherTenantDecided.entry.seq}\\) field "payload\\.decisionId": "${seeded.otherTenant.decisionId}" is not the id of a decision in decisions\\.jsonl$`),
        },
        {
          name: 'review entry moved to another tenant with a recomputed hash, manifest resealed',
          change: (files) => {
            replaceEntryWithNewHash(files, findEntry(files, isDecided(seeded.referApproved)).index, (entry) => {
              entry.tenant = 'bank-b';
            });
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(`^ledger\\.jsonl line \\d+ \\(seq \\d+\\) field "tenant": "bank-b" is not the tenant "bank-a" of decision ${approved}$`),
        },
        {
          name: 'review entry repeated with its proof, manifest resealed',
          change: (files) => {
            const found = findEntry(files, isDecided(seeded.referApproved));
            insertEntry(files, found);
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl line (\d+) field "seq": \d+ repeats line \d+$/,
        },
        {
          name: 'review entry moved before the previous line with its proof, manifest resealed',
          change: (files) => {
            const { index } = findEntry(files, isDecided(seeded.referApproved));
            for (const name of [LEDGER_FILE, PROOFS_FILE].filter((file) => files.has(file))) {
              const lines = textLines(files.get(name)!);
              [lines[index - 1], lines[index]] = [lines[index], lines[index - 1]];
              files.set(name, joinLines(lines));
            }
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl line \d+ field "seq": \d+ is not after \d+$/,
        },
        {
          name: 'counts.reviewEntries raised, manifest resealed',
          change: (files) => {
            editManifest(files, (manifest) => {
              manifest.counts.reviewEntries += 1;
            });
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl: contains 5 review entries but manifest\.json counts\.reviewEntries is 6$/,
        },
        {
          name: 'counts.reviewEntries removed, manifest resealed',
          change: (files) => {
            editManifest(files, (manifest) => {
              delete manifest.counts.reviewEntries;
            });
            reseal(files, keyHolder);
          },
          // The v5 bundle also needs accessDenials, and its v3 form does not.
          toolProblem: /^manifest\.json: field "counts" must contain non-negative integers decisions, ledgerEntries(, reviewEntries and accessDenials| and reviewEntries)$/,
        },
        {
          name: 'decision.created entry of a decision outside the export, manifest resealed',
          change: (files) => {
            insertEntry(files, overriddenCreated);
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(`^ledger\\.jsonl line \\d+ \\(seq ${overriddenCreated.entry.seq}\\): no line of decisions\\.jsonl refers to this decision\\.created entry$`),
        },
      ];
      assertCaseOutcomes(cases, await runCases(referDir, join(workDir, 'forged'), cases, nodeBinaries()));

      // The same forgeries on the v3 form of the bundle, where each entry carries its own proof.
      const v3Cases: TamperCase[] = [
        ...cases,
        {
          name: 'bundle with review entries relabeled as format v2, signed by the key holder',
          change: (files) => convertToV2(files, keyHolder),
          // Read as v2, the seq range must end at the last decision, which a review entry follows.
          toolProblem: /^decisions\.jsonl: decisions span ledger seq \d+ to \d+ but manifest\.json records \d+ to \d+$/,
        },
      ];
      assertCaseOutcomes(v3Cases, await runCases(referV3Dir, join(workDir, 'forged-v3'), v3Cases, nodeBinaries()));
    });

    it('verifies access denials with both verifiers', async () => {
      const { exitCode, report } = await verifyWithTool(process.execPath, bankADir);
      assert.deepEqual(await verifyBundle(bankADir), { ok: true, problems: [] });
      assert.deepEqual(report.problems, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked.accessDenials, 1, "alice's second claim of the four-eyes case");
      assert.equal(report.checked.proofs, report.checked.ledgerEntries);

      const refer = await verifyWithTool(process.execPath, referDir);
      assert.equal(refer.exitCode, 0, refer.report.problems.join(' | '));
      assert.equal(refer.report.checked.accessDenials, 0, 'the REFER export leaves out the four-eyes decision and its denial');
    });

    it('agrees on forged access denials', async () => {
      const isDenial = (entry: LedgerEntry): boolean => entry.type === 'access.denied';
      const overriddenDenial = findEntry(readBundle(bankADir), isDenial);
      assert.equal(overriddenDenial.entry.payload.decisionId, seeded.overridden.decisionId);
      const deniedSeq = overriddenDenial.entry.seq;

      // The REFER export does not contain the four-eyes decision that the denial names.
      const referCases: TamperCase[] = [
        {
          name: 'access denial of a decision outside the export, manifest resealed',
          change: (files) => {
            insertEntry(files, overriddenDenial);
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(`^ledger\\.jsonl line \\d+ \\(seq ${deniedSeq}\\) field "payload\\.decisionId": "${seeded.overridden.decisionId}" is not the id of a decision in decisions\\.jsonl$`),
        },
        {
          name: 'bundle without access denials relabeled as format v4, signed by the key holder',
          change: (files) => convertFilesToV4(files, keyHolder),
          expectOk: true,
        },
      ];
      assertCaseOutcomes(referCases, await runCases(referDir, join(workDir, 'forged-denials-refer'), referCases, nodeBinaries()));

      const cases: TamperCase[] = [
        {
          name: 'access denial moved to another tenant with a recomputed hash, manifest resealed',
          change: (files) => {
            replaceEntryWithNewHash(files, findEntry(files, isDenial).index, (entry) => {
              entry.tenant = 'bank-b';
            });
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(`^ledger\\.jsonl line \\d+ \\(seq ${deniedSeq}\\) field "tenant": "bank-b" is not the tenant "bank-a" of decision ${seeded.overridden.decisionId}$`),
        },
        {
          name: 'access denial naming a later decision with a recomputed hash, manifest resealed',
          change: (files) => {
            // The released case's decision was made after the denial, so the denial precedes it.
            replaceEntryWithNewHash(files, findEntry(files, isDenial).index, (entry) => {
              entry.payload.decisionId = seeded.released.decisionId;
            });
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(
            `^ledger\\.jsonl line \\d+ \\(seq ${deniedSeq}\\) field "seq": an access\\.denied entry must come after its decision's decision\\.created entry at seq \\d+$`,
          ),
        },
        {
          name: 'access denial with another type and a recomputed hash, manifest resealed',
          change: (files) => {
            replaceEntryWithNewHash(files, findEntry(files, isDenial).index, (entry) => {
              entry.type = 'access.granted';
            });
            reseal(files, keyHolder);
          },
          toolProblem: new RegExp(
            `^ledger\\.jsonl line \\d+ \\(seq ${deniedSeq}\\) field "type": "access\\.granted" is not decision\\.created, access\\.denied or a review entry type \\(review\\.\\*\\)$`,
          ),
        },
        {
          name: 'access denial dropped, manifest resealed',
          change: (files) => {
            const { index } = findEntry(files, isDenial);
            const lines = textLines(files.get(LEDGER_FILE)!);
            lines.splice(index, 1);
            files.set(LEDGER_FILE, joinLines(lines));
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl: contains 0 access\.denied entries but manifest\.json counts\.accessDenials is 1$/,
        },
        {
          name: 'counts.accessDenials raised, manifest resealed',
          change: (files) => {
            editManifest(files, (manifest) => {
              manifest.counts.accessDenials += 1;
            });
            reseal(files, keyHolder);
          },
          toolProblem: /^ledger\.jsonl: contains 1 access\.denied entries but manifest\.json counts\.accessDenials is 2$/,
        },
        {
          name: 'counts.accessDenials removed, manifest resealed',
          change: (files) => {
            editManifest(files, (manifest) => {
              delete manifest.counts.accessDenials;
            });
            reseal(files, keyHolder);
          },
          toolProblem: /^manifest\.json: field "counts" must contain non-negative integers decisions, ledgerEntries, reviewEntries and accessDenials$/,
        },
        {
          name: 'bundle with an access denial relabeled as format v4, signed by the key holder',
          change: (files) => convertFilesToV4(files, keyHolder),
          // A v4 bundle never carries access.denied lines, so the line is rejected as before v5.
          toolProblem: new RegExp(
            `^ledger\\.jsonl line \\d+ \\(seq ${deniedSeq}\\) field "type": "access\\.denied" is neither decision\\.created nor a review entry type \\(review\\.\\*\\)$`,
          ),
        },
      ];
      assertCaseOutcomes(cases, await runCases(bankADir, join(workDir, 'forged-denials'), cases, nodeBinaries()));
    });
  });
}
