// Chain verification hashes each entry's stored payload text (payload_json) where PostgreSQL finds
// it equal to the jsonb payload, and the jsonb otherwise. These cases edit one column or the other
// behind the triggers and check which edits fail verification and which fall back to the jsonb.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

// Imported before the dynamic imports below, so the root logger writes to logLines.
import { logLines } from '../support/log-capture.js';

const { PostgresLedger, verifyLedger, GENESIS_PREV_HASH } = await import('../../libs/audit/src/index.js');
const { verifyChainRange } = await import('../../libs/audit/src/chain-range.js');
const { databaseTargets } = await import('../support/databases.js');

type TestDatabase = import('../support/databases.js').TestDatabase;
type VerifyEntryRow = import('../../libs/audit/src/chain-range.js').VerifyEntryRow;

const ENTRIES = 20;
/** The entry whose columns each case edits. */
const EDITED_SEQ = 7;
const FALLBACK_LOG = 'ledger batch read failed with stored payload texts';
/** SQL that sets the outcome in the edited entry's payload_json to REFER. */
const TEXT_OUTCOME_EDIT = `payload_json = regexp_replace(payload_json, '"outcome":"[A-Z]+"', '"outcome":"REFER"')`;

for (const target of await databaseTargets()) {
  describe(`verification of stored payload texts on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let source: DataSource;

    before(async () => {
      db = await target.open();
      source = db.database.dataSource;
      const ledger = new PostgresLedger();
      await source.transaction((manager) =>
        ledger.appendMany(
          manager,
          Array.from({ length: ENTRIES }, (_, i) => ({
            type: 'decision.created',
            tenant: 'bank-a',
            actor: 'svc-loans',
            payload: { decisionId: randomUUID(), outcome: i % 2 === 0 ? 'APPROVE' : 'DECLINE', score: i / 10, note: 'Zürich branch', reasons: [{ code: `R${i}` }] },
          })),
        ),
      );
    });

    after(async () => {
      await db?.cleanup();
    });

    /** Runs `edit` on the edited entry with the ledger's triggers off, then `check`, then restores both columns. */
    async function withEdit(edit: string, parameters: unknown[], check: () => Promise<void>): Promise<void> {
      const [saved] = await source.query('SELECT payload, payload_json FROM audit.ledger_entries WHERE seq = $1', [EDITED_SEQ]);
      await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
      try {
        await source.query(edit, [EDITED_SEQ, ...parameters]);
        await check();
      } finally {
        await source.query('UPDATE audit.ledger_entries SET payload = $2::jsonb, payload_json = $3 WHERE seq = $1', [
          EDITED_SEQ,
          JSON.stringify(saved.payload),
          saved.payload_json,
        ]);
        await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
      }
    }

    it('hashes stored texts as they are', async () => {
      const batches: VerifyEntryRow[][] = [];
      const result = await verifyChainRange(
        async (sql: string, parameters: unknown[]) => {
          const rows: VerifyEntryRow[] = await source.query(sql, parameters);
          batches.push(rows);
          return rows;
        },
        { afterSeq: 0, prevHash: GENESIS_PREV_HASH, batchSize: 8 },
      );
      assert.equal(result.ok, true, result.reason);
      assert.equal(result.entries, ENTRIES);
      const rows = batches.flat();
      assert.equal(rows.length, ENTRIES);
      assert.ok(
        rows.every((row) => typeof row.payload_json === 'string' && row.payload === null),
        'every row comes with its text and without the jsonb',
      );
    });

    it('fails on a jsonb edit with the text intact', async () => {
      await withEdit(`UPDATE audit.ledger_entries SET payload = jsonb_set(payload, '{outcome}', '"REFER"') WHERE seq = $1`, [], async () => {
        const verification = await verifyLedger(source);
        assert.equal(verification.ok, false);
        assert.equal(verification.firstBadSeq, EDITED_SEQ);
        assert.equal(verification.problem, 'hash-mismatch');
      });
    });

    it('fails on both columns edited alike', async () => {
      const edit = `UPDATE audit.ledger_entries SET payload = jsonb_set(payload, '{outcome}', '"REFER"'), ${TEXT_OUTCOME_EDIT} WHERE seq = $1`;
      await withEdit(edit, [], async () => {
        const [row] = await source.query('SELECT payload_json::jsonb = payload AS same FROM audit.ledger_entries WHERE seq = $1', [EDITED_SEQ]);
        assert.equal(row.same, true, 'the edit keeps the two columns equal');
        const verification = await verifyLedger(source);
        assert.equal(verification.ok, false);
        assert.equal(verification.firstBadSeq, EDITED_SEQ);
      });
    });

    it('verifies an equal text outside canonical form', async () => {
      // PostgreSQL prints jsonb with spaces, so this text parses to the same payload but hashes differently.
      await withEdit('UPDATE audit.ledger_entries SET payload_json = payload::text WHERE seq = $1', [], async () => {
        const [row] = await source.query('SELECT payload_json FROM audit.ledger_entries WHERE seq = $1', [EDITED_SEQ]);
        assert.match(row.payload_json, /": /);
        const verification = await verifyLedger(source);
        assert.equal(verification.ok, true, verification.reason);
        assert.equal(verification.entries, ENTRIES);
      });
    });

    for (const [name, text] of [
      ['text that is not JSON', '{"outcome": '],
      ['text with a NUL escape', '{"outcome":"\\u0000"}'],
    ] as const) {
      it(`reads the jsonb for a ${name}`, async () => {
        const linesBefore = logLines.length;
        await withEdit('UPDATE audit.ledger_entries SET payload_json = $2 WHERE seq = $1', [text], async () => {
          const verification = await verifyLedger(source);
          assert.equal(verification.ok, true, verification.reason);
          assert.equal(verification.entries, ENTRIES);
        });
        const warnings = logLines.slice(linesBefore).filter((line) => line.includes(FALLBACK_LOG));
        assert.equal(warnings.length, 1, 'one batch was read again');
        assert.doesNotMatch(warnings[0], /\\u0000|"outcome": /, 'the log leaves out the stored text');
      });
    }

    it('reads the jsonb for an edited text', async () => {
      // The jsonb still gives the hash. An export, which hashes the parsed text, finds this edit.
      await withEdit(`UPDATE audit.ledger_entries SET ${TEXT_OUTCOME_EDIT} WHERE seq = $1`, [], async () => {
        const [row] = await source.query('SELECT payload_json FROM audit.ledger_entries WHERE seq = $1', [EDITED_SEQ]);
        assert.match(row.payload_json, /"outcome":"REFER"/);
        const verification = await verifyLedger(source);
        assert.equal(verification.ok, true, verification.reason);
      });
    });

    it('ignores a jsonb operator on the search path', async () => {
      // Someone who can create objects puts an always-true jsonb equality ahead of pg_catalog's.
      await source.query('CREATE FUNCTION public.always_equal(jsonb, jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$');
      await source.query('CREATE OPERATOR public.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.always_equal)');
      try {
        await withEdit(`UPDATE audit.ledger_entries SET payload = jsonb_set(payload, '{outcome}', '"REFER"') WHERE seq = $1`, [], async () => {
          // One connection of its own, released before withEdit restores the row: PGlite has only one.
          const runner = source.createQueryRunner();
          try {
            await runner.connect();
            await runner.query('SET search_path = public, pg_catalog');
            const [probe] = await runner.query(`SELECT '{"a":1}'::jsonb = '{"a":2}'::jsonb AS equal`);
            assert.equal(probe.equal, true, 'the shadowing operator is in effect');
            const result = await verifyChainRange((sql: string, parameters: unknown[]) => runner.query(sql, parameters), {
              afterSeq: 0,
              prevHash: GENESIS_PREV_HASH,
              batchSize: 100,
            });
            assert.equal(result.ok, false);
            assert.equal(result.firstBadSeq, EDITED_SEQ);
          } finally {
            await runner.query('RESET search_path').catch(() => undefined);
            await runner.release();
          }
        });
      } finally {
        await source.query('DROP OPERATOR public.= (jsonb, jsonb)');
        await source.query('DROP FUNCTION public.always_equal(jsonb, jsonb)');
      }
    });

    it('reads the jsonb for an oversized text', async () => {
      // Whitespace keeps the text equal to the jsonb, so only its size keeps it from being read.
      await withEdit(`UPDATE audit.ledger_entries SET payload_json = '{' || repeat(' ', 1100000) || substr(payload_json, 2) WHERE seq = $1`, [], async () => {
        const rows: VerifyEntryRow[] = [];
        const result = await verifyChainRange(
          async (sql: string, parameters: unknown[]) => {
            const batch: VerifyEntryRow[] = await source.query(sql, parameters);
            rows.push(...batch);
            return batch;
          },
          { afterSeq: 0, prevHash: GENESIS_PREV_HASH, batchSize: 100 },
        );
        assert.equal(result.ok, true, result.reason);
        const edited = rows.find((row) => Number(row.seq) === EDITED_SEQ);
        assert.equal(edited?.payload_json ?? null, null, 'the oversized text is not read');
        assert.notEqual(edited?.payload, null);
      });
    });

    it('raises a failed read that is not about the text', async () => {
      const linesBefore = logLines.length;
      const closed = Object.assign(new Error('Connection terminated'), { code: undefined });
      await assert.rejects(
        verifyChainRange(
          async () => {
            throw closed;
          },
          { afterSeq: 0, prevHash: GENESIS_PREV_HASH, batchSize: 100 },
        ),
        /Connection terminated/,
      );
      assert.equal(logLines.slice(linesBefore).filter((line) => line.includes(FALLBACK_LOG)).length, 0);
    });

    if (target.name === 'server') {
      it('worker thread falls back and fails alike', async () => {
        await withEdit('UPDATE audit.ledger_entries SET payload_json = $2 WHERE seq = $1', ['not json'], async () => {
          const verification = await verifyLedger(source, { parallel: 'background' });
          assert.equal(verification.ok, true, verification.reason);
          assert.equal(verification.entries, ENTRIES);
        });
        await withEdit(`UPDATE audit.ledger_entries SET payload = jsonb_set(payload, '{outcome}', '"REFER"') WHERE seq = $1`, [], async () => {
          const verification = await verifyLedger(source, { parallel: 'always' });
          assert.equal(verification.ok, false);
          assert.equal(verification.firstBadSeq, EDITED_SEQ);
        });
      });
    }
  });
}
