import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, loadConfig } from '../../libs/common/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import type { BundleManifest } from '../../libs/audit/src/index.js';
import { cliEnvironment, runCli, runCliJson, startCli } from '../support/cli.js';
import { createServerDatabase, databaseTargets, REPO_ROOT, sharedDataPath, type ServerDatabase } from '../support/databases.js';

const GERMAN_DATA = sharedDataPath('tabular/german_credit_statlog/german.data');
const USE_CASE = 'credit-application';
const TENANT = 'cli-bank';
const DECISION_COUNT = 3;
const STACK_FRAME = /^\s+at /m;
const ERASE_SUBJECT = 'cli-applicant-0002';

type RunQuery = (sql: string, parameters?: unknown[]) => Promise<Record<string, unknown>[]>;

const DECIDE = `mutation($i: DecideInput!) { decide(input: $i) { id outcome score ledgerSeq } }`;

interface DecisionReply {
  id: string;
  outcome: string;
  score: number;
  ledgerSeq: number;
}

/** Fields of a demo-data line that are not part of an application. */
const NON_APPLICATION_FIELDS = ['application_id', 'credit_risk'];

async function decide(graphqlUrl: string, token: string, application: Record<string, unknown>): Promise<DecisionReply> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: DECIDE, variables: { i: { useCase: USE_CASE, application } } }),
  });
  const body = (await response.json()) as { data?: { decide: DecisionReply }; errors?: unknown[] };
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data!.decide;
}

for (const target of await databaseTargets()) {
  const skip = target.skipReason ?? GERMAN_DATA.skipReason;

  describe(`warden cli pipeline on ${target.name}`, { skip }, () => {
    let workDir: string;
    let dataDir: string;
    let server: ServerDatabase | undefined;
    let env: NodeJS.ProcessEnv;
    const decisions: DecisionReply[] = [];

    /** Runs SQL on the same database as the CLI, in this process, while no CLI child runs. */
    async function withDatabase<T>(work: (query: RunQuery) => Promise<T>): Promise<T> {
      const config = {
        ...loadConfig({ LOG_LEVEL: 'silent', WARDEN_DATA_DIR: dataDir, DATABASE_URL: server?.url }),
        policyDir: join(REPO_ROOT, 'policies'),
      };
      const database = await openDatabase(config, { migrate: false });
      try {
        return await work((sql, parameters) => database.dataSource.query(sql, parameters));
      } finally {
        await database.close();
      }
    }

    before(async () => {
      workDir = mkdtempSync(join(tmpdir(), 'warden-cli-pipeline-'));
      dataDir = join(workDir, 'data');
      if (target.name === 'server') server = await createServerDatabase();
      env = cliEnvironment({ WARDEN_DATA_DIR: dataDir, DATABASE_URL: server?.url });
    });
    after(async () => {
      await server?.drop();
      rmSync(workDir, { recursive: true, force: true });
    });

    it('ingest accepts german.data', async () => {
      const result = await runCliJson(['ingest', '--dataset', 'german-credit', '--file', GERMAN_DATA.path, '--tenant', TENANT], env);

      assert.equal(result.dataset, 'german-credit');
      assert.equal(result.accepted, 1000);
      assert.equal(result.quarantined, 0);
      assert.equal(result.duplicates, 0);
      assert.deepEqual(result.quarantine, []);
      assert.equal((result.ledger as { seq: number }).seq, 1);
    });

    it('ingest again finds duplicates', async () => {
      const result = await runCliJson(['ingest', '--dataset', 'german-credit', '--file', GERMAN_DATA.path, '--tenant', TENANT], env);

      assert.equal(result.accepted, 0);
      assert.equal(result.quarantined, 0);
      assert.equal(result.duplicates, 1000);
      assert.equal((result.ledger as { seq: number }).seq, 2);
    });

    it('ingest rejects a missing file', async () => {
      const missing = join(workDir, 'no-such-folder', 'german.data');
      const result = await runCli(['ingest', '--dataset', 'german-credit', '--file', missing, '--tenant', TENANT], env);

      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.ok(result.stderr.startsWith(`BAD_USER_INPUT: Cannot read ${missing} (ENOENT).`), result.stderr);
      assert.match(result.stderr, /check that the file exists and is readable/);
      assert.doesNotMatch(result.stderr, STACK_FRAME);
    });

    it('ingest rejects an unknown dataset', async () => {
      const result = await runCli(['ingest', '--dataset', 'mortgages', '--file', GERMAN_DATA.path, '--tenant', TENANT], env);

      assert.equal(result.code, 1);
      assert.match(result.stderr, /^NOT_FOUND: Dataset mortgages is not defined; defined datasets: german-credit, paysim-transactions\./);
      assert.doesNotMatch(result.stderr, STACK_FRAME);
    });

    it('train registers credit-application@1', async () => {
      const result = await runCliJson<{
        version: string;
        artifactSha256: string;
        rowCount: number;
        metrics: { auc: number; ks: number; gini: number; holdoutRows: number; trainingRows: number };
        onnxMaxDeviation: number;
        ledgerSeq: number;
      }>(['train', '--use-case', USE_CASE, '--tenant', TENANT], env);

      assert.equal(result.version, `${USE_CASE}@1`);
      assert.match(result.artifactSha256, /^[0-9a-f]{64}$/);
      assert.equal(result.rowCount, 1000);
      assert.equal(result.metrics.trainingRows, 700);
      assert.equal(result.metrics.holdoutRows, 300);
      assert.ok(result.metrics.auc > 0.7, `holdout AUC ${result.metrics.auc} should exceed 0.7`);
      assert.ok(result.metrics.ks > 0, `KS ${result.metrics.ks} should be positive`);
      assert.ok(result.metrics.ks < 1, `KS ${result.metrics.ks} should be below 1`);
      assert.ok(Math.abs(result.metrics.gini - (2 * result.metrics.auc - 1)) < 1e-12, `Gini ${result.metrics.gini} should be 2·AUC − 1`);
      assert.ok(result.onnxMaxDeviation >= 0, `ONNX deviation ${result.onnxMaxDeviation} should not be negative`);
      assert.ok(result.onnxMaxDeviation <= 1e-9, `ONNX deviation ${result.onnxMaxDeviation} should be at most 1e-9`);
      assert.equal(result.ledgerSeq, 3);
    });

    it('train without data says to ingest', async () => {
      const result = await runCli(['train', '--use-case', USE_CASE, '--tenant', 'empty-bank'], env);

      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^FAILED_PRECONDITION: Training credit-application needs at least 100 labelled german-credit records in tenant empty-bank, found 0\. Ingest data first\./);
    });

    it('start serves decisions and stops cleanly', async () => {
      const applicationsFile = join(workDir, 'applications.jsonl');
      assert.equal((await runCli(['demo-data', '--rows', String(DECISION_COUNT), '--seed', '11', '--out', applicationsFile], env)).code, 0);
      const applications = readFileSync(applicationsFile, 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .map((record) => Object.fromEntries(Object.entries(record).filter(([field]) => !NON_APPLICATION_FIELDS.includes(field))));
      // The second applicant is named, so `warden erase` has a data subject to find.
      applications[1].applicantId = ERASE_SUBJECT;
      const tokenResult = await runCli(['token', '--tenant', TENANT, '--role', 'application', '--subject', 'loan-app'], env);
      assert.equal(tokenResult.code, 0, tokenResult.stderr);

      const started = await startCli(['--port', '0'], env);
      try {
        assert.match(started.graphqlUrl, /^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
        for (const application of applications) decisions.push(await decide(started.graphqlUrl, tokenResult.stdout.trim(), application));
      } finally {
        const stopped = await started.stop('SIGTERM');
        assert.equal(stopped.signal, null, `warden start died of ${stopped.signal}; stderr: ${stopped.stderr}`);
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.match(stopped.stdout, /SIGTERM received, stopping Warden/);
      }

      assert.equal(existsSync(join(dataDir, 'warden.lock')), false, 'warden start must release the data folder lock when it stops');
      assert.deepEqual(decisions.map((decision) => decision.ledgerSeq), [4, 5, 6]);
      for (const decision of decisions) assert.ok(['APPROVE', 'REFER', 'DECLINE'].includes(decision.outcome), decision.outcome);
    });

    it('replay reproduces a decision', async () => {
      const result = await runCli(['replay', decisions[1].id], env);

      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { decisionId: decisions[1].id, identical: true, differences: [] });
    });

    it('replay of an unknown id fails', async () => {
      const id = randomUUID();
      const result = await runCli(['replay', id], env);

      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^NOT_FOUND: /);
      assert.ok(result.stderr.includes(id), result.stderr);
    });

    it('audit verify accepts the ledger', async () => {
      const result = await runCli(['audit', 'verify'], env);

      assert.equal(result.code, 0, result.stderr);
      const verification = JSON.parse(result.stdout) as { ok: boolean; entries: number; headSeq: number };
      assert.equal(verification.ok, true);
      assert.equal(verification.entries, 6);
      assert.equal(verification.headSeq, 6);
    });

    it('audit verify records its pass unless --no-record', async () => {
      const countRecords = async () =>
        (await withDatabase((query) => query("SELECT count(*)::int AS n FROM audit.ledger_entries WHERE type = 'audit.chain_verified'")))[0].n as number;
      const before = await countRecords();

      const readOnly = await runCli(['audit', 'verify', '--no-record'], env);
      assert.equal(readOnly.code, 0, readOnly.stderr);
      assert.equal(await countRecords(), before);

      const recorded = await runCli(['audit', 'verify'], env);
      assert.equal(recorded.code, 0, recorded.stderr);
      assert.equal(await countRecords(), before + 1);
      const verification = JSON.parse(recorded.stdout) as { ok: boolean; headSeq: number };
      assert.match(recorded.stderr, new RegExp(`recorded the verification through seq ${verification.headSeq} as ledger entry seq ${verification.headSeq + 1} \\(audit\\.chain_verified\\)`));
    });

    it('export rejects --max-verification-age week', async () => {
      const result = await runCli(
        ['export', '--use-case', USE_CASE, '--from', '2000-01-01', '--to', '2100-01-01', '--out', join(workDir, 'never'), '--max-verification-age', 'week'],
        env,
      );
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^BAD_USER_INPUT: Invalid --max-verification-age "week"\./);
      assert.equal(existsSync(join(workDir, 'never')), false);
    });

    it('export and verify-bundle agree', async () => {
      const outDir = join(workDir, 'bundle');
      const exported = await runCli(
        ['export', '--use-case', USE_CASE, '--from', '2000-01-01', '--to', '2100-01-01', '--out', outDir, '--tenant', TENANT],
        env,
      );
      assert.equal(exported.code, 0, exported.stderr);
      // node-postgres warns when a query is sent while another runs; the export chains its queries.
      assert.doesNotMatch(exported.stderr, /DeprecationWarning/);
      const manifest = JSON.parse(exported.stdout) as { counts: { decisions: number; ledgerEntries: number }; ledger: { firstSeq: number; lastSeq: number } };
      assert.equal(manifest.counts.decisions, DECISION_COUNT);
      assert.equal(manifest.ledger.firstSeq, 4);
      assert.equal(manifest.ledger.lastSeq, 6);
      assert.equal(manifest.counts.ledgerEntries, 3);

      const decisionLines = readFileSync(join(outDir, 'decisions.jsonl'), 'utf8').trimEnd().split('\n');
      assert.equal(decisionLines.length, DECISION_COUNT);
      assert.equal(readFileSync(join(outDir, 'ledger.jsonl'), 'utf8').trimEnd().split('\n').length, 3);
      assert.deepEqual(JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')).counts, manifest.counts);

      const verified = await runCli(['verify-bundle', outDir], env);
      assert.equal(verified.code, 0, verified.stdout);
      const checkpointKeyId = (JSON.parse(exported.stdout) as { checkpoint: { keyId: string } }).checkpoint.keyId;
      assert.deepEqual(JSON.parse(verified.stdout), { ok: true, problems: [], signedBy: { checkpoint: [checkpointKeyId], manifest: [checkpointKeyId] } });

      const decisionsPath = join(outDir, 'decisions.jsonl');
      const bytes = readFileSync(decisionsPath);
      const flipAt = bytes.indexOf('"score"') + 1;
      bytes[flipAt] ^= 0x01;
      writeFileSync(decisionsPath, bytes);

      const tampered = await runCli(['verify-bundle', outDir], env);
      assert.equal(tampered.code, 5);
      const report = JSON.parse(tampered.stdout) as { ok: boolean; problems: string[] };
      assert.equal(report.ok, false);
      assert.ok(report.problems.length > 0);
      assert.ok(report.problems.some((problem) => problem.startsWith('decisions.jsonl')), report.problems.join('\n'));
    });

    it('export --full-verification records a new verification', async () => {
      const latestSeq = async () =>
        (await withDatabase((query) => query("SELECT max(seq)::int AS seq FROM audit.ledger_entries WHERE type = 'audit.chain_verified'")))[0].seq as number;
      const before = await latestSeq();
      const outDir = join(workDir, 'full-bundle');
      const exported = await runCli(
        ['export', '--use-case', USE_CASE, '--from', '2000-01-01', '--to', '2100-01-01', '--out', outDir, '--tenant', TENANT, '--full-verification'],
        env,
      );
      assert.equal(exported.code, 0, exported.stderr);
      assert.ok((await latestSeq()) > before, 'a full export records its verification');
      const verified = await runCli(['verify-bundle', outDir], env);
      assert.equal(verified.code, 0, verified.stdout);
    });

    it('export rejects an unknown use case', async () => {
      const result = await runCli(['export', '--use-case', 'nope', '--from', '2000-01-01', '--to', '2100-01-01', '--out', join(workDir, 'nope-bundle')], env);
      assert.equal(result.code, 1);
      assert.ok(result.stderr.startsWith('NOT_FOUND: Unknown use case "nope".'), result.stderr);
    });

    it('export accepts an answer use case', async () => {
      const answersDir = join(workDir, 'answers-bundle');
      const manifest = await runCliJson<BundleManifest>(['export', '--use-case', 'regulatory-qa', '--from', '2000-01-01', '--to', '2100-01-01', '--out', answersDir], env);
      assert.equal(manifest.useCase, 'regulatory-qa');
      assert.equal(manifest.counts.decisions, 0);
      const verified = await runCliJson<{ ok: boolean; problems: string[] }>(['verify-bundle', answersDir], env);
      assert.deepEqual(verified.problems, []);
    });

    it('export rejects --from notadate', async () => {
      const result = await runCli(['export', '--use-case', USE_CASE, '--from', 'notadate', '--to', '2100-01-01', '--out', join(workDir, 'never')], env);

      assert.equal(result.code, 1);
      assert.match(result.stderr, /^BAD_USER_INPUT: Invalid --from "notadate"\./);
      assert.match(result.stderr, /--from: must be a date that exists, such as 2026-12-01 \(midnight UTC\)/);
      assert.equal(existsSync(join(workDir, 'never')), false);
    });

    it('erase rejects a subject inside retention', async () => {
      const result = await runCli(['erase', '--subject', ERASE_SUBJECT, '--tenant', TENANT, '--reason', 'DSR ticket 4711 from the applicant'], env);

      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      // A REFER or the quality sample sends the decision to review, and the minimum starts only when a reviewer decides.
      const cases = await withDatabase((query) => query('SELECT count(*)::int AS n FROM review.cases WHERE decision_id = $1', [decisions[1].id]));
      if (cases[0].n === 0) {
        assert.match(result.stderr, /^FAILED_PRECONDITION: Erasure rejected \(ledger seq \d+\): 1 record\(s\) of credit-application are inside the 25-month minimum of 12 CFR 1002\.12\(b\)\(1\) until \d{4}-\d{2}-\d{2}T[\d:.]+Z\. Retry the erasure after the date named\.$/m);
      } else {
        assert.match(result.stderr, /^FAILED_PRECONDITION: Erasure rejected \(ledger seq \d+\): 1 record\(s\) of credit-application await a reviewer's decision, from which the minimum of 12 CFR 1002\.12\(b\)\(1\) runs\. Retry the erasure once the reviews are decided\.$/m);
      }
      assert.doesNotMatch(result.stderr, STACK_FRAME);
      const replay = await runCli(['replay', decisions[1].id], env);
      assert.equal(replay.code, 0, replay.stderr);
    });

    it('erase rejects an unknown subject', async () => {
      const result = await runCli(['erase', '--subject', 'nobody-here', '--tenant', TENANT, '--reason', 'DSR ticket 4712 from someone'], env);

      assert.equal(result.code, 1);
      assert.match(result.stderr, /^NOT_FOUND: Tenant cli-bank has no records of this data subject/m);
    });

    it('hold place, verify, release and list', async () => {
      const placed = await runCli(['hold', 'place', '--tenant', TENANT, '--reason', 'Subpoena naming applicant Kowalczyk'], env);
      assert.equal(placed.code, 0, placed.stderr);
      const hold = JSON.parse(placed.stdout) as { id: string; reason: string; releaseReason: string | null };
      assert.equal(hold.reason, 'Subpoena naming applicant Kowalczyk');
      assert.equal(hold.releaseReason, null);

      const verified = await runCli(['hold', 'verify', '--id', hold.id], env);
      assert.equal(verified.code, 0, verified.stderr);
      const check = JSON.parse(verified.stdout) as { placed: { status: string; ledgerFormat: string; salt: string }; released: null };
      assert.deepEqual([check.placed.status, check.placed.ledgerFormat], ['matches', 'hmac-sha256']);
      assert.match(check.placed.salt, /^[0-9a-f]{64}$/);
      assert.equal(check.released, null);

      const released = await runCli(['hold', 'release', '--id', hold.id, '--reason', 'Subpoena withdrawn by the court'], env);
      assert.equal(released.code, 0, released.stderr);
      const listed = await runCli(['hold', 'list', '--all'], env);
      const holds = JSON.parse(listed.stdout) as { id: string; releaseReason: string; reasonsPurgedAt: string | null }[];
      assert.deepEqual(holds.map(({ id, releaseReason, reasonsPurgedAt }) => ({ id, releaseReason, reasonsPurgedAt })), [
        { id: hold.id, releaseReason: 'Subpoena withdrawn by the court', reasonsPurgedAt: null },
      ]);
      const ledgerText = await withDatabase((query) => query("SELECT count(*)::int AS n FROM audit.ledger_entries WHERE payload::text LIKE '%Kowalczyk%'"));
      assert.equal(ledgerText[0].n, 0);
      assert.equal((await runCli(['audit', 'verify'], env)).code, 0);
    });

    it('audit verify names a tampered seq', async () => {
      const seq = decisions[1].ledgerSeq;
      const tamper = (payload: unknown) =>
        withDatabase(async (query) => {
          await query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
          await query('UPDATE audit.ledger_entries SET payload = $2::jsonb, payload_json = $3 WHERE seq = $1', [seq, JSON.stringify(payload), canonicalJson(payload)]);
          await query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
          return undefined;
        });
      const original = await withDatabase(async (query) => {
        const rows = await query('SELECT payload FROM audit.ledger_entries WHERE seq = $1', [seq]);
        return rows[0].payload as Record<string, unknown>;
      });

      await tamper({ ...original, outcome: original.outcome === 'APPROVE' ? 'DECLINE' : 'APPROVE' });
      const result = await runCli(['audit', 'verify'], env);
      assert.equal(result.code, 4, result.stderr);
      const verification = JSON.parse(result.stdout) as { ok: boolean; firstBadSeq: number; entries: number };
      assert.equal(verification.ok, false);
      assert.equal(verification.firstBadSeq, seq);
      assert.equal(verification.entries, seq - 1);
      assert.match(result.stderr, new RegExp(`^ledger verification failed at seq ${seq}: hash mismatch at seq ${seq}`, 'm'));

      const exportDir = join(workDir, 'rejected-bundle');
      const rejected = await runCli(['export', '--use-case', 'credit-application', '--from', '2000-01-01', '--to', '2100-01-01', '--out', exportDir], env);
      assert.equal(rejected.code, 4, 'export must reject a broken chain');
      assert.match(rejected.stderr, new RegExp(`export rejected: the ledger fails verification at seq ${seq}`));
      assert.equal(existsSync(exportDir), false, 'a rejected export removes the folder it created');

      await tamper(original);
      const restored = await runCli(['audit', 'verify'], env);
      assert.equal(restored.code, 0, restored.stderr);
    });
  });
}
