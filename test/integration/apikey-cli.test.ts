import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cliEnvironment, runCli } from '../support/cli.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

for (const target of await databaseTargets()) {
  describe(`warden apikey on ${target.name}`, { skip: target.skipReason }, () => {
    let database: TestDatabase;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      database = await target.open();
      // The CLI opens the same database; an embedded one allows one process at a time.
      await database.database.close();
      env = cliEnvironment({ WARDEN_DATA_DIR: database.config.dataDir, DATABASE_URL: database.config.databaseUrl });
    });

    after(async () => {
      await database?.cleanup().catch(() => undefined);
    });

    it('create prints the key once', async () => {
      const result = await runCli(['apikey', 'create', '--tenant', 'bank-a', '--role', 'application', '--name', 'assistant'], env);
      assert.equal(result.code, 0, result.stderr);
      const key = result.stdout.trim();
      assert.match(key, /^wdn_[A-Za-z0-9_-]{43}$/);
      assert.match(result.stderr, /cannot be shown again/);

      const listed = await runCli(['apikey', 'list', '--tenant', 'bank-a'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok(!listed.stdout.includes(key), 'the list never shows the key');
      const keys = JSON.parse(listed.stdout) as { name: string; roles: string[]; keyPrefix: string; revokedAt: string | null }[];
      assert.equal(keys.length, 1);
      assert.equal(keys[0].name, 'assistant');
      assert.deepEqual(keys[0].roles, ['application']);
      assert.equal(keys[0].keyPrefix, key.slice(0, 10));
      assert.equal(keys[0].revokedAt, null);
    });

    it('rejects a duplicate name and an unknown role', async () => {
      const duplicate = await runCli(['apikey', 'create', '--tenant', 'bank-a', '--role', 'application', '--name', 'assistant'], env);
      assert.equal(duplicate.code, 1);
      assert.match(duplicate.stderr, /--name/);
      const badRole = await runCli(['apikey', 'create', '--tenant', 'bank-a', '--role', 'superuser', '--name', 'other'], env);
      assert.equal(badRole.code, 1);
      assert.match(badRole.stderr, /--role/);
    });

    it('revoke marks the key revoked', async () => {
      const revoked = await runCli(['apikey', 'revoke', '--tenant', 'bank-a', '--name', 'assistant'], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.ok((JSON.parse(revoked.stdout) as { revokedAt: string | null }).revokedAt);
      const again = await runCli(['apikey', 'revoke', '--tenant', 'bank-a', '--name', 'assistant'], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /No active API key named "assistant"/);
    });
  });
}
