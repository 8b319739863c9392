import type { CheckpointKeyStore } from './checkpoints/checkpoint-keys.js';
import type { CheckpointService } from './checkpoints/checkpoint.service.js';
import type { ExportEvidence } from './export-bundle.js';
import type { MerkleLog } from './merkle/merkle-log.types.js';

/**
 * Builds the evidence an export needs from the live ledger. When the latest checkpoint does not
 * cover the newest exported entry, a new checkpoint is created (and published to the witnesses)
 * on behalf of `actor`.
 */
export function createExportEvidence(checkpoints: CheckpointService, merkle: MerkleLog, keys: CheckpointKeyStore, actor: string): ExportEvidence {
  return {
    async checkpointCovering(minTreeSize) {
      const latest = await checkpoints.latest();
      if (latest && latest.treeSize >= minTreeSize) return latest;
      return checkpoints.create(actor);
    },
    multiproofNodes: (leafIndexes, treeSize) => merkle.multiproofNodes(leafIndexes, treeSize),
    verifierKeys: () => keys.list(),
    async manifestSigner() {
      return (await keys.activeKey(await checkpoints.logOrigin())).signer;
    },
  };
}
