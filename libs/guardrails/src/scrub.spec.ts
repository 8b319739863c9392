import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scrubPii } from './scrub.js';

describe('scrubPii', () => {
  it('keeps loopback and unspecified addresses', () => {
    assert.equal(scrubPii('listening {"url":"http://127.0.0.1:4417"}'), 'listening {"url":"http://127.0.0.1:4417"}');
    assert.equal(scrubPii('bound to 0.0.0.0:4417'), 'bound to 0.0.0.0:4417');
    assert.equal(scrubPii('listening on http://[::1]:4417'), 'listening on http://[::1]:4417');
    assert.equal(scrubPii('src=:: dst=127.10.0.3'), 'src=:: dst=127.10.0.3');
    assert.equal(scrubPii('mapped ::ffff:127.0.0.1 up'), 'mapped ::ffff:127.0.0.1 up');
    assert.equal(scrubPii('network 127.0.0.0/8 is local'), 'network 127.0.0.0/8 is local');
  });

  it('masks addresses of other hosts', () => {
    assert.equal(scrubPii('client 203.0.113.7 connected'), 'client [IP_ADDRESS] connected');
    assert.equal(scrubPii('client 10.1.2.3 connected'), 'client [IP_ADDRESS] connected');
    assert.equal(scrubPii('client 192.168.0.20 connected'), 'client [IP_ADDRESS] connected');
    assert.equal(scrubPii('client 2001:db8::1 connected'), 'client [IP_ADDRESS] connected');
    assert.equal(scrubPii('client fe80::1%eth0 connected'), 'client [IP_ADDRESS] connected');
    assert.equal(scrubPii('client ::ffff:10.0.0.1 connected'), 'client [IP_ADDRESS] connected');
  });

  it('masks other personal data next to a loopback address', () => {
    assert.equal(scrubPii('127.0.0.1 served anna@example.com'), '127.0.0.1 served [EMAIL_ADDRESS]');
  });

  it('masks Unicode forms of an IBAN', () => {
    assert.equal(scrubPii('IBAN de89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000 failed'), 'IBAN [IBAN] failed');
  });

  it('masks numbers joined to words by underscores', () => {
    assert.equal(scrubPii('lookup failed for txn_4111111111111111'), 'lookup failed for txn_[CREDIT_CARD]');
    assert.equal(scrubPii('file iban_DE89370400440532013000_2026.csv missing'), 'file iban_[IBAN]_2026.csv missing');
  });

  it('masks numbers joined by full-width underscores', () => {
    // NFKC turns U+FF3F and U+FE4D into `_`, which the recognizers read as part of a word.
    assert.equal(scrubPii('lookup failed for txn\uff3f4111111111111111'), 'lookup failed for txn\uff3f[CREDIT_CARD]');
    assert.equal(scrubPii('file iban\ufe4dDE89370400440532013000 missing'), 'file iban\ufe4d[IBAN] missing');
  });

  it('keeps an e-mail address with underscores as one finding', () => {
    assert.equal(scrubPii('sent to anna_b@example.com today'), 'sent to [EMAIL_ADDRESS] today');
    assert.equal(scrubPii('user_4111111111111111@example.com'), '[EMAIL_ADDRESS]');
  });

  it('keeps dates and counters joined by underscores', () => {
    const names = ['batch_0001_of_0020 done', 'order_12_item_7 shipped', 'ledger_entries_payload_json_matches', 'run_2026-12-06_03 ok'];
    for (const name of names) assert.equal(scrubPii(name), name);
  });
});
