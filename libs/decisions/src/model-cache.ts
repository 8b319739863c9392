import { FailedPreconditionError, getLogger, NotFoundError } from '../../common/src/index.js';
import { computeAttributions, selectReasonCodes, type LinearModel, type ReasonCodeMap } from '../../explain/src/index.js';
import { FeatureEncoder, logit, OnnxScorer, type ModelRegistry, type ModelVersionRecord } from '../../models/src/index.js';
import type { AttributionView, ReasonCodeView } from './decision-record.js';
import type { TrainedViewVersion } from './feature-view-use-case.js';

/** Result of scoring one application: the score and its explanation. */
export interface ScoredApplication {
  score: number;
  attributions: AttributionView[];
  reasonCodes: ReasonCodeView[];
  /** Log-odds of the reference point the attributions are measured from. */
  referenceLogit: number;
}

/** A registered model version, loaded and ready to score on onnxruntime-node. */
export class ScoringModel {
  private readonly log = getLogger('scoring-model');
  private readonly encoder: FeatureEncoder;
  private readonly linear: LinearModel;
  private readonly references = new Map<number, number[]>();

  private constructor(
    private readonly record: ModelVersionRecord,
    private readonly scorer: OnnxScorer,
  ) {
    this.encoder = FeatureEncoder.fromJSON(record.encoder);
    this.linear = { coefficients: record.coefficients, intercept: record.intercept, columns: this.encoder.columns };
    this.references.set(record.reference.cutoff, record.reference.point);
  }

  static async load(record: ModelVersionRecord): Promise<ScoringModel> {
    return new ScoringModel(record, await OnnxScorer.load(record.artifact));
  }

  get version(): string {
    return this.record.version;
  }

  get artifactSha256(): string {
    return this.record.artifactSha256;
  }

  get datasetVersion(): string {
    return this.record.datasetVersion;
  }

  /** Feature views (name, version, hash) the model was trained on; undefined for a model trained on request fields only. */
  get trainedFeatureViews(): TrainedViewVersion[] | undefined {
    return this.record.trainingConfig.featureViews as TrainedViewVersion[] | undefined;
  }

  /**
   * Scores one application with the ONNX artifact and explains it from the approval cut-off.
   * The ONNX score, not the coefficients, is the score of record: it is what the model artifact
   * computes.
   */
  async scoreAndExplain(features: Record<string, string | number>, reasonCodeMap: ReasonCodeMap, maxReasonCodes: number, cutoff: number): Promise<ScoredApplication> {
    const row = this.encoder.encode(features);
    const [score] = await this.scorer.score([row]);
    const attributions = computeAttributions(this.linear, row, { point: this.referenceFor(cutoff) });
    const reasonCodes = selectReasonCodes(attributions, reasonCodeMap, maxReasonCodes);
    return {
      score,
      attributions: attributions.map((a) => ({ feature: a.feature, value: String(a.value), contribution: a.contribution })),
      reasonCodes: reasonCodes.map((r) => ({ code: r.code, description: r.description, contribution: r.contribution })),
      referenceLogit: logit(cutoff),
    };
  }

  /**
   * The reference point for a cut-off. The model stores the point for the cut-off it was trained
   * under; the point for another cut-off lies on the same line μ + t·w, shifted by
   * (logit(new) − logit(old)) / ‖w‖², so a change of the bands needs no retraining.
   */
  private referenceFor(cutoff: number): number[] {
    const cached = this.references.get(cutoff);
    if (cached) return cached;
    const { point, cutoff: trainedCutoff } = this.record.reference;
    const weights = this.record.coefficients;
    const normSquared = weights.reduce((sum, w) => sum + w * w, 0);
    const shift = (logit(cutoff) - logit(trainedCutoff)) / normSquared;
    const moved = point.map((value, j) => value + shift * weights[j]);
    this.references.set(cutoff, moved);
    this.log.info({ modelVersion: this.version, trainedCutoff, cutoff }, 'reference point moved to a new approval cut-off');
    return moved;
  }
}

/** Loads each model version once and keeps its ONNX session for the life of the process. */
export class ModelCache {
  private readonly byVersion = new Map<string, Promise<ScoringModel>>();
  private readonly latestByUseCase = new Map<string, { version: string; checkedAt: number }>();

  /** How long the latest version of a use case is trusted before the registry is asked again, in ms. */
  private static readonly LATEST_TTL_MS = 5_000;

  constructor(private readonly registry: ModelRegistry) {}

  /** The newest version trained for a tenant. A newly registered version is used within LATEST_TTL_MS. */
  async latest(useCase: string, tenant: string): Promise<ScoringModel> {
    const key = `${useCase}\u0000${tenant}`;
    const known = this.latestByUseCase.get(key);
    if (known && Date.now() - known.checkedAt < ModelCache.LATEST_TTL_MS) return this.get(useCase, known.version);
    let record: ModelVersionRecord;
    try {
      record = await this.registry.latest(useCase, tenant);
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new FailedPreconditionError(
          `No model is registered for use case ${useCase} in tenant ${tenant}. An analyst must ingest training data and run: warden train --use-case ${useCase} --tenant ${tenant}.`,
        );
      }
      throw error;
    }
    this.latestByUseCase.set(key, { version: record.version, checkedAt: Date.now() });
    return this.cached(record.version, () => ScoringModel.load(record));
  }

  async get(useCase: string, version: string): Promise<ScoringModel> {
    return this.cached(version, async () => ScoringModel.load(await this.registry.get(useCase, version)));
  }

  private cached(version: string, load: () => Promise<ScoringModel>): Promise<ScoringModel> {
    let model = this.byVersion.get(version);
    if (!model) {
      model = load();
      this.byVersion.set(version, model);
      model.catch(() => this.byVersion.delete(version));
    }
    return model;
  }
}
