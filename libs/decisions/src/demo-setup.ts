import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { getLogger, NotFoundError } from '../../common/src/index.js';
import { generateGermanCredit } from '../../ingestion/src/index.js';
import { TokenIssuer } from '../../policy/src/index.js';
import type { WardenRuntime } from './runtime.js';
import { ingestDemoCorpus } from './demo-corpus.js';

/** Size and seed of the synthetic demo data set; fixed so every fresh start trains the same model. */
const DEMO_ROWS = 1000;
const DEMO_SEED = 42;
const DEMO_USE_CASE = 'credit-application';
/** Applications decided on first start, so the review queue has real cases to work. */
const DEMO_DECISIONS = 60;
/** Every this many demo applications requests a large loan, which the use case sends to four-eyes review. */
const DEMO_LARGE_LOAN_EVERY = 12;
const DEMO_LARGE_LOAN_AMOUNT = 16_000;
const DEMO_DECISION_SEED = 4242;
const DEMO_APPLICATION = 'demo-loan-app';

export interface DemoSetupResult {
  /** Model version the demo decides with. */
  modelVersion: string;
  /** A token for the demo bank application (role `application`). */
  token: string;
  /** Tokens for the reviewer web app: two reviewers (alice, bob) and a senior reviewer (sam). */
  reviewerTokens: { subject: string; role: string; token: string }[];
  /** Review cases the demo decisions opened on this start (0 when the data folder was reused). */
  reviewCases: number;
  /** Whether this start generated data and trained, or reused what the data folder held. */
  created: boolean;
}

/**
 * Prepares the embedded demo on first start: generates synthetic applications with the German
 * Credit schema, ingests them and trains the credit model. Later starts find the model and reuse
 * it. In server mode the same steps run against the server's database.
 */
export async function runDemoSetup(runtime: WardenRuntime, options: { tenant: string; actor: string }): Promise<DemoSetupResult> {
  const log = getLogger('demo');
  let created = false;
  let reviewCases = 0;
  let modelVersion: string;
  try {
    modelVersion = (await runtime.models.latest(DEMO_USE_CASE, options.tenant)).version;
    log.info({ modelVersion }, 'demo model found; reusing the data folder');
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const records = generateGermanCredit({ rows: DEMO_ROWS, seed: DEMO_SEED });
    const demoDir = join(runtime.config.dataDir, 'demo');
    mkdirSync(demoDir, { recursive: true });
    const file = join(demoDir, 'german-credit-synthetic.jsonl');
    if (!existsSync(file)) writeFileSync(file, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
    const ingested = await runtime.ingestion.ingestFile({ tenant: options.tenant, actor: options.actor, dataset: 'german-credit', path: file });
    const trained = await runtime.training.train({ useCase: DEMO_USE_CASE, tenant: options.tenant, actor: options.actor });
    modelVersion = trained.version;
    created = true;
    reviewCases = await decideDemoApplications(runtime, options.tenant);
    log.info({ accepted: ingested.accepted, modelVersion, auc: trained.metrics.auc }, 'demo data ingested and model trained');
  }

  // Runs on every start: an unchanged corpus adds nothing, an edited file becomes a new version.
  await ingestDemoCorpus(runtime, options);

  const issuer = await TokenIssuer.open(runtime.config);
  const token = await issuer.issue({ tenant: options.tenant, roles: ['application'], subject: DEMO_APPLICATION });
  const reviewerTokens = [];
  for (const [subject, role] of [['alice', 'reviewer'], ['bob', 'reviewer'], ['sam', 'senior-reviewer']] as const) {
    reviewerTokens.push({ subject, role, token: await issuer.issue({ tenant: options.tenant, roles: [role], subject }) });
  }
  return { modelVersion, token, reviewerTokens, created, reviewCases };
}

/**
 * Decides synthetic applications as the demo bank application. The use case's review rules send
 * the REFER ones, large loans and a quality sample to the queue, which the reviewer web app shows.
 */
async function decideDemoApplications(runtime: WardenRuntime, tenant: string): Promise<number> {
  const useCase = runtime.useCases.get(DEMO_USE_CASE);
  if (!useCase) return 0;
  const features = [...useCase.config.features.numeric, ...useCase.config.features.categorical].map((feature) => feature.name);
  const principal = { subject: DEMO_APPLICATION, tenant, roles: ['application'] };
  let cases = 0;
  const records = generateGermanCredit({ rows: DEMO_DECISIONS, seed: DEMO_DECISION_SEED });
  for (const [index, record] of records.entries()) {
    const application = Object.fromEntries(features.map((name) => [name, record[name]]));
    if (index % DEMO_LARGE_LOAN_EVERY === 0) application.credit_amount = DEMO_LARGE_LOAN_AMOUNT + index * 100;
    const decision = await runtime.decisions.decide(principal, { useCase: DEMO_USE_CASE, application });
    if (decision.review) cases += 1;
  }
  return cases;
}
