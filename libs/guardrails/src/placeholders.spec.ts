import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scanPii } from './pii/index.js';
import { PlaceholderMap, redactWithPlaceholders, restorePlaceholders, StreamingRestorer } from './placeholders.js';

const IBAN = 'DE89 3704 0044 0532 0130 00';
const CARD = '4111 1111 1111 1111';
const TEXT = `Pay from ${IBAN} with card ${CARD}, then confirm ${IBAN.replace(/ /g, '')} again.`;

function redacted(text: string): { text: string; map: PlaceholderMap } {
  const map = new PlaceholderMap();
  return { text: redactWithPlaceholders(text, scanPii(text), map), map };
}

describe('redactWithPlaceholders', () => {
  it('gives equal values one typed placeholder', () => {
    const { text, map } = redacted(TEXT);
    assert.equal(text, 'Pay from <IBAN_1> with card <CREDIT_CARD_1>, then confirm <IBAN_1> again.');
    assert.equal(map.size, 2);
  });

  it('numbers different values of one type', () => {
    const { text } = redacted('From DE89370400440532013000 to GB82WEST12345698765432.');
    assert.equal(text, 'From <IBAN_1> to <IBAN_2>.');
  });

  it('continues numbering from restored entries', () => {
    const map = new PlaceholderMap([{ placeholder: '<IBAN_4>', entityType: 'IBAN', value: 'DE89370400440532013000' }]);
    assert.equal(map.placeholderFor('IBAN', 'GB82WEST12345698765432'), '<IBAN_5>');
    assert.equal(map.placeholderFor('IBAN', 'de89 3704 0044 0532 0130 00'), '<IBAN_4>');
  });
});

describe('restorePlaceholders', () => {
  it('restores known placeholders and keeps unknown ones', () => {
    const { map } = redacted(TEXT);
    assert.equal(restorePlaceholders('Debit <IBAN_1>, not <IBAN_9>.', map), `Debit ${IBAN}, not <IBAN_9>.`);
  });
});

describe('StreamingRestorer', () => {
  const { map } = redacted(TEXT);
  const reply = 'Card <CREDIT_CARD_1> and account <IBAN_1> are linked; 3 < 4 holds.';
  const expected = `Card ${CARD} and account ${IBAN} are linked; 3 < 4 holds.`;

  it('restores placeholders split at every position', () => {
    for (let cut = 1; cut < reply.length; cut++) {
      const restorer = new StreamingRestorer(map);
      const output = restorer.push(reply.slice(0, cut)) + restorer.push(reply.slice(cut)) + restorer.flush();
      assert.equal(output, expected, `cut at ${cut}`);
    }
  });

  it('restores a reply streamed one character at a time', () => {
    const restorer = new StreamingRestorer(map);
    let output = '';
    for (const character of reply) {
      const piece = restorer.push(character);
      assert.ok(!/<[A-Z_]*\d*$/.test(piece) || piece.endsWith('< '), `half a placeholder escaped: ${piece}`);
      output += piece;
    }
    assert.equal(output + restorer.flush(), expected);
  });

  it('releases a held tail that turns out not to be a placeholder', () => {
    const restorer = new StreamingRestorer(map);
    assert.equal(restorer.push('a <IB'), 'a ');
    assert.equal(restorer.push('X is fine'), '<IBX is fine');
    assert.equal(restorer.flush(), '');
  });
});
