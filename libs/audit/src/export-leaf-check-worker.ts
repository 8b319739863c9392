/**
 * Worker thread of BackgroundLeafCheck. `start` begins an export's check, `leaves` adds exported
 * entries (their seqs, and their hashes as one string of 64 hex characters each), and `check`
 * replies whether the leaves with the multiproof nodes give the checkpoint's root. It then waits
 * for the next export's `start`.
 */
import { parentPort } from 'node:worker_threads';
import { exportedLeaf, multiproofGivesRoot } from './export-leaf-root.js';
import type { LeafCheckMessage } from './export-merkle-check.js';
import type { ProvenLeaf } from './merkle/multiproof.js';

const HEX_HASH_LENGTH = 64;
let leaves: ProvenLeaf[] | undefined;

/** Returns the leaves of the check in progress. A message out of order ends the worker with an error. */
function current(): ProvenLeaf[] {
  if (leaves === undefined) throw new Error('the leaf check worker received leaves or check before start');
  return leaves;
}

parentPort?.on('message', (message: LeafCheckMessage) => {
  if (message.type === 'start') {
    leaves = [];
  } else if (message.type === 'leaves') {
    const added = current();
    if (message.hashes.length !== message.seqs.length * HEX_HASH_LENGTH) {
      throw new Error(`the leaf check worker received ${message.seqs.length} seqs with ${message.hashes.length} hash characters`);
    }
    for (let i = 0; i < message.seqs.length; i += 1) {
      added.push(exportedLeaf(message.seqs[i], message.hashes.slice(i * HEX_HASH_LENGTH, (i + 1) * HEX_HASH_LENGTH)));
    }
  } else {
    const givesRoot = multiproofGivesRoot(current(), message.nodes, message);
    leaves = undefined;
    parentPort?.postMessage({ givesRoot });
  }
});
