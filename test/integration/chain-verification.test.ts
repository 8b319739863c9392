import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';

// Imported before the dynamic imports below, so the root logger writes to logLines.
import { logLines } from '../support/log-capture.js';

const { canonicalJson, digestJson } = await import('../../libs/common/src/index.js');
const {
  CHAIN_VERIFIED_ENTRY_TYPE,
  computeStoredEntryHash,
  CHAIN_VERIFICATION_LOCK_KEY,
  ChainVerificationScheduler,
  CheckpointKeyStore,
  CheckpointService,
  createExportEvidence,
  exportBundle,
  findLatestChainVerification,
  LedgerVerificationError,
  PostgresLedger,
  PostgresMerkleLog,
  readHead,
  runFullVerification,
  SUMMARY_FILE,
  verifyBundle,
  WitnessPublisher,
} = await import('../../libs/audit/src/index.js');
const { databaseTargets } = await import('../support/databases.js');
const { pdfTextLines } = await import('../support/reviewed-decisions.js');

type ExportEvidence = import('../../libs/audit/src/index.js').ExportEvidence;
type ExportBundleOptions = import('../../libs/audit/src/index.js').ExportBundleOptions;
type TestDatabase = import('../support/databases.js').TestDatabase;

const USE_CASE = 'credit-limit';
const JANUARY = { from: new Date('2026-01-01T00:00:00.000Z'), to: new Date('2026-02-01T00:00:00.000Z') };
const EIGHT_DAYS_MS = 8 * 24 * 60 * 60 * 1000;

interface StoredEntry {
  seq: number;
  payload: Record<string, unknown>;
  actor: string;
  tenant: string;
}

for (const target of await databaseTargets()) {
  describe(`recorded chain verification on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let source: DataSource;
    let workDir: string;
    let evidence: ExportEvidence;
    const ledger = new PostgresLedger();
    /** Seqs of the ledger entries of the January decisions, which every export below writes. */
    const exportedSeqs: number[] = [];
    /** Seq of an entry that no export writes (an access denial), appended before any recorded verification. */
    let unexportedSeq = 0;
    let exportCount = 0;

    /** Writes one decision row with its `decision.created` entry and returns the entry's seq. */
    async function recordDecision(createdAt: string): Promise<number> {
      return source.transaction(async (manager) => {
        const id = randomUUID();
        const record = { decisionId: id, useCase: USE_CASE, tenant: 'bank-a', outcome: 'APPROVE', score: 0.8 };
        const recordDigest = digestJson(record);
        const receipt = await ledger.append(manager, {
          type: 'decision.created',
          tenant: 'bank-a',
          actor: 'svc-loans',
          payload: { decisionId: id, useCase: USE_CASE, outcome: 'APPROVE', recordDigest },
        });
        await manager.query(
          `INSERT INTO decisions.decision_records
             (id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest, ledger_seq, ledger_hash, created_at)
           VALUES ($1, 'bank-a', $2, $3, 'svc-loans', 'APPROVE', 0.8, 'logreg-1.0.0', $4::jsonb, $5, $6, $7, $8::timestamptz)`,
          [id, USE_CASE, `req-${id}`, JSON.stringify(record), recordDigest, receipt.seq, receipt.hash, createdAt],
        );
        return receipt.seq;
      });
    }

    async function appendOtherEntry(): Promise<number> {
      const receipt = await ledger.appendStandalone(source, { type: 'access.denied', tenant: 'bank-c', actor: 'mallory', payload: { route: '/graphql' } });
      return receipt.seq;
    }

    /** Exports January into a new folder and returns the folder and the summary's text lines. */
    async function exportJanuary(options: Partial<ExportBundleOptions> = {}): Promise<{ outDir: string; pdf: string }> {
      exportCount += 1;
      const outDir = join(workDir, `bundle-${exportCount}`);
      await exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0', ...options }, evidence);
      // pdfkit wraps a long line into several and keeps the space at the break, so whitespace runs become one space.
      return { outDir, pdf: pdfTextLines(readFileSync(join(outDir, SUMMARY_FILE))).join(' ').replace(/\s+/g, ' ') };
    }

    async function chainVerifiedEntries(): Promise<StoredEntry[]> {
      const rows: { seq: string; payload: Record<string, unknown>; actor: string; tenant: string }[] = await source.query(
        'SELECT seq::text AS seq, payload, actor, tenant FROM audit.ledger_entries WHERE type = $1 ORDER BY seq',
        [CHAIN_VERIFIED_ENTRY_TYPE],
      );
      return rows.map((row) => ({ ...row, seq: Number(row.seq) }));
    }

    /** Replaces an entry's payload behind the append-only triggers, as a database owner could, and returns the original. */
    async function tamperPayload(seq: number): Promise<Record<string, unknown>> {
      const [row] = await source.query('SELECT payload FROM audit.ledger_entries WHERE seq = $1', [seq]);
      await setPayload(seq, { ...row.payload, tampered: true });
      return row.payload as Record<string, unknown>;
    }

    async function setPayload(seq: number, payload: Record<string, unknown>): Promise<void> {
      await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
      try {
        // payload_json changes too, so that the export, which hashes the text, detects the edit as well.
        await source.query('UPDATE audit.ledger_entries SET payload = $2::jsonb, payload_json = $3 WHERE seq = $1', [seq, JSON.stringify(payload), canonicalJson(payload)]);
      } finally {
        await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
      }
    }

    /**
     * Adds a field to an entry's payload and stores the entry's recomputed hash, in the ledger and in
     * the decision row that names the entry, behind the append-only triggers. Returns a function
     * that restores both.
     */
    async function rehashWithPayloadChange(seq: number): Promise<() => Promise<void>> {
      const [row] = await source.query(
        `SELECT seq::text AS seq, type, tenant, actor, payload, prev_hash, hash,
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
           FROM audit.ledger_entries WHERE seq = $1`,
        [seq],
      );
      const payload = { ...row.payload, tampered: true };
      const hash = computeStoredEntryHash(row.prev_hash, { seq, type: row.type, tenant: row.tenant, actor: row.actor, payload, createdAt: row.created_at });
      const store = async (storedPayload: Record<string, unknown>, storedHash: string): Promise<void> => {
        await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
        await source.query('ALTER TABLE decisions.decision_records DISABLE TRIGGER USER');
        try {
          await source.query('UPDATE audit.ledger_entries SET payload = $2::jsonb, payload_json = $4, hash = $3 WHERE seq = $1', [
            seq,
            JSON.stringify(storedPayload),
            storedHash,
            canonicalJson(storedPayload),
          ]);
          await source.query('UPDATE decisions.decision_records SET ledger_hash = $2 WHERE ledger_seq = $1', [seq, storedHash]);
        } finally {
          await source.query('ALTER TABLE decisions.decision_records ENABLE TRIGGER USER');
          await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
        }
      };
      await store(payload, hash);
      return () => store(row.payload as Record<string, unknown>, row.hash as string);
    }

    /** Appends an `audit.chain_verified` entry by hand, as anyone who can append to the ledger could. */
    async function appendChainVerified(payload: Record<string, unknown>): Promise<number> {
      const receipt = await ledger.appendStandalone(source, { type: CHAIN_VERIFIED_ENTRY_TYPE, tenant: '*', actor: 'test', payload });
      return receipt.seq;
    }

    async function expectLedgerVerificationError(work: Promise<unknown>): Promise<InstanceType<typeof LedgerVerificationError>> {
      try {
        await work;
      } catch (error) {
        assert.ok(error instanceof LedgerVerificationError, `expected LedgerVerificationError, got ${String(error)}`);
        return error;
      }
      assert.fail('the export passed, but it should have failed the chain check');
    }

    before(async () => {
      db = await target.open();
      source = db.database.dataSource;
      workDir = mkdtempSync(join(tmpdir(), 'warden-chain-verification-'));
      const merkle = new PostgresMerkleLog(source);
      const keys = new CheckpointKeyStore(source, join(workDir, 'checkpoint-key.pem'), ledger);
      const checkpoints = new CheckpointService(source, merkle, keys, ledger, new WitnessPublisher(source, {}), { origin: 'warden.test/chain' });
      evidence = createExportEvidence(checkpoints, merkle, keys, 'chain-test');

      exportedSeqs.push(await recordDecision('2026-01-05T10:00:00.000Z'));
      unexportedSeq = await appendOtherEntry();
      exportedSeqs.push(await recordDecision('2026-01-20T10:00:00.000Z'));
    });
    after(async () => {
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('export without a record verifies in full', async () => {
      assert.deepEqual(await chainVerifiedEntries(), []);
      const head = await readHead(source);

      const { outDir, pdf } = await exportJanuary({ actor: 'cli:auditor' });

      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      assert.ok(pdf.includes(`Check: full verification by this export of ${head.seq} entries`), pdf);
      const recorded = await chainVerifiedEntries();
      assert.equal(recorded.length, 1, 'the export records its full verification');
      assert.equal(recorded[0].payload.trigger, 'export');
      assert.equal(recorded[0].actor, 'cli:auditor');
      assert.equal(recorded[0].tenant, '*');
      assert.equal(recorded[0].payload.throughSeq, head.seq);
      assert.equal(recorded[0].payload.throughHash, head.hash);
    });

    it('audit verify records its pass', async () => {
      await appendOtherEntry();
      const head = await readHead(source);

      const run = await runFullVerification(source, { trigger: 'cli', actor: 'cli:auditor' });

      assert.equal(run.verification.ok, true);
      assert.ok(run.recorded, 'a passed verification is recorded');
      assert.equal(run.recorded.seq, head.seq + 1);
      const latest = await findLatestChainVerification(source);
      assert.deepEqual(latest, {
        seq: head.seq + 1,
        throughSeq: head.seq,
        throughHash: head.hash,
        entries: head.seq,
        startedAt: run.startedAt,
        durationMs: run.durationMs,
        trigger: 'cli',
      });
      assert.ok(Number.isInteger(run.durationMs), `durationMs ${run.durationMs} is not whole milliseconds`);
      assert.ok(run.durationMs >= 0);
    });

    it('audit verify without recording appends nothing', async () => {
      const before = await readHead(source);
      const run = await runFullVerification(source, { trigger: 'cli', actor: 'cli:auditor', record: false });
      assert.equal(run.verification.ok, true);
      assert.equal(run.recorded, undefined);
      assert.deepEqual(await readHead(source), before);
    });

    it('incremental export reports the recorded verification', async () => {
      const latest = await findLatestChainVerification(source);
      assert.ok(latest);
      const appended = await appendOtherEntry();
      const recordedBefore = (await chainVerifiedEntries()).length;

      const { outDir, pdf } = await exportJanuary();

      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      assert.ok(
        pdf.includes(
          `Check: verified in full through seq ${latest.throughSeq} at ${latest.startedAt} (recorded by entry seq ${latest.seq}); ` +
            `seq ${latest.throughSeq + 1} to ${appended} verified by this export`,
        ),
        pdf,
      );
      assert.ok(pdf.includes(`Hash chain verified through head seq ${appended}`), pdf);
      assert.equal((await chainVerifiedEntries()).length, recordedBefore, 'an incremental export records nothing');
    });

    it('export fails on an edit after the recorded verification', async () => {
      const latest = await findLatestChainVerification(source);
      assert.ok(latest);
      const seq = await appendOtherEntry();
      const original = await tamperPayload(seq);
      try {
        const outDir = join(workDir, 'rejected-after');
        const error = await expectLedgerVerificationError(exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence));
        assert.equal(error.verification.firstBadSeq, seq);
        assert.equal(error.verification.problem, 'hash-mismatch');
        assert.equal(existsSync(outDir), false, 'a rejected export removes the folder it created');
      } finally {
        await setPayload(seq, original);
      }
    });

    it('incremental export misses an unexported edit before the record', async () => {
      // The documented limit of the incremental check: an entry that lies before the recorded
      // verification and is not exported is not read. The full check and the schedule catch it.
      const latest = await findLatestChainVerification(source);
      assert.ok(latest, 'a recorded verification exists');
      assert.ok(unexportedSeq <= latest.throughSeq, 'the edited entry lies before the record');
      const original = await tamperPayload(unexportedSeq);
      try {
        const { outDir } = await exportJanuary();
        assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      } finally {
        await setPayload(unexportedSeq, original);
      }
    });

    it('full export catches an edit before the record', async () => {
      const original = await tamperPayload(unexportedSeq);
      const recordedBefore = (await chainVerifiedEntries()).length;
      try {
        const outDir = join(workDir, 'rejected-full');
        const error = await expectLedgerVerificationError(
          exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0', chainCheck: 'full' }, evidence),
        );
        assert.equal(error.verification.firstBadSeq, unexportedSeq);
        assert.equal(existsSync(outDir), false);
      } finally {
        await setPayload(unexportedSeq, original);
      }
      assert.equal((await chainVerifiedEntries()).length, recordedBefore, 'a failed verification records nothing');
    });

    it('failed export records no later pass', { skip: target.name === 'server' ? 'only embedded PGlite runs the check strictly after the export failed' : undefined }, async () => {
      // A decision whose ledger entry is missing fails the export inside its transaction. On
      // embedded PGlite the full check waits for that transaction, so it runs only after the
      // failure, over a chain that verifies.
      await source.query(
        `INSERT INTO decisions.decision_records
           (id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest, ledger_seq, ledger_hash, created_at)
         VALUES ($1, 'bank-a', 'orphan-case', NULL, 'svc-loans', 'APPROVE', 0.8, 'logreg-1.0.0', '{}'::jsonb, $2, 999999999, $2, '2026-01-15T00:00:00.000Z')`,
        [randomUUID(), 'f'.repeat(64)],
      );
      const recordedBefore = (await chainVerifiedEntries()).length;
      const firstLogLine = logLines.length;
      const outDir = join(workDir, 'rejected-orphan');

      await assert.rejects(
        exportBundle(source, { useCase: 'orphan-case', ...JANUARY, outDir, wardenVersion: '0.1.0', chainCheck: 'full' }, evidence),
        /which is not in the ledger/,
      );
      const abandonedLine = 'full ledger verification of a failed export ended; it is not recorded';
      const deadline = Date.now() + 10_000;
      while (!logLines.slice(firstLogLine).some((line) => line.includes(abandonedLine)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }

      assert.ok(logLines.slice(firstLogLine).some((line) => line.includes(abandonedLine)), 'the abandoned check logs its end');
      assert.equal((await chainVerifiedEntries()).length, recordedBefore, 'the abandoned check records nothing');
      assert.equal(existsSync(outDir), false);
    });

    it('scheduled run catches an edit before the record', async () => {
      const scheduler = new ChainVerificationScheduler(source, 3600, ledger);
      const original = await tamperPayload(unexportedSeq);
      const recordedBefore = (await chainVerifiedEntries()).length;
      const firstLogLine = logLines.length;
      try {
        const outcome = await scheduler.runOnce();
        assert.equal(outcome.status, 'failed');
        assert.ok(outcome.status === 'failed');
        assert.equal(outcome.run.verification.firstBadSeq, unexportedSeq);
      } finally {
        await setPayload(unexportedSeq, original);
      }
      assert.equal((await chainVerifiedEntries()).length, recordedBefore, 'a failed run records nothing');
      const errors = logLines
        .slice(firstLogLine)
        .map((line) => JSON.parse(line) as { level: number; msg: string; firstBadSeq?: number; reason?: string })
        .filter((line) => line.msg === 'scheduled ledger verification failed: the chain is broken');
      assert.equal(errors.length, 1, 'the failed run logs one error');
      assert.equal(errors[0].level, 50, 'logged at error level');
      assert.equal(errors[0].firstBadSeq, unexportedSeq);
      assert.match(errors[0].reason ?? '', new RegExp(`^hash mismatch at seq ${unexportedSeq}`));
    });

    it('incremental export catches an edited exported entry before the record', async () => {
      const latest = await findLatestChainVerification(source);
      assert.ok(latest, 'a recorded verification exists');
      assert.ok(exportedSeqs[0] <= latest.throughSeq, 'the edited entry lies before the record');
      const original = await tamperPayload(exportedSeqs[0]);
      try {
        const outDir = join(workDir, 'rejected-exported');
        const error = await expectLedgerVerificationError(exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence));
        assert.equal(error.verification.firstBadSeq, exportedSeqs[0]);
        assert.equal(error.verification.problem, 'hash-mismatch');
        assert.equal(existsSync(outDir), false);
      } finally {
        await setPayload(exportedSeqs[0], original);
      }
    });

    it('export rejects a rehashed exported entry', async () => {
      // Someone who edits an exported entry and stores the entry's recomputed hash (in the ledger and
      // in its decision row) leaves the entry self-consistent, and only the next entry's prevHash
      // link breaks. That link lies before the record, so only the Merkle tree can catch the edit.
      const latest = await findLatestChainVerification(source);
      // The second exported entry, so that finding the bad seq has to pass over a good one first.
      const seq = exportedSeqs[1];
      assert.ok(latest, 'a recorded verification exists');
      assert.ok(seq < latest.throughSeq, `seq ${seq} lies before the record's throughSeq ${latest.throughSeq}`);
      const restore = await rehashWithPayloadChange(seq);
      try {
        const outDir = join(workDir, 'rejected-rehashed');
        const error = await expectLedgerVerificationError(exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence));
        assert.equal(error.verification.problem, 'merkle-mismatch');
        assert.equal(error.verification.firstBadSeq, seq);
        assert.equal(existsSync(outDir), false, 'nothing is signed for a ledger that differs from its Merkle tree');
      } finally {
        await restore();
      }
      const { outDir } = await exportJanuary();
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] }, 'the restored ledger exports again');
    });

    it('export fails on a recorded hash that differs', async () => {
      // A false record, such as one appended by someone who rewrote the chain before it.
      const head = await readHead(source);
      const falseSeq = await appendChainVerified({
        throughSeq: head.seq,
        throughHash: 'f'.repeat(64),
        entries: head.seq,
        startedAt: new Date().toISOString(),
        durationMs: 5,
        trigger: 'cli',
      });
      const outDir = join(workDir, 'rejected-anchor');
      const error = await expectLedgerVerificationError(exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir, wardenVersion: '0.1.0' }, evidence));
      assert.equal(error.verification.problem, 'anchor-mismatch');
      assert.equal(error.verification.firstBadSeq, head.seq);
      assert.match(error.message, new RegExp(`the full verification recorded at seq ${falseSeq} found hash f{64}`));
      assert.equal(existsSync(outDir), false);

      // A full export ignores the false record and records a true one, which later exports build on.
      await exportJanuary({ chainCheck: 'full' });
      const latest = await findLatestChainVerification(source);
      assert.ok(latest, 'the export records a verification');
      assert.ok(latest.seq > falseSeq, 'the new record follows the false one');
      assert.equal(latest.trigger, 'export');
    });

    it('stale record makes the export verify in full', async () => {
      const head = await readHead(source);
      const staleSeq = await appendChainVerified({
        throughSeq: head.seq,
        throughHash: head.hash,
        entries: head.seq,
        startedAt: new Date(Date.now() - EIGHT_DAYS_MS).toISOString(),
        durationMs: 5,
        trigger: 'schedule',
      });

      const { pdf } = await exportJanuary();

      assert.ok(pdf.includes(`Check: full verification by this export of ${staleSeq} entries`), pdf);
      const latest = await findLatestChainVerification(source);
      assert.ok(latest, 'a recorded verification exists');
      assert.ok(latest.seq > staleSeq, 'the export records a new verification');
      assert.equal(latest.trigger, 'export');
      assert.equal(latest.throughSeq, staleSeq);

      // The new record is fresh, so the next export is incremental.
      const next = await exportJanuary();
      assert.ok(next.pdf.includes(`Check: verified in full through seq ${staleSeq} at ${latest.startedAt} (recorded by entry seq ${latest.seq})`), next.pdf);
    });

    it('future-dated record is ignored', async () => {
      // A record's startedAt comes from its payload, so a false one could claim a time in the
      // future and never turn too old. Its entry's createdAt comes from the ledger's clock.
      const head = await readHead(source);
      const futureSeq = await appendChainVerified({
        throughSeq: head.seq,
        throughHash: head.hash,
        entries: head.seq,
        startedAt: new Date(Date.now() + EIGHT_DAYS_MS).toISOString(),
        durationMs: 5,
        trigger: 'cli',
      });

      const { pdf } = await exportJanuary();

      assert.ok(pdf.includes(`Check: full verification by this export of ${futureSeq} entries`), pdf);
      const latest = await findLatestChainVerification(source);
      assert.ok(latest, 'the export records a new verification');
      assert.ok(latest.seq > futureSeq, `the newest record ${latest.seq} comes after the future-dated one ${futureSeq}`);
    });

    it('record naming a later seq is ignored', async () => {
      // A true record names an entry before itself, because it is appended after the verification.
      const head = await readHead(source);
      const laterSeq = await appendChainVerified({
        throughSeq: head.seq + 5,
        throughHash: 'e'.repeat(64),
        entries: head.seq + 5,
        startedAt: new Date().toISOString(),
        durationMs: 5,
        trigger: 'cli',
      });

      const { outDir, pdf } = await exportJanuary();

      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
      assert.ok(pdf.includes(`Check: full verification by this export of ${laterSeq} entries`), pdf);
    });

    it('record of another tenant is ignored', async () => {
      const head = await readHead(source);
      const latest = await findLatestChainVerification(source);
      assert.ok(latest, 'a recorded verification exists');
      // A hash that would fail the export if this record were used.
      await ledger.appendStandalone(source, {
        type: CHAIN_VERIFIED_ENTRY_TYPE,
        tenant: 'bank-a',
        actor: 'test',
        payload: { throughSeq: head.seq, throughHash: 'd'.repeat(64), entries: head.seq, startedAt: new Date().toISOString(), durationMs: 5, trigger: 'cli' },
      });

      assert.deepEqual(await findLatestChainVerification(source), latest);
      const { outDir } = await exportJanuary();
      assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] });
    });

    it('malformed records are ignored', async () => {
      const head = await readHead(source);
      const valid = { throughSeq: head.seq, throughHash: head.hash, entries: head.seq, startedAt: new Date().toISOString(), durationMs: 5, trigger: 'cli' };
      const cases: [string, Record<string, unknown>][] = [
        ['throughSeq as a string', { ...valid, throughSeq: String(head.seq) }],
        ['negative throughSeq', { ...valid, throughSeq: -1 }],
        ['throughSeq 0', { ...valid, throughSeq: 0 }],
        ['fractional throughSeq', { ...valid, throughSeq: head.seq - 0.5 }],
        ['throughSeq past 2^53', { ...valid, throughSeq: 2 ** 53 }],
        ['uppercase throughHash', { ...valid, throughHash: head.hash.toUpperCase() }],
        ['startedAt not a time', { ...valid, startedAt: 'yesterday' }],
        ['unknown trigger', { ...valid, trigger: 'other' }],
        ['no throughHash', Object.fromEntries(Object.entries(valid).filter(([field]) => field !== 'throughHash'))],
      ];
      for (const [name, payload] of cases) {
        const malformedSeq = await appendChainVerified(payload);

        const { outDir, pdf } = await exportJanuary();

        assert.deepEqual(await verifyBundle(outDir), { ok: true, problems: [] }, name);
        assert.ok(pdf.includes(`Check: full verification by this export of ${malformedSeq} entries`), `${name}: ${pdf}`);
      }
    });

    it('maximum age option forces a full check', async () => {
      const { pdf } = await exportJanuary({ maxVerificationAgeSeconds: 0 });
      assert.ok(pdf.includes('Check: full verification by this export of '), pdf);
    });

    it('rejects invalid chain check options', async () => {
      await assert.rejects(
        exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir: join(workDir, 'invalid'), wardenVersion: '0.1.0', chainCheck: 'partial' as 'full', maxVerificationAgeSeconds: -1 }, evidence),
        (error: Error & { fieldErrors?: { field: string }[] }) => {
          assert.deepEqual(error.fieldErrors?.map((fieldError) => fieldError.field), ['/chainCheck', '/maxVerificationAgeSeconds']);
          return true;
        },
      );
    });

    it('scheduler runs on its interval', async () => {
      const scheduler = new ChainVerificationScheduler(source, 1, ledger);
      const before = (await chainVerifiedEntries()).filter((entry) => entry.payload.trigger === 'schedule').length;
      assert.equal(scheduler.start(), true);
      try {
        const deadline = Date.now() + 20_000;
        let scheduled = before;
        while (scheduled === before && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          scheduled = (await chainVerifiedEntries()).filter((entry) => entry.payload.trigger === 'schedule').length;
        }
        assert.ok(scheduled > before, 'the schedule recorded a verification');
      } finally {
        await scheduler.stop();
      }
      const latest = await findLatestChainVerification(source);
      assert.equal(latest?.trigger, 'schedule');
      assert.equal(new ChainVerificationScheduler(source, 0, ledger).start(), false, 'an interval of 0 disables the schedule');
    });

    it('scheduled run skips after a recent pass', async () => {
      const scheduler = new ChainVerificationScheduler(source, 3600, ledger);
      assert.equal((await scheduler.runOnce()).status, 'passed');
      const before = (await chainVerifiedEntries()).length;

      const outcome = await scheduler.runScheduled();

      assert.deepEqual(outcome, { status: 'skipped', reason: 'recent' });
      assert.equal((await chainVerifiedEntries()).length, before, 'the skipped run recorded nothing');
    });

    it('scheduled runs of two replicas verify once', { skip: target.name === 'server' ? false : 'embedded PGlite serves one process' }, async () => {
      // An interval of one second makes a pass half a second old stale, so only the lock and the
      // pass of the other replica can stop a run.
      const replicas = [new ChainVerificationScheduler(source, 1, ledger), new ChainVerificationScheduler(source, 1, ledger)];
      await new Promise((resolve) => setTimeout(resolve, 600));
      const before = (await chainVerifiedEntries()).length;

      const outcomes = await Promise.all(replicas.map((replica) => replica.runScheduled()));

      const statuses = outcomes.map((outcome) => outcome.status).sort();
      assert.deepEqual(statuses, ['passed', 'skipped']);
      const skipped = outcomes.find((outcome) => outcome.status === 'skipped');
      assert.ok(skipped?.status === 'skipped');
      assert.ok(['other-process', 'recent'].includes(skipped.reason), skipped.reason);
      assert.equal((await chainVerifiedEntries()).length, before + 1, 'one replica recorded a pass');
    });

    it('scheduled run skips while another process holds the lock', { skip: target.name === 'server' ? false : 'embedded PGlite serves one process' }, async () => {
      const holder = source.createQueryRunner();
      await holder.connect();
      try {
        await holder.query('SELECT pg_advisory_lock($1::bigint)', [CHAIN_VERIFICATION_LOCK_KEY]);
        await new Promise((resolve) => setTimeout(resolve, 600));
        const scheduler = new ChainVerificationScheduler(source, 1, ledger);
        assert.deepEqual(await scheduler.runScheduled(), { status: 'skipped', reason: 'other-process' });
        await holder.query('SELECT pg_advisory_unlock($1::bigint)', [CHAIN_VERIFICATION_LOCK_KEY]);
        assert.equal((await scheduler.runScheduled()).status, 'passed', 'the run after the lock was released verifies');
      } finally {
        await holder.release();
      }
    });

    it('scheduler skips a run while one is in progress', async () => {
      const scheduler = new ChainVerificationScheduler(source, 3600, ledger);
      const before = (await chainVerifiedEntries()).length;

      const outcomes = await Promise.all([scheduler.runOnce(), scheduler.runOnce()]);

      assert.deepEqual(outcomes.map((outcome) => outcome.status), ['passed', 'skipped']);
      assert.equal((await chainVerifiedEntries()).length, before + 1, 'only one run recorded a verification');
      const third = await scheduler.runOnce();
      assert.equal(third.status, 'passed', 'a run after the first one ended is not skipped');
    });
  });
}
