import { FailedPreconditionError, getLogger } from '../../common/src/index.js';
import { computeDecisionReference } from '../../explain/src/index.js';
import type { IngestionService } from '../../ingestion/src/index.js';
import {
  exportLogisticRegressionOnnx,
  FeatureEncoder,
  OnnxScorer,
  scoreFromCoefficients,
  trainLogisticRegression,
  type FeatureSpec,
  type ModelRegistry,
  type TrainingMetrics,
} from '../../models/src/index.js';
import type { FeatureStore } from '../../feature-store/src/index.js';
import { readsFeatureViews } from './feature-view-use-case.js';
import { buildPointInTimeRows } from './point-in-time-training.js';
import { requireUseCase, type LoadedUseCase } from './use-case-config.js';

export interface TrainRequest {
  useCase: string;
  tenant: string;
  actor: string;
}

export interface TrainSummary {
  useCase: string;
  version: string;
  artifactSha256: string;
  dataset: string;
  datasetVersion: string;
  rowCount: number;
  features: string[];
  metrics: TrainingMetrics;
  /** Largest |ONNX score − coefficient score| over the training data; the artifact is rejected above 1e-9. */
  onnxMaxDeviation: number;
  /** For a use case with feature views: the view versions and hashes and the time the holdout starts at. */
  featureViews?: { view: string; version: string; hash: string }[];
  holdoutFromTime?: string;
  ledgerSeq: number;
}

/** The ONNX artifact must reproduce the coefficients' scores to this absolute tolerance. */
const ONNX_TOLERANCE = 1e-9;

/** Fewest labelled rows that training accepts; below this the holdout metrics mean little. */
const MIN_TRAINING_ROWS = 100;

/**
 * Trains a use case's logistic regression on the tenant's ingested records, exports it to ONNX,
 * checks that the artifact scores exactly like the coefficients, and registers the version.
 */
export class TrainingService {
  private readonly log = getLogger('training');

  constructor(
    private readonly useCases: Map<string, LoadedUseCase>,
    private readonly ingestion: IngestionService,
    private readonly registry: ModelRegistry,
    /** Needed by use cases that read feature views; their training rows come from the offline store. */
    private readonly features?: FeatureStore,
  ) {}

  async train(request: TrainRequest): Promise<TrainSummary> {
    const { config, configHash } = requireUseCase(this.useCases, request.useCase);
    const data = await this.ingestion.loadTrainingRows(request.tenant, config.dataset);
    const labelled = data.records.filter((record) => record[config.label.field] !== undefined && record[config.label.field] !== null);
    if (labelled.length < MIN_TRAINING_ROWS) {
      throw new FailedPreconditionError(
        `Training ${config.useCase} needs at least ${MIN_TRAINING_ROWS} labelled ${config.dataset} records in tenant ${request.tenant}, found ${labelled.length}. Ingest data first.`,
      );
    }

    const spec: FeatureSpec = {
      numeric: [...config.features.numeric, ...(config.features.computed ?? [])].map((feature) => feature.name),
      categorical: config.features.categorical.map((feature) => ({ name: feature.name, levels: feature.levels })),
    };
    let rows: readonly Record<string, unknown>[] = labelled;
    let holdoutFrom: number | undefined;
    let pointInTime: Record<string, unknown> = {};
    let featureViews: TrainSummary['featureViews'];
    let holdoutFromTime: string | undefined;
    if (readsFeatureViews(config)) {
      if (!this.features) throw new FailedPreconditionError(`Use case ${config.useCase} reads feature views, but this runtime has no feature store.`);
      const built = await buildPointInTimeRows(config, this.features, request, labelled);
      rows = built.rows;
      holdoutFrom = built.holdoutFrom;
      featureViews = built.views;
      holdoutFromTime = built.holdoutFromTime;
      pointInTime = {
        featureViews: built.views,
        features: [...spec.numeric, ...spec.categorical.map((feature) => feature.name)],
        split: { kind: 'time-ordered', holdoutFromTime: built.holdoutFromTime },
        trainingSetDigests: built.trainingSetDigests,
        pointInTimeDigest: built.dataDigest,
      };
    }
    const trained = trainLogisticRegression(rows, {
      spec,
      label: config.label.field,
      positiveValue: config.label.positiveValue,
      seed: config.training.seed,
      holdoutFraction: config.training.holdoutFraction,
      holdoutFrom,
      l2: config.training.l2,
    });
    const encoder = FeatureEncoder.fromJSON(trained.encoder);
    const reference = computeDecisionReference(
      { coefficients: trained.coefficients, intercept: trained.intercept, columns: trained.columns },
      trained.columnMeans,
      config.bands.approveBelow,
    );
    const datasetVersion = data.datasetVersions.join(',');

    let onnxMaxDeviation = Number.NaN;
    const registered = await this.registry.register({
      useCase: config.useCase,
      tenant: request.tenant,
      createdBy: request.actor,
      artifact: (version) => exportLogisticRegressionOnnx({
        coefficients: trained.coefficients,
        intercept: trained.intercept,
        columns: trained.columns,
        modelVersion: version,
        encoderStateHash: encoder.stateHash(),
        featureViews,
      }),
      dataset: config.dataset,
      datasetVersion,
      features: spec,
      encoder: trained.encoder,
      coefficients: trained.coefficients,
      intercept: trained.intercept,
      reference,
      metrics: trained.metrics,
      trainingConfig: { ...trained.trainingConfig, useCaseConfigHash: configHash, dataDigest: data.dataDigest, tenant: request.tenant, ...pointInTime },
      verifyArtifact: async (artifact: Uint8Array) => {
        onnxMaxDeviation = await this.maxOnnxDeviation(artifact, rows.map((record) => encoder.encode(record)), trained.coefficients, trained.intercept);
        if (!(onnxMaxDeviation <= ONNX_TOLERANCE)) {
          throw new FailedPreconditionError(`The exported ONNX model deviates from its coefficients by ${onnxMaxDeviation}; it was not registered.`);
        }
      },
    });

    this.log.info({ useCase: config.useCase, version: registered.version, auc: trained.metrics.auc, rows: labelled.length }, 'model trained and registered');
    return {
      useCase: config.useCase,
      version: registered.version,
      artifactSha256: registered.artifactSha256,
      dataset: config.dataset,
      datasetVersion,
      rowCount: labelled.length,
      features: [...spec.numeric, ...spec.categorical.map((feature) => feature.name)],
      metrics: trained.metrics,
      onnxMaxDeviation,
      ledgerSeq: registered.ledger.seq,
      ...(featureViews ? { featureViews, holdoutFromTime } : {}),
    };
  }

  private async maxOnnxDeviation(artifact: Uint8Array, rows: Float64Array[], coefficients: number[], intercept: number): Promise<number> {
    const scorer = await OnnxScorer.load(artifact);
    try {
      const scores = await scorer.score(rows);
      return rows.reduce((max, row, i) => Math.max(max, Math.abs(scores[i] - scoreFromCoefficients(coefficients, intercept, row))), 0);
    } finally {
      await scorer.release();
    }
  }
}
