/**
 * A Merkle multiproof: one proof that many leaves are in the same RFC 6962 tree. The root is
 * computed by the recursion of RFC 6962 section 2.1,
 *
 *   node(s, e) = leaf hash                                   when e - s = 1
 *   node(s, e) = SHA-256(0x01 || node(s, s+k) || node(s+k, e)), k the largest power of two < e - s
 *
 * starting at node(0, treeSize). A range that contains a proven leaf is computed from its halves
 * (or is that leaf). A range that contains none is not split: its hash comes from the proof. The
 * proof is therefore the list of those ranges with their hashes. No range in it contains another,
 * so sorting by start gives one order. Every proven leaf's RFC 6962 audit path is among the nodes
 * that the recursion visits, so each leaf's standard inclusion proof can be rebuilt from them.
 */
import { BadUserInputError } from '../../../common/src/errors.js';
import { hashMerkleChildren, largestPowerOfTwoBelow, type LeafRange } from './rfc6962.js';

/** A leaf that a multiproof proves: its 0-based index and its leaf hash. */
export interface ProvenLeaf {
  index: number;
  hash: Uint8Array;
}

/** Outcome of computing a root from proven leaves and multiproof ranges. */
export interface MultiproofRoot {
  /** The root hash, or undefined when some range had no hash. */
  root: Uint8Array | undefined;
  /** Ranges that the computation needed but `rangeHash` did not return, in ascending start order. */
  missing: LeafRange[];
}

/**
 * Lists the ranges of the multiproof of `leafIndexes` in the tree of `treeSize` leaves, in
 * ascending start order. The indexes must be strictly ascending and below treeSize. No leaves
 * give no ranges. Contiguous leaves need at most two ranges per tree level, so at most
 * 2 * ceil(log2(treeSize)). For m scattered leaves the count is roughly m * log2(treeSize / m).
 */
export function multiproofRanges(leafIndexes: readonly number[], treeSize: number): LeafRange[] {
  assertMultiproofArguments(leafIndexes, treeSize);
  const ranges: LeafRange[] = [];
  if (leafIndexes.length === 0) return ranges;

  // Leaves leafIndexes[first..last) lie in [start, end). The depth is at most log2(treeSize) + 1.
  const walk = (start: number, end: number, first: number, last: number): void => {
    if (first === last) {
      ranges.push({ start, end });
      return;
    }
    if (end - start === 1) return;
    const split = start + largestPowerOfTwoBelow(end - start);
    const middle = lowerBound(leafIndexes, split, first, last);
    walk(start, split, first, middle);
    walk(split, end, middle, last);
  };
  walk(0, treeSize, 0, leafIndexes.length);
  return ranges;
}

/**
 * Computes node(0, treeSize) from the proven leaves, sorted by strictly ascending index below
 * treeSize, and the hashes that `rangeHash` returns for ranges without a proven leaf. `visit`, when
 * given, receives every node the recursion computes or reads, so a caller can rebuild audit paths.
 * Ranges for which `rangeHash` returns undefined are listed in `missing`, and the root is then
 * undefined. At least one leaf is required, because an empty multiproof determines nothing.
 */
export function computeMultiproofRoot(
  leaves: readonly ProvenLeaf[],
  treeSize: number,
  rangeHash: (range: LeafRange) => Uint8Array | undefined,
  visit?: (range: LeafRange, hash: Uint8Array) => void,
): MultiproofRoot {
  if (leaves.length === 0) throw new RangeError('a multiproof root needs at least one proven leaf');
  assertMultiproofArguments(leaves.map((leaf) => leaf.index), treeSize);
  const indexes = leaves.map((leaf) => leaf.index);
  const missing: LeafRange[] = [];

  const node = (start: number, end: number, first: number, last: number): Uint8Array | undefined => {
    let hash: Uint8Array | undefined;
    if (first === last) {
      hash = rangeHash({ start, end });
      if (hash === undefined) missing.push({ start, end });
    } else if (end - start === 1) {
      hash = leaves[first].hash;
    } else {
      const split = start + largestPowerOfTwoBelow(end - start);
      const middle = lowerBound(indexes, split, first, last);
      const left = node(start, split, first, middle);
      const right = node(split, end, middle, last);
      hash = left && right ? hashMerkleChildren(left, right) : undefined;
    }
    if (hash && visit) visit({ start, end }, hash);
    return hash;
  };
  return { root: node(0, treeSize, 0, leaves.length), missing };
}

/** Returns the first position in [first, last) of the sorted `values` whose value is >= target. */
function lowerBound(values: readonly number[], target: number, first: number, last: number): number {
  let low = first;
  let high = last;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle] < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

function assertMultiproofArguments(leafIndexes: readonly number[], treeSize: number): void {
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) {
    throw new BadUserInputError('The multiproof request is invalid. Fix the listed fields.', [
      { field: '/treeSize', message: `must be a non-negative integer, got ${String(treeSize)}` },
    ]);
  }
  let previous = -1;
  for (const [position, index] of leafIndexes.entries()) {
    if (!Number.isSafeInteger(index) || index <= previous || index >= treeSize) {
      throw new BadUserInputError('The multiproof request is invalid. Fix the listed fields.', [
        {
          field: `/leafIndexes/${position}`,
          message: `must be an integer after the previous index ${previous} and below treeSize ${treeSize}, got ${String(index)}`,
        },
      ]);
    }
    previous = index;
  }
}
