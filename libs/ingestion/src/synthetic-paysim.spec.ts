import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generatePaysim } from './synthetic-paysim.js';

describe('generatePaysim', () => {
  it('repeats rows for a seed', () => {
    assert.deepEqual(generatePaysim({ rows: 200, seed: 3 }), generatePaysim({ rows: 200, seed: 3 }));
    assert.notDeepEqual(generatePaysim({ rows: 200, seed: 3 }), generatePaysim({ rows: 200, seed: 4 }));
  });

  it('sorts by step with times from it', () => {
    const rows = generatePaysim({ rows: 500, seed: 1, hours: 10 });
    assert.equal(rows.length, 500);
    for (let index = 1; index < rows.length; index++) assert.ok((rows[index].step as number) >= (rows[index - 1].step as number));
    for (const row of rows) assert.equal(row.event_time, new Date(Date.parse('2026-01-01T00:00:00Z') + (row.step as number) * 3_600_000).toISOString());
  });

  it('drains the victim account in fraud', () => {
    const rows = generatePaysim({ rows: 4000, seed: 2 });
    const fraud = rows.filter((row) => row.is_fraud === 1);
    assert.ok(fraud.length > 40, `fraud rows ${fraud.length}`);
    for (const row of fraud.filter((entry) => entry.type === 'TRANSFER')) {
      assert.equal(row.amount, row.old_balance_orig);
      assert.equal(row.new_balance_orig, 0);
    }
  });

  it('rejects bad options by field', () => {
    const cases: [Parameters<typeof generatePaysim>[0], string][] = [
      [{ rows: 1, seed: 1 }, 'rows'],
      [{ rows: 10, seed: 1.5 }, 'seed'],
      [{ rows: 10, seed: 1, fraudRate: 0.9 }, 'fraudRate'],
    ];
    for (const [options, field] of cases) {
      assert.throws(() => generatePaysim(options), (error: { fieldErrors?: { field: string }[] }) => error.fieldErrors?.[0]?.field === field, field);
    }
  });
});
