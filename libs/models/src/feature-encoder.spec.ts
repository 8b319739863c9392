import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadUserInputError } from '../../common/src/index.js';
import { FeatureEncoder, type FeatureSpec } from './feature-encoder.js';

const spec: FeatureSpec = {
  numeric: ['duration_months'],
  categorical: [{ name: 'checking_status', levels: ['A11', 'A12', 'A13', 'A14'] }],
};
const rows = [
  { duration_months: 6, checking_status: 'A11' },
  { duration_months: 12, checking_status: 'A14' },
  { duration_months: 24, checking_status: 'A12' },
];

describe('FeatureEncoder', () => {
  it('standardizes numerics with the training mean and std', () => {
    const encoder = FeatureEncoder.fit(spec, rows);
    // Mean 14, population variance (64 + 4 + 100) / 3 = 56.
    const state = encoder.toJSON();
    assert.equal(state.numeric[0].mean, 14);
    assert.equal(state.numeric[0].std, Math.sqrt(56));
    assert.deepEqual(Array.from(encoder.encode({ duration_months: 14, checking_status: 'A13' })), [0, 0, 0, 1, 0]);
  });

  it('names each encoded column', () => {
    const encoder = FeatureEncoder.fit(spec, rows);
    assert.deepEqual(
      encoder.columns.map((column) => [column.name, column.feature]),
      [
        ['duration_months', 'duration_months'],
        ['checking_status=A11', 'checking_status'],
        ['checking_status=A12', 'checking_status'],
        ['checking_status=A13', 'checking_status'],
        ['checking_status=A14', 'checking_status'],
      ],
    );
  });

  it('rejects an unknown level naming the allowed codes', () => {
    const encoder = FeatureEncoder.fit(spec, rows);
    assert.throws(
      () => encoder.encode({ duration_months: 6, checking_status: 'A15' }),
      (error: unknown) => {
        assert.ok(error instanceof BadUserInputError);
        assert.deepEqual(error.fieldErrors, [{ field: '/checking_status', message: 'must be one of A11, A12, A13, A14, got "A15"' }]);
        return true;
      },
    );
  });

  it('lists every invalid field at once', () => {
    const encoder = FeatureEncoder.fit(spec, rows);
    assert.throws(
      () => encoder.encode({ duration_months: '6' }),
      (error: unknown) => {
        assert.ok(error instanceof BadUserInputError);
        assert.deepEqual(
          error.fieldErrors.map((fieldError) => fieldError.field),
          ['/duration_months', '/checking_status'],
        );
        return true;
      },
    );
  });

  it('round-trips its state through JSON', () => {
    const encoder = FeatureEncoder.fit(spec, rows);
    const restored = FeatureEncoder.fromJSON(JSON.parse(JSON.stringify(encoder.toJSON())));
    const record = { duration_months: 30, checking_status: 'A12' };
    assert.deepEqual(restored.encode(record), encoder.encode(record));
    assert.equal(restored.stateHash(), encoder.stateHash());
    assert.deepEqual(restored.spec, spec);
  });

  it('rejects a constant numeric feature', () => {
    const constant = rows.map((row) => ({ ...row, duration_months: 12 }));
    assert.throws(() => FeatureEncoder.fit(spec, constant), /duration_months has the same value in every training row/);
  });

  it('rejects a spec that declares a level twice', () => {
    const repeated: FeatureSpec = { numeric: [], categorical: [{ name: 'housing', levels: ['A151', 'A151'] }] };
    assert.throws(() => FeatureEncoder.fit(repeated, rows), BadUserInputError);
  });
});
