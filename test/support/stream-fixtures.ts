import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { PostgresLedger, RetentionService, type RetentionPolicy } from '../../libs/audit/src/index.js';
import { datasetLinks, loadUseCases } from '../../libs/decisions/src/index.js';
import { FeatureStore } from '../../libs/feature-store/src/index.js';
import { IngestionService, parseFile, type DatasetDefinition } from '../../libs/ingestion/src/index.js';
import { datasetOfSubject, deriveEventFields, StreamBatchProcessor, subjectOf, type FeatureUpdater, type StreamMessage } from '../../libs/streaming/src/index.js';
import { REPO_ROOT } from './databases.js';

export const PAYSIM = 'paysim-transactions';
export const POLICY_DIR = join(REPO_ROOT, 'policies');

/** Ingestion, ledger and feature store over one database, with the definitions registered. */
export interface StreamServices {
  ingestion: IngestionService;
  ledger: PostgresLedger;
  features: FeatureStore;
  definition: DatasetDefinition;
}

export async function createStreamServices(dataSource: DataSource): Promise<StreamServices> {
  const ledger = new PostgresLedger();
  const ingestion = new IngestionService(dataSource, POLICY_DIR, ledger);
  await ingestion.registerDatasets();
  const datasets = new Map(ingestion.listDefinitions().map((definition) => [definition.dataset, definition]));
  const features = new FeatureStore(dataSource, POLICY_DIR, datasets, ledger);
  await features.registerViews();
  return { ingestion, ledger, features, definition: ingestion.getDefinition(PAYSIM) };
}

/** Creates a batch processor for the PaySim subject, as the stream consumer does. */
export function createProcessor(
  dataSource: DataSource,
  services: StreamServices,
  tenant: string,
  features: FeatureUpdater = services.features,
  names: { stream: string; consumer: string } = { stream: 'TEST', consumer: 'test' },
): StreamBatchProcessor {
  const definitions = new Map(services.ingestion.listDefinitions().map((definition) => [definition.dataset, definition]));
  return new StreamBatchProcessor(dataSource, services.ledger, features, {
    tenant,
    actor: 'stream:test',
    stream: names.stream,
    consumer: names.consumer,
    datasetOf: datasetOfSubject,
    definitionOf: (dataset) => definitions.get(dataset),
  });
}

let nextSeq = 1;

/** Wraps records as first deliveries on the PaySim subject, with increasing stream sequences. */
export function asMessages(records: readonly unknown[]): StreamMessage[] {
  return records.map((record) => ({
    subject: subjectOf(PAYSIM),
    streamSeq: nextSeq++,
    deliveryCount: 1,
    data: Buffer.from(typeof record === 'string' ? record : JSON.stringify(record)),
  }));
}

/** Builds one PaySim-shaped transaction with the fields that feature tests vary. */
export function transaction(key: string, time: string, dest: string, orig: string, amount: number): Record<string, unknown> {
  return {
    event_key: key,
    event_time: time,
    step: 1,
    type: 'TRANSFER',
    amount,
    name_orig: orig,
    old_balance_orig: 0,
    new_balance_orig: 0,
    name_dest: dest,
    old_balance_dest: 0,
    new_balance_dest: 0,
    is_fraud: 0,
  };
}

/**
 * Reads the PaySim sample with the dataset's CSV mapping and adds the derived event key and time.
 * Values stay strings as in the file; validation converts them.
 */
export function readPaysimRows(path: string, definition: DatasetDefinition): Record<string, string>[] {
  return parseFile(path, definition).rows.map((row) => deriveEventFields(definition, row).value as Record<string, string>);
}

/**
 * Creates a retention service with the repository's use cases and a fixed clock. Unless `linked` is
 * false it is given the use cases that train on each dataset or read its features, as the runtime does.
 */
export function createRetention(dataSource: DataSource, services: StreamServices, policy: RetentionPolicy, now: Date, linked = true): RetentionService {
  const useCases = loadUseCases(POLICY_DIR);
  const links = linked ? (dataset: string) => datasetLinks(dataset, useCases, services.features.views) : undefined;
  return new RetentionService(dataSource, services.ledger, policy, () => [...useCases.keys()], () => now, links);
}
