import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateExpression, ExpressionError, parseExpression, referencedNames } from './expression.js';

const run = (text: string, values: Record<string, number | null> = {}) => evaluateExpression(parseExpression(text), values);

describe('expression evaluator', () => {
  it('follows operator precedence and parentheses', () => {
    assert.equal(run('1 + 2 * 3'), 7);
    assert.equal(run('(1 + 2) * 3'), 9);
    assert.equal(run('10 - 4 - 3'), 3);
    assert.equal(run('24 / 4 / 2'), 3);
    assert.equal(run('-2 * -3'), 6);
    assert.equal(run('2.5e2 / 10'), 25);
  });

  it('reads feature values by name', () => {
    assert.equal(run('amount / amount_mean_30d', { amount: 300, amount_mean_30d: 100 }), 3);
  });

  it('returns null for missing values and division by zero', () => {
    assert.equal(run('amount / mean', { amount: 5 }), null);
    assert.equal(run('amount / mean', { amount: 5, mean: null }), null);
    assert.equal(run('amount / count', { amount: 5, count: 0 }), null);
  });

  it('evaluates the functions', () => {
    assert.equal(run('abs(-3)'), 3);
    assert.equal(run('min(4, 2, 9)'), 2);
    assert.equal(run('max(4, 2, 9)'), 9);
    assert.equal(run('coalesce(x, 7)', { x: null }), 7);
    assert.equal(run('coalesce(x, 7)', { x: 1 }), 1);
    assert.equal(run('log1p(0)'), 0);
    assert.equal(run('log1p(-1)'), null);
  });

  it('lists the names it reads', () => {
    assert.deepEqual(referencedNames(parseExpression('a / (b + a) * max(c, 1)')), ['a', 'b', 'c']);
  });

  it('rejects code and malformed text with the position', () => {
    const cases: [string, RegExp][] = [
      ['process.exit(1)', /unexpected character "\." at position 8/],
      ['amount +', /expected a number, name or "\(" at position 9/],
      ['(1 + 2', /expected "\)" at position 7/],
      ['eval(1)', /unknown function eval/],
      ['min(1)', /min takes 2 to 16 arguments, got 1/],
      ['1 2', /unexpected 2 at position 3/],
      ['a["b"]', /unexpected character "\["/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseExpression(text), (error: unknown) => error instanceof ExpressionError && message.test(error.message), text);
    }
  });

  it('rejects overlong text', () => {
    assert.throws(() => parseExpression('1+'.repeat(300) + '1'), /longer than 500 characters/);
  });
});
