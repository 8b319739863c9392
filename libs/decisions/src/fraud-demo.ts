import { getLogger, NotFoundError } from '../../common/src/index.js';
import { generatePaysim } from '../../ingestion/src/index.js';
import type { WardenRuntime } from './runtime.js';

const FRAUD_USE_CASE = 'payment-fraud';
const FRAUD_DATASET = 'paysim-transactions';
/** Size and seed of the synthetic transactions; fixed so every fresh start trains the same model. */
const DEMO_TRANSACTIONS = 6000;
const DEMO_SEED = 7;
/** Synthetic payments decided on first start, so the review queue has fraud cases. */
const DEMO_PAYMENTS = 40;
const DEMO_PAYMENT_SEED = 77;
const DEMO_PAYMENT_APP = 'demo-payments-app';

export interface FraudDemoResult {
  modelVersion: string;
  /** Review cases the demo payments opened on this start (0 when the data folder was reused). */
  reviewCases: number;
  created: boolean;
}

/**
 * Prepares the payment-fraud demo on first start: ingests synthetic PaySim-like transactions,
 * which also fills the online feature store, trains the fraud model on point-in-time features
 * and screens a few payments. Later starts reuse the trained model.
 */
export async function runFraudDemoSetup(runtime: WardenRuntime, options: { tenant: string; actor: string }): Promise<FraudDemoResult | undefined> {
  const log = getLogger('demo');
  const useCase = runtime.useCases.get(FRAUD_USE_CASE);
  if (!useCase) return undefined;
  try {
    const model = await runtime.models.latest(FRAUD_USE_CASE, options.tenant);
    return { modelVersion: model.version, reviewCases: 0, created: false };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }

  await runtime.features.registerViews();
  const records = generatePaysim({ rows: DEMO_TRANSACTIONS, seed: DEMO_SEED });
  const ingested = await runtime.ingestion.ingest({ tenant: options.tenant, actor: options.actor, dataset: FRAUD_DATASET, records, source: 'demo' });
  const trained = await runtime.training.train({ useCase: FRAUD_USE_CASE, tenant: options.tenant, actor: options.actor });
  log.info({ accepted: ingested.accepted, modelVersion: trained.version, auc: trained.metrics.auc }, 'fraud demo data ingested and model trained');

  // The demo payments happen an hour after the last generated one, so every view reads full windows.
  const principal = { subject: DEMO_PAYMENT_APP, tenant: options.tenant, roles: ['application'] };
  const lastTime = Math.max(...records.map((record) => Date.parse(String(record.event_time))));
  const request = useCase.config.request;
  const fields = [...(request?.numeric ?? []), ...(request?.categorical ?? [])].map((field) => field.name).concat(request?.entities ?? []);
  let reviewCases = 0;
  for (const record of generatePaysim({ rows: DEMO_PAYMENTS, seed: DEMO_PAYMENT_SEED, fraudRate: 0.2 })) {
    const application: Record<string, unknown> = Object.fromEntries(fields.map((name) => [name, record[name]]));
    application.event_time = new Date(lastTime + 3_600_000).toISOString();
    const decision = await runtime.decisions.decide(principal, { useCase: FRAUD_USE_CASE, application });
    if (decision.review) reviewCases += 1;
  }
  return { modelVersion: trained.version, reviewCases, created: true };
}
