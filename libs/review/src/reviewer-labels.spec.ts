import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReviewerLabels } from './reviewer-labels.js';

const MASTER_KEY = Buffer.alloc(32, 7);

describe('ReviewerLabels', () => {
  const labels = new ReviewerLabels(MASTER_KEY);

  it('hides the subject', () => {
    const label = labels.label('bank-a', 'jane.reviewer@bank-a.example');
    assert.match(label, /^[0-9a-f]{16}$/);
    assert.equal(label.includes('jane'), false);
  });

  it('is stable for one reviewer', () => {
    assert.equal(labels.label('bank-a', 'alice'), labels.label('bank-a', 'alice'));
    assert.equal(labels.label('bank-a', ' Alice '), labels.label('bank-a', 'alice'));
  });

  it('differs between tenants', () => {
    assert.notEqual(labels.label('bank-a', 'alice'), labels.label('bank-b', 'alice'));
  });

  it('differs between master keys', () => {
    const other = new ReviewerLabels(Buffer.alloc(32, 8));
    assert.notEqual(other.label('bank-a', 'alice'), labels.label('bank-a', 'alice'));
  });
});
