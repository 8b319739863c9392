import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { PlaceholderMap, PlaceholderVault, redactWithPlaceholders, restorePlaceholders, scanPii } from '../../libs/guardrails/src/index.js';

const IBAN = 'DE89 3704 0044 0532 0130 00';
const CARD = '4111 1111 1111 1111';
const PROMPT = `Move 500 EUR from ${IBAN} and charge card ${CARD}.`;

for (const target of await databaseTargets()) {
  describe(`placeholder vault on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let vault: PlaceholderVault;
    let keyFile: string;

    before(async () => {
      db = await target.open();
      keyFile = join(db.config.dataDir, 'keys', 'vault.key');
      vault = await PlaceholderVault.open(db.database.dataSource, keyFile);
    });
    after(async () => db?.cleanup());

    it('creates a private master key file', async () => {
      assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    });

    it('restores a reply from the stored placeholders', async () => {
      const map = new PlaceholderMap();
      const redacted = redactWithPlaceholders(PROMPT, scanPii(PROMPT), map);
      assert.equal(redacted, 'Move 500 EUR from <IBAN_1> and charge card <CREDIT_CARD_1>.');
      await vault.store('bank-a', 'call-1', map);

      const loaded = await vault.load('bank-a', 'call-1');
      assert.equal(restorePlaceholders('Debited <IBAN_1> via <CREDIT_CARD_1>.', loaded), `Debited ${IBAN} via ${CARD}.`);
    });

    it('keeps only ciphertext in the table', async () => {
      const rows: { sealed: Buffer }[] = await db.database.dataSource.query('SELECT sealed FROM guardrails.vault_entries');
      assert.ok(rows.length >= 2);
      for (const row of rows) {
        const bytes = row.sealed.toString('latin1');
        assert.ok(!bytes.includes('DE89') && !bytes.includes('4111'), 'a stored value is readable');
      }
    });

    it('gives another tenant or scope nothing', async () => {
      assert.equal((await vault.load('bank-b', 'call-1')).size, 0);
      assert.equal((await vault.load('bank-a', 'call-2')).size, 0);
    });

    it('skips a row moved to another scope', async () => {
      await db.database.dataSource.query(
        `INSERT INTO guardrails.vault_entries (tenant, scope, placeholder, entity_type, sealed)
         SELECT tenant, 'call-stolen', placeholder, entity_type, sealed FROM guardrails.vault_entries WHERE scope = 'call-1'`,
      );
      assert.equal((await vault.load('bank-a', 'call-stolen')).size, 0);
    });

    it('rejects a key file others can read', async () => {
      const loose = join(db.config.dataDir, 'keys', 'loose.key');
      await writeFile(loose, `${'ab'.repeat(32)}\n`);
      await chmod(loose, 0o644);
      await assert.rejects(PlaceholderVault.open(db.database.dataSource, loose), /readable by other users/);
    });

    it('rejects a key file of the wrong length', async () => {
      const short = join(db.config.dataDir, 'keys', 'short.key');
      await writeFile(short, 'abcd\n', { mode: 0o600 });
      await assert.rejects(PlaceholderVault.open(db.database.dataSource, short), /64 hex characters/);
    });
  });
}
