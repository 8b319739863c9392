import { Extensions1796342400000 } from './1796342400000-Extensions.js';
import { Ledger1796342400100 } from './1796342400100-Ledger.js';
import { Ingestion1796342400200 } from './1796342400200-Ingestion.js';
import { ModelRegistry1796342400300 } from './1796342400300-ModelRegistry.js';
import { Decisions1796342400400 } from './1796342400400-Decisions.js';
import { ModelTenant1796342400500 } from './1796342400500-ModelTenant.js';
import { MerkleTree1796342400600 } from './1796342400600-MerkleTree.js';
import { Checkpoints1796342400700 } from './1796342400700-Checkpoints.js';
import { Review1796342400800 } from './1796342400800-Review.js';
import { Retrieval1796342400900 } from './1796342400900-Retrieval.js';
import { LlmUsage1796342401000 } from './1796342401000-LlmUsage.js';
import { Answers1796342401100 } from './1796342401100-Answers.js';
import { PlaceholderVault1796342401150 } from './1796342401150-PlaceholderVault.js';
import { Retention1796342401160 } from './1796342401160-Retention.js';
import { FeatureStore1796342401200 } from './1796342401200-FeatureStore.js';
import { SubjectKeys1796342401400 } from './1796342401400-SubjectKeys.js';
import { HoldText1796342401500 } from './1796342401500-HoldText.js';
import { VaultSubjectKeys1796342401600 } from './1796342401600-VaultSubjectKeys.js';
import { ReviewEntryIndex1796342401700 } from './1796342401700-ReviewEntryIndex.js';
import { ChainVerifiedIndex1796342401800 } from './1796342401800-ChainVerifiedIndex.js';
import { DecisionRecordJson1796342401900 } from './1796342401900-DecisionRecordJson.js';
import { LedgerPayloadJson1796342402000 } from './1796342402000-LedgerPayloadJson.js';
import { ExportIndexes1796342402100 } from './1796342402100-ExportIndexes.js';
import { DenialEntryIndex1796342402200 } from './1796342402200-DenialEntryIndex.js';
import { Lz4Compression1796342402300 } from './1796342402300-Lz4Compression.js';
import { DatasetRetentionIndexes1796342402400 } from './1796342402400-DatasetRetentionIndexes.js';
import { LedgerPayloadTextCheck1796342402500 } from './1796342402500-LedgerPayloadTextCheck.js';

/** Every migration, in the order they apply. TypeORM also orders them by the timestamp in the name. */
export const ALL_MIGRATIONS = [
  Extensions1796342400000,
  Ledger1796342400100,
  Ingestion1796342400200,
  ModelRegistry1796342400300,
  Decisions1796342400400,
  ModelTenant1796342400500,
  MerkleTree1796342400600,
  Checkpoints1796342400700,
  Review1796342400800,
  Retrieval1796342400900,
  LlmUsage1796342401000,
  Answers1796342401100,
  PlaceholderVault1796342401150,
  Retention1796342401160,
  FeatureStore1796342401200,
  SubjectKeys1796342401400,
  HoldText1796342401500,
  VaultSubjectKeys1796342401600,
  ReviewEntryIndex1796342401700,
  ChainVerifiedIndex1796342401800,
  DecisionRecordJson1796342401900,
  LedgerPayloadJson1796342402000,
  ExportIndexes1796342402100,
  DenialEntryIndex1796342402200,
  Lz4Compression1796342402300,
  DatasetRetentionIndexes1796342402400,
  LedgerPayloadTextCheck1796342402500,
];
