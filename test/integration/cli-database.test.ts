import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cliEnvironment, runCli } from '../support/cli.js';
import { serverSkipReason } from '../support/databases.js';

const ADMIN_URL = new URL(process.env.WARDEN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');

describe('warden against a missing server database', { skip: await serverSkipReason() }, () => {
  it('suggests createdb for the database in DATABASE_URL', async () => {
    const missing = new URL(ADMIN_URL);
    missing.pathname = `/warden_test_missing_${randomBytes(4).toString('hex')}`;
    const result = await runCli(['migrate'], cliEnvironment({ DATABASE_URL: missing.toString() }));
    assert.equal(result.code, 1, result.stderr);
    const port = missing.port ? ` -p ${missing.port}` : '';
    const user = missing.username ? ` -U ${missing.username}` : '';
    assert.ok(result.stderr.includes(`createdb -h ${missing.hostname}${port}${user} ${missing.pathname.slice(1)}`), result.stderr);
    if (missing.password) assert.ok(!result.stderr.includes(missing.password), 'the password is not printed');
  });
});
