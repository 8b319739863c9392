/**
 * Addressing of perfect (complete) subtrees, the only nodes Warden stores. Node (level, index)
 * covers leaves [index * 2^level, (index + 1) * 2^level), and level 0 contains the leaf hashes. A perfect
 * node never changes once its last leaf exists, so the stored tree only grows.
 */
import { hashMerkleChildren, isPowerOfTwo, type LeafRange } from './rfc6962.js';

export interface NodeAddress {
  level: number;
  index: number;
}

export interface MerkleNode extends NodeAddress {
  hash: Uint8Array;
}

/**
 * Splits [start, end) into perfect subtrees, largest first. The fold of their hashes from the right
 * is MTH(D[start:end]) when start is a multiple of the smallest power of two >= end - start, which
 * holds for every subtree that an RFC 6962 proof or root names. Other ranges raise a RangeError,
 * because their MTH splits differently.
 */
export function perfectSubtrees(range: LeafRange): NodeAddress[] {
  const size = range.end - range.start;
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(size) || range.start < 0 || size < 0) {
    throw new RangeError(`invalid leaf range [${range.start}, ${range.end})`);
  }
  if (size === 0) return [];

  let width = 1;
  let level = 0;
  while (width * 2 <= size) {
    width *= 2;
    level += 1;
  }
  const alignment = isPowerOfTwo(size) ? width : width * 2;
  if (range.start % alignment !== 0) {
    throw new RangeError(`leaf range [${range.start}, ${range.end}) is not a subtree of an RFC 6962 tree`);
  }

  const nodes: NodeAddress[] = [];
  let position = range.start;
  let remaining = size;
  while (remaining > 0) {
    if (remaining >= width) {
      nodes.push({ level, index: position / width });
      position += width;
      remaining -= width;
    }
    width /= 2;
    level -= 1;
  }
  return nodes;
}

/** Folds the hashes of a range's perfect subtrees, in perfectSubtrees order, into MTH of the range. */
export function foldSubtreeHashes(hashes: readonly Uint8Array[]): Uint8Array {
  let result = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i -= 1) result = hashMerkleChildren(hashes[i], result);
  return result;
}

/** Key of a node in maps: "level/index". */
export function nodeKey(node: NodeAddress): string {
  return `${node.level}/${node.index}`;
}

/**
 * Appends leaves to a tree and returns every perfect node they complete, level 0 included, in the
 * order they complete. `frontier` is the tree's current perfectSubtrees(0, size) with their hashes
 * and `firstLeafIndex` is that size.
 */
export function completedNodes(frontier: readonly MerkleNode[], firstLeafIndex: number, leafHashes: readonly Uint8Array[]): MerkleNode[] {
  const expected = perfectSubtrees({ start: 0, end: firstLeafIndex });
  if (expected.length !== frontier.length || expected.some((node, i) => node.level !== frontier[i].level || node.index !== frontier[i].index)) {
    throw new RangeError(`the frontier does not match a tree of ${firstLeafIndex} leaves`);
  }

  // Levels on the stack strictly decrease, so two equal levels on top are siblings.
  const stack: MerkleNode[] = [...frontier];
  const completed: MerkleNode[] = [];
  leafHashes.forEach((leafHash, offset) => {
    let node: MerkleNode = { level: 0, index: firstLeafIndex + offset, hash: leafHash };
    completed.push(node);
    while (stack.length > 0 && stack[stack.length - 1].level === node.level) {
      const left = stack.pop() as MerkleNode;
      node = { level: node.level + 1, index: left.index / 2, hash: hashMerkleChildren(left.hash, node.hash) };
      completed.push(node);
    }
    stack.push(node);
  });
  return completed;
}
