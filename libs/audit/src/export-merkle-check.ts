/**
 * The last check of an export before it signs: the exported ledger entries, with the multiproof
 * written to merkle-nodes.jsonl, must give the checkpoint's root hash, as every verifier computes
 * it. The chain check and the per-entry hash recheck cannot see an exported entry that was edited
 * and stored with its own recomputed hash before the newest recorded full verification, because
 * only the next entry's prevHash link breaks. The Merkle tree kept the entry's original leaf, so
 * the root differs, and the export fails instead of signing a bundle that no verifier accepts.
 */
import type { Worker } from 'node:worker_threads';
import { getLogger, IdleWorkerPool, nextReply } from '../../common/src/index.js';
import { exportedLeaf, multiproofGivesRoot } from './export-leaf-root.js';
import type { LedgerVerification } from './ledger.js';
import type { MerkleRangeHash } from './merkle/merkle-log.types.js';
import type { ProvenLeaf } from './merkle/multiproof.js';

/** The exported entries' seqs (ascending) and hashes, and the tree that the bundle proves them in. */
export interface ExportedLeaves {
  seqs: readonly number[];
  /** Lowercase hex entry hashes, in the order of `seqs`. */
  hashes: readonly string[];
  treeSize: number;
  rootHash: string;
}

/** Yields the multiproof of the given leaf indexes in batches, as ExportEvidence.multiproofNodes does. */
export type MultiproofSource = (leafIndexes: readonly number[], treeSize: number) => AsyncIterable<MerkleRangeHash[]>;

/**
 * Returns undefined when the exported leaves and `nodes` (the lines of merkle-nodes.jsonl, sorted
 * by start) give the checkpoint's root. Otherwise returns a failed verification that names the
 * first exported seq whose leaf is not in the tree, found by bisecting over prefixes of the leaves
 * with fresh multiproofs from `multiproof`. `wholeSetGivesRoot` is the result of a
 * BackgroundLeafCheck for the same leaves and nodes, when it returned one.
 */
export async function checkExportedLeaves(
  exported: ExportedLeaves,
  nodes: readonly MerkleRangeHash[],
  multiproof: MultiproofSource,
  wholeSetGivesRoot?: boolean,
): Promise<LedgerVerification | undefined> {
  if (wholeSetGivesRoot === true) return undefined;
  const leaves = exported.seqs.map((seq, i): ProvenLeaf => exportedLeaf(seq, exported.hashes[i]));
  if (wholeSetGivesRoot === undefined && multiproofGivesRoot(leaves, nodes, exported)) return undefined;

  // The whole set fails. Bisect for the shortest failing prefix, whose last leaf is then the first bad one.
  let low = 0;
  let high = leaves.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const prefix = leaves.slice(0, middle + 1);
    if (multiproofGivesRoot(prefix, await collectNodes(multiproof, prefix, exported.treeSize), exported)) low = middle + 1;
    else high = middle;
  }
  const seq = exported.seqs[low];
  return {
    ok: false,
    entries: 0,
    headSeq: 0,
    headHash: '',
    firstBadSeq: seq,
    problem: 'merkle-mismatch',
    reason:
      `the exported entry seq ${seq} with hash ${exported.hashes[low]} is not the leaf that the Merkle tree of the checkpoint ` +
      `(size ${exported.treeSize}) holds for it, so the ledger was rewritten after the tree recorded it. Run "warden audit verify"`,
  };
}

async function collectNodes(multiproof: MultiproofSource, leaves: readonly ProvenLeaf[], treeSize: number): Promise<MerkleRangeHash[]> {
  const nodes: MerkleRangeHash[] = [];
  for await (const batch of multiproof(leaves.map((leaf) => leaf.index), treeSize)) nodes.push(...batch);
  return nodes;
}

/** Message from BackgroundLeafCheck to its worker (export-leaf-check-worker.ts). */
export type LeafCheckMessage =
  | { type: 'start' }
  | { type: 'leaves'; seqs: Float64Array; hashes: string }
  | { type: 'check'; treeSize: number; rootHash: string; nodes: readonly MerkleRangeHash[] };

const leafWorkers = new IdleWorkerPool({
  moduleUrl: new URL('./export-leaf-check-worker.js', import.meta.url),
  name: 'warden leaf check',
  maxIdle: 2,
  idleMs: 60_000,
});

/**
 * The whole-set part of checkExportedLeaves, run in a worker thread that receives the exported
 * entries while the export reads them. The worker computes their Merkle leaf hashes then, on the
 * core that this thread does not use, and the root once the checkpoint and its multiproof are known,
 * while this thread writes the other files. A worker that fails leaves the check to
 * checkExportedLeaves on this thread: check() then resolves undefined.
 */
export class BackgroundLeafCheck {
  private readonly worker: Worker | undefined;
  private readonly result: Promise<boolean | undefined>;
  private failed = false;
  private settled = false;
  private disposed = false;

  constructor() {
    let worker: Worker | undefined;
    try {
      worker = leafWorkers.take();
    } catch (error) {
      getLogger('audit-export').warn({ err: error }, 'leaf check worker could not start, so the export checks the leaves on its own thread');
      worker = undefined;
    }
    this.worker = worker;
    if (worker === undefined) {
      this.failed = true;
      this.result = Promise.resolve(undefined);
      return;
    }
    const pending = nextReply<{ givesRoot: boolean }>(worker, 'leaf check');
    this.result = pending.reply.then(
      (message) => {
        this.settled = true;
        leafWorkers.release(worker);
        return message.givesRoot;
      },
      (error: unknown) => {
        if (!this.disposed) getLogger('audit-export').warn({ err: error }, 'leaf check worker failed, so the export checks the leaves on its own thread');
        this.failed = true;
        void worker.terminate();
        return undefined;
      },
    );
    worker.postMessage({ type: 'start' } satisfies LeafCheckMessage);
  }

  /** Sends the exported entries seqs[from..] with their hashes (64 lowercase hex characters each). */
  add(seqs: readonly number[], hashes: readonly string[], from: number): void {
    if (this.failed || this.worker === undefined || from >= seqs.length) return;
    this.worker.postMessage({ type: 'leaves', seqs: Float64Array.from(seqs.slice(from)), hashes: hashes.slice(from).join('') } satisfies LeafCheckMessage);
  }

  /**
   * Resolves whether every entry sent, with `nodes`, gives the root hash of the tree of `treeSize`
   * leaves; undefined when the worker failed.
   */
  check(treeSize: number, rootHash: string, nodes: readonly MerkleRangeHash[]): Promise<boolean | undefined> {
    if (!this.failed && this.worker !== undefined) this.worker.postMessage({ type: 'check', treeSize, rootHash, nodes } satisfies LeafCheckMessage);
    return this.result;
  }

  /** Ends the worker of an export that failed before its check replied. check() then resolves undefined. */
  dispose(): void {
    if (this.settled || this.failed) return;
    this.disposed = true;
    // The worker's exit rejects the pending reply, so check() resolves undefined.
    void this.worker?.terminate();
  }
}
