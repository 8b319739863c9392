import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IBAN_LENGTH_BY_COUNTRY } from './iban-registry.js';
import { IbanRecognizer } from './iban.recognizer.js';

function spans(text: string): Array<[number, number]> {
  return new IbanRecognizer().scan(text).map((finding) => [finding.start, finding.end]);
}

describe('IbanRecognizer', () => {
  it('finds electronic and grouped forms', () => {
    assert.deepEqual(spans('DE89370400440532013000'), [[0, 22]]);
    assert.deepEqual(spans('pay to GB29 NWBK 6016 1331 9268 19 today'), [[7, 34]]);
    assert.deepEqual(spans('IBAN:NO9386011117947.'), [[5, 20]]);
  });

  it('accepts dash groups but not mixed separators', () => {
    assert.deepEqual(spans('DE89-3704-0044-0532-0130-00'), [[0, 27]]);
    assert.deepEqual(spans('DE89 3704-0044 0532 0130 00'), []);
    assert.deepEqual(spans('DE89  3704 0044 0532 0130 00'), []);
    assert.deepEqual(spans('DE89/3704/0044/0532/0130/00'), []);
  });

  it('rejects a dash-joined continuation', () => {
    assert.deepEqual(spans('DE89-3704-0044-0532-0130-00-17'), []);
  });

  it('stops at the country length', () => {
    assert.deepEqual(spans('VG96 VPVG 0000 0123 4567 8901 X'), [[0, 29]]);
    assert.deepEqual(spans('DE89 3704 0044 0532 0130 00 12'), [[0, 27]]);
  });

  it('rejects glued letters and digits', () => {
    assert.deepEqual(spans('XDE89370400440532013000'), []);
    assert.deepEqual(spans('DE89370400440532013000X'), []);
    assert.deepEqual(spans('DE893704004405320130001'), []);
  });

  it('rejects a wrong checksum or length', () => {
    assert.deepEqual(spans('DE89370400440532013001'), []);
    assert.deepEqual(spans('DE8937040044053201300'), []);
  });

  it('rejects countries outside the registry', () => {
    assert.deepEqual(spans('AM47212110090000000235698740'), []);
    assert.deepEqual(spans('US64SVBKUS6S3300958879'), []);
  });

  it('accepts an all-lowercase IBAN', () => {
    assert.deepEqual(spans('de89370400440532013000'), [[0, 22]]);
    assert.deepEqual(spans('iban: gb29 nwbk 6016 1331 9268 19'), [[6, 33]]);
  });

  it('rejects mixed-case letters', () => {
    assert.deepEqual(spans('GB29 nwbk 6016 1331 9268 19'), []);
    assert.deepEqual(spans('De89370400440532013000'), []);
  });

  it('rejects a lowercase IBAN with a bad checksum', () => {
    assert.deepEqual(spans('de89370400440532013001'), []);
  });

  it('rejects check digits 00, 01 and 99', () => {
    // DE98… and DE01… satisfy MOD 97 for the same BBAN, so only the range check rejects DE01.
    assert.deepEqual(spans('DE98370400440532010025'), [[0, 22]]);
    assert.deepEqual(spans('DE01370400440532010025'), []);
    assert.deepEqual(spans('DE00370400440532010043'), []);
  });

  it('reports score 1 and no matched text', () => {
    const [finding] = new IbanRecognizer().scan('DE89370400440532013000');
    assert.equal(finding.score, 1);
    assert.equal(finding.recognizer, 'iban');
    assert.equal(finding.entityType, 'IBAN');
    assert.equal('text' in finding, false);
  });

  it('registry lengths are within ISO 13616 limits', () => {
    assert.equal(IBAN_LENGTH_BY_COUNTRY.size, 89);
    for (const [country, length] of IBAN_LENGTH_BY_COUNTRY) {
      assert.match(country, /^[A-Z]{2}$/);
      assert.ok(length >= 15, `${country} length ${length} is below 15`);
      assert.ok(length <= 34, `${country} length ${length} is above 34`);
    }
  });
});
