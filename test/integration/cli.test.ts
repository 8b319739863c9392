import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VARIABLES, loadConfig } from '../../libs/common/src/index.js';
import { openDatabase, type WardenDatabase } from '../../libs/database/src/index.js';
import { cliEnvironment, decodeJwtPayload, runCli } from '../support/cli.js';
import { REPO_ROOT } from '../support/databases.js';

const COMMANDS = ['start', 'migrate', 'ingest', 'train', 'token', 'replay', 'audit', 'export', 'verify-bundle', 'demo-data'];

/** Node prints stack frames as lines starting with "    at ". */
const STACK_FRAME = /^\s+at /m;

describe('warden cli without a database', () => {
  let workDir: string;
  before(() => {
    workDir = mkdtempSync(join(tmpdir(), 'warden-cli-'));
  });
  after(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  it('help lists commands and variables', async () => {
    const result = await runCli(['--help'], cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'help') }));

    assert.equal(result.code, 0);
    for (const command of COMMANDS) {
      assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'), `--help should list ${command}`);
    }
    for (const variable of CONFIG_VARIABLES) {
      assert.match(result.stdout, new RegExp(`^  ${variable.name} `, 'm'), `--help should list ${variable.name}`);
    }
  });

  it('audit help lists verify', async () => {
    const result = await runCli(['audit', '--help'], cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'help') }));

    assert.equal(result.code, 0);
    assert.match(result.stdout, /^  verify /m);
  });

  const configCases = [
    { variable: 'PORT', value: 'abc', message: /PORT must be a whole number between 1 and 65535, got "abc"\. Set it to a number such as 3000 or unset it\./ },
    { variable: 'PORT', value: '0', message: /PORT must be between 1 and 65535, got 0\. Set it to a number such as 3000 or unset it\./ },
    { variable: 'DATABASE_URL', value: 'mysql://x', message: /DATABASE_URL must use postgres: or postgresql:, got "mysql:"\. Set it like postgres:\/\// },
    { variable: 'LOG_LEVEL', value: 'loud', message: /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"\. Set it to info or unset it\./ },
    { variable: 'WARDEN_JWKS_URL', value: 'http://idp.example.test/jwks', message: /WARDEN_JWKS_URL must use https unless the server is on this machine/ },
    {
      variable: 'WARDEN_CHAIN_VERIFICATION_INTERVAL_SECONDS',
      value: '2000000',
      message: /WARDEN_CHAIN_VERIFICATION_INTERVAL_SECONDS must be between 0 and 1209600, got 2000000\. Set it to a number such as 86400 or unset it\./,
    },
  ];
  for (const { variable, value, message } of configCases) {
    it(`migrate rejects ${variable}=${value}`, async () => {
      const dataDir = join(workDir, `config-${variable}`);
      const result = await runCli(['migrate'], cliEnvironment({ WARDEN_DATA_DIR: dataDir, [variable]: value }));

      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^Invalid configuration: /);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, STACK_FRAME);
      assert.equal(result.stdout, '');
    });
  }

  it('rejects a bad policy file with exit code 2', async () => {
    const policyDir = join(workDir, 'bad-policies');
    cpSync(join(REPO_ROOT, 'policies'), policyDir, { recursive: true });
    writeFileSync(join(policyDir, 'retention.yaml'), 'version: 2\nrules: {}\n');
    const result = await runCli(['retention', 'purge', '--dry-run'], cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'bad-policy-data'), WARDEN_POLICY_DIR: policyDir }));

    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr.trim(), `Invalid ${join(policyDir, 'retention.yaml')}: version must be 1`);
    assert.equal(result.stdout, '');
  });

  it('accepts LOG_LEVEL in capitals', async () => {
    const result = await runCli(['demo-data', '--rows', '1', '--out', join(workDir, 'one.jsonl')], cliEnvironment({ LOG_LEVEL: 'WARN' }));

    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
  });

  it('token carries tenant, role and subject', async () => {
    const env = cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'token') });
    const result = await runCli(['token', '--tenant', 't1', '--role', 'application', '--subject', 'app-1'], env);

    assert.equal(result.code, 0, result.stderr);
    const token = result.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const payload = decodeJwtPayload(token);
    assert.equal(payload.tenant, 't1');
    assert.deepEqual(payload.roles, ['application']);
    assert.equal(payload.sub, 'app-1');
    assert.equal(payload.iss, 'warden-local');
    assert.equal(payload.aud, 'warden');
    assert.equal((payload.exp as number) - (payload.iat as number), 28800);
  });

  it('token rejects an unknown role', async () => {
    const env = cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'token') });
    const result = await runCli(['token', '--tenant', 't1', '--role', 'wizard'], env);

    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^BAD_USER_INPUT: /);
    assert.match(result.stderr, /must be one of application, analyst, reviewer, senior-reviewer, auditor, admin/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  it('demo-data is deterministic per seed', async () => {
    const env = cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'demo') });
    const first = join(workDir, 'demo', 'first.jsonl');
    const second = join(workDir, 'demo', 'second.jsonl');
    const otherSeed = join(workDir, 'demo', 'other-seed.jsonl');

    const result = await runCli(['demo-data', '--rows', '50', '--seed', '7', '--out', first], env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `wrote 50 applications to ${first}`);
    assert.equal((await runCli(['demo-data', '--rows', '50', '--seed', '7', '--out', second], env)).code, 0);
    assert.equal((await runCli(['demo-data', '--rows', '50', '--seed', '8', '--out', otherSeed], env)).code, 0);

    const text = readFileSync(first, 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 50);
    assert.ok(text.endsWith('}\n'));
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(records[0].application_id, 'SYN-7-000001', 'keys carry the seed so seeds do not collide');
    assert.equal(records[49].application_id, 'SYN-7-000050');
    assert.ok(readFileSync(second).equals(readFileSync(first)), 'the same seed must write the same bytes');
    assert.ok(!readFileSync(otherSeed).equals(readFileSync(first)), 'another seed must write other applications');
  });

  it('export rejects a date that does not exist', async () => {
    const args = ['export', '--use-case', 'credit-application', '--from', '2026-02-30', '--to', '2026-03-05', '--out', join(workDir, 'no-bundle')];
    const result = await runCli(args, cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'dates') }));
    assert.equal(result.code, 1);
    assert.ok(result.stderr.startsWith('BAD_USER_INPUT: Invalid --from "2026-02-30".'), result.stderr);
    // With a time the date is checked too, and a time without its zone is not read in the host's zone.
    for (const from of ['2026-02-30T00:00:00Z', '2026-03-01T00:00:00']) {
      const timed = await runCli([...args.slice(0, 3), '--from', from, ...args.slice(5)], cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'dates') }));
      assert.equal(timed.code, 1);
      assert.ok(timed.stderr.startsWith(`BAD_USER_INPUT: Invalid --from "${from}".`), timed.stderr);
    }
  });

  it('verify-bundle rejects a missing folder', async () => {
    const missing = join(workDir, 'no-bundle-here');
    const result = await runCli(['verify-bundle', missing], cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'vb') }));
    assert.equal(result.code, 1);
    assert.ok(result.stderr.startsWith(`BAD_USER_INPUT: Bundle folder ${missing} was not found.`), result.stderr);
  });

  it('start rejects an invalid --port', async () => {
    const dataDir = join(workDir, 'bad-port');
    const result = await runCli(['start', '--port', 'abc'], cliEnvironment({ WARDEN_DATA_DIR: dataDir }));

    assert.equal(result.code, 1);
    assert.match(result.stderr, /^BAD_USER_INPUT: Invalid --port "abc"\./);
    assert.match(result.stderr, /--port: must be a whole number from 0 to 65535, where 0 picks a free port/);
  });
});

describe('warden cli data folder lock', () => {
  let dataDir: string;
  let database: WardenDatabase | undefined;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'warden-cli-lock-'));
    const config = { ...loadConfig({ LOG_LEVEL: 'silent', WARDEN_DATA_DIR: dataDir }), policyDir: join(REPO_ROOT, 'policies') };
    database = await openDatabase(config);
    await database.dataSource.query('CREATE TABLE lock_probe (id int)');
    await database.dataSource.query('INSERT INTO lock_probe VALUES (1)');
  });
  after(async () => {
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('migrate fails while another process holds it', async () => {
    const result = await runCli(['migrate'], cliEnvironment({ WARDEN_DATA_DIR: dataDir }));

    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^FAILED_PRECONDITION: /);
    assert.ok(result.stderr.includes(`The embedded database in ${dataDir} is in use by process ${process.pid}.`), result.stderr);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
    assert.equal(readFileSync(join(dataDir, 'warden.lock'), 'utf8'), String(process.pid));
  });

  it('holder still works after the refusal', async () => {
    await database!.dataSource.query('INSERT INTO lock_probe VALUES (2)');
    const rows: { n: number }[] = await database!.dataSource.query('SELECT count(*)::int AS n FROM lock_probe');
    assert.equal(rows[0].n, 2);
  });

  it('migrate succeeds once the holder closes', async () => {
    await database!.close();
    database = undefined;

    const result = await runCli(['migrate'], cliEnvironment({ WARDEN_DATA_DIR: dataDir }));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'database schema is up to date');

    const config = { ...loadConfig({ LOG_LEVEL: 'silent', WARDEN_DATA_DIR: dataDir }), policyDir: join(REPO_ROOT, 'policies') };
    database = await openDatabase(config);
    const rows: { n: number }[] = await database.dataSource.query('SELECT count(*)::int AS n FROM lock_probe');
    assert.equal(rows[0].n, 2);
  });
});
