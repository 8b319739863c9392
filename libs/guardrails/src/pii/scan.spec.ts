import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRecognizers, resolveOverlaps, scanPii, type PiiEntityType, type PiiFinding, type PiiRecognizer } from './index.js';

function finding(entityType: PiiEntityType, start: number, end: number, score: number, recognizer = 'test'): PiiFinding {
  return { entityType, start, end, score, recognizer };
}

describe('resolveOverlaps', () => {
  it('merges same span and type', () => {
    const accepted = resolveOverlaps([finding('IBAN', 0, 10, 0.5, 'low'), finding('IBAN', 0, 10, 0.9, 'high')]);
    assert.deepEqual(accepted, [finding('IBAN', 0, 10, 0.9, 'high')]);
  });

  it('keeps same span of different types', () => {
    const accepted = resolveOverlaps([finding('US_SSN', 0, 9, 0.3), finding('ABA_ROUTING_NUMBER', 0, 9, 0.4)]);
    assert.deepEqual(accepted.map((item) => item.entityType), ['ABA_ROUTING_NUMBER', 'US_SSN']);
  });

  it('drops a phone reading of a validated span', () => {
    const accepted = resolveOverlaps([finding('PHONE_NUMBER', 0, 11, 0.5), finding('US_SSN', 0, 11, 0.3), finding('US_BANK_ACCOUNT', 0, 11, 0.5)]);
    assert.deepEqual(accepted, [finding('US_SSN', 0, 11, 0.3)]);
  });

  it('keeps phone and account readings together', () => {
    const accepted = resolveOverlaps([finding('PHONE_NUMBER', 0, 10, 0.5), finding('US_BANK_ACCOUNT', 0, 10, 0.5)]);
    assert.deepEqual(accepted.map((item) => item.entityType), ['PHONE_NUMBER', 'US_BANK_ACCOUNT']);
  });

  it('lets the higher score win an overlap', () => {
    const accepted = resolveOverlaps([finding('PHONE_NUMBER', 2, 20, 0.5), finding('CREDIT_CARD', 0, 19, 1)]);
    assert.deepEqual(accepted, [finding('CREDIT_CARD', 0, 19, 1)]);
  });

  it('lets the longer span win a tie', () => {
    const accepted = resolveOverlaps([finding('US_SSN', 4, 13, 0.5), finding('PHONE_NUMBER', 0, 13, 0.5)]);
    assert.deepEqual(accepted, [finding('PHONE_NUMBER', 0, 13, 0.5)]);
  });

  it('keeps disjoint findings sorted by start', () => {
    const accepted = resolveOverlaps([finding('EMAIL_ADDRESS', 30, 40, 0.9), finding('IBAN', 0, 10, 1), finding('IP_ADDRESS', 10, 20, 0.6)]);
    assert.deepEqual(accepted.map((item) => item.start), [0, 10, 30]);
  });
});

describe('scanPii', () => {
  const prompt =
    'Customer Jane (jane.doe@example.com, +44 20 7946 0958) asks to move funds from DE89 3704 0044 0532 0130 00 ' +
    'to card 4111 1111 1111 1111. SSN 078-05-1123, DOB 1985-03-12, login from 203.0.113.7.';

  it('finds every entity in a mixed prompt', () => {
    const found = scanPii(prompt).map((item) => [item.entityType, prompt.slice(item.start, item.end)]);
    assert.deepEqual(found, [
      ['EMAIL_ADDRESS', 'jane.doe@example.com'],
      ['PHONE_NUMBER', '+44 20 7946 0958'],
      ['IBAN', 'DE89 3704 0044 0532 0130 00'],
      ['CREDIT_CARD', '4111 1111 1111 1111'],
      ['US_SSN', '078-05-1123'],
      ['DATE_OF_BIRTH', '1985-03-12'],
      ['IP_ADDRESS', '203.0.113.7'],
    ]);
  });

  it('never puts matched text in findings', () => {
    for (const item of scanPii(prompt)) {
      assert.deepEqual(Object.keys(item).sort(), ['end', 'entityType', 'recognizer', 'score', 'start']);
      assert.ok(item.score > 0, `score ${item.score} is not positive`);
      assert.ok(item.score <= 1, `score ${item.score} is above 1`);
    }
  });

  it('uses the given recognizers only', () => {
    const onlyEmail: PiiRecognizer[] = defaultRecognizers().filter((recognizer) => recognizer.entityTypes.includes('EMAIL_ADDRESS'));
    assert.deepEqual(scanPii(prompt, onlyEmail).map((item) => item.entityType), ['EMAIL_ADDRESS']);
  });

  it('returns nothing for legal citations', () => {
    const citations = ['Regulation (EU) 2024/1689, Article 16', '12 CFR 1002.9', 'Article 26(6)', 'Regulation (EU) 2016/679', '12 CFR 1002.12(b)(1)'];
    for (const citation of citations) assert.deepEqual(scanPii(citation), [], citation);
  });

  it('returns nothing for plain prose', () => {
    assert.deepEqual(scanPii('The committee approved the 2025 budget of 4.5 million after 3 rounds.'), []);
  });

  it('ignores digit runs inside UUIDs and hex digests', () => {
    // Decision ids and hashes appear in logs and error messages next to real personal data.
    const ids = [
      '2cc9b1c1-a4c0-42c7-8dc2-6f85e9ae1117',
      '20261204-5555-4d2d-8888-202555014300',
      'd468a22b18cd1f25c1f4d9289fb48b6a25067623ac3121b80e49a49628be1585',
    ];
    for (const id of ids) assert.deepEqual(scanPii(`Decision ${id} was not found.`), [], id);
    const mixed = scanPii(`Case 20261204-5555-4d2d-8888-202555014300 for SSN 078-05-1123`);
    assert.deepEqual(mixed.map((finding) => finding.entityType), ['US_SSN']);
  });

  it('names a distinct recognizer for each type', () => {
    const names = defaultRecognizers().map((recognizer) => recognizer.name);
    assert.equal(new Set(names).size, names.length);
  });
});
