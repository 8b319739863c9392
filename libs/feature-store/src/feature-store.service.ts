import type { DataSource, EntityManager } from 'typeorm';
import type { LedgerAppender } from '../../audit/src/index.js';
import { BadUserInputError, ConflictError, digestJson, type FieldError, getLogger, NotFoundError } from '../../common/src/index.js';
import type { DatasetDefinition, DatasetRecord } from '../../ingestion/src/index.js';
import { computeFeatureValues, type FeatureValues } from './feature-values.js';
import { loadFeatureViews, type FeatureView } from './feature-view.js';
import { computeOfflineAggregates } from './offline-store.js';
import { recordsLeftToBackfill } from './backfill.js';
import { applyRecordsToStore, buildOnlineQuery, rowToRawAggregates, type OnlineQuery } from './online-store.js';
import { bucketStart } from './windows.js';

/**
 * Feature values of one entity as of one time: what a decision reads and records, so that a
 * replay can tell which view version and which window end produced them.
 */
export interface FeatureVector {
  view: string;
  viewVersion: string;
  viewHash: string;
  entityKey: string;
  /** The requested as-of time (ISO 8601). */
  asOf: string;
  /** End of every window: the start of the bucket containing `asOf`; events before it count. */
  windowEnd: string;
  values: FeatureValues;
}

export interface OnlineFeatureRequest {
  tenant: string;
  view: string;
  entityKey: string;
  asOf: Date;
  /** Values of the view's inputs, such as the amount of the transaction being decided. */
  inputs?: Readonly<Record<string, number | null>>;
}

export interface TrainingLabel {
  entityKey: string;
  asOf: Date;
  label: string | number | null;
  inputs?: Readonly<Record<string, number | null>>;
}

export interface TrainingSet {
  view: string;
  viewVersion: string;
  viewHash: string;
  /** Feature names in column order. */
  features: string[];
  rows: (FeatureVector & { label: string | number | null })[];
  /** SHA-256 over the rows: names exactly this training set. */
  dataDigest: string;
}

/**
 * The feature views of `<policyDir>/features` and their stores: the online per-bucket aggregates
 * updated as records arrive, and point-in-time training sets recomputed from stored records.
 */
export class FeatureStore {
  private readonly log = getLogger('feature-store');
  readonly views: Map<string, FeatureView>;
  private readonly queries = new Map<string, OnlineQuery>();

  constructor(
    private readonly dataSource: DataSource,
    policyDir: string,
    datasets: ReadonlyMap<string, DatasetDefinition>,
    private readonly ledger: LedgerAppender,
  ) {
    this.views = loadFeatureViews(policyDir, datasets);
    for (const view of this.views.values()) this.queries.set(view.name, buildOnlineQuery(view));
  }

  getView(name: string): FeatureView {
    const view = this.views.get(name);
    if (!view) {
      const known = [...this.views.keys()].sort().join(', ') || 'none';
      throw new NotFoundError(`Feature view ${name.length > 64 ? `${name.slice(0, 64)}...` : name} is not defined; defined views: ${known}.`);
    }
    return view;
  }

  /** Views fed by a dataset. */
  viewsOf(dataset: string): FeatureView[] {
    return [...this.views.values()].filter((view) => view.source === dataset);
  }

  /** Registers every view version; ConflictError when a registered version's hash changed. */
  async registerViews(): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      for (const view of this.views.values()) {
        await manager.query(
          `INSERT INTO feature_store.views (name, version, definition, definition_hash) VALUES ($1, $2, $3::jsonb, $4)
           ON CONFLICT (name, version) DO NOTHING`,
          [view.name, view.version, JSON.stringify(view.document), view.definitionHash],
        );
        const rows: { definition_hash: string }[] = await manager.query('SELECT definition_hash FROM feature_store.views WHERE name = $1 AND version = $2', [
          view.name,
          view.version,
        ]);
        if (rows[0]?.definition_hash !== view.definitionHash) {
          throw new ConflictError(
            `Feature view ${view.name} version ${view.version} is already registered with a different definition; raise the version in ${view.sourcePath} when you change the view.`,
          );
        }
      }
    });
  }

  /**
   * Adds newly stored records of `dataset` to every view it feeds, inside the caller's
   * transaction. Pass each record once: the aggregates add up whatever they are given. While a
   * backfill of a view runs, records after its checkpoint are left to the backfill.
   * `recordKeyField` names the dataset's record key field, which every record carries.
   */
  async applyRecords(manager: EntityManager, tenant: string, dataset: string, records: readonly DatasetRecord[], recordKeyField: string): Promise<void> {
    if (records.length === 0) return;
    const recordKeys = records.map((record) => String(record[recordKeyField]));
    for (const view of this.viewsOf(dataset)) {
      const leftToBackfill = await recordsLeftToBackfill(manager, tenant, view, recordKeys);
      const own = leftToBackfill.size === 0 ? records : records.filter((_, index) => !leftToBackfill.has(recordKeys[index]));
      const { skipped } = await applyRecordsToStore(manager, { tenant, view }, own);
      if (skipped > 0) this.log.warn({ view: view.name, dataset, skipped }, 'records without an entity key or event time were left out of a feature view');
    }
  }

  /**
   * Reads the features of one entity as of a time from the online store, in one statement. Pass
   * a transaction's manager as `queryable` to read inside it, such as a decision's transaction.
   */
  async getOnlineFeatures(request: OnlineFeatureRequest, queryable: Pick<EntityManager, 'query'> = this.dataSource): Promise<FeatureVector> {
    const view = this.getView(request.view);
    checkReadRequest(request.entityKey, request.asOf);
    const query = this.queries.get(view.name) as OnlineQuery;
    const asOfMs = request.asOf.getTime();
    const cutMs = bucketStart(asOfMs, view.bucketMs);
    const rows: Record<string, string | null>[] = await queryable.query(query.sql, query.parameters(request.tenant, request.entityKey, cutMs));
    const values = computeFeatureValues(view, rowToRawAggregates(view, rows[0]), request.inputs ?? {});
    return vector(view, request.entityKey, asOfMs, cutMs, values);
  }

  /**
   * Reads several views in one statement, so a decision makes one database round trip for all of
   * its features. Each read gets its own entity, inputs and as-of time. Returns vectors in request
   * order.
   */
  async getOnlineFeaturesMany(requests: readonly OnlineFeatureRequest[], queryable: Pick<EntityManager, 'query'> = this.dataSource): Promise<FeatureVector[]> {
    if (requests.length === 0) return [];
    const parts: string[] = [];
    const parameters: unknown[] = [];
    const cuts: number[] = [];
    for (const [index, request] of requests.entries()) {
      const view = this.getView(request.view);
      checkReadRequest(request.entityKey, request.asOf);
      const query = this.queries.get(view.name) as OnlineQuery;
      const cutMs = bucketStart(request.asOf.getTime(), view.bucketMs);
      cuts.push(cutMs);
      const offset = parameters.length;
      parameters.push(...query.parameters(request.tenant, request.entityKey, cutMs));
      // Each view's statement is renumbered to its own parameters and returned as one JSON column.
      const sql = query.sql.replace(/\$(\d+)/g, (_, number: string) => `$${Number(number) + offset}`);
      parts.push(`(SELECT row_to_json(r) FROM (${sql}) r) AS r${index}`);
    }
    const rows: Record<string, Record<string, string | null>>[] = await queryable.query(`SELECT ${parts.join(', ')}`, parameters);
    return requests.map((request, index) => {
      const view = this.getView(request.view);
      const values = computeFeatureValues(view, rowToRawAggregates(view, rows[0][`r${index}`]), request.inputs ?? {});
      return vector(view, request.entityKey, request.asOf.getTime(), cuts[index], values);
    });
  }

  /**
   * Computes point-in-time features for each label from the stored source records (the offline
   * store), without a ledger entry. Replays use it to check recorded feature values.
   */
  async computePointInTime(tenant: string, viewName: string, labels: readonly TrainingLabel[]): Promise<FeatureVector[]> {
    const view = this.getView(viewName);
    labels.forEach((label, index) => checkReadRequest(label.entityKey, label.asOf, `labels row ${index + 1}`));
    const points = labels.map((label) => ({ entityKey: label.entityKey, asOfMs: label.asOf.getTime() }));
    const aggregates = await computeOfflineAggregates(this.dataSource.manager, tenant, view, points);
    return labels.map((label, index) => {
      const asOfMs = label.asOf.getTime();
      return vector(view, label.entityKey, asOfMs, bucketStart(asOfMs, view.bucketMs), computeFeatureValues(view, aggregates[index], label.inputs ?? {}));
    });
  }

  /**
   * Computes point-in-time features for each label from the stored source records and appends a
   * ledger entry naming the view version and the digest of the result.
   */
  async buildTrainingSet(command: { tenant: string; actor: string; view: string; labels: readonly TrainingLabel[] }): Promise<TrainingSet> {
    const view = this.getView(command.view);
    if (command.labels.length === 0) {
      throw new BadUserInputError('The labels file has no rows.', [{ field: 'labels', message: 'labels must contain at least one row with an entity key, a time and a label' }]);
    }
    command.labels.forEach((label, index) => checkReadRequest(label.entityKey, label.asOf, `labels row ${index + 1}`));

    const vectors = await this.computePointInTime(command.tenant, view.name, command.labels);
    const rows = vectors.map((features, index) => ({ ...features, label: command.labels[index].label }));
    const features = [...view.aggregations.map((aggregation) => aggregation.name), ...view.derived.map((derived) => derived.name)];
    const dataDigest = digestJson(rows.map((row) => [row.entityKey, row.asOf, row.label, features.map((name) => row.values[name])]));

    await this.dataSource.transaction((manager) =>
      this.ledger.append(manager, {
        type: 'features.training_set',
        tenant: command.tenant,
        actor: command.actor,
        payload: { view: view.name, viewVersion: view.version, viewHash: view.definitionHash, rows: rows.length, dataDigest },
      }),
    );
    return { view: view.name, viewVersion: view.version, viewHash: view.definitionHash, features, rows, dataDigest };
  }
}

function vector(view: FeatureView, entityKey: string, asOfMs: number, cutMs: number, values: FeatureValues): FeatureVector {
  return {
    view: view.name,
    viewVersion: view.version,
    viewHash: view.definitionHash,
    entityKey,
    asOf: new Date(asOfMs).toISOString(),
    windowEnd: new Date(cutMs).toISOString(),
    values,
  };
}

function checkReadRequest(entityKey: string, asOf: Date, where = 'request'): void {
  const errors: FieldError[] = [];
  if (typeof entityKey !== 'string' || entityKey === '' || entityKey.length > 256 || /[\u0000-\u001f\u007f]/.test(entityKey)) {
    errors.push({ field: 'entityKey', message: `${where}: entityKey must be a non-empty string of at most 256 characters without control characters` });
  }
  if (!(asOf instanceof Date) || Number.isNaN(asOf.getTime()) || asOf.getTime() < 0 || asOf.getUTCFullYear() > 9999) {
    errors.push({ field: 'asOf', message: `${where}: asOf must be a valid date-time from 1970 to 9999, such as 2026-01-02T05:00:00Z` });
  }
  if (errors.length > 0) throw new BadUserInputError(`Invalid feature read: ${errors.map((error) => error.message).join('; ')}.`, errors);
}
