import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WARDEN_SEARCH_PATH, withPinnedSearchPath } from './search-path.js';

const SWITCH = `-c search_path=${WARDEN_SEARCH_PATH}`;

// node-postgres parses a connection URL with the WHATWG URL class (pg-connection-string), so these
// checks read the result the same way. test/integration/search-path-pin.test.ts checks the
// search_path that a server then reports.
describe('withPinnedSearchPath', () => {
  it('adds the switch to a plain URL', () => {
    const pinned = new URL(withPinnedSearchPath('postgres://warden@127.0.0.1:5432/warden'));
    assert.equal(pinned.searchParams.get('options'), SWITCH);
    assert.equal(pinned.hostname, '127.0.0.1');
    assert.equal(pinned.port, '5432');
    assert.equal(pinned.pathname, '/warden');
    assert.equal(pinned.username, 'warden');
  });

  it('appends after existing options', () => {
    const url = 'postgres://warden@db.internal/warden?options=-c%20statement_timeout%3D5s%20-c%20search_path%3Devil%2Cpublic';
    const pinned = new URL(withPinnedSearchPath(url));
    assert.equal(pinned.searchParams.get('options'), `-c statement_timeout=5s -c search_path=evil,public ${SWITCH}`);
  });

  it('appends to the last of repeated options', () => {
    const url = 'postgres://warden@db.internal/warden?options=-c%20work_mem%3D8MB&options=-c%20statement_timeout%3D5s';
    const pinned = new URL(withPinnedSearchPath(url));
    assert.deepEqual(pinned.searchParams.getAll('options'), [`-c statement_timeout=5s ${SWITCH}`]);
  });

  it('keeps credentials and other parameters', () => {
    const url = 'postgresql://svc%40bank:p%2Fss%3Aw0rd@db.internal:6543/ledger?sslmode=require&application_name=gw';
    const pinned = new URL(withPinnedSearchPath(url));
    assert.equal(pinned.protocol, 'postgresql:');
    assert.equal(decodeURIComponent(pinned.username), 'svc@bank');
    assert.equal(decodeURIComponent(pinned.password), 'p/ss:w0rd');
    assert.equal(pinned.hostname, 'db.internal');
    assert.equal(pinned.port, '6543');
    assert.equal(pinned.pathname, '/ledger');
    assert.equal(pinned.searchParams.get('sslmode'), 'require');
    assert.equal(pinned.searchParams.get('application_name'), 'gw');
  });

  it('keeps a Unix socket host parameter', () => {
    const pinned = new URL(withPinnedSearchPath('postgres:///warden?host=/var/run/postgresql'));
    assert.equal(pinned.hostname, '');
    assert.equal(pinned.pathname, '/warden');
    assert.equal(pinned.searchParams.get('host'), '/var/run/postgresql');
    assert.equal(pinned.searchParams.get('options'), SWITCH);
  });

  it('leaves a pinned URL unchanged', () => {
    const once = withPinnedSearchPath('postgres://warden@127.0.0.1/warden?options=-c%20work_mem%3D8MB');
    assert.equal(withPinnedSearchPath(once), once);
    assert.equal(new URL(once).searchParams.get('options'), `-c work_mem=8MB ${SWITCH}`);
  });
});
