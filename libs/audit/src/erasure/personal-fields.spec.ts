import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { digestJson } from '../../../common/src/index.js';
import { ERASED, openPersonalFields, SEALED, sealPersonalFields, type PersonalFieldsRecord } from './personal-fields.js';
import type { SubjectKeyState } from './subject-keys.js';

function record(): PersonalFieldsRecord & { outcome: string } {
  const featureValues = { age_years: 41, credit_amount: 9000, purpose: 'A40' };
  return {
    id: randomUUID(),
    tenant: 'bank-a',
    outcome: 'DECLINE',
    attributions: [{ value: '9000' }, { value: 'A40' }],
    lineage: { inputDigest: digestJson(featureValues), featureValues },
  };
}

describe('sealPersonalFields', () => {
  const key = { keyId: randomUUID(), key: randomBytes(32) };
  const active: Map<string, SubjectKeyState> = new Map([[key.keyId, { state: 'active', key: key.key }]]);

  it('replaces every personal value', () => {
    const plain = record();
    const sealed = sealPersonalFields(plain, 'C-1029384', key);
    assert.deepEqual(sealed.lineage.featureValues, { age_years: SEALED, credit_amount: SEALED, purpose: SEALED });
    assert.equal(sealed.lineage.inputDigest, SEALED);
    assert.deepEqual(sealed.attributions, [{ value: SEALED }, { value: SEALED }]);
    assert.equal(sealed.outcome, 'DECLINE');
    assert.equal(JSON.stringify(sealed).includes('C-1029384'), false);
    assert.equal(JSON.stringify(sealed).includes('9000'), false);
  });

  it('opens with the subject key', () => {
    const plain = record();
    const opened = openPersonalFields(sealPersonalFields(plain, 'C-1029384', key), active);
    assert.equal(opened.state, 'open');
    assert.equal(opened.subjectId, 'C-1029384');
    assert.deepEqual(opened.record.lineage, plain.lineage);
    assert.deepEqual(opened.record.attributions, plain.attributions);
  });

  it('reads as erased without the key', () => {
    const sealed = sealPersonalFields(record(), 'C-1029384', key);
    const erased: Map<string, SubjectKeyState> = new Map([[key.keyId, { state: 'erased', erasedAt: new Date(), ledgerSeq: 9 }]]);
    for (const keys of [erased, new Map<string, SubjectKeyState>()]) {
      const opened = openPersonalFields(sealed, keys);
      assert.equal(opened.state, 'erased');
      assert.equal(opened.subjectId, null);
      assert.deepEqual(opened.record.lineage.featureValues, { age_years: ERASED, credit_amount: ERASED, purpose: ERASED });
      assert.deepEqual(opened.record.attributions, [{ value: ERASED }, { value: ERASED }]);
    }
  });

  it('reads a ciphertext moved to another record as erased', () => {
    const sealed = sealPersonalFields(record(), 'C-1029384', key);
    const moved = { ...record(), personal: sealed.personal };
    assert.equal(openPersonalFields(moved, active).state, 'erased');
  });

  it('reads a changed ciphertext as erased', () => {
    const sealed = sealPersonalFields(record(), 'C-1029384', key);
    const bytes = Buffer.from(sealed.personal!.sealed, 'base64');
    bytes[20] ^= 1;
    assert.equal(openPersonalFields({ ...sealed, personal: { ...sealed.personal!, sealed: bytes.toString('base64') } }, active).state, 'erased');
  });

  it('seals and opens feature-view reads', () => {
    const requestValues = { amount: 181, name_orig: 'C-840083671', name_dest: 'C-38997010', event_time: '2026-01-01T10:00:00.000Z' };
    const plain = {
      ...record(),
      lineage: {
        inputDigest: digestJson(requestValues),
        featureValues: { log_amount: 5.2 },
        requestValues,
        featureReads: [{ view: 'payee-activity', viewVersion: '1', entityKey: 'C-38997010', asOf: requestValues.event_time, windowEnd: '2026-01-01T10:00:00.000Z', values: { tx_count_24h: 3, amount_sum_24h: null } }],
      },
    };
    const sealed = sealPersonalFields(plain, 'C-840083671', key);
    assert.deepEqual(sealed.lineage.requestValues, { amount: SEALED, name_orig: SEALED, name_dest: SEALED, event_time: SEALED });
    assert.deepEqual(sealed.lineage.featureReads, [
      { view: 'payee-activity', viewVersion: '1', entityKey: SEALED, asOf: SEALED, windowEnd: SEALED, values: { tx_count_24h: SEALED, amount_sum_24h: SEALED } },
    ]);
    assert.equal(JSON.stringify(sealed).includes('C-38997010'), false);

    assert.deepEqual(openPersonalFields(sealed, active).record.lineage, plain.lineage);
    const erased = openPersonalFields(sealed, new Map()).record.lineage;
    assert.equal(erased.featureReads[0].entityKey, ERASED);
    assert.equal(erased.featureReads[0].view, 'payee-activity');
    assert.equal(erased.requestValues.amount, ERASED);
  });

  it('seals the question and text of an answer', () => {
    const plain = {
      id: randomUUID(),
      tenant: 'bank-a',
      attributions: [],
      lineage: { inputDigest: digestJson('q'), featureValues: { question: 'Can Jane Roe get a loan?', draft_answer: 'Jane Roe may apply.', source_1: '12 CFR 1002.9: notice' } },
      answer: { question: 'Can Jane Roe get a loan?', text: 'Jane Roe may apply.', sentences: [{ sentence: 'Jane Roe may apply.', supported: true }], citations: [{ chunkId: 'c1' }] },
    };
    const sealed = sealPersonalFields(plain, 'C-77', key);
    assert.equal(JSON.stringify(sealed).includes('Jane Roe'), false);
    assert.equal(sealed.lineage.featureValues.source_1, '12 CFR 1002.9: notice');
    assert.deepEqual(sealed.answer.sentences, [{ sentence: SEALED, supported: true }]);
    assert.deepEqual(sealed.answer.citations, plain.answer.citations);

    const opened: Record<string, unknown> = { ...openPersonalFields(sealed, active).record };
    delete opened.personal;
    assert.deepEqual(opened, plain);
    const erased = openPersonalFields(sealed, new Map()).record;
    assert.deepEqual([erased.answer.question, erased.answer.text, erased.lineage.featureValues.question], [ERASED, ERASED, ERASED]);
  });

  it('leaves an unsealed record alone', () => {
    const plain = record();
    const opened = openPersonalFields(plain, active);
    assert.equal(opened.state, 'unsealed');
    assert.equal(opened.record, plain);
  });
});
