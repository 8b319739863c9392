import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { LedgerAppender, LedgerReceipt } from '../../audit/src/index.js';
import {
  BadUserInputError,
  FailedPreconditionError,
  NotFoundError,
  canonicalJson,
  getLogger,
  sha256Hex,
  type FieldError,
} from '../../common/src/index.js';
import type { DecisionReference } from '../../explain/src/index.js';
import { FeatureEncoder, type EncoderState, type FeatureSpec } from './feature-encoder.js';
import type { TrainingMetrics } from './logistic-regression.js';

export interface RegisterModelInput {
  useCase: string;
  /** Tenant whose records trained the model: only its decisions use the version, and the ledger entry carries it. */
  tenant: string;
  /** Token subject of the registering user, or `system` for Warden's own jobs. */
  createdBy: string;
  /**
   * The ONNX bytes, or a function that builds them once the version is known, so that the
   * version can be written into the artifact's own metadata.
   */
  artifact: Uint8Array | ((version: string) => Uint8Array);
  dataset: string;
  datasetVersion: string;
  features: FeatureSpec;
  encoder: EncoderState;
  coefficients: number[];
  intercept: number;
  reference: DecisionReference;
  metrics: TrainingMetrics;
  trainingConfig: object;
  /** Initial status (default `registered`). */
  status?: string;
  /** Checks the built artifact before it is stored; throwing rolls the registration back. */
  verifyArtifact?: (artifact: Uint8Array) => Promise<void>;
}

/** A registered model version whose artifact has passed its SHA-256 check. */
export interface ModelVersionRecord {
  id: string;
  useCase: string;
  /** `<use case>@<n>`, such as `credit-application@3`. */
  version: string;
  versionNumber: number;
  status: string;
  artifact: Uint8Array;
  artifactSha256: string;
  dataset: string;
  datasetVersion: string;
  trainingRows: number;
  holdoutRows: number;
  features: FeatureSpec;
  encoder: EncoderState;
  coefficients: number[];
  intercept: number;
  reference: DecisionReference;
  metrics: TrainingMetrics;
  trainingConfig: Record<string, unknown>;
  /** ISO 8601 time of registration. */
  createdAt: string;
  createdBy: string;
  /** Tenant whose data trained the version; only that tenant's decisions use it. */
  tenant: string;
}

export interface RegisteredModel {
  id: string;
  version: string;
  versionNumber: number;
  artifactSha256: string;
  ledger: LedgerReceipt;
}

const USE_CASE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

const SELECT_COLUMNS = `id, use_case, version, version_number, status, artifact, artifact_sha256, dataset, dataset_version,
  training_rows, holdout_rows, features, encoder, coefficients, intercept, reference, metrics, training_config, created_at, created_by, tenant`;

/**
 * Stores trained models in `models.model_versions`. Registration numbers versions per use case
 * and writes the row and its `model.registered` ledger entry in one transaction. Every read
 * checks the artifact against its stored SHA-256, so a changed artifact is never scored.
 */
export class ModelRegistry {
  private readonly log = getLogger('model-registry');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: LedgerAppender,
  ) {}

  async register(input: RegisterModelInput): Promise<RegisteredModel> {
    validateRegistration(input);

    const registered = await this.dataSource.transaction(async (manager) => {
      // Serializes registrations so that two of them cannot take the same version number. Readers
      // are not blocked by this lock mode.
      await manager.query('LOCK TABLE models.model_versions IN SHARE ROW EXCLUSIVE MODE');
      const [{ next }] = await manager.query(
        'SELECT coalesce(max(version_number), 0) + 1 AS next FROM models.model_versions WHERE use_case = $1',
        [input.useCase],
      );
      const versionNumber = Number(next);
      const version = `${input.useCase}@${versionNumber}`;
      const artifact = typeof input.artifact === 'function' ? input.artifact(version) : input.artifact;
      if (artifact.byteLength === 0) throw new BadUserInputError('The model artifact is empty.', [{ field: '/artifact', message: 'must not be empty' }]);
      if (input.verifyArtifact) await input.verifyArtifact(artifact);
      const artifactSha256 = sha256Hex(artifact);
      const id = randomUUID();

      await this.insert(manager, input, { id, version, versionNumber, artifact, artifactSha256 });
      const ledger = await this.ledger.append(manager, {
        type: 'model.registered',
        tenant: input.tenant,
        actor: input.createdBy,
        payload: {
          modelId: id,
          useCase: input.useCase,
          version,
          artifactSha256,
          dataset: input.dataset,
          datasetVersion: input.datasetVersion,
          trainingRows: input.metrics.trainingRows,
          holdoutRows: input.metrics.holdoutRows,
          metrics: input.metrics,
        },
      });
      return { id, version, versionNumber, artifactSha256, ledger };
    });

    this.log.info({ modelId: registered.id, version: registered.version, artifactSha256: registered.artifactSha256 }, 'model version registered');
    return registered;
  }

  /** Returns the highest version of a use case trained for a tenant. Raises NotFoundError when none is registered. */
  async latest(useCase: string, tenant: string): Promise<ModelVersionRecord> {
    const rows = await this.dataSource.query(
      `SELECT ${SELECT_COLUMNS} FROM models.model_versions WHERE use_case = $1 AND tenant = $2 ORDER BY version_number DESC LIMIT 1`,
      [useCase, tenant],
    );
    if (rows.length === 0) {
      throw new NotFoundError(`No model is registered for use case ${useCase} in tenant ${tenant}. Train and register one first.`);
    }
    return this.verified(rows[0]);
  }

  /** Returns one version, given as `credit-application@3` or as the number 3. */
  async get(useCase: string, version: string | number): Promise<ModelVersionRecord> {
    const fullVersion = typeof version === 'number' ? `${useCase}@${version}` : version;
    const rows = await this.dataSource.query(`SELECT ${SELECT_COLUMNS} FROM models.model_versions WHERE use_case = $1 AND version = $2`, [
      useCase,
      fullVersion,
    ]);
    if (rows.length === 0) throw new NotFoundError(`Model version ${fullVersion} is not registered for use case ${useCase}.`);
    return this.verified(rows[0]);
  }

  private async insert(
    manager: EntityManager,
    input: RegisterModelInput,
    assigned: { id: string; version: string; versionNumber: number; artifact: Uint8Array; artifactSha256: string },
  ): Promise<void> {
    await manager.query(
      `INSERT INTO models.model_versions (id, use_case, version, version_number, status, artifact, artifact_sha256, dataset, dataset_version,
         training_rows, holdout_rows, features, encoder, coefficients, intercept, reference, metrics, training_config, created_by, tenant)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14::jsonb, $15, $16::jsonb, $17::jsonb, $18::jsonb, $19, $20)`,
      [
        assigned.id,
        input.useCase,
        assigned.version,
        assigned.versionNumber,
        input.status ?? 'registered',
        Buffer.from(assigned.artifact.buffer, assigned.artifact.byteOffset, assigned.artifact.byteLength),
        assigned.artifactSha256,
        input.dataset,
        input.datasetVersion,
        input.metrics.trainingRows,
        input.metrics.holdoutRows,
        canonicalJson(input.features),
        canonicalJson(input.encoder),
        canonicalJson(input.coefficients),
        input.intercept,
        canonicalJson(input.reference),
        canonicalJson(input.metrics),
        canonicalJson(input.trainingConfig),
        input.createdBy,
        input.tenant,
      ],
    );
  }

  private verified(row: Record<string, any>): ModelVersionRecord {
    const artifact = new Uint8Array(row.artifact as Buffer);
    const actualSha256 = sha256Hex(artifact);
    if (actualSha256 !== row.artifact_sha256) {
      this.log.error({ modelId: row.id, version: row.version, expected: row.artifact_sha256, actual: actualSha256 }, 'model artifact failed its SHA-256 check');
      throw new FailedPreconditionError(
        `The artifact of model ${row.version} does not match its registered SHA-256, so it will not be used. Register the model again from its training run.`,
      );
    }
    return {
      id: row.id,
      useCase: row.use_case,
      version: row.version,
      versionNumber: row.version_number,
      status: row.status,
      artifact,
      artifactSha256: row.artifact_sha256,
      dataset: row.dataset,
      datasetVersion: row.dataset_version,
      trainingRows: row.training_rows,
      holdoutRows: row.holdout_rows,
      features: row.features,
      encoder: row.encoder,
      coefficients: row.coefficients,
      intercept: Number(row.intercept),
      reference: row.reference,
      metrics: row.metrics,
      trainingConfig: row.training_config,
      createdAt: new Date(row.created_at).toISOString(),
      createdBy: row.created_by,
      tenant: row.tenant,
    };
  }
}

function validateRegistration(input: RegisterModelInput): void {
  const errors: FieldError[] = [];
  if (!USE_CASE_PATTERN.test(input.useCase)) errors.push({ field: '/useCase', message: 'must be lowercase letters, digits and hyphens, such as credit-application' });
  for (const field of ['tenant', 'createdBy', 'dataset', 'datasetVersion'] as const) {
    if (typeof input[field] !== 'string' || input[field].trim() === '') errors.push({ field: `/${field}`, message: 'must be a non-empty string' });
  }
  if (!Number.isInteger(input.metrics?.trainingRows) || input.metrics.trainingRows < 1) {
    errors.push({ field: '/metrics/trainingRows', message: 'must be a positive integer' });
  }
  if (!Number.isInteger(input.metrics?.holdoutRows) || input.metrics.holdoutRows < 0) {
    errors.push({ field: '/metrics/holdoutRows', message: 'must be an integer >= 0' });
  }
  if (!Number.isFinite(input.intercept)) errors.push({ field: '/intercept', message: 'must be a finite number' });
  if (!input.coefficients.every(Number.isFinite)) errors.push({ field: '/coefficients', message: 'must all be finite numbers' });

  let width: number | undefined;
  try {
    width = FeatureEncoder.fromJSON(input.encoder).width;
  } catch (error) {
    errors.push({ field: '/encoder', message: (error as Error).message });
  }
  if (width !== undefined && input.coefficients.length !== width) {
    errors.push({ field: '/coefficients', message: `has ${input.coefficients.length} values but the encoder produces ${width} columns` });
  }
  if (width !== undefined && input.reference?.point?.length !== width) {
    errors.push({ field: '/reference/point', message: `must have ${width} values, one per encoded column` });
  }

  if (errors.length > 0) throw new BadUserInputError('Invalid model registration.', errors);
}
