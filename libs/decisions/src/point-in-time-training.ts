import { BadUserInputError, digestJson, FailedPreconditionError } from '../../common/src/index.js';
import type { FeatureStore, FeatureVector } from '../../feature-store/src/index.js';
import type { DatasetRecord } from '../../ingestion/src/index.js';
import { computeModelInputs, type RequestConfig, type TrainedViewVersion } from './feature-view-use-case.js';
import type { UseCaseConfig } from './use-case-config.js';

/** Training rows of a feature-view use case, sorted by event time, with the time-ordered split. */
export interface PointInTimeRows {
  /** Model inputs and the label of each labelled event, oldest first. */
  rows: Record<string, string | number>[];
  /** Index of the first holdout row: every holdout event is at or after `holdoutFromTime`. */
  holdoutFrom: number;
  holdoutFromTime: string;
  views: TrainedViewVersion[];
  /** Data digest of each view's training set, as its `features.training_set` ledger entry records it. */
  trainingSetDigests: Record<string, string>;
  dataDigest: string;
}

/**
 * Builds the training rows of a use case that reads feature views. Each labelled record is read
 * as the request it would have been (its request fields). Its features come from the offline
 * store as of its own event time, so only events before that time's bucket count. The rows are
 * split by time: the latest `holdoutFraction` of events is the holdout.
 */
export async function buildPointInTimeRows(
  config: UseCaseConfig,
  store: FeatureStore,
  command: { tenant: string; actor: string },
  labelled: readonly DatasetRecord[],
): Promise<PointInTimeRows> {
  const request = config.request as RequestConfig;
  const timeOf = (record: DatasetRecord) => Date.parse(String(record[request.asOf]));
  const usable = labelled.filter((record) => !Number.isNaN(timeOf(record)));
  if (usable.length < labelled.length) {
    throw new FailedPreconditionError(`${labelled.length - usable.length} labelled ${config.dataset} records have no valid ${request.asOf}; fix or remove them and train again.`);
  }
  const missing = [...request.numeric.map((field) => field.name), ...request.categorical.map((field) => field.name), ...request.entities].filter(
    (field) => usable[0][field] === undefined,
  );
  if (missing.length > 0) {
    throw new FailedPreconditionError(`Records of ${config.dataset} lack the request fields ${missing.join(', ')} of use case ${config.useCase}; name request fields like dataset fields.`);
  }
  const sorted = [...usable].sort((a, b) => timeOf(a) - timeOf(b) || String(a.event_key ?? '').localeCompare(String(b.event_key ?? '')));

  const vectorsByView: FeatureVector[][] = [];
  const views: TrainedViewVersion[] = [];
  const trainingSetDigests: Record<string, string> = {};
  for (const reference of config.featureViews ?? []) {
    const labels = sorted.map((record) => ({
      entityKey: String(record[reference.entity]),
      asOf: new Date(timeOf(record)),
      label: record[config.label.field] as number,
      inputs: Object.fromEntries(request.numeric.map((field) => [field.name, Number(record[field.name])])),
    }));
    const set = await store.buildTrainingSet({ tenant: command.tenant, actor: command.actor, view: reference.view, labels });
    if (set.viewVersion !== reference.version) {
      throw new FailedPreconditionError(`Use case ${config.useCase} pins ${reference.view} version ${reference.version}, but the store serves version ${set.viewVersion}.`);
    }
    vectorsByView.push(set.rows);
    views.push({ view: set.view, version: set.viewVersion, hash: set.viewHash });
    trainingSetDigests[set.view] = set.dataDigest;
  }

  const rows = sorted.map((record, index) => ({
    ...computeModelInputs(
      config,
      record,
      vectorsByView.map((vectors) => vectors[index]),
    ),
    [config.label.field]: record[config.label.field] as number,
  }));

  const holdoutFraction = config.training.holdoutFraction;
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
    throw new BadUserInputError(`training.holdoutFraction must be between 0 and 1, got ${holdoutFraction}.`, [{ field: 'training.holdoutFraction', message: 'must be in (0, 1)' }]);
  }
  // Events that share a time stay on one side of the split.
  const cutTime = timeOf(sorted[Math.floor(sorted.length * (1 - holdoutFraction))]);
  const holdoutFrom = sorted.findIndex((record) => timeOf(record) >= cutTime);
  if (holdoutFrom < 2) {
    throw new FailedPreconditionError(`The labelled events of ${config.dataset} span too few distinct times for a time-ordered split; ingest a longer period.`);
  }
  return {
    rows,
    holdoutFrom,
    holdoutFromTime: new Date(cutTime).toISOString(),
    views,
    trainingSetDigests,
    dataDigest: digestJson(rows),
  };
}
