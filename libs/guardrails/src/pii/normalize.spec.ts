import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactText } from '../redaction.js';
import { PlaceholderMap, redactWithPlaceholders } from '../placeholders.js';
import { canonicalPiiValue, normalizeForPii, originalRange } from './normalize.js';
import { scanPii, type PiiEntityType } from './index.js';

const NO_BREAK_SPACE = '\u00a0';
const THIN_SPACE = '\u2009';
const NARROW_NO_BREAK_SPACE = '\u202f';
const ZERO_WIDTH_SPACE = '\u200b';

/** Converts ASCII digits, letters and '@' to their full-width forms, which are 0xFEE0 higher. */
function fullWidth(text: string): string {
  return text.replace(/[0-9A-Za-z@]/g, (character) => String.fromCharCode(character.charCodeAt(0) + 0xfee0));
}

/** Returns the entity type and the original characters of every finding. */
function found(text: string): Array<[PiiEntityType, string]> {
  return scanPii(text).map((finding) => [finding.entityType, text.slice(finding.start, finding.end)]);
}

describe('normalizeForPii', () => {
  it('returns ASCII text unchanged', () => {
    const normalized = normalizeForPii('IBAN DE89 3704');
    assert.equal(normalized.text, 'IBAN DE89 3704');
    assert.equal(normalized.starts, null);
    assert.deepEqual(originalRange(normalized, 5, 9), { start: 5, end: 9 });
  });

  it('maps space separators to spaces', () => {
    const normalized = normalizeForPii(`a${NO_BREAK_SPACE}b${THIN_SPACE}c${NARROW_NO_BREAK_SPACE}d\u3000e`);
    assert.equal(normalized.text, 'a b c d e');
  });

  it('removes zero-width characters and keeps offsets', () => {
    const normalized = normalizeForPii(`ab${ZERO_WIDTH_SPACE}cd\u2060e\ufeff`);
    assert.equal(normalized.text, 'abcde');
    assert.deepEqual(originalRange(normalized, 1, 4), { start: 1, end: 5 });
    assert.deepEqual(originalRange(normalized, 4, 5), { start: 6, end: 7 });
  });

  it('folds full-width and mathematical forms', () => {
    const normalized = normalizeForPii('ＤＥ８９ x\u{1d7d7}');
    assert.equal(normalized.text, 'DE89 x9');
    assert.deepEqual(originalRange(normalized, 6, 7), { start: 6, end: 8 });
  });

  it('keeps letter case and other scripts', () => {
    assert.equal(normalizeForPii('Müller 東京 De').text, 'Müller 東京 De');
  });

  it('canonical value ignores spacing, width and case', () => {
    const plain = canonicalPiiValue('DE89 3704 0044 0532 0130 00');
    assert.equal(plain, 'DE89370400440532013000');
    assert.equal(canonicalPiiValue(fullWidth('de89') + `${NO_BREAK_SPACE}3704${ZERO_WIDTH_SPACE}004405320130-00`), plain);
  });
});

describe('scanPii on Unicode forms', () => {
  const iban = 'DE89 3704 0044 0532 0130 00';

  it('finds an IBAN with no-break or thin spaces', () => {
    for (const space of [NO_BREAK_SPACE, THIN_SPACE, NARROW_NO_BREAK_SPACE]) {
      const written = iban.replaceAll(' ', space);
      assert.deepEqual(found(`IBAN: ${written}.`), [['IBAN', written]], `separator U+${space.charCodeAt(0).toString(16)}`);
    }
  });

  it('finds a lowercase IBAN', () => {
    assert.deepEqual(found('pay to de89370400440532013000 today'), [['IBAN', 'de89370400440532013000']]);
  });

  it('finds an IBAN with a zero-width space', () => {
    const written = `DE8937040044${ZERO_WIDTH_SPACE}0532013000`;
    assert.deepEqual(found(`IBAN ${written}`), [['IBAN', written]]);
  });

  it('finds a full-width IBAN', () => {
    const written = fullWidth('DE89370400440532013000');
    assert.deepEqual(found(`IBAN ${written}`), [['IBAN', written]]);
    const grouped = fullWidth(iban).replaceAll(' ', '\u3000');
    assert.deepEqual(found(`IBAN ${grouped}`), [['IBAN', grouped]]);
  });

  it('finds a card with thin or no-break spaces', () => {
    for (const space of [THIN_SPACE, NO_BREAK_SPACE, NARROW_NO_BREAK_SPACE]) {
      const written = ['4111', '1111', '1111', '1111'].join(space);
      assert.deepEqual(found(`card ${written} exp`), [['CREDIT_CARD', written]], `separator U+${space.charCodeAt(0).toString(16)}`);
    }
  });

  it('finds an email with a full-width at sign', () => {
    assert.deepEqual(found('mail anna.schmidt＠example.com now'), [['EMAIL_ADDRESS', 'anna.schmidt＠example.com']]);
    const written = fullWidth('anna@example') + '.com';
    assert.deepEqual(found(`mail ${written}`), [['EMAIL_ADDRESS', written]]);
  });

  it('keeps offsets after an expanding character', () => {
    // NFKC turns U+FB01 into "fi" and U+00BD into "1⁄2", which shifts the normalized text.
    const text = `\ufb01le \u00bd IBAN ${iban.replaceAll(' ', NO_BREAK_SPACE)}`;
    const [finding] = scanPii(text);
    assert.equal(finding.entityType, 'IBAN');
    assert.equal(finding.start, text.indexOf('DE89'));
    assert.equal(finding.end, text.length);
  });
});

describe('redaction of Unicode forms', () => {
  const written = `DE89${THIN_SPACE}3704${THIN_SPACE}0044${THIN_SPACE}0532${THIN_SPACE}0130${THIN_SPACE}00`;
  const text = `IBAN ${written}, card 4111${NO_BREAK_SPACE}1111${NO_BREAK_SPACE}1111${NO_BREAK_SPACE}1111.`;

  it('masks the original characters', () => {
    assert.equal(redactText(text, scanPii(text), { mode: 'mask' }), 'IBAN [IBAN], card [CREDIT_CARD].');
  });

  it('hashes forms of one value alike', () => {
    const options = { mode: 'hash' as const, hashKey: 'test-key' };
    const hashed = redactText(`IBAN ${written}`, scanPii(`IBAN ${written}`), options);
    const plain = redactText('IBAN DE89370400440532013000', scanPii('IBAN DE89370400440532013000'), options);
    const wide = fullWidth('DE89370400440532013000');
    assert.equal(hashed, plain);
    assert.equal(redactText(`IBAN ${wide}`, scanPii(`IBAN ${wide}`), options), plain);
  });

  it('gives forms of one value one placeholder', () => {
    const map = new PlaceholderMap();
    const replaced = redactWithPlaceholders(`${text} again de89370400440532013000`, scanPii(`${text} again de89370400440532013000`), map);
    assert.equal(replaced, 'IBAN <IBAN_1>, card <CREDIT_CARD_1>. again <IBAN_1>');
    assert.equal(map.valueOf('<IBAN_1>'), written);
  });
});
