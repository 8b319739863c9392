import { join } from 'node:path';
import { getLogger, loadOrCreateMasterKey, setLogScrubber, type WardenConfig } from '../../common/src/index.js';
import { loadInjectionRules, loadTopicPolicy, PlaceholderVault, scrubPii } from '../../guardrails/src/index.js';
import { openDatabase, type WardenDatabase } from '../../database/src/index.js';
import {
  ChainVerificationScheduler,
  CheckpointKeyStore,
  CheckpointScheduler,
  CheckpointService,
  ErasureService,
  loadRetentionPolicy,
  PostgresLedger,
  PostgresMerkleLog,
  datasetPeriodConflicts,
  RetentionService,
  SubjectKeyStore,
  WitnessPublisher,
  type DatasetLinks,
  type MerkleLog,
} from '../../audit/src/index.js';
import { IngestionService } from '../../ingestion/src/index.js';
import { LlmGateway } from '../../llm/src/index.js';
import { FeatureStore } from '../../feature-store/src/index.js';
import { ModelRegistry } from '../../models/src/index.js';
import { WardenMetrics } from '../../monitoring/src/index.js';
import { PolicyEnforcer, TokenVerifier } from '../../policy/src/index.js';
import { CollectionAccess, createEmbedder, RetrievalService } from '../../retrieval/src/index.js';
import { DecisionUpdates, ReviewAccess, ReviewerLabels, ReviewService, UseCaseSwitch, WebhookDispatcher, WebhookOutbox } from '../../review/src/index.js';
import { DecisionService } from './decision.service.js';
import { ModelCache } from './model-cache.js';
import { PolicySnapshots } from './policy-snapshots.js';
import { TrainingService } from './training.service.js';
import { checkUseCaseViews, loadUseCases, type LoadedUseCase } from './use-case-config.js';
import { loadAnswerUseCases, type LoadedAnswerUseCase } from './answer-config.js';
import { AnswerService } from './answer.service.js';

/**
 * The composition root: every service of one Warden process, wired to one database. The gateway
 * hands it to Nest as a value; the CLI uses it directly.
 */
export interface WardenRuntime {
  config: WardenConfig;
  database: WardenDatabase;
  ledger: PostgresLedger;
  policy: PolicyEnforcer;
  tokens: TokenVerifier;
  metrics: WardenMetrics;
  useCases: Map<string, LoadedUseCase>;
  answerUseCases: Map<string, LoadedAnswerUseCase>;
  /** Governed answers (ask); undefined when no answer use case is configured under policies/answers. */
  answers: AnswerService | undefined;
  ingestion: IngestionService;
  /** Feature views of `<policyDir>/features`; every ingestion path updates their online store. */
  features: FeatureStore;
  models: ModelRegistry;
  training: TrainingService;
  decisions: DecisionService;
  merkle: MerkleLog;
  checkpointKeys: CheckpointKeyStore;
  checkpoints: CheckpointService;
  /** Not started here: `warden start` starts it, so CLI commands never create checkpoints on a timer. */
  checkpointScheduler: CheckpointScheduler;
  /** Not started here: `warden start` starts it, like the checkpoint scheduler. */
  chainVerificationScheduler: ChainVerificationScheduler;
  reviews: ReviewService;
  useCaseSwitch: UseCaseSwitch;
  decisionUpdates: DecisionUpdates;
  /** Not started here: `warden start` starts it, like the checkpoint scheduler. */
  webhookDispatcher: WebhookDispatcher;
  /** Retention purges and legal holds; `warden retention purge` runs it as a job. */
  retention: RetentionService;
  /** Erasure of a data subject by destroying their key (`warden erase`). */
  erasure: ErasureService;
  /** The governed OpenAI-compatible proxy: upstreams, API keys, usage accounting. */
  llm: LlmGateway;
  /** Document collections and entitled hybrid search (WARDEN_EMBEDDING_* selects the embedder). */
  retrieval: RetrievalService;
  close(): Promise<void>;
}

/** Opens the database (running migrations), loads policies and use cases, and wires the services. */
export async function createRuntime(config: WardenConfig): Promise<WardenRuntime> {
  // Personal data that reaches a log message or an error by accident is masked before writing.
  setLogScrubber(scrubPii);
  const log = getLogger('runtime');
  const useCases = loadUseCases(config.policyDir);
  const answerUseCases = loadAnswerUseCases(config.policyDir);
  for (const name of answerUseCases.keys()) {
    if (useCases.has(name)) throw new Error(`Use case ${name} is declared both under policies/use-cases and policies/answers; rename one.`);
  }
  const policy = await PolicyEnforcer.create(config.policyDir);
  const tokens = await TokenVerifier.create(config);
  const embedder = await createEmbedder(config.embedding);
  const database = await openDatabase(config);
  const { dataSource } = database;

  const ledger = new PostgresLedger();
  const metrics = new WardenMetrics();
  // Subject keys are wrapped under the placeholder vault's master key, with their own HKDF label.
  const vaultKeyFile = config.vaultKeyFile ?? join(config.dataDir, 'keys', 'vault-master.key');
  const subjectKeys = await SubjectKeyStore.open(dataSource, vaultKeyFile);
  const ingestion = new IngestionService(dataSource, config.policyDir, ledger);
  const features = new FeatureStore(dataSource, config.policyDir, new Map(ingestion.listDefinitions().map((definition) => [definition.dataset, definition])), ledger);
  ingestion.useStoredRecordsListener(features);
  const models = new ModelRegistry(dataSource, ledger);
  const modelCache = new ModelCache(models);
  const snapshots = new PolicySnapshots(dataSource, config.policyDir);
  const training = new TrainingService(useCases, ingestion, models, features);
  checkUseCaseViews(useCases, features);
  const reviewAccess = await ReviewAccess.create(config.policyDir);
  const decisionUpdates = new DecisionUpdates();
  const webhookSettings = { url: config.webhookUrl, secret: config.webhookSecret };
  const useCaseSwitch = new UseCaseSwitch(dataSource, ledger, () => [...useCases.keys(), ...answerUseCases.keys()]);
  const reviews = new ReviewService(
    dataSource,
    ledger,
    reviewAccess,
    (name) => {
      const answerUseCase = answerUseCases.get(name);
      if (answerUseCase) {
        return {
          review: answerUseCase.config.review,
          reasonCodes: async () => answerUseCase.config.declineReasons,
          describeValue: () => null,
        };
      }
      const found = useCases.get(name);
      if (!found) return undefined;
      return {
        review: found.config.review,
        async reasonCodes() {
          // A reviewer may cite any reason of the map except a prohibited basis (sex, marital status, national origin).
          // The review service checks the codes inside its transaction, so this reads the map without storing a snapshot.
          const { map } = await snapshots.currentReasonCodeMap(found.config);
          const options = new Map<string, string>();
          for (const entry of map.reasonCodes) if (!entry.prohibitedBasis && !options.has(entry.code)) options.set(entry.code, entry.description);
          return [...options].map(([code, description]) => ({ code, description }));
        },
        describeValue(field, value) {
          return ingestion.getDefinition(found.config.dataset).quality.codes[field]?.[value] ?? null;
        },
      };
    },
    decisionUpdates,
    new WebhookOutbox(webhookSettings),
    metrics,
    new ReviewerLabels(await loadOrCreateMasterKey(vaultKeyFile, 'vault master key')),
    subjectKeys,
  );
  metrics.observeQueueDepth(() => reviews.queueDepth());
  const webhookDispatcher = new WebhookDispatcher(dataSource, webhookSettings);
  const decisions = new DecisionService(dataSource, useCases, modelCache, ledger, snapshots, () => policy.policyHash, metrics, {
    switch: useCaseSwitch,
    reviews,
    updates: decisionUpdates,
  }, subjectKeys, features);
  const merkle = new PostgresMerkleLog(dataSource);
  // Replicas of a gateway each create their own key in their data folder unless
  // WARDEN_CHECKPOINT_KEY_FILE points them all at one key file.
  const checkpointKeyFile = config.checkpointKeyFile ?? join(config.dataDir, 'keys', 'checkpoint-ed25519.pem');
  const checkpointKeys = new CheckpointKeyStore(dataSource, checkpointKeyFile, ledger);
  const witnesses = new WitnessPublisher(dataSource, { file: config.checkpointWitnessFile, url: config.checkpointWitnessUrl });
  const checkpoints = new CheckpointService(dataSource, merkle, checkpointKeys, ledger, witnesses, { origin: config.checkpointOrigin });
  const checkpointScheduler = new CheckpointScheduler(checkpoints, config.checkpointIntervalSeconds);
  const chainVerificationScheduler = new ChainVerificationScheduler(dataSource, config.chainVerificationIntervalSeconds, ledger);
  const vault = await PlaceholderVault.open(dataSource, vaultKeyFile);
  const llm = await LlmGateway.create({ policyDir: config.policyDir, upstreamsFile: config.llmUpstreamsFile, dataSource, ledger, policy, metrics, vault });

  const retentionPolicy = loadRetentionPolicy(config.policyDir);
  for (const rule of retentionPolicy.rules) {
    if (!useCases.has(rule.useCase) && !answerUseCases.has(rule.useCase)) {
      log.warn({ useCase: rule.useCase }, 'policies/retention.yaml names a use case that is not configured; its rule applies to stored records only');
    }
  }
  for (const rule of retentionPolicy.datasets ?? []) {
    if (!ingestion.listDefinitions().some((definition) => definition.dataset === rule.dataset)) {
      log.warn({ dataset: rule.dataset }, 'policies/retention.yaml names a dataset that policies/datasets does not define; its rule applies to stored rows only');
    }
  }
  for (const conflict of datasetPeriodConflicts(retentionPolicy, (dataset) => datasetLinks(dataset, useCases, features.views).useCases)) {
    log.warn(
      conflict,
      'policies/retention.yaml purges a dataset before the decisions of a use case that reads it, so their replay will report different values. Raise the dataset\'s purgeAfterMonths to at least the use case\'s.',
    );
  }
  const retention = new RetentionService(
    dataSource,
    ledger,
    retentionPolicy,
    () => [...useCases.keys(), ...answerUseCases.keys()],
    undefined,
    (dataset) => datasetLinks(dataset, useCases, features.views),
  );
  const erasure = new ErasureService(dataSource, ledger, subjectKeys, retentionPolicy);
  const retrieval = new RetrievalService(dataSource, ledger, policy, await CollectionAccess.create(config.policyDir), embedder);
  // A generative answer use case must name a chat model of the upstreams file; a typo would
  // otherwise fail every call instead of the start.
  for (const { config: answerConfig } of answerUseCases.values()) {
    const model = answerConfig.generation.model;
    if (answerConfig.generation.mode !== 'generative' || model === null) continue;
    if (llm.config.models.get(model)?.kind !== 'chat') {
      const known = [...llm.config.models.values()].filter((entry) => entry.kind === 'chat').map((entry) => entry.name);
      await database.close();
      throw new Error(
        `Answer use case ${answerConfig.useCase} names generation.model "${model}", which is not a chat model of the LLM upstreams file. ` +
          `Use one of: ${known.join(', ') || 'none'}, or set generation.mode to extractive.`,
      );
    }
  }
  let answers: AnswerService | undefined;
  try {
    answers =
      answerUseCases.size > 0
        ? new AnswerService(dataSource, answerUseCases, ledger, retrieval, llm, loadInjectionRules(config.policyDir), reviews, useCaseSwitch, () => policy.policyHash, {
            topics: loadTopicPolicy(config.policyDir),
            vault,
          }, subjectKeys)
        : undefined;
  } catch (error) {
    // A use case in hash mode without its key fails the start; the database must not stay open.
    await database.close();
    throw error;
  }

  log.info({ database: database.mode, useCases: [...useCases.keys()], policyHash: policy.policyHash }, 'runtime ready');
  return {
    config,
    database,
    ledger,
    policy,
    tokens,
    metrics,
    useCases,
    answerUseCases,
    answers,
    ingestion,
    features,
    models,
    training,
    decisions,
    merkle,
    checkpointKeys,
    checkpoints,
    checkpointScheduler,
    chainVerificationScheduler,
    reviews,
    useCaseSwitch,
    decisionUpdates,
    webhookDispatcher,
    retention,
    erasure,
    llm,
    retrieval,
    async close() {
      await checkpointScheduler.stop();
      await chainVerificationScheduler.stop();
      await webhookDispatcher.stop();
      await llm.close();
      await metrics.shutdown();
      await database.close();
    },
  };
}

/**
 * Returns the use cases that train on `dataset` or read a feature view whose source it is, and the
 * maximum window and bucket width of those views. A legal hold on any of these use cases keeps the
 * dataset from the retention purge.
 */
export function datasetLinks(
  dataset: string,
  useCases: ReadonlyMap<string, LoadedUseCase>,
  views: ReadonlyMap<string, { source: string; maxWindowMs: number; bucketMs: number }>,
): DatasetLinks {
  const sourced = [...views].filter(([, view]) => view.source === dataset);
  const viewNames = sourced.map(([name]) => name);
  const linked = [...useCases.values()].filter(
    ({ config }) => config.dataset === dataset || (config.featureViews ?? []).some((reference) => viewNames.includes(reference.view)),
  );
  return {
    useCases: linked.map(({ config }) => config.useCase).sort(),
    maxWindowMs: Math.max(0, ...sourced.map(([, view]) => view.maxWindowMs)),
    maxBucketMs: Math.max(0, ...sourced.map(([, view]) => view.bucketMs)),
  };
}
