import { resolve } from 'node:path';
import { EMBEDDING_CONFIG_VARIABLES, readEmbeddingConfig, type EmbeddingConfig } from './embedding-config.js';

/**
 * Warden's configuration, read once from the environment at boot. A wrong value raises a
 * ConfigError that names the variable and the fix, before anything else starts.
 */
export interface WardenConfig {
  /** HTTP port of the gateway. */
  port: number;
  /** Host the gateway binds to. */
  host: string;
  /** PostgreSQL server URL; undefined selects the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** Folder of the embedded database, the local signing key and generated demo data. */
  dataDir: string;
  /** Folder with the casbin model and policies, use-case configs and reason-code maps. */
  policyDir: string;
  /** JWKS URL of the bank's identity provider; undefined uses the local EdDSA key (embedded mode). */
  jwksUrl: string | undefined;
  /** Expected `iss` claim of bearer tokens. */
  jwtIssuer: string;
  /** Expected `aud` claim of bearer tokens. */
  jwtAudience: string;
  /** pino log level. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Size of the PostgreSQL connection pool (server mode; the embedded database uses one connection). */
  databasePoolSize: number;
  /**
   * Seconds a request waits for a free database connection, or for a new one to open, before it
   * fails with DATABASE_UNAVAILABLE instead of waiting on.
   */
  databasePoolWaitSeconds: number;
  /** Log name on the first line of every checkpoint; undefined uses `warden.local/<log id of the database>`. */
  checkpointOrigin: string | undefined;
  /** PEM file of the checkpoint signing key; undefined uses `<dataDir>/keys/checkpoint-ed25519.pem`. */
  checkpointKeyFile: string | undefined;
  /** Seconds between scheduled checkpoints in the gateway; 0 disables the schedule. */
  checkpointIntervalSeconds: number;
  /** Seconds between scheduled full verifications of the ledger chain in the gateway. 0 disables the schedule. */
  chainVerificationIntervalSeconds: number;
  /** Maximum age in seconds of a recorded full verification that an incremental export check builds on. */
  chainVerificationMaxAgeSeconds: number;
  /** File that every checkpoint note is appended to, for an external witness. */
  checkpointWitnessFile: string | undefined;
  /** URL that every checkpoint note is POSTed to, for an external witness. */
  checkpointWitnessUrl: string | undefined;
  /** URL that review outcomes are POSTed to as signed webhooks; undefined sends none. */
  webhookUrl: string | undefined;
  /** HMAC-SHA256 key that signs every webhook; required with webhookUrl. */
  webhookSecret: string | undefined;
  /** Upstreams file of the OpenAI-compatible proxy; undefined uses llm/upstreams.yaml in the policy folder. */
  llmUpstreamsFile?: string;
  /** Master key file of the placeholder vault; undefined uses `<dataDir>/keys/vault-master.key`. */
  vaultKeyFile?: string;
  /** Embedder of document retrieval (WARDEN_EMBEDDING_*). */
  embedding: EmbeddingConfig;
  /** NATS server URL for stream ingestion; undefined connects to nothing. */
  natsUrl: string | undefined;
  /** JetStream stream that carries dataset events (subjects `warden.events.<dataset>`). */
  streamName: string;
  /** Durable consumer name shared by every Warden process that ingests the stream. */
  streamConsumer: string;
  /** Events fetched, stored in one transaction and acknowledged together. */
  streamBatchSize: number;
  /** Deliveries after which a failing event goes to the dead-letter table. */
  streamMaxDeliver: number;
  /** Tenant that owns the events read from the stream. */
  streamTenant: string;
}

/**
 * A policy file under the policy folder (use cases, answers, retention) that cannot be loaded.
 * Like ConfigError it means invalid configuration, so the CLI exits with code 2.
 */
export class PolicyFileError extends Error {}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Describes every variable for `warden --help` and the README's configuration reference. */
export const CONFIG_VARIABLES: ReadonlyArray<{ name: string; description: string; fallback: string }> = [
  { name: 'PORT', description: 'HTTP port of the gateway (1-65535)', fallback: '3000' },
  { name: 'HOST', description: 'address the gateway binds to', fallback: '127.0.0.1' },
  { name: 'DATABASE_URL', description: 'PostgreSQL server URL (postgres://...); unset starts embedded PGlite', fallback: 'unset' },
  { name: 'WARDEN_DATA_DIR', description: 'folder of the embedded database, local signing key and demo data', fallback: '.warden' },
  { name: 'WARDEN_POLICY_DIR', description: 'folder with casbin model and policies, use cases and reason codes', fallback: 'policies' },
  { name: 'WARDEN_JWKS_URL', description: "JWKS URL of the bank's identity provider; unset uses the local EdDSA key", fallback: 'unset' },
  { name: 'WARDEN_JWT_ISSUER', description: 'expected iss claim of bearer tokens', fallback: 'warden-local' },
  { name: 'WARDEN_JWT_AUDIENCE', description: 'expected aud claim of bearer tokens', fallback: 'warden' },
  { name: 'WARDEN_DB_POOL_SIZE', description: 'PostgreSQL connection pool size in server mode (1-200)', fallback: '10' },
  { name: 'WARDEN_DB_POOL_WAIT_SECONDS', description: 'seconds a request waits for a database connection before it fails (1-3600)', fallback: '30' },
  { name: 'LOG_LEVEL', description: `log level (${LOG_LEVELS.join(', ')})`, fallback: 'info' },
  { name: 'WARDEN_CHECKPOINT_ORIGIN', description: 'log name signed into every ledger checkpoint (no spaces or "+")', fallback: 'warden.local/<log id>' },
  { name: 'WARDEN_CHECKPOINT_KEY_FILE', description: 'PEM file of the Ed25519 checkpoint signing key, created on first use', fallback: '<data dir>/keys/checkpoint-ed25519.pem' },
  { name: 'WARDEN_CHECKPOINT_INTERVAL_SECONDS', description: 'seconds between checkpoints while the ledger grows (0-86400, 0 disables)', fallback: '300' },
  { name: 'WARDEN_CHAIN_VERIFICATION_INTERVAL_SECONDS', description: 'seconds between full verifications of the ledger chain in the gateway, each recorded as an audit.chain_verified entry (0-1209600, 0 disables)', fallback: '86400' },
  { name: 'WARDEN_CHAIN_VERIFICATION_MAX_AGE_SECONDS', description: 'maximum age in seconds of a recorded full verification that an export builds on, beyond which the export verifies the whole chain (0-31536000)', fallback: '604800' },
  { name: 'WARDEN_CHECKPOINT_WITNESS_FILE', description: 'file that every checkpoint note is appended to', fallback: 'unset' },
  { name: 'WARDEN_CHECKPOINT_WITNESS_URL', description: 'URL that every checkpoint note is POSTed to (https, or http on this machine)', fallback: 'unset' },
  { name: 'WARDEN_WEBHOOK_URL', description: 'URL that review outcomes are POSTed to as signed webhooks (https, or http on this machine)', fallback: 'unset' },
  { name: 'WARDEN_WEBHOOK_SECRET', description: 'HMAC-SHA256 key that signs webhooks, at least 32 characters; required with WARDEN_WEBHOOK_URL', fallback: 'unset' },
  { name: 'WARDEN_LLM_UPSTREAMS_FILE', description: 'YAML file of the LLM upstreams and models of the OpenAI-compatible proxy', fallback: '<policy dir>/llm/upstreams.yaml' },
  { name: 'WARDEN_VAULT_KEY_FILE', description: 'file of the master key that encrypts PII placeholder values (64 hex characters, mode 0600), created on first use', fallback: '<data dir>/keys/vault-master.key' },
  ...EMBEDDING_CONFIG_VARIABLES,
  { name: 'WARDEN_NATS_URL', description: 'NATS server with JetStream for stream ingestion (nats://host:port); unset connects to nothing', fallback: 'unset' },
  { name: 'WARDEN_STREAM_NAME', description: 'JetStream stream of dataset events, subjects warden.events.<dataset>', fallback: 'WARDEN_EVENTS' },
  { name: 'WARDEN_STREAM_CONSUMER', description: 'durable consumer name of stream ingestion', fallback: 'warden-ingest' },
  { name: 'WARDEN_STREAM_BATCH_SIZE', description: 'events stored per transaction and acknowledged together (1-10000)', fallback: '500' },
  { name: 'WARDEN_STREAM_MAX_DELIVER', description: 'deliveries before a failing event goes to the dead-letter table (1-100)', fallback: '5' },
  { name: 'WARDEN_STREAM_TENANT', description: 'tenant that owns events read from the stream', fallback: 'demo-bank' },
];

function readInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(name, `must be a whole number between ${min} and ${max}, got "${raw}". Set it to a number such as ${fallback} or unset it.`);
  }
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}. Set it to a number such as ${fallback} or unset it.`);
  }
  return value;
}

function readUrl(env: NodeJS.ProcessEnv, name: string, protocols: string[], example: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(name, `is not a valid URL. Set it like ${example} or unset it.`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${url.protocol}". Set it like ${example} or unset it.`);
  }
  return raw.trim();
}

/**
 * Reads WARDEN_JWKS_URL. The keys that authenticate every caller must not travel unencrypted, so
 * plain http is accepted only for a JWKS server on this machine (tests, a local sidecar).
 */
function readJwksUrl(env: NodeJS.ProcessEnv): string | undefined {
  const example = 'https://idp.example-bank.test/.well-known/jwks.json';
  const raw = readUrl(env, 'WARDEN_JWKS_URL', ['https:', 'http:'], example);
  if (raw === undefined) return undefined;
  const { protocol, hostname } = new URL(raw);
  if (protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    throw new ConfigError('WARDEN_JWKS_URL', `must use https unless the server is on this machine, got "${raw}". Set it like ${example}.`);
  }
  return raw;
}

/**
 * Reads WARDEN_CHECKPOINT_WITNESS_URL. Like the JWKS URL, plain http is accepted only for a
 * server on this machine, so checkpoints do not cross a network unencrypted.
 */
function readWitnessUrl(env: NodeJS.ProcessEnv): string | undefined {
  return readOutboundUrl(env, 'WARDEN_CHECKPOINT_WITNESS_URL', 'https://witness.example-bank.test/checkpoints');
}

/** Reads WARDEN_WEBHOOK_URL and its signing key, which must come together. */
function readWebhook(env: NodeJS.ProcessEnv): { webhookUrl: string | undefined; webhookSecret: string | undefined } {
  const webhookUrl = readOutboundUrl(env, 'WARDEN_WEBHOOK_URL', 'https://loans.example-bank.test/warden-events');
  const webhookSecret = env.WARDEN_WEBHOOK_SECRET?.trim() || undefined;
  if (webhookUrl && (!webhookSecret || webhookSecret.length < 32)) {
    throw new ConfigError('WARDEN_WEBHOOK_SECRET', 'must be set to a random key of at least 32 characters when WARDEN_WEBHOOK_URL is set, so receivers can check signatures.');
  }
  return { webhookUrl, webhookSecret: webhookUrl ? webhookSecret : undefined };
}

/** Reads a URL Warden sends data to: https, or plain http only to a server on this machine. */
function readOutboundUrl(env: NodeJS.ProcessEnv, name: string, example: string): string | undefined {
  const raw = readUrl(env, name, ['https:', 'http:'], example);
  if (raw === undefined) return undefined;
  const { protocol, hostname } = new URL(raw);
  if (protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    throw new ConfigError(name, `must use https unless the server is on this machine, got "${raw}". Set it like ${example}.`);
  }
  return raw;
}

/** Reads WARDEN_CHECKPOINT_ORIGIN, which becomes a signed-note key name: no whitespace or "+". */
function readCheckpointOrigin(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.WARDEN_CHECKPOINT_ORIGIN?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^[^\s+\p{Cc}]{1,255}$/u.test(raw)) {
    throw new ConfigError(
      'WARDEN_CHECKPOINT_ORIGIN',
      `must be 1 to 255 characters without spaces or "+", got "${raw}". Set it like warden.example-bank.test/ledger or unset it.`,
    );
  }
  return raw;
}

function readPath(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? resolve(raw) : undefined;
}

/** Reads and validates the configuration from `env` (process.env by default). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WardenConfig {
  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}". Set it to info or unset it.`);
  }

  return {
    port: readInteger(env, 'PORT', 3000, 1, 65535),
    host: env.HOST?.trim() || '127.0.0.1',
    databaseUrl: readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://user@127.0.0.1:5432/warden'),
    dataDir: resolve(env.WARDEN_DATA_DIR?.trim() || '.warden'),
    policyDir: resolve(env.WARDEN_POLICY_DIR?.trim() || 'policies'),
    jwksUrl: readJwksUrl(env),
    jwtIssuer: env.WARDEN_JWT_ISSUER?.trim() || 'warden-local',
    jwtAudience: env.WARDEN_JWT_AUDIENCE?.trim() || 'warden',
    logLevel: logLevel as WardenConfig['logLevel'],
    databasePoolSize: readInteger(env, 'WARDEN_DB_POOL_SIZE', 10, 1, 200),
    databasePoolWaitSeconds: readInteger(env, 'WARDEN_DB_POOL_WAIT_SECONDS', 30, 1, 3_600),
    checkpointOrigin: readCheckpointOrigin(env),
    checkpointKeyFile: readPath(env, 'WARDEN_CHECKPOINT_KEY_FILE'),
    checkpointIntervalSeconds: readInteger(env, 'WARDEN_CHECKPOINT_INTERVAL_SECONDS', 300, 0, 86_400),
    // Node timers hold at most 2^31 - 1 ms (about 24.8 days), so the interval stays well below that.
    chainVerificationIntervalSeconds: readInteger(env, 'WARDEN_CHAIN_VERIFICATION_INTERVAL_SECONDS', 86_400, 0, 1_209_600),
    chainVerificationMaxAgeSeconds: readInteger(env, 'WARDEN_CHAIN_VERIFICATION_MAX_AGE_SECONDS', 604_800, 0, 31_536_000),
    checkpointWitnessFile: readPath(env, 'WARDEN_CHECKPOINT_WITNESS_FILE'),
    checkpointWitnessUrl: readWitnessUrl(env),
    ...readWebhook(env),
    llmUpstreamsFile: readPath(env, 'WARDEN_LLM_UPSTREAMS_FILE'),
    vaultKeyFile: readPath(env, 'WARDEN_VAULT_KEY_FILE'),
    embedding: readEmbeddingConfig(env, (variable, message) => new ConfigError(variable, message)),
    ...readStreaming(env),
  };
}

/** Reads the stream ingestion settings; they take effect only when WARDEN_NATS_URL is set. */
function readStreaming(env: NodeJS.ProcessEnv): Pick<WardenConfig, 'natsUrl' | 'streamName' | 'streamConsumer' | 'streamBatchSize' | 'streamMaxDeliver' | 'streamTenant'> {
  const readName = (name: string, fallback: string) => {
    const raw = env[name]?.trim() || fallback;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) {
      throw new ConfigError(name, `must be 1 to 64 letters, digits, "_" or "-", got "${raw}". Set it like ${fallback} or unset it.`);
    }
    return raw;
  };
  return {
    natsUrl: readUrl(env, 'WARDEN_NATS_URL', ['nats:'], 'nats://127.0.0.1:4222'),
    streamName: readName('WARDEN_STREAM_NAME', 'WARDEN_EVENTS'),
    streamConsumer: readName('WARDEN_STREAM_CONSUMER', 'warden-ingest'),
    streamBatchSize: readInteger(env, 'WARDEN_STREAM_BATCH_SIZE', 500, 1, 10_000),
    streamMaxDeliver: readInteger(env, 'WARDEN_STREAM_MAX_DELIVER', 5, 1, 100),
    streamTenant: env.WARDEN_STREAM_TENANT?.trim() || 'demo-bank',
  };
}
