import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parquetReadObjects } from 'hyparquet';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, canonicalJson, ConflictError, digestJson, FailedPreconditionError, sha256Hex } from '../../libs/common/src/index.js';
import {
  CheckpointKeyStore,
  CheckpointService,
  createExportEvidence,
  DECISIONS_FILE,
  exportBundle,
  PostgresMerkleLog,
  WitnessPublisher,
  type ExportEvidence,
  LEDGER_FILE,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  rawEd25519PublicKey,
  signManifest,
  PostgresLedger,
  sealManifest,
  verifyBundle,
  verifyBundleFiles,
  type BundleManifest,
  type DecisionLine,
  type LedgerEntry,
  BUNDLE_FORMAT_VERSION,
  computeMultiproofRoot,
  hashMerkleLeaf,
  hashToHex,
  MERKLE_NODES_FILE,
  multiproofRanges,
  PROOFS_FILE,
  SUMMARY_FILE,
} from '../../libs/audit/src/index.js';
import { collectUseCaseSummary, DecisionFigureCounter } from '../../libs/audit/src/summary-report.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { pdfTextLines, REVIEWED_USE_CASE, REVIEWERS, seedReviewedDecisions, type ReviewedDecision, type ReviewedDecisions } from '../support/reviewed-decisions.js';
import { runStandaloneVerifier } from '../support/standalone-verifier.js';

const USE_CASE = 'credit-limit';
const JANUARY = { from: new Date('2026-01-01T00:00:00.000Z'), to: new Date('2026-02-01T00:00:00.000Z') };

interface DecisionSeed {
  tenant: string;
  useCase: string;
  createdAt: string;
  outcome: 'APPROVE' | 'DECLINE' | 'REFER';
  score: number;
  /** Whether the row has record_json, as the decision writer stores it, or only the jsonb record, as rows written before it. */
  recordText: boolean;
}

/** Writes a decision row and its `decision.created` ledger entry in one transaction, as the pipeline does. */
async function recordDecision(manager: EntityManager, ledger: PostgresLedger, seed: DecisionSeed, id: string = randomUUID()): Promise<string> {
  const record = {
    decisionId: id,
    useCase: seed.useCase,
    tenant: seed.tenant,
    outcome: seed.outcome,
    score: seed.score,
    model: { version: 'logreg-1.0.0', sha256: 'a'.repeat(64) },
    reasonCodes: ['DTI_HIGH', 'THIN_FILE'],
    features: { debt_to_income: 0.41, months_on_book: 7, income: 52000.5 },
  };
  const recordDigest = digestJson(record);
  const receipt = await ledger.append(manager, {
    type: 'decision.created',
    tenant: seed.tenant,
    actor: 'svc-loans',
    payload: { decisionId: id, useCase: seed.useCase, outcome: seed.outcome, recordDigest },
  });
  const recordColumn = seed.recordText ? 'record_json' : 'record';
  await manager.query(
    `INSERT INTO decisions.decision_records
       (id, tenant, use_case, request_id, actor, outcome, score, model_version, ${recordColumn}, record_digest, ledger_seq, ledger_hash, created_at)
     VALUES ($1, $2, $3, $4, 'svc-loans', $5, $6, 'logreg-1.0.0', $7, $8, $9, $10, $11::timestamptz)`,
    [id, seed.tenant, seed.useCase, `req-${id}`, seed.outcome, seed.score, seed.recordText ? canonicalJson(record) : JSON.stringify(record), recordDigest, receipt.seq, receipt.hash, seed.createdAt],
  );
  return id;
}

function readBundle(dir: string): Map<string, Uint8Array> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

function readDecisionLines(dir: string): DecisionLine[] {
  const text = readFileSync(join(dir, DECISIONS_FILE), 'utf8');
  return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as DecisionLine);
}

for (const target of await databaseTargets()) {
  describe(`audit export on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let workDir: string;
    const ledger = new PostgresLedger();
    const januaryIds: string[] = [];
    let evidence: ExportEvidence;

    before(async () => {
      db = await target.open();
      workDir = mkdtempSync(join(tmpdir(), 'warden-export-'));
      const source = db.database.dataSource;
      const merkle = new PostgresMerkleLog(source);
      const keys = new CheckpointKeyStore(source, join(workDir, 'checkpoint-key.pem'), ledger);
      const checkpoints = new CheckpointService(source, merkle, keys, ledger, new WitnessPublisher(source, {}), { origin: 'warden.test/export' });
      evidence = createExportEvidence(checkpoints, merkle, keys, 'export-test');
      const seeds: (DecisionSeed | 'other-entry')[] = [
        { tenant: 'bank-a', useCase: USE_CASE, createdAt: '2025-12-31T23:59:59.999Z', outcome: 'APPROVE', score: 0.9, recordText: false },
        { tenant: 'bank-a', useCase: USE_CASE, createdAt: '2026-01-01T00:00:00.000Z', outcome: 'APPROVE', score: 0.8, recordText: true },
        'other-entry',
        { tenant: 'bank-b', useCase: USE_CASE, createdAt: '2026-01-10T12:00:00.000Z', outcome: 'REFER', score: 0.5, recordText: false },
        { tenant: 'bank-a', useCase: 'fraud-alert', createdAt: '2026-01-11T12:00:00.000Z', outcome: 'DECLINE', score: 0.1, recordText: true },
        { tenant: 'bank-a', useCase: USE_CASE, createdAt: '2026-01-12T08:30:00.250Z', outcome: 'DECLINE', score: 0.2, recordText: true },
        { tenant: 'bank-a', useCase: USE_CASE, createdAt: '2026-01-31T23:59:59.999Z', outcome: 'REFER', score: 0.55, recordText: false },
        { tenant: 'bank-a', useCase: USE_CASE, createdAt: '2026-02-01T00:00:00.000Z', outcome: 'APPROVE', score: 0.95, recordText: true },
      ];
      for (const seed of seeds) {
        if (seed === 'other-entry') {
          await ledger.appendStandalone(source, { type: 'access.denied', tenant: 'bank-c', actor: 'mallory', payload: { route: '/graphql' } });
          continue;
        }
        const id = await source.transaction((manager) => recordDecision(manager, ledger, seed));
        if (seed.useCase === USE_CASE && seed.createdAt.startsWith('2026-01')) januaryIds.push(id);
      }
    });
    after(async () => {
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('exports a verifiable bundle', async () => {
      const outDir = join(workDir, 'all-tenants');
      const { manifest } = await exportBundle(db.database.dataSource, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence);

      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      assert.equal(manifest.counts.decisions, 4);
      // Seqs: 1 December, 2 first January decision, 3 access.denied, 4 bank-b, 5 fraud-alert, 6 and 7 January, 8 February.
      assert.equal(manifest.ledger.firstSeq, 2);
      assert.equal(manifest.ledger.lastSeq, 7);
      assert.equal(manifest.counts.ledgerEntries, 4);
      // The head is read before the export creates its checkpoint, whose ledger entry comes after.
      assert.equal(manifest.ledger.head.seq, 8);
      const [seq8] = await db.database.dataSource.query('SELECT hash FROM audit.ledger_entries WHERE seq = 8');
      assert.equal(manifest.ledger.head.hash, seq8.hash);
      assert.equal(manifest.tenant, null);
      assert.deepEqual(manifest.period, { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' });

      const lines = readDecisionLines(outDir);
      assert.deepEqual(lines.map((line) => line.id), januaryIds);
      assert.deepEqual(lines.map((line) => line.ledgerSeq), [2, 4, 6, 7]);
      assert.equal(lines[1].tenant, 'bank-b');
      assert.equal(lines[2].createdAt, '2026-01-12T08:30:00.250Z');
      assert.equal(lines[2].recordDigest, digestJson(lines[2].record));

      // Only the decisions' own entries: the access denial at seq 3 and the other use case at seq 5 stay out.
      const ledgerLines = readFileSync(join(outDir, LEDGER_FILE), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
      assert.deepEqual(ledgerLines.map((line) => line.seq), [2, 4, 6, 7]);
      assert.ok(manifest.checkpoint.treeSize >= 7, 'the checkpoint covers the last exported entry');
      assertMultiproof(outDir, manifest);
      assert.equal(manifest.formatVersion, BUNDLE_FORMAT_VERSION);
      assert.ok(!(PROOFS_FILE in manifest.files), 'a v4 manifest lists proofs.jsonl');
      assert.match(readFileSync(join(outDir, 'checkpoint.txt'), 'utf8'), /^warden\.test\/export\n\d+\n/);

      const manifestText = readFileSync(join(outDir, MANIFEST_FILE), 'utf8');
      assert.equal(manifestText, `${canonicalJson(manifest)}\n`);
      assert.equal(manifest.files[DECISIONS_FILE].sha256, sha256Hex(readFileSync(join(outDir, DECISIONS_FILE))));
    });

    it('filters by tenant', async () => {
      const outDir = join(workDir, 'bank-a');
      const { manifest } = await exportBundle(db.database.dataSource, {
        useCase: USE_CASE,
        ...JANUARY,
        tenant: 'bank-a',
        outDir,
        wardenVersion: '0.1.0',
      }, evidence);
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      assert.equal(manifest.tenant, 'bank-a');
      assert.deepEqual(readDecisionLines(outDir).map((line) => line.ledgerSeq), [2, 6, 7]);
      assert.equal(manifest.counts.ledgerEntries, 3);
      const ledgerText = readFileSync(join(outDir, LEDGER_FILE), 'utf8');
      assert.ok(!ledgerText.includes('bank-b') && !ledgerText.includes('bank-c'), "another tenant's entries leaked into the bundle");
    });

    it('filters by outcome', async () => {
      const outDir = join(workDir, 'refer-only');
      const { manifest } = await exportBundle(db.database.dataSource, { useCase: USE_CASE, ...JANUARY, outDir, outcome: 'REFER', wardenVersion: '0.1.0' }, evidence);

      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      assert.equal(manifest.outcome, 'REFER');
      const lines = readDecisionLines(outDir);
      assert.deepEqual(lines.map((line) => line.outcome), ['REFER', 'REFER']);
    });

    it('writes CSV and Parquet for analysts', async () => {
      const outDir = join(workDir, 'all-tenants');
      const csv = readFileSync(join(outDir, 'decisions.csv'), 'utf8').split('\r\n');
      assert.match(csv[0], /^id,tenant,use_case,request_id,actor,outcome,score,/);
      assert.equal(csv.length, 4 + 2, 'a header, four rows and the empty string after the last line end');
      assert.deepEqual(csv.slice(1, 5).map((row) => row.split(',')[0]), januaryIds);

      const parquet = readFileSync(join(outDir, 'decisions.parquet'));
      const file = parquet.buffer.slice(parquet.byteOffset, parquet.byteOffset + parquet.byteLength) as ArrayBuffer;
      const rows = await parquetReadObjects({ file });
      assert.deepEqual(rows.map((row) => row.id), januaryIds);
      assert.deepEqual(rows.map((row) => row.ledger_seq), [2n, 4n, 6n, 7n]);
    });

    it('exports an empty range', async () => {
      const outDir = join(workDir, 'empty');
      const { manifest } = await exportBundle(db.database.dataSource, {
        useCase: USE_CASE,
        from: new Date('2025-06-01T00:00:00.000Z'),
        to: new Date('2025-07-01T00:00:00.000Z'),
        outDir,
        wardenVersion: '0.1.0',
      }, evidence);
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      assert.deepEqual(manifest.counts, { decisions: 0, ledgerEntries: 0, reviewEntries: 0, accessDenials: 0 });
      assert.equal(manifest.ledger.firstSeq, null);
      assert.deepEqual(manifest.files[DECISIONS_FILE], { bytes: 0, sha256: sha256Hex('') });
      assert.equal(readFileSync(join(outDir, LEDGER_FILE)).length, 0);
    });

    it('catches any changed byte', async () => {
      const outDir = join(workDir, 'all-tenants');
      const files = readBundle(outDir);
      for (const [name, original] of files) {
        // Every byte of the text files; the binary analyst files and the PDF at 97 spread positions.
        const binary = /\.(parquet|pdf|csv)$/.test(name);
        const step = binary ? Math.max(1, Math.floor(original.length / 97)) : 1;
        for (let index = 0; index < original.length; index += step) {
          const changed = Buffer.from(original);
          changed[index] ^= 0x01;
          const result = verifyBundleFiles(new Map([...files, [name, changed]]));
          assert.equal(result.ok, false, `${name} byte ${index} changed but the bundle verified`);
          assert.ok(
            result.problems.some((problem) => problem.startsWith(name)),
            `${name} byte ${index}: no problem names the file: ${result.problems.join(' | ')}`,
          );
        }
      }
    });

    it('catches a changed file on disk', async () => {
      for (const name of [MANIFEST_FILE, DECISIONS_FILE, LEDGER_FILE]) {
        const copy = join(workDir, `changed-${name}`);
        cpSync(join(workDir, 'all-tenants'), copy, { recursive: true });
        const path = join(copy, name);
        const bytes = readFileSync(path);
        bytes[Math.floor(bytes.length / 2)] ^= 0x20;
        writeFileSync(path, bytes);

        const result = await verifyBundle(copy);
        assert.equal(result.ok, false);
        assert.ok(result.problems.some((problem) => problem.startsWith(name)), result.problems.join(' | '));
      }
    });

    it('names the line of a forged record', async () => {
      // A forger who edits a record and recomputes the file digests still breaks the record digest.
      const files = readBundle(join(workDir, 'all-tenants'));
      const lines = Buffer.from(files.get(DECISIONS_FILE)!).toString('utf8').trimEnd().split('\n');
      const forged = JSON.parse(lines[2]) as DecisionLine;
      forged.record.reasonCodes = [];
      lines[2] = canonicalJson(forged);
      const decisions = Buffer.from(`${lines.join('\n')}\n`, 'utf8');

      const manifest = JSON.parse(Buffer.from(files.get(MANIFEST_FILE)!).toString('utf8')) as BundleManifest;
      const { manifestDigest: _old, ...unsigned } = manifest;
      unsigned.files[DECISIONS_FILE] = { bytes: decisions.length, sha256: sha256Hex(decisions) };
      const resealed = Buffer.from(sealManifest(unsigned).text, 'utf8');

      // The forger here even holds the signing key, so manifest.sig matches the resealed manifest.
      const signature = Buffer.from(signManifest(resealed, await evidence.manifestSigner()), 'utf8');

      const result = verifyBundleFiles(new Map([...files, [DECISIONS_FILE, decisions], [MANIFEST_FILE, resealed], [MANIFEST_SIGNATURE_FILE, signature]]));
      assert.equal(result.ok, false);
      assert.equal(result.problems.length, 3, result.problems.join(' | '));
      assert.match(result.problems[0], /^decisions\.jsonl line 3 field "recordDigest": [0-9a-f]{64} does not match the record/);
      // The analyst files still describe the original record, so both disagree with the forgery.
      assert.match(result.problems[1], /^decisions\.csv: does not match what decisions\.jsonl and the review\.decided entries of ledger\.jsonl produce/);
      assert.match(result.problems[2], /^decisions\.parquet: does not match what decisions\.jsonl and the review\.decided entries of ledger\.jsonl produce/);
    });

    it('names a line field that contradicts its record', async () => {
      const files = readBundle(join(workDir, 'all-tenants'));
      const lines = Buffer.from(files.get(DECISIONS_FILE)!).toString('utf8').trimEnd().split('\n');
      const forged = JSON.parse(lines[2]) as DecisionLine;
      forged.outcome = forged.outcome === 'APPROVE' ? 'DECLINE' : 'APPROVE';
      forged.score = 0.01;
      lines[2] = canonicalJson(forged);
      const decisions = Buffer.from(`${lines.join('\n')}\n`, 'utf8');

      const manifest = JSON.parse(Buffer.from(files.get(MANIFEST_FILE)!).toString('utf8')) as BundleManifest;
      const { manifestDigest: _old, ...unsigned } = manifest;
      unsigned.files[DECISIONS_FILE] = { bytes: decisions.length, sha256: sha256Hex(decisions) };
      const resealed = Buffer.from(sealManifest(unsigned).text, 'utf8');

      const result = verifyBundleFiles(new Map([...files, [DECISIONS_FILE, decisions], [MANIFEST_FILE, resealed]]));
      assert.equal(result.ok, false);
      assert.ok(result.problems.some((p) => p.startsWith('decisions.jsonl line 3 field "outcome"')), result.problems.join(' | '));
      assert.ok(result.problems.some((p) => p.startsWith('decisions.jsonl line 3 field "score"')), result.problems.join(' | '));
    });

    it('reports values canonical JSON rejects', async () => {
      const files = readBundle(join(workDir, 'all-tenants'));
      const lines = Buffer.from(files.get(DECISIONS_FILE)!).toString('utf8').trimEnd().split('\n');
      // JSON text can carry an unpaired surrogate and a number too large for a double.
      lines[0] = lines[0].replace('"record":{', '"record":{"bad":"\\ud800","huge":1e400,');
      const decisions = Buffer.from(`${lines.join('\n')}\n`, 'utf8');

      const manifest = JSON.parse(Buffer.from(files.get(MANIFEST_FILE)!).toString('utf8')) as BundleManifest;
      const { manifestDigest: _old, ...unsigned } = manifest;
      unsigned.files[DECISIONS_FILE] = { bytes: decisions.length, sha256: sha256Hex(decisions) };
      const resealed = Buffer.from(sealManifest(unsigned).text, 'utf8');

      const result = verifyBundleFiles(new Map([...files, [DECISIONS_FILE, decisions], [MANIFEST_FILE, resealed]]));
      assert.equal(result.ok, false);
      assert.ok(result.problems.some((p) => p.startsWith('decisions.jsonl line 1')), result.problems.join(' | '));
    });

    it('rejects a period in another time format', async () => {
      const files = readBundle(join(workDir, 'all-tenants'));
      const manifest = JSON.parse(Buffer.from(files.get(MANIFEST_FILE)!).toString('utf8')) as BundleManifest;
      const { manifestDigest: _old, ...unsigned } = manifest;
      unsigned.period = { from: 'Jan 1 2026', to: manifest.period.to };
      const resealed = Buffer.from(sealManifest(unsigned).text, 'utf8');

      const result = verifyBundleFiles(new Map([...files, [MANIFEST_FILE, resealed]]));
      assert.equal(result.ok, false);
      assert.ok(result.problems.some((p) => p.includes('field "period" must contain from and to as UTC ISO 8601 times')), result.problems.join(' | '));
    });

    it('names the seq of a forged ledger entry', async () => {
      const files = readBundle(join(workDir, 'all-tenants'));
      const lines = Buffer.from(files.get(LEDGER_FILE)!).toString('utf8').trimEnd().split('\n');
      const forged = JSON.parse(lines[1]);
      forged.payload.route = '/admin';
      lines[1] = canonicalJson(forged);
      const ledgerBytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');

      const manifest = JSON.parse(Buffer.from(files.get(MANIFEST_FILE)!).toString('utf8')) as BundleManifest;
      const { manifestDigest: _old, ...unsigned } = manifest;
      unsigned.files[LEDGER_FILE] = { bytes: ledgerBytes.length, sha256: sha256Hex(ledgerBytes) };
      const resealed = Buffer.from(sealManifest(unsigned).text, 'utf8');

      const result = verifyBundleFiles(new Map([...files, [LEDGER_FILE, ledgerBytes], [MANIFEST_FILE, resealed]]));
      assert.equal(result.ok, false);
      assert.equal(result.problems.length, 2, result.problems.join(' | '));
      assert.equal(result.problems[0], 'manifest.sig: the signed statement is not the SHA-256 of this manifest.json; the manifest was changed after signing');
      assert.match(result.problems[1], /^ledger\.jsonl line 2 \(seq 4\): hash does not match the entry's fields and prevHash$/);
    });

    it('rejects a resealed manifest without the key', async () => {
      const files = readBundle(join(workDir, 'all-tenants'));
      const manifest = JSON.parse(Buffer.from(files.get(MANIFEST_FILE)!).toString('utf8')) as BundleManifest;
      const { manifestDigest: _old, ...unsigned } = manifest;
      // Dropping a file from the manifest passes every other check, so only the signature catches it.
      delete unsigned.files['summary.pdf'];
      const resealed = Buffer.from(sealManifest(unsigned).text, 'utf8');
      const withoutSummary = new Map([...files, [MANIFEST_FILE, resealed]]);
      withoutSummary.delete('summary.pdf');

      assert.deepEqual(verifyBundleFiles(withoutSummary).problems, [
        'manifest.sig: the signed statement is not the SHA-256 of this manifest.json; the manifest was changed after signing',
      ]);

      const unsignedBundle = new Map(files);
      unsignedBundle.delete(MANIFEST_SIGNATURE_FILE);
      assert.deepEqual(verifyBundleFiles(unsignedBundle).problems, [
        "manifest.sig: missing; without it nothing shows that the manifest came from the ledger's key holder",
      ]);
    });

    it('rejects a manifest signed by an unknown key', async () => {
      const files = readBundle(join(workDir, 'all-tenants'));
      const { privateKey } = generateKeyPairSync('ed25519');
      const stranger = { keyName: 'warden.test/export', privateKey, publicKey: rawEd25519PublicKey(privateKey) };
      const forged = Buffer.from(signManifest(files.get(MANIFEST_FILE)!, stranger), 'utf8');

      const problems = verifyBundleFiles(new Map([...files, [MANIFEST_SIGNATURE_FILE, forged]])).problems;
      assert.equal(problems.length, 1, problems.join(' | '));
      assert.match(problems[0], /^manifest\.sig: no signature is from a known key \(signed by warden\.test\/export\+[0-9a-f]{8}\)$/);
    });

    it('reports a missing manifest', async () => {
      const copy = join(workDir, 'no-manifest');
      cpSync(join(workDir, 'all-tenants'), copy, { recursive: true });
      rmSync(join(copy, MANIFEST_FILE));
      const result = await verifyBundle(copy);
      assert.deepEqual(result, { ok: false, problems: ['manifest.json: missing; a bundle without a manifest is incomplete'] });
    });

    it('rejects a folder with a bundle', async () => {
      const options = { useCase: USE_CASE, ...JANUARY, outDir: join(workDir, 'all-tenants'), wardenVersion: '0.1.0' };
      await assert.rejects(exportBundle(db.database.dataSource, options, evidence), ConflictError);
      assert.deepEqual(await verifyBundle(options.outDir), { ok: true, problems: [] });
    });

    it('rejects decisions edited in the database', async () => {
      const source = db.database.dataSource;
      // januaryIds[1] has only the jsonb record and januaryIds[2] has record_json too.
      const edits: { name: string; id: string; sql: string; field: string }[] = [
        { name: 'record', id: januaryIds[1], sql: `UPDATE decisions.decision_records SET record = jsonb_set(record, '{note}', '"edited"') WHERE id = $1`, field: 'recordDigest' },
        { name: 'outcome', id: januaryIds[1], sql: `UPDATE decisions.decision_records SET outcome = 'APPROVE' WHERE id = $1`, field: 'outcome' },
        {
          name: 'record text',
          id: januaryIds[2],
          sql: `UPDATE decisions.decision_records SET record_json = replace(record_json, '"THIN_FILE"', '"EDITED"') WHERE id = $1`,
          field: 'recordDigest',
        },
        { name: 'outcome beside a record text', id: januaryIds[2], sql: `UPDATE decisions.decision_records SET outcome = 'APPROVE' WHERE id = $1`, field: 'outcome' },
      ];
      for (const edit of edits) {
        const id = edit.id;
        const [original] = await source.query('SELECT record, record_json, outcome FROM decisions.decision_records WHERE id = $1', [id]);
        const outDir = join(workDir, `edited-${edit.name}`);
        await source.query('ALTER TABLE decisions.decision_records DISABLE TRIGGER USER');
        try {
          await source.query(edit.sql, [id]);
          await assert.rejects(exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence), (error: Error) => {
            assert.ok(error instanceof FailedPreconditionError, `${edit.name}: ${error.name}`);
            assert.match(error.message, new RegExp(`Decision ${id} .*field "${edit.field}"`), edit.name);
            return true;
          });
          assert.equal(existsSync(outDir), false, `${edit.name}: the rejected export leaves no folder`);
        } finally {
          await source.query('UPDATE decisions.decision_records SET record = $2::jsonb, record_json = $3, outcome = $4 WHERE id = $1', [
            id,
            JSON.stringify(original.record),
            original.record_json,
            original.outcome,
          ]);
          await source.query('ALTER TABLE decisions.decision_records ENABLE TRIGGER USER');
        }
      }
    });

    it('writes the hashed form of a non-canonical payload text', async () => {
      const source = db.database.dataSource;
      const [row] = await source.query(
        'SELECT e.seq::int AS seq, e.payload_json FROM decisions.decision_records d JOIN audit.ledger_entries e ON e.seq = d.ledger_seq WHERE d.id = $1',
        [januaryIds[2]],
      );
      const outDir = join(workDir, 'payload-text');
      await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
      try {
        // jsonb's own text form is the same JSON value, but not the canonical text that was hashed.
        await source.query('UPDATE audit.ledger_entries SET payload_json = payload::text WHERE seq = $1', [row.seq]);
        await exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence);
      } finally {
        await source.query('UPDATE audit.ledger_entries SET payload_json = $2 WHERE seq = $1', [row.seq, row.payload_json]);
        await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
      }

      const line = readFileSync(join(outDir, LEDGER_FILE), 'utf8').split('\n').find((text) => text.includes(`"seq":${row.seq},`));
      assert.ok(line?.includes(`"payload":${row.payload_json as string},`), line);
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
    });

    it('exports the stored record text', async () => {
      const source = db.database.dataSource;
      const id = januaryIds[2];
      const [stored] = await source.query('SELECT record_json FROM decisions.decision_records WHERE id = $1', [id]);
      const outDir = join(workDir, 'record-text');
      // The jsonb column is edited under its text, which only a database owner with triggers off can do.
      await source.query('ALTER TABLE decisions.decision_records DISABLE TRIGGER USER');
      try {
        await source.query(`UPDATE decisions.decision_records SET record = jsonb_set(record, '{note}', '"edited"') WHERE id = $1`, [id]);
        await exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence);
      } finally {
        await source.query('UPDATE decisions.decision_records SET record = $2::jsonb WHERE id = $1', [id, stored.record_json]);
        await source.query('ALTER TABLE decisions.decision_records ENABLE TRIGGER USER');
      }

      const line = readFileSync(join(outDir, DECISIONS_FILE), 'utf8').split('\n').find((text) => text.includes(id));
      assert.ok(line?.includes(`"record":${stored.record_json as string},`), line);
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
    });

    it('rejects a record text that is not an object', async () => {
      const source = db.database.dataSource;
      const id = januaryIds[2];
      const [stored] = await source.query('SELECT record_json FROM decisions.decision_records WHERE id = $1', [id]);
      const outDir = join(workDir, 'record-text-invalid');
      await source.query('ALTER TABLE decisions.decision_records DISABLE TRIGGER USER');
      try {
        for (const text of ['{"decisionId":', '[1]', 'null']) {
          await source.query('UPDATE decisions.decision_records SET record_json = $2 WHERE id = $1', [id, text]);
          await assert.rejects(exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence), (error: Error) => {
            assert.ok(error instanceof FailedPreconditionError, `${text}: ${error.name}`);
            assert.match(error.message, new RegExp(`Decision ${id} has a stored record text \\(record_json\\) that is not a JSON object`), text);
            return true;
          });
          assert.equal(existsSync(outDir), false, `${text}: the rejected export leaves no folder`);
        }
      } finally {
        await source.query('UPDATE decisions.decision_records SET record_json = $2 WHERE id = $1', [id, stored.record_json]);
        await source.query('ALTER TABLE decisions.decision_records ENABLE TRIGGER USER');
      }
    });

    it('rejects invalid options by field', async () => {
      const options = { useCase: '', from: JANUARY.to, to: JANUARY.from, outDir: join(workDir, 'invalid'), tenant: '', wardenVersion: '' };
      await assert.rejects(exportBundle(db.database.dataSource, options, evidence), (error: unknown) => {
        assert.ok(error instanceof BadUserInputError);
        assert.deepEqual(
          error.fieldErrors.map((fieldError) => fieldError.field),
          ['/useCase', '/to', '/tenant', '/wardenVersion'],
        );
        return true;
      });
    });
  });
}

/**
 * Checks merkle-nodes.jsonl against an independent computation: its ranges are exactly those of
 * the multiproof of ledger.jsonl's leaves, and with the leaf hashes they give the checkpoint's root.
 */
function assertMultiproof(dir: string, manifest: BundleManifest): void {
  const entries = readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE));
  const nodes = readJsonLines<{ start: number; end: number; hash: string }>(join(dir, MERKLE_NODES_FILE));
  const { treeSize, rootHash } = manifest.checkpoint;
  const indexes = entries.map((entry) => entry.seq - 1);
  assert.deepEqual(nodes.map(({ start, end }) => ({ start, end })), multiproofRanges(indexes, treeSize));
  assert.equal(manifest.files[MERKLE_NODES_FILE].bytes, readFileSync(join(dir, MERKLE_NODES_FILE)).length);

  const byRange = new Map(nodes.map((node) => [`${node.start}-${node.end}`, Buffer.from(node.hash, 'hex')]));
  const leaves = entries.map((entry) => ({ index: entry.seq - 1, hash: hashMerkleLeaf(Buffer.from(entry.hash, 'hex')) }));
  const computed = computeMultiproofRoot(leaves, treeSize, (range) => byRange.get(`${range.start}-${range.end}`));
  assert.deepEqual(computed.missing, []);
  assert.equal(hashToHex(computed.root!), rootHash);
}

function readJsonLines<T>(path: string): T[] {
  const text = readFileSync(path, 'utf8');
  return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as T);
}

/** Computes a percentile with linear interpolation between the closest ranks, as PostgreSQL's percentile_cont does. */
function percentileCont(values: number[], fraction: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
}


for (const target of await databaseTargets()) {
  describe(`audit export of review entries on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let seeded: ReviewedDecisions;
    let dataSource: DataSource;
    let workDir: string;

    before(async () => {
      db = await target.open();
      seeded = await seedReviewedDecisions(db);
      dataSource = seeded.runtime.database.dataSource;
      workDir = mkdtempSync(join(tmpdir(), 'warden-export-reviews-'));
    });
    after(async () => {
      await seeded?.runtime.close();
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    function exportTo(name: string, options: { tenant?: string; outcome?: 'REFER' }, evidence = seeded.evidence): Promise<{ manifest: BundleManifest }> {
      const outDir = join(workDir, name);
      return exportBundle(dataSource, { useCase: REVIEWED_USE_CASE, ...seeded.period, outDir, wardenVersion: '0.1.0', ...options }, evidence);
    }

    it('exports review entries with proofs', async () => {
      const { manifest } = await exportTo('bank-a', { tenant: 'bank-a' });
      const dir = join(workDir, 'bank-a');
      assert.deepEqual(await verifyBundle(dir), { ok: true, problems: [] });

      const entries = readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE));
      const reviews = entries.filter((entry) => entry.type.startsWith('review.'));
      const stored: { seq: string }[] = await dataSource.query(
        "SELECT seq::text AS seq FROM audit.ledger_entries WHERE type LIKE 'review.%' AND tenant = 'bank-a' ORDER BY seq",
      );
      // Every review entry of bank-a belongs to a decision of today, so the bundle has all of them.
      assert.deepEqual(reviews.map((entry) => entry.seq), stored.map((row) => Number(row.seq)));
      assert.equal(manifest.counts.reviewEntries, reviews.length);
      const denials = entries.filter((entry) => entry.type === 'access.denied');
      assert.equal(manifest.counts.accessDenials, denials.length);
      assert.equal(manifest.counts.ledgerEntries, manifest.counts.decisions + reviews.length + denials.length);
      assert.deepEqual(entries.map((entry) => entry.seq), entries.map((entry) => entry.seq).sort((a, b) => a - b));
      assert.equal(manifest.ledger.lastSeq, entries.at(-1)!.seq);

      const typesOf = (decision: ReviewedDecision): string[] => reviews.filter((entry) => entry.payload.decisionId === decision.decisionId).map((entry) => entry.type);
      assert.deepEqual(typesOf(seeded.referApproved), ['review.claimed', 'review.field_revealed', 'review.decided']);
      assert.deepEqual(typesOf(seeded.overridden), ['review.claimed', 'review.voted', 'review.claimed', 'review.decided']);
      assert.deepEqual(typesOf(seeded.released), ['review.claimed', 'review.released']);
      assert.deepEqual(typesOf(seeded.otherTenant), []);

      const final = reviews.find((entry) => entry.type === 'review.decided' && entry.payload.decisionId === seeded.overridden.decisionId)!;
      assert.equal(final.actor, 'bob');
      assert.equal(final.payload.automaticOutcome, seeded.overridden.automaticOutcome);
      assert.notEqual(final.payload.finalOutcome, seeded.overridden.automaticOutcome);
      assert.deepEqual(final.payload.reviewers, ['alice', 'bob']);

      assertMultiproof(dir, manifest);

      const tool = await runStandaloneVerifier(dir);
      assert.deepEqual(tool.report.problems, []);
      assert.equal(tool.code, 0);
      assert.equal(tool.report.checked.reviewEntries, reviews.length);
    });

    it('exports a denied review attempt', async () => {
      const dir = join(workDir, 'bank-a');
      const entries = readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE));
      const denials = entries.filter((entry) => entry.type === 'access.denied');
      assert.equal(denials.length, 1, 'alice was turned away from the second vote once');
      const [denial] = denials;
      assert.equal(denial.tenant, 'bank-a');
      assert.equal(denial.actor, 'alice');
      assert.deepEqual(denial.payload, {
        operation: 'review.claim',
        resource: 'review-case',
        action: 'claim',
        roles: ['reviewer'],
        caseId: seeded.overridden.caseId,
        decisionId: seeded.overridden.decisionId,
      });
      // Between alice's vote and bob's claim, in seq order with the review entries.
      const overriddenTypes = entries.filter((entry) => entry.payload.decisionId === seeded.overridden.decisionId).map((entry) => entry.type);
      assert.deepEqual(overriddenTypes, ['decision.created', 'review.claimed', 'review.voted', 'access.denied', 'review.claimed', 'review.decided']);
      const [stored] = await dataSource.query('SELECT hash FROM audit.ledger_entries WHERE seq = $1', [denial.seq]);
      assert.equal(denial.hash, stored.hash);

      assert.deepEqual(await verifyBundle(dir), { ok: true, problems: [] });
      assert.deepEqual(verifyBundleFiles(readBundle(dir)), { ok: true, problems: [] });
      const tool = await runStandaloneVerifier(dir);
      assert.deepEqual(tool.report.problems, []);
      assert.equal(tool.code, 0);
      assert.equal(tool.report.checked.accessDenials, 1);
    });

    it('writes each decision\'s final review into the analyst files', async () => {
      const dir = join(workDir, 'bank-a');
      const decided = new Map(
        readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE))
          .filter((entry) => entry.type === 'review.decided')
          .map((entry) => [entry.payload.decisionId as string, entry]),
      );
      const [header, ...lines] = readFileSync(join(dir, 'decisions.csv'), 'utf8').split('\r\n').filter((line) => line !== '');
      const columns = header.split(',');
      assert.deepEqual(columns.slice(-4), ['review_status', 'reason_codes', 'review_outcome', 'reviewed_at']);
      // No cell of these decisions contains a comma or quote, so a split reads the CSV.
      const csvRows = new Map(lines.map((line) => {
        const cells = line.split(',');
        assert.equal(cells.length, columns.length, line);
        const row = Object.fromEntries(columns.map((name, i) => [name, cells[i]]));
        return [row.id, row];
      }));
      const parquet = readFileSync(join(dir, 'decisions.parquet'));
      const parquetRows = new Map(
        (await parquetReadObjects({ file: parquet.buffer.slice(parquet.byteOffset, parquet.byteOffset + parquet.byteLength) as ArrayBuffer })).map((row) => [row.id as string, row]),
      );

      for (const decision of [seeded.referApproved, seeded.overridden]) {
        const entry = decided.get(decision.decisionId)!;
        const csvRow = csvRows.get(decision.decisionId)!;
        assert.equal(csvRow.outcome, decision.automaticOutcome, 'the outcome column keeps the automatic outcome');
        assert.equal(csvRow.review_status, 'PENDING', 'the record\'s status at decision time');
        assert.equal(csvRow.review_outcome, entry.payload.finalOutcome);
        assert.equal(csvRow.reviewed_at, entry.createdAt);
        const parquetRow = parquetRows.get(decision.decisionId)!;
        assert.equal(parquetRow.review_outcome, entry.payload.finalOutcome);
        assert.equal((parquetRow.reviewed_at as Date).toISOString(), entry.createdAt);
      }
      assert.equal(csvRows.get(seeded.overridden.decisionId)!.review_outcome === seeded.overridden.automaticOutcome, false, 'the override shows');
      // A claimed and released case has no decision yet.
      assert.equal(csvRows.get(seeded.released.decisionId)!.review_outcome, '');
      assert.equal(csvRows.get(seeded.released.decisionId)!.reviewed_at, '');
      assert.equal(parquetRows.get(seeded.released.decisionId)!.reviewed_at, null);
      const unreviewed = [...csvRows.values()].filter((row) => !decided.has(row.id));
      assert.ok(unreviewed.every((row) => row.review_outcome === '' && row.reviewed_at === ''), 'only decided cases carry a review');
    });

    it('agrees with the summary review figures', async () => {
      const dir = join(workDir, 'bank-a');
      const decisions = new Map(readDecisionLines(dir).map((line) => [line.id, line]));
      const decided = readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE)).filter((entry) => entry.type === 'review.decided');
      const overridden = decided.filter((entry) => entry.payload.automaticOutcome !== 'REFER' && entry.payload.finalOutcome !== entry.payload.automaticOutcome);
      const seconds = decided.map((entry) => (Date.parse(entry.createdAt) - Date.parse(decisions.get(entry.payload.decisionId as string)!.createdAt)) / 1000);
      assert.equal(decided.length, 2);
      assert.equal(overridden.length, 1);

      const summary = await collectUseCaseSummary(dataSource, { useCase: REVIEWED_USE_CASE, ...seeded.period, tenant: 'bank-a' });
      assert.equal(summary.review?.decided, decided.length);
      assert.equal(summary.review?.overridden, overridden.length);
      // decided_at is the createdAt of the review.decided entry, so the times agree to the millisecond.
      assert.ok(Math.abs(summary.review!.medianSeconds! - percentileCont(seconds, 0.5)!) < 1e-6, `median ${summary.review!.medianSeconds} vs ${seconds}`);
      assert.ok(Math.abs(summary.review!.p90Seconds! - percentileCont(seconds, 0.9)!) < 1e-6, `p90 ${summary.review!.p90Seconds} vs ${seconds}`);

      const pdf = pdfTextLines(readFileSync(join(dir, SUMMARY_FILE)));
      assert.ok(pdf.includes(`Review cases: ${summary.review!.cases} opened, ${decided.length} decided by a person`), pdf.join(' | '));
      assert.ok(pdf.includes(`Reviewer overrides of an automatic outcome: ${overridden.length}`), pdf.join(' | '));
    });

    it('counts the decision figures as the queries do', async () => {
      const counter = new DecisionFigureCounter();
      for (const line of readDecisionLines(join(workDir, 'bank-a'))) counter.add(line.outcome, line.score, line.record);
      const counted = counter.figures();
      const queried = await collectUseCaseSummary(dataSource, { useCase: REVIEWED_USE_CASE, ...seeded.period, tenant: 'bank-a' });

      assert.ok(counted.topReasonCodes.length > 0, 'the reviewed decisions carry reason codes');
      assert.equal(counted.decisions, queried.decisions);
      assert.deepEqual(counted.outcomes, queried.outcomes);
      assert.deepEqual(counted.topReasonCodes, queried.topReasonCodes);
      assert.ok(Math.abs(counted.meanScore! - queried.meanScore!) < 1e-12, `${counted.meanScore} vs ${queried.meanScore}`);
      const pdf = pdfTextLines(readFileSync(join(workDir, 'bank-a', SUMMARY_FILE)));
      for (const reason of queried.topReasonCodes) assert.ok(pdf.includes(`${reason.code}: ${reason.count}`), pdf.join(' | '));
    });

    it('leaves out review entries after the snapshot', async () => {
      // A reviewer decides a case after the export has read its snapshot, before the checkpoint.
      const late: string[] = [];
      const evidence: ExportEvidence = {
        checkpointCovering: async (minTreeSize) => {
          await seeded.runtime.reviews.claim(REVIEWERS.alice, seeded.released.caseId);
          await seeded.runtime.reviews.submit(REVIEWERS.alice, { caseId: seeded.released.caseId, action: 'APPROVE', rationale: 'Payslips match the stated income.' });
          const rows: { seq: string }[] = await dataSource.query(
            "SELECT seq::text AS seq FROM audit.ledger_entries WHERE type LIKE 'review.%' AND payload->>'decisionId' = $1 ORDER BY seq DESC LIMIT 2",
            [seeded.released.decisionId],
          );
          late.push(...rows.map((row) => row.seq));
          return seeded.evidence.checkpointCovering(minTreeSize);
        },
        multiproofNodes: (leafIndexes, treeSize) => seeded.evidence.multiproofNodes(leafIndexes, treeSize),
        verifierKeys: () => seeded.evidence.verifierKeys(),
        manifestSigner: () => seeded.evidence.manifestSigner(),
      };
      const { manifest } = await exportTo('snapshot', { tenant: 'bank-a' }, evidence);
      const dir = join(workDir, 'snapshot');
      assert.deepEqual(await verifyBundle(dir), { ok: true, problems: [] });

      assert.equal(late.length, 2);
      const seqs = readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE)).map((entry) => entry.seq);
      for (const seq of late) assert.ok(!seqs.includes(Number(seq)), `review entry ${seq} was appended after the snapshot but is in the bundle`);
      const types = readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE)).filter((entry) => entry.payload.decisionId === seeded.released.decisionId).map((entry) => entry.type);
      assert.deepEqual(types, ['decision.created', 'review.claimed', 'review.released']);
      assert.equal(manifest.counts.reviewEntries, 9);

      // The PDF counts the snapshot's two decided cases, not the database's three.
      const now = await collectUseCaseSummary(dataSource, { useCase: REVIEWED_USE_CASE, ...seeded.period, tenant: 'bank-a' });
      assert.equal(now.review?.decided, 3);
      const pdf = pdfTextLines(readFileSync(join(dir, SUMMARY_FILE)));
      assert.ok(pdf.includes(`Review cases: ${now.review!.cases} opened, 2 decided by a person`), pdf.join(' | '));
    });

    it("never exports another tenant's review entries", async () => {
      // An entry under bank-b that names a bank-a decision: the tenants differ, so no export includes it.
      const foreign = await seeded.runtime.ledger.appendStandalone(dataSource, {
        type: 'review.claimed',
        tenant: 'bank-b',
        actor: 'dora',
        payload: { caseId: seeded.otherTenant.caseId, decisionId: seeded.referApproved.decisionId, fromState: 'OPEN', toState: 'CLAIMED' },
      });

      await exportTo('bank-a-only', { tenant: 'bank-a' });
      const tenantText = readFileSync(join(workDir, 'bank-a-only', LEDGER_FILE), 'utf8');
      assert.ok(!tenantText.includes('"bank-b"'), "a bank-b entry is in bank-a's bundle");
      assert.deepEqual(await verifyBundle(join(workDir, 'bank-a-only')), { ok: true, problems: [] });

      const { manifest } = await exportTo('every-tenant', {});
      const dir = join(workDir, 'every-tenant');
      assert.deepEqual(await verifyBundle(dir), { ok: true, problems: [] });
      const entries = readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE));
      assert.ok(!entries.some((entry) => entry.seq === foreign.seq), 'the entry naming another tenant\'s decision is in the bundle');
      const bankB = entries.filter((entry) => entry.tenant === 'bank-b' && entry.type.startsWith('review.'));
      assert.deepEqual(bankB.map((entry) => [entry.type, entry.payload.decisionId]), [
        ['review.claimed', seeded.otherTenant.decisionId],
        ['review.decided', seeded.otherTenant.decisionId],
      ]);
      assert.equal(manifest.counts.reviewEntries, entries.filter((entry) => entry.type.startsWith('review.')).length);
    });

    it('leaves out unrelated access denials', async () => {
      const denialPayload = (decisionId: string, caseId: string) => ({ operation: 'review.claim', resource: 'review-case', action: 'claim', roles: ['reviewer'], caseId, decisionId });
      // Under bank-b but naming a bank-a decision, and under bank-a naming no decision at all.
      const foreign = await seeded.runtime.ledger.appendStandalone(dataSource, {
        type: 'access.denied',
        tenant: 'bank-b',
        actor: 'dora',
        payload: denialPayload(seeded.referApproved.decisionId, seeded.referApproved.caseId),
      });
      const unknown = await seeded.runtime.ledger.appendStandalone(dataSource, {
        type: 'access.denied',
        tenant: 'bank-a',
        actor: 'carol',
        payload: denialPayload(randomUUID(), randomUUID()),
      });
      const denialSeqs = (dir: string): number[] =>
        readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE)).filter((entry) => entry.type === 'access.denied').map((entry) => entry.seq);

      const { manifest: everyTenant } = await exportTo('denials-every-tenant', {});
      assert.deepEqual(await verifyBundle(join(workDir, 'denials-every-tenant')), { ok: true, problems: [] });
      const exported = denialSeqs(join(workDir, 'denials-every-tenant'));
      assert.equal(exported.length, 1, 'only the denial of the four-eyes decision');
      assert.ok(!exported.includes(foreign.seq), "a denial naming another tenant's decision is in the bundle");
      assert.ok(!exported.includes(unknown.seq), 'a denial naming no exported decision is in the bundle');
      assert.equal(everyTenant.counts.accessDenials, 1);

      // The REFER export leaves out the four-eyes decision, and with it the denial that names it.
      const { manifest: refer } = await exportTo('denials-refer', { tenant: 'bank-a', outcome: 'REFER' });
      assert.deepEqual(await verifyBundle(join(workDir, 'denials-refer')), { ok: true, problems: [] });
      assert.deepEqual(denialSeqs(join(workDir, 'denials-refer')), []);
      assert.equal(refer.counts.accessDenials, 0);
    });

    // Last in this suite, because it adds a decision that the exports above would otherwise contain.
    it('skips a denial before its decision', async () => {
      const decisionId = randomUUID();
      const early = await seeded.runtime.ledger.appendStandalone(dataSource, {
        type: 'access.denied',
        tenant: 'bank-a',
        actor: 'carol',
        payload: { operation: 'review.claim', resource: 'review-case', action: 'claim', roles: ['reviewer'], caseId: randomUUID(), decisionId },
      });
      const createdAt = new Date(seeded.period.from.getTime() + 3_600_000).toISOString();
      await dataSource.transaction((manager) =>
        recordDecision(manager, seeded.runtime.ledger, { tenant: 'bank-a', useCase: REVIEWED_USE_CASE, createdAt, outcome: 'APPROVE', score: 0.1, recordText: true }, decisionId),
      );

      const { manifest } = await exportTo('denial-before-decision', { tenant: 'bank-a' });
      const dir = join(workDir, 'denial-before-decision');
      assert.deepEqual(await verifyBundle(dir), { ok: true, problems: [] });
      assert.ok(readDecisionLines(dir).some((line) => line.id === decisionId), 'the decision itself is exported');
      assert.ok(!readJsonLines<LedgerEntry>(join(dir, LEDGER_FILE)).some((entry) => entry.seq === early.seq), 'a denial before its decision is in the bundle');
      assert.equal(manifest.counts.accessDenials, 1);
    });
  });
}
