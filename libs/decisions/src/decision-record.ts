import type { PersonalDataState } from '../../audit/src/index.js';
import type { FeatureVector } from '../../feature-store/src/index.js';
import type { DecisionReviewSummary } from '../../review/src/index.js';
import type { Outcome } from './outcome.js';

export interface ReasonCodeView {
  code: string;
  description: string;
  contribution: number;
}

export interface AttributionView {
  feature: string;
  value: string;
  contribution: number;
}

/** Inputs and versions a decision ran on: enough to recompute it and to prove what it used. */
export interface DecisionLineageRecord {
  inputDigest: string;
  featureValues: Record<string, string | number>;
  droppedFields: string[];
  modelVersion: string;
  modelArtifactSha256: string;
  datasetVersion: string;
  useCaseVersion: string;
  useCaseConfigHash: string;
  policyHash: string;
  reasonCodeMapHash: string;
  /** Logit of the approval cut-off: the reference point the attributions are measured from. */
  referenceLogit: number;
  /**
   * For a use case that reads feature views: the validated request (whose digest is inputDigest)
   * and each view's online read, with the view version, hash, entity, as-of time and values.
   * `featureValues` are then the model inputs computed from both.
   */
  requestValues?: Record<string, string | number>;
  featureReads?: FeatureVector[];
}

/**
 * The immutable record of one decision. Its SHA-256 (canonical JSON) is the `recordDigest` that
 * the ledger entry carries; ledger fields are not part of it because they are assigned after.
 */
export interface DecisionRecord {
  id: string;
  tenant: string;
  actor: string;
  useCase: string;
  requestId: string | null;
  outcome: Outcome;
  score: number;
  reasonCodes: ReasonCodeView[];
  attributions: AttributionView[];
  /** PENDING when a routing rule opened a review case, which the record's ledger entry names. */
  reviewStatus: 'PENDING' | 'NOT_REQUIRED';
  modelVersion: string;
  policyVersion: string;
  createdAt: string;
  lineage: DecisionLineageRecord;
  /**
   * Set when the use case names a data subject: the subject key id and the encrypted personal
   * fields, which the stored record replaces with `sealed` (see sealPersonalFields).
   */
  personal?: { keyId: string; sealed: string };
}

/**
 * A decision as the API returns it: the record plus its ledger receipt and, when a person reviewed
 * it, the review. The record's own outcome is never changed; `finalOutcome` is the reviewer's.
 */
export interface DecisionView extends Omit<DecisionRecord, 'createdAt' | 'lineage' | 'reviewStatus'> {
  createdAt: Date;
  reviewStatus: 'PENDING' | 'NOT_REQUIRED' | 'COMPLETED';
  /** The final outcome: the reviewer's once the case is decided, the automatic one when no review is needed, null while pending. */
  finalOutcome: Outcome | null;
  review: DecisionReviewSummary | null;
  ledgerSeq: number;
  ledgerHash: string;
  lineage: DecisionLineageRecord & { recordDigest: string };
  /** `erased` once the data subject was erased: the personal fields then read as `erased`. */
  personalData: PersonalDataState;
}

export interface ReplayReport {
  decisionId: string;
  identical: boolean;
  /** Set (true) only when the inputs were erased with their data subject, so the decision could not be recomputed. */
  erased?: true;
  differences: { field: string; recorded: string; replayed: string }[];
}
