import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkDocumentName } from './document-name.js';

describe('document names', () => {
  it('accepts ordinary names', () => {
    for (const name of ['credit-policy.md', 'Regulation B/1002-9.md', 'Richtlinie Kreditvergabe 2026.md', 'regulation-b_1002_2017-20417_20220101.xml']) {
      assert.equal(checkDocumentName(name), undefined, name);
    }
  });

  for (const [label, name, fragment] of [
    ['NUL', 'policy.md\u0000other.md', /control characters/],
    ['a line break', 'policy\n.md', /control characters/],
    ['a right-to-left override', 'invoice\u202Edm.exe', /bidirectional override/],
    ['a left-to-right isolate', '\u2066policy.md', /bidirectional override/],
    ['an SSN', 'notes 078-05-1123.md', /personal data \(found US_SSN\)/],
    ['a phone number with a country code', 'call back +1 415 555 0134.md', /personal data \(found PHONE_NUMBER\)/],
    ['an e-mail address', 'complaint from jane.doe@example.com.md', /personal data \(found EMAIL_ADDRESS\)/],
    ['a card number joined by underscores', 'statement_4111111111111111_2026.pdf', /personal data \(found CREDIT_CARD\)/],
    ['an IBAN joined by underscores', 'mandate_DE89370400440532013000.md', /personal data \(found IBAN\)/],
    ['a card number joined by a full-width underscore', 'statement\uff3f4111111111111111.pdf', /personal data \(found CREDIT_CARD\)/],
    ['nothing but spaces', '   ', /1 to 200 characters/],
  ] as const) {
    it(`rejects ${label}`, () => {
      const error = checkDocumentName(name);
      assert.equal(error?.field, 'document');
      assert.match(error!.message, fragment);
      assert.match(error!.message, /--name on the CLI/);
      assert.ok(!error!.message.includes(name.trim() || '\u0000'), 'the name is not quoted');
    });
  }

  it('names the CLI option', () => {
    assert.equal(checkDocumentName('a\u202Db.md', '--name')?.field, '--name');
  });
});
