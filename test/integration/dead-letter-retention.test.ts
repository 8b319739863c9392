// The otherDeadLetters rule of policies/retention.yaml. It deletes the dead letters that no dataset
// rule covers (a subject of an unknown dataset, or of a dataset without a rule) after their period.
// A hold on every use case of the tenant keeps them, and so does a hold on a use case that trains on
// the dataset their subject names.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { parseRetentionPolicy, RetentionService, verifyLedger, type DatasetPurgeResult, type PurgeResult } from '../../libs/audit/src/index.js';
import { sha256Hex } from '../../libs/common/src/index.js';
import { subjectOf } from '../../libs/streaming/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { asMessages, createProcessor, createRetention, createStreamServices, PAYSIM, transaction, type StreamServices } from '../support/stream-fixtures.js';

const POLICY = parseRetentionPolicy(`
version: 1
rules: {}
datasets:
  paysim-transactions: { minimumMonths: 60, purgeAfterMonths: 61, source: 31 CFR 1010.430(d) }
otherDeadLetters: { purgeAfterMonths: 6, source: GDPR Art. 5(1)(e) }
`);
/** The service's clock. Six months earlier is the cutoff of the dead letter rule. */
const NOW = new Date('2027-06-15T00:00:00.000Z');
const CUTOFF = '2026-12-15T00:00:00.000Z';
/** Before the cutoff of both rules. */
const OLD = '2020-03-10T10:00:00.000Z';
/** After the dead letter rule's cutoff. */
const RECENT = '2027-05-01T10:00:00.000Z';
const UNKNOWN = 'unknown-feed';
/** german-credit is a dataset, but this policy has no rule for it. */
const WITHOUT_RULE = 'german-credit';
/**
 * bank-a: no hold. bank-b: a hold on payment-fraud, which reads paysim-transactions features.
 * bank-c: a hold on credit-application, which trains on german-credit. bank-d: a hold on every use case.
 */
const TENANTS = ['bank-a', 'bank-b', 'bank-c', 'bank-d'];

/**
 * The event key in a dead letter's payload. The event_key column stays empty for a subject of no
 * dataset, because only a dataset definition names the key field.
 */
const KEY = "(convert_from(payload, 'UTF8')::jsonb->>'event_key')";

/** Stores, per tenant, old dead letters on three subjects and a recent one, with their times set. */
async function seed(dataSource: DataSource, services: StreamServices): Promise<void> {
  for (const tenant of TENANTS) {
    const processor = createProcessor(dataSource, services, tenant);
    const letters = asMessages([
      transaction('OLD-U', OLD, 'D1', 'A1', 1),
      transaction('OLD-G', OLD, 'D1', 'A1', 1),
      transaction('OLD-P', OLD, 'D1', 'A1', 1),
      transaction('NEW-U', RECENT, 'D1', 'A1', 1),
    ]);
    const subjects = [subjectOf(UNKNOWN), subjectOf(WITHOUT_RULE), subjectOf(PAYSIM), subjectOf(UNKNOWN)];
    for (const [index, letter] of letters.entries()) await processor.deadLetter({ ...letter, subject: subjects[index] }, 'failed five deliveries');
  }
  await dataSource.query(`UPDATE streaming.dead_letters SET created_at = $1 WHERE ${KEY} LIKE 'OLD-%'`, [OLD]);
  await dataSource.query(`UPDATE streaming.dead_letters SET created_at = $1 WHERE ${KEY} LIKE 'NEW-%'`, [RECENT]);
}

/** Lists the tenant's dead letters as `<last subject token> <event key>`, sorted. */
async function deadLetters(dataSource: DataSource, tenant: string): Promise<string[]> {
  const rows: { line: string }[] = await dataSource.query(
    `SELECT substring(subject from '[^.]*$') || ' ' || ${KEY} AS line FROM streaming.dead_letters WHERE tenant = $1`,
    [tenant],
  );
  return rows.map((row) => row.line).sort();
}

function ruleResult(results: (PurgeResult | DatasetPurgeResult)[]): PurgeResult {
  const found = results.find((result): result is PurgeResult => 'useCase' in result && result.useCase === 'other-dead-letters');
  assert.ok(found, 'the purge returns a result for the dead letter rule');
  return found;
}

for (const target of await databaseTargets()) {
  describe(`dead letter retention on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let retention: RetentionService;
    /** The same rules without the links between datasets and use cases. */
    let unlinked: RetentionService;
    /** Per tenant, the ids of the dead letters the rule deletes, in numeric order as the digest takes them. */
    const dueIds = new Map<string, string[]>();

    before(async () => {
      db = await target.open();
      dataSource = db.database.dataSource;
      const services = await createStreamServices(dataSource);
      retention = createRetention(dataSource, services, POLICY, NOW);
      unlinked = createRetention(dataSource, services, POLICY, NOW, false);
      await seed(dataSource, services);
      await retention.placeHold({ tenant: 'bank-b', useCase: 'payment-fraud', reason: 'AML investigation of account A1', actor: 'counsel' });
      await retention.placeHold({ tenant: 'bank-c', useCase: 'credit-application', reason: 'credit dispute of applicant 17', actor: 'counsel' });
      await retention.placeHold({ tenant: 'bank-d', useCase: null, reason: 'regulator inquiry on every record', actor: 'counsel' });
      const due: { tenant: string; id: string }[] = await dataSource.query(
        `SELECT tenant, id::text FROM streaming.dead_letters
          WHERE ${KEY} = 'OLD-U' OR (${KEY} = 'OLD-G' AND tenant <> 'bank-c') ORDER BY id`,
      );
      for (const row of due) dueIds.set(row.tenant, [...(dueIds.get(row.tenant) ?? []), row.id]);
    });
    after(async () => {
      await db?.cleanup();
    });

    it('previews due and held dead letters', async () => {
      const result = ruleResult(await retention.purge({ actor: 'test', dryRun: true }));
      assert.equal(result.cutoff, CUTOFF);
      assert.equal(result.source, 'GDPR Art. 5(1)(e)');
      // bank-a and bank-b: the unknown subject and the dataset without a rule. The hold on
      // credit-application keeps bank-c's german-credit dead letter, and bank-d keeps both.
      assert.equal(result.due, 5);
      assert.equal(result.held, 3);
      assert.equal(result.purged, 0);
      assert.deepEqual(await deadLetters(dataSource, 'bank-a'), [`${WITHOUT_RULE} OLD-G`, `${PAYSIM} OLD-P`, `${UNKNOWN} NEW-U`, `${UNKNOWN} OLD-U`]);
    });

    it('counts any use-case hold when no links are known', async () => {
      const result = ruleResult(await unlinked.purge({ actor: 'test', dryRun: true }));
      // Only bank-a has no hold at all.
      assert.equal(result.due, 2);
      assert.equal(result.held, 6);
    });

    it('deletes only the dead letters that no dataset rule covers', async () => {
      const results = await retention.purge({ actor: 'records-officer' });
      const result = ruleResult(results);
      assert.equal(result.purged, 5);
      assert.notEqual(result.ledgerSeq, null);

      // The paysim dead letter went with its dataset rule, and the recent one stays.
      assert.deepEqual(await deadLetters(dataSource, 'bank-a'), [`${UNKNOWN} NEW-U`]);
      // The hold on payment-fraud keeps the paysim dead letter under the dataset rule, but not the
      // others, which belong to no use case.
      assert.deepEqual(await deadLetters(dataSource, 'bank-b'), [`${PAYSIM} OLD-P`, `${UNKNOWN} NEW-U`]);
      // The hold on credit-application keeps the german-credit dead letter, and the paysim one goes
      // with its dataset rule, because credit-application does not use paysim-transactions.
      assert.deepEqual(await deadLetters(dataSource, 'bank-c'), [`${WITHOUT_RULE} OLD-G`, `${UNKNOWN} NEW-U`]);
      // The tenant-wide hold keeps both kinds: the dataset rule's and this rule's.
      assert.deepEqual(await deadLetters(dataSource, 'bank-d'), [`${WITHOUT_RULE} OLD-G`, `${PAYSIM} OLD-P`, `${UNKNOWN} NEW-U`, `${UNKNOWN} OLD-U`]);
    });

    it('accounts for each deleted dead letter in the ledger', async () => {
      const entries: { tenant: string; actor: string; payload: Record<string, unknown> }[] = await dataSource.query(
        "SELECT tenant, actor, payload FROM audit.ledger_entries WHERE type = 'retention.dead-letters-purged' ORDER BY seq",
      );
      assert.deepEqual(
        entries.map((entry) => entry.tenant),
        ['bank-a', 'bank-b', 'bank-c'],
      );
      for (const entry of entries) {
        assert.equal(entry.actor, 'records-officer');
        assert.equal(entry.payload.deadLetters, entry.tenant === 'bank-c' ? 1 : 2);
        assert.equal(entry.payload.cutoff, CUTOFF);
        assert.equal(entry.payload.purgedAt, NOW.toISOString());
        assert.equal(entry.payload.rule, 'GDPR Art. 5(1)(e)');
        assert.equal(entry.payload.retentionPolicyHash, POLICY.hash);
        assert.equal(entry.payload.idsDigest, sha256Hex((dueIds.get(entry.tenant) ?? []).join('\n')));
      }

      const verification = await verifyLedger(dataSource);
      assert.equal(verification.ok, true);
    });

    it('finds nothing due on a second run', async () => {
      const result = ruleResult(await retention.purge({ actor: 'records-officer' }));
      assert.equal(result.due, 0);
      assert.equal(result.purged, 0);
      assert.equal(result.ledgerSeq, null);
    });
  });
}
