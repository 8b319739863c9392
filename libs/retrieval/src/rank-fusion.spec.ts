import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reciprocalRankFusion } from './rank-fusion.js';

const id = (value: string) => value;

describe('reciprocalRankFusion', () => {
  it('sums reciprocal ranks across lists', () => {
    const fused = reciprocalRankFusion([['a', 'b', 'c'], ['b', 'd']], id, { k: 60 });
    const scores = Object.fromEntries(fused.map((entry) => [entry.id, entry.score]));
    assert.equal(scores.a, 1 / 61);
    assert.equal(scores.b, 1 / 62 + 1 / 61);
    assert.equal(scores.c, 1 / 63);
    assert.equal(scores.d, 1 / 62);
    assert.deepEqual(fused.map((entry) => entry.id), ['b', 'a', 'd', 'c']);
  });

  it('reports 1-based ranks and null when absent', () => {
    const fused = reciprocalRankFusion([['a', 'b'], ['b']], id);
    const b = fused.find((entry) => entry.id === 'b')!;
    const a = fused.find((entry) => entry.id === 'a')!;
    assert.deepEqual(b.ranks, [2, 1]);
    assert.deepEqual(a.ranks, [1, null]);
  });

  it('breaks ties by best rank, then id', () => {
    // x is first in list 1 and y first in list 2: equal scores, equal best ranks, so id order.
    const fused = reciprocalRankFusion([['y'], ['x']], id);
    assert.deepEqual(fused.map((entry) => entry.id), ['x', 'y']);
    const unequal = reciprocalRankFusion([['p', 'q'], ['q', 'p']], id);
    assert.equal(unequal[0].score, unequal[1].score);
    assert.deepEqual(unequal.map((entry) => entry.id), ['p', 'q']);
  });

  it('counts a repeated item once per list', () => {
    const fused = reciprocalRankFusion([['a', 'a', 'b']], id, { k: 0 });
    assert.equal(fused.find((entry) => entry.id === 'a')!.score, 1);
    assert.deepEqual(fused.find((entry) => entry.id === 'a')!.ranks, [1]);
  });

  it('applies list weights', () => {
    const fused = reciprocalRankFusion([['a'], ['b']], id, { k: 0, weights: [1, 3] });
    assert.deepEqual(fused.map((entry) => [entry.id, entry.score]), [['b', 3], ['a', 1]]);
  });

  it('rejects a negative k', () => {
    assert.throws(() => reciprocalRankFusion([['a']], id, { k: -1 }), RangeError);
  });

  it('returns nothing for empty lists', () => {
    assert.deepEqual(reciprocalRankFusion([[], []], id), []);
  });
});
