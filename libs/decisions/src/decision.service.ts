import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { BadUserInputError, canonicalJson, ConflictError, digestJson, FailedPreconditionError, getLogger, NotFoundError, sha256Hex, UseCaseSuspendedError } from '../../common/src/index.js';
import { openPersonalFields, sealPersonalFields, type PostgresLedger, type SubjectKeyStore } from '../../audit/src/index.js';
import { scanPii, scanPiiAcrossUnderscores } from '../../guardrails/src/index.js';
import type { WardenMetrics } from '../../monitoring/src/index.js';
import type { Principal } from '../../policy/src/index.js';
import { openCaseSummary, routeForReview, type CaseSeed, type DecisionUpdates, type ReviewService, type UseCaseSwitch } from '../../review/src/index.js';
import { createApplicationValidator, type ApplicationValidator } from './application-validator.js';
import type { DecisionRecord, DecisionView, ReplayReport } from './decision-record.js';
import { DecisionWriter } from './decision-writer.js';
import type { ModelCache, ScoringModel } from './model-cache.js';
import { outcomeForScore } from './outcome.js';
import type { PolicySnapshots } from './policy-snapshots.js';
import { requireUseCase, type LoadedUseCase, type UseCaseConfig } from './use-case-config.js';
import type { FeatureStore, FeatureVector } from '../../feature-store/src/index.js';
import { computeModelInputs, featureReadsFor, readsFeatureViews, viewVersionMismatch } from './feature-view-use-case.js';

export interface DecideRequest {
  useCase: string;
  application: Record<string, unknown>;
  requestId?: string | null;
}

/** Maximum length of a caller idempotency key, in characters. */
const MAX_REQUEST_ID_LENGTH = 200;

/** While a decision is held for a reviewer, the database is checked this often, for reviews on other replicas. */
const HOLD_POLL_MS = 1_000;

/** The review side that decide consults: the stop switch, the case queue and its notifications. */
export interface DecisionReviewHooks {
  switch: UseCaseSwitch;
  reviews: ReviewService;
  updates: DecisionUpdates;
}

/** Scores below this distance from a stored score count as equal on replay (same ONNX runtime). */
const REPLAY_SCORE_TOLERANCE = 1e-12;

interface StoredDecisionRow {
  id: string;
  tenant?: string;
  use_case?: string;
  outcome?: string;
  score?: number;
  model_version?: string;
  record: DecisionRecord;
  record_digest: string;
  ledger_seq: string;
  ledger_hash: string;
}

/**
 * The credit-decision pipeline: validate the application against the use case, score it with the
 * registered ONNX model, explain it, apply the outcome bands, and commit the decision record and
 * its ledger entry in one transaction.
 */
export class DecisionService {
  private readonly log = getLogger('decisions');
  private readonly validators = new Map<string, ApplicationValidator>();
  private readonly writer: DecisionWriter;

  constructor(
    private readonly dataSource: DataSource,
    private readonly useCases: Map<string, LoadedUseCase>,
    private readonly models: ModelCache,
    private readonly ledger: PostgresLedger,
    private readonly snapshots: PolicySnapshots,
    private readonly policyHash: () => string,
    private readonly metrics: WardenMetrics,
    private readonly review: DecisionReviewHooks,
    /** Encrypts the personal fields of use cases that name a data subject; without it they are stored in clear. */
    private readonly subjects?: SubjectKeyStore,
    /** Serves the online features of use cases that read feature views. */
    private readonly features?: FeatureStore,
  ) {
    this.writer = new DecisionWriter(dataSource, ledger);
  }

  async decide(principal: Principal, request: DecideRequest): Promise<DecisionView> {
    const started = process.hrtime.bigint();
    const useCase = requireUseCase(this.useCases, request.useCase);
    const requestId = checkRequestId(request.requestId);
    const { features, droppedFields, subjectId } = this.validator(useCase.config).validate(request.application);
    const inputDigest = digestJson(features);
    if (requestId) {
      const existing = await this.findByRequestId(principal.tenant, useCase.config.useCase, requestId);
      if (existing) return sameRequestOrConflict(existing, inputDigest);
    }
    const suspended = await this.review.switch.isSuspended(principal.tenant, useCase.config.useCase);
    if (suspended && useCase.config.review.whenSuspended === 'reject') {
      throw new UseCaseSuspendedError(
        `Use case ${useCase.config.useCase} is suspended by a person; no automated decisions are made until it is resumed. Ask your bank's AI oversight team.`,
      );
    }

    const model = await this.models.latest(useCase.config.useCase, principal.tenant);
    const reasonCodeMap = await this.snapshots.reasonCodeMap(useCase.config);
    await this.snapshots.ensureUseCase(useCase);

    let modelInputs = features;
    let featureReads: FeatureVector[] | undefined;
    if (readsFeatureViews(useCase.config)) {
      ({ modelInputs, featureReads } = await this.readFeatures(principal.tenant, useCase.config, model, features));
    }

    const scored = await model.scoreAndExplain(modelInputs, reasonCodeMap.map, useCase.config.reasonCodes.max, useCase.config.bands.approveBelow);
    const outcome = outcomeForScore(scored.score, useCase.config.bands);
    const policyHash = this.policyHash();
    const id = randomUUID();
    const routing = routeForReview(useCase.config.review, { decisionId: id, outcome, score: scored.score, features: { ...features, ...modelInputs }, suspended });
    const record: DecisionRecord = {
      id,
      tenant: principal.tenant,
      actor: principal.subject,
      useCase: useCase.config.useCase,
      requestId,
      outcome,
      score: scored.score,
      reasonCodes: scored.reasonCodes,
      attributions: scored.attributions,
      reviewStatus: routing ? 'PENDING' : 'NOT_REQUIRED',
      modelVersion: model.version,
      policyVersion: `${useCase.config.version}+${policyHash.slice(0, 12)}`,
      createdAt: new Date().toISOString(),
      lineage: {
        inputDigest,
        featureValues: modelInputs,
        ...(featureReads ? { requestValues: features, featureReads } : {}),
        droppedFields,
        modelVersion: model.version,
        modelArtifactSha256: model.artifactSha256,
        datasetVersion: model.datasetVersion,
        useCaseVersion: useCase.config.version,
        useCaseConfigHash: useCase.configHash,
        policyHash,
        reasonCodeMapHash: reasonCodeMap.hash,
        referenceLogit: scored.referenceLogit,
      },
    };

    const reviewCase: CaseSeed | null = routing
      ? {
          id: randomUUID(),
          tenant: record.tenant,
          useCase: record.useCase,
          decisionId: record.id,
          requestedBy: record.actor,
          automaticOutcome: record.outcome,
          modelVersion: record.modelVersion,
          reasons: routing.reasons,
          // The case history is never erased, so for a named data subject it states the rule, not the input value.
          details: subjectId === null ? routing.details : routing.details.map((detail) => detail.replace(/^(\S+) \S+ > /, '$1 > ')),
          priority: routing.priority,
          fourEyes: routing.fourEyes,
          slaMinutes: routing.slaMinutes,
          createdAt: record.createdAt,
        }
      : null;
    let view = await this.commit(record, await this.sealed(record, subjectId), reviewCase);
    // Measured before any hold, so the metric keeps timing Warden's own work, not the reviewer's.
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.decisions.add(1, { use_case: record.useCase, outcome });
    this.metrics.decisionDuration.record(seconds, { use_case: record.useCase });
    if (reviewCase && view.id === record.id) {
      const holdSeconds = useCase.config.review.holdSeconds;
      // A case that was just opened needs no read back: its summary follows from the seed.
      view =
        holdSeconds > 0
          ? await this.holdForReview(principal.tenant, view, holdSeconds)
          : { ...view, review: openCaseSummary(reviewCase), reviewStatus: 'PENDING', finalOutcome: null };
    }
    this.log.info({ decisionId: record.id, useCase: record.useCase, outcome, ledgerSeq: view.ledgerSeq }, 'decision recorded');
    return view;
  }

  /**
   * Reads the online features of every view the use case names in one statement and computes the
   * model inputs. Raises FAILED_PRECONDITION when the model was trained on another view version
   * than the store serves, because its coefficients would then be applied to other quantities.
   */
  private async readFeatures(
    tenant: string,
    config: UseCaseConfig,
    model: ScoringModel,
    request: Record<string, string | number>,
  ): Promise<{ modelInputs: Record<string, string | number>; featureReads: FeatureVector[] }> {
    if (!this.features) throw new FailedPreconditionError(`Use case ${config.useCase} reads feature views, but this runtime has no feature store.`);
    const mismatch = viewVersionMismatch(model.version, model.trainedFeatureViews, this.features.views);
    if (mismatch) throw new FailedPreconditionError(mismatch);
    const featureReads = await this.features.getOnlineFeaturesMany(featureReadsFor(config, tenant, request));
    return { modelInputs: computeModelInputs(config, request, featureReads), featureReads };
  }

  /** Reads a decision by id. Without a principal (operators at the CLI) any tenant's decision is found. */
  async get(principal: Principal | undefined, id: string): Promise<DecisionView> {
    const row = await this.findRow(principal?.tenant, id);
    return this.withReview(await this.openView(row));
  }

  /** Adds the review case, if any, to a decision view. */
  private async withReview(view: DecisionView): Promise<DecisionView> {
    if (view.reviewStatus === 'NOT_REQUIRED') return view;
    const review = await this.review.reviews.summaryForDecision(view.tenant, view.id);
    if (!review) return view;
    const completed = review.state === 'DECIDED';
    return { ...view, review, reviewStatus: completed ? 'COMPLETED' : 'PENDING', finalOutcome: completed ? review.finalOutcome : null };
  }

  /**
   * Hold mode: waits up to `seconds` for a reviewer to decide the case, listening for this
   * process's notifications and reading the database every second for reviews on other replicas.
   * Returns the decision as it is when the review completes or the time is up.
   */
  private async holdForReview(tenant: string, view: DecisionView, seconds: number): Promise<DecisionView> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      const update = await this.review.updates.waitForCompletion(view.id, Math.min(HOLD_POLL_MS, deadline - Date.now()));
      if (update) break;
      const summary = await this.review.reviews.summaryForDecision(tenant, view.id);
      if (summary?.state === 'DECIDED') break;
    }
    return this.withReview(view);
  }

  /** Recomputes a decision from its recorded lineage and lists every field that comes out different. */
  async replay(principal: Principal | undefined, id: string): Promise<ReplayReport> {
    const row = await this.findRow(principal?.tenant, id);
    const opened = await this.openRecord(row);
    const recorded = opened.record;
    const differences: ReplayReport['differences'] = [];
    const compare = (field: string, before: unknown, after: unknown) => {
      const left = JSON.stringify(before);
      const right = JSON.stringify(after);
      if (left !== right) differences.push({ field, recorded: left, replayed: right });
    };

    // The digest covers the stored form, in which personal fields are sealed.
    compare('recordDigest', row.record_digest, digestJson(row.record));
    // The indexed columns repeat fields of the record; exports and queries read them.
    compare('columns.tenant', row.tenant, recorded.tenant);
    compare('columns.useCase', row.use_case, recorded.useCase);
    compare('columns.outcome', row.outcome, recorded.outcome);
    compare('columns.score', row.score, recorded.score);
    compare('columns.modelVersion', row.model_version, recorded.modelVersion);
    if (opened.state === 'erased') {
      differences.push({
        field: 'lineage.featureValues',
        recorded: 'erased',
        replayed: 'not recomputed: the inputs were erased with their data subject (GDPR Art. 17); the record digest and ledger entry remain',
      });
      return { decisionId: id, identical: false, erased: true, differences };
    }
    compare('lineage.inputDigest', recorded.lineage.inputDigest, digestJson(recorded.lineage.requestValues ?? recorded.lineage.featureValues));

    const config = await this.snapshots.useCaseByHash(recorded.lineage.useCaseConfigHash);
    const reasonCodeMap = await this.snapshots.reasonCodeMapByHash(recorded.lineage.reasonCodeMapHash);
    if (!config || !reasonCodeMap) {
      differences.push({ field: 'lineage', recorded: 'policy snapshots', replayed: 'missing: the use-case config or reason-code map it ran under is not stored' });
      return { decisionId: id, identical: false, differences };
    }

    let model: ScoringModel;
    try {
      model = await this.models.get(recorded.useCase, recorded.lineage.modelVersion);
    } catch (error) {
      differences.push({ field: 'lineage.modelVersion', recorded: recorded.lineage.modelVersion, replayed: `not loadable: ${(error as Error).message}` });
      return { decisionId: id, identical: false, differences };
    }
    compare('lineage.modelArtifactSha256', recorded.lineage.modelArtifactSha256, model.artifactSha256);
    if (recorded.lineage.featureReads) await this.replayFeatures(recorded, config, compare);

    const replayed = await model.scoreAndExplain(recorded.lineage.featureValues, reasonCodeMap, config.reasonCodes.max, config.bands.approveBelow);
    if (Math.abs(replayed.score - recorded.score) > REPLAY_SCORE_TOLERANCE) compare('score', recorded.score, replayed.score);
    compare('outcome', recorded.outcome, outcomeForScore(replayed.score, config.bands));
    compare('reasonCodes', recorded.reasonCodes.map((r) => r.code), replayed.reasonCodes.map((r) => r.code));
    compare('attributions', roundAll(recorded.attributions), roundAll(replayed.attributions));
    compare('lineage.referenceLogit', recorded.lineage.referenceLogit, replayed.referenceLogit);

    return { decisionId: id, identical: differences.length === 0, differences };
  }

  /** Restores the personal fields of a stored record, or marks them erased when the subject key is gone. */
  private async openRecord(row: StoredDecisionRow): Promise<ReturnType<typeof openPersonalFields<DecisionRecord>>> {
    const { personal } = row.record;
    if (!personal) return { record: row.record, state: 'unsealed', subjectId: null };
    const keys = this.subjects ? await this.subjects.keysById(row.record.tenant, [personal.keyId]) : new Map();
    return openPersonalFields(row.record, keys);
  }

  private async openView(row: StoredDecisionRow): Promise<DecisionView> {
    const opened = await this.openRecord(row);
    return { ...toView({ ...row, record: opened.record }), personalData: opened.state };
  }

  /**
   * Recomputes each recorded feature read from the offline store (the stored source records) as
   * of the recorded time, and the model inputs from the recorded request and reads. A source
   * record that arrived late for a window the decision read shows up as a difference.
   */
  private async replayFeatures(recorded: DecisionRecord, config: UseCaseConfig, compare: (field: string, before: unknown, after: unknown) => void): Promise<void> {
    const reads = recorded.lineage.featureReads ?? [];
    for (const read of reads) {
      const view = this.features?.views.get(read.view);
      if (!view) {
        compare(`featureReads.${read.view}`, 'defined', 'not defined under policies/features');
        continue;
      }
      compare(`featureReads.${read.view}.viewVersion`, read.viewVersion, view.version);
      compare(`featureReads.${read.view}.viewHash`, read.viewHash, view.definitionHash);
      const inputs = Object.fromEntries(view.inputs.map((name) => [name, (recorded.lineage.requestValues?.[name] as number | undefined) ?? null]));
      const [offline] = await (this.features as FeatureStore).computePointInTime(recorded.tenant, read.view, [
        { entityKey: read.entityKey, asOf: new Date(read.asOf), label: null, inputs },
      ]);
      compare(`featureReads.${read.view}.windowEnd`, read.windowEnd, offline.windowEnd);
      compare(`featureReads.${read.view}.values`, sortedKeys(read.values), sortedKeys(offline.values));
    }
    const recomputed = computeModelInputs(config, recorded.lineage.requestValues ?? {}, reads);
    compare('lineage.featureValues', sortedKeys(recorded.lineage.featureValues), sortedKeys(recomputed));
  }

  private validator(config: UseCaseConfig): ApplicationValidator {
    let validator = this.validators.get(config.useCase);
    if (!validator) {
      validator = createApplicationValidator(config);
      this.validators.set(config.useCase, validator);
    }
    return validator;
  }

  /** Returns the record as it is stored: with its personal fields encrypted when a data subject is named. */
  private async sealed(record: DecisionRecord, subjectId: string | null): Promise<DecisionRecord> {
    if (subjectId === null) return record;
    if (!this.subjects) throw new FailedPreconditionError('Decisions that name a data subject need the subject key store; start Warden through createRuntime.');
    // NOTE: an erasure that commits between reading the key and writing the record leaves this
    // record sealed under a destroyed key, so it reads as erased from the start.
    return sealPersonalFields(record, subjectId, await this.subjects.activeKey(record.tenant, subjectId));
  }

  /** Writes the stored form (digested and ledgered) and returns the view of the plain record. */
  private async commit(record: DecisionRecord, stored: DecisionRecord, reviewCase: CaseSeed | null): Promise<DecisionView> {
    const recordJson = canonicalJson(stored);
    const recordDigest = sha256Hex(recordJson);
    try {
      const receipt = await this.writer.write(stored, recordJson, recordDigest, reviewCase);
      const view = toView({ id: record.id, record, record_digest: recordDigest, ledger_seq: String(receipt.seq), ledger_hash: receipt.hash });
      return { ...view, personalData: stored.personal ? 'open' : 'unsealed' };
    } catch (error) {
      // Two concurrent calls with the same idempotency key: the loser returns the winner's decision.
      if ((error as { code?: string }).code === '23505' && record.requestId) {
        const existing = await this.findByRequestId(record.tenant, record.useCase, record.requestId);
        if (existing) return sameRequestOrConflict(existing, record.lineage.inputDigest);
      }
      throw error;
    }
  }

  private async findByRequestId(tenant: string, useCase: string, requestId: string): Promise<DecisionView | undefined> {
    const rows: StoredDecisionRow[] = await this.dataSource.query(
      `SELECT id, tenant, use_case, outcome, score, model_version, record, record_digest, ledger_seq::text AS ledger_seq, ledger_hash FROM decisions.decision_records
        WHERE tenant = $1 AND use_case = $2 AND request_id = $3`,
      [tenant, useCase, requestId],
    );
    return rows.length > 0 ? this.withReview(await this.openView(unlessPurged(rows[0]))) : undefined;
  }

  private async findRow(tenant: string | undefined, id: string): Promise<StoredDecisionRow> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw new BadUserInputError(`Invalid decision id "${id.slice(0, 64)}".`, [{ field: 'id', message: 'must be a UUID as returned by decide' }]);
    }
    const rows: StoredDecisionRow[] = await this.dataSource.query(
      `SELECT id, tenant, use_case, outcome, score, model_version, record, record_digest, ledger_seq::text AS ledger_seq, ledger_hash FROM decisions.decision_records
        WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) AND record->>'kind' IS DISTINCT FROM 'answer'`,
      [id, tenant ?? null],
    );
    // Answers share the table but have their own shape and query (answer), so they are not found here.
    // Another tenant's decision is reported exactly like a missing one, so ids reveal nothing.
    if (rows.length === 0) throw new NotFoundError(`Decision ${id} was not found.`);
    return unlessPurged(rows[0]);
  }
}

/**
 * Returns the row unless a retention purge replaced its record with a tombstone, in which case the
 * caller learns when and why, and where the proof of the decision remains.
 */
export function unlessPurged<T extends { id: string; record: unknown; ledger_seq: string; record_digest: string }>(row: T): T {
  const record = row.record as { purged?: boolean; purgedAt?: string; rule?: string };
  if (record.purged !== true) return row;
  throw new FailedPreconditionError(
    `The record of ${row.id} passed its retention period and was purged at ${record.purgedAt} (${record.rule}). ` +
      `Its ledger entry, seq ${row.ledger_seq}, and record digest ${row.record_digest} remain as proof.`,
  );
}

/**
 * Returns the stored decision for a repeated idempotency key, or raises CONFLICT when the key comes
 * back with a different application: silently returning the old decision would answer a question
 * the caller did not ask.
 */
function sameRequestOrConflict(existing: DecisionView, inputDigest: string): DecisionView {
  if (existing.lineage.inputDigest === inputDigest) return existing;
  throw new ConflictError(
    `requestId "${existing.requestId}" was already used for decision ${existing.id} with a different application. Use a new requestId for a new application.`,
  );
}

function checkRequestId(requestId: string | null | undefined): string | null {
  if (requestId === undefined || requestId === null) return null;
  if (requestId.length === 0 || requestId.length > MAX_REQUEST_ID_LENGTH || !requestId.isWellFormed() || /[\u0000-\u001f\u007f]/.test(requestId)) {
    throw new BadUserInputError('Invalid requestId.', [
      { field: 'requestId', message: `must be 1 to ${MAX_REQUEST_ID_LENGTH} printable characters` },
    ]);
  }
  // The requestId is stored in clear beside the decision, so it must not carry personal data, also
  // not joined to a word by underscores (txn_4111111111111111).
  if (scanPii(requestId).length > 0 || scanPiiAcrossUnderscores(requestId).length > 0) {
    throw new BadUserInputError('Invalid requestId.', [
      { field: 'requestId', message: 'must not contain personal data such as an account, card or social security number; use an opaque id such as a UUID' },
    ]);
  }
  return requestId;
}

function toView(row: StoredDecisionRow): DecisionView {
  // The subject key id and ciphertext stay inside the service; a view carries the opened fields.
  const { personal: _sealed, ...record } = row.record;
  return {
    personalData: 'unsealed',
    ...record,
    createdAt: new Date(record.createdAt),
    finalOutcome: record.reviewStatus === 'PENDING' ? null : record.outcome,
    review: null,
    ledgerSeq: Number(row.ledger_seq),
    ledgerHash: row.ledger_hash,
    lineage: { ...record.lineage, recordDigest: row.record_digest },
  };
}

/** Copies a value with keys in canonical order, because stored jsonb does not keep the key order. */
function sortedKeys(value: object): unknown {
  return JSON.parse(canonicalJson(value));
}

/** Attributions compared at 12 significant digits, far below any business meaning. */
function roundAll(attributions: { feature: string; contribution: number }[]): string[] {
  return attributions.map((a) => `${a.feature}:${a.contribution.toPrecision(12)}`);
}
