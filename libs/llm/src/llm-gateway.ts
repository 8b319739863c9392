import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { getLogger } from '../../common/src/index.js';
import type { PostgresLedger } from '../../audit/src/index.js';
import type { WardenMetrics } from '../../monitoring/src/index.js';
import {
  loadInjectionClassifier,
  loadInjectionRules,
  loadTopicPolicy,
  scanPii,
  scanPiiAcrossUnderscores,
  scrubPii,
  type LoadedInjectionClassifier,
  type PlaceholderVault,
} from '../../guardrails/src/index.js';
import type { PolicyEnforcer, Principal } from '../../policy/src/index.js';
import { ApiKeyStore } from './api-keys.js';
import { recordCall, reportedUsage, safeDigest, type CallContext, type CallFacts, type CallRecordDependencies } from './call-record.js';
import { relayChatStream } from './chat-stream.js';
import { governedFetch } from './governed-fetch.js';
import { ModelAccess } from './model-access.js';
import { invalidRequest, LlmError, modelNotFound, permissionDenied, rateLimited, upstreamTimeout, upstreamUnavailable } from './openai-error.js';
import { ChoiceFilters, guardCompletion } from './proxy-output.js';
import { GuardrailBlock, ProxyGuardrails, type GuardedChat, type PiiScanner } from './proxy-guardrails.js';
import { TenantRateLimiter } from './rate-limiter.js';
import { DEFAULT_USE_CASE, USE_CASE_PATTERN, validateChatRequest, validateEmbeddingsRequest, type ValidatedRequest } from './request-validation.js';
import { loadTokenCounter, textOf, type TokenCounter } from './token-counter.js';
import { UpstreamClient } from './upstream-client.js';
import { loadLlmConfig, type LlmConfig, type ModelConfig } from './upstream-config.js';
import { UsageRecorder } from './usage-recorder.js';

export type LlmPath = '/v1/chat/completions' | '/v1/embeddings' | '/v1/models';

/** One OpenAI API request, as an HTTP adapter or governedFetch hands it over. */
export interface LlmCall {
  path: LlmPath;
  body: unknown;
  /** Use case the usage is booked to; calls without one are booked to `unspecified`. */
  useCase?: string;
  /** The client's signal: aborting it aborts the upstream request and records the call as aborted. */
  signal: AbortSignal;
  /** Request id of the HTTP request, recorded in the ledger entry. */
  requestId?: string;
}

/** A JSON response, or an SSE stream whose items are complete `data: ...\n\n` events. */
export type LlmResponse =
  | { kind: 'json'; status: number; body: unknown }
  | { kind: 'stream'; status: 200; events: AsyncIterable<string> };

/** A model as GET /v1/models lists it. */
export interface ModelInfo {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export interface LlmGatewayOptions {
  policyDir: string;
  /** Upstreams file; defaults to llm/upstreams.yaml in the policy folder. */
  upstreamsFile?: string;
  dataSource: DataSource;
  ledger: PostgresLedger;
  policy: PolicyEnforcer;
  metrics?: WardenMetrics;
  /** Environment that upstream API keys (apiKeyEnv) and the PII hash key are read from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Encrypted store of placeholder values. Without it, placeholders are restored only within their own call. */
  vault?: PlaceholderVault;
  /** PII scanner of the chat guardrail; defaults to scanPii. Tests pass one that fails. */
  piiScanner?: PiiScanner;
  /** Injection classifier; defaults to the one policies/guardrails/injection-classifier.yaml configures, if any. Tests pass one that fails. */
  injectionClassifier?: LoadedInjectionClassifier;
}

/** Default upstreams file, relative to the policy folder. */
export const DEFAULT_UPSTREAMS_FILE = 'llm/upstreams.yaml';

/**
 * The governed path to OpenAI-compatible LLM servers, in plain TypeScript. Every call is
 * validated, rate limited, and checked against the RBAC grant `llm invoke` and the model-level
 * policy. It then goes to the configured upstream with retries and fallback, and its cost and
 * usage are recorded in llm.usage and the ledger (`llm.call`). The HTTP controller and
 * governedFetch are thin adapters over handle().
 */
export class LlmGateway {
  private readonly log = getLogger('llm-gateway');
  private readonly createdSeconds = Math.floor(Date.now() / 1000);
  private readonly counters = new Map<string, TokenCounter>();
  private readonly records: CallRecordDependencies;

  private constructor(
    readonly config: LlmConfig,
    readonly apiKeys: ApiKeyStore,
    private readonly policy: PolicyEnforcer,
    private readonly modelAccess: ModelAccess,
    private readonly upstreams: UpstreamClient,
    private readonly limiter: TenantRateLimiter,
    private readonly recorder: UsageRecorder,
    private readonly guardrails: ProxyGuardrails,
    metrics: WardenMetrics | undefined,
  ) {
    this.records = { recorder, metrics, currency: config.currency, tokenCounter: (model) => this.tokenCounter(model) };
  }

  /** Loads and validates the upstreams file and the model access policy. Raises FailedPreconditionError naming the problem. */
  static async create(options: LlmGatewayOptions): Promise<LlmGateway> {
    const file = options.upstreamsFile ?? join(options.policyDir, DEFAULT_UPSTREAMS_FILE);
    const config = loadLlmConfig(file);
    for (const model of config.models.values()) {
      if (model.tokenizer) loadTokenCounter(model.tokenizer);
    }
    const env = options.env ?? process.env;
    const guardrails = ProxyGuardrails.create(config.guardrails, {
      injectionRules: loadInjectionRules(options.policyDir),
      topics: loadTopicPolicy(options.policyDir),
      classifier: options.injectionClassifier ?? (await loadInjectionClassifier(options.policyDir)),
      vault: options.vault,
      scanner: options.piiScanner,
      env,
    });
    const gateway = new LlmGateway(
      config,
      new ApiKeyStore(options.dataSource, options.ledger),
      options.policy,
      await ModelAccess.create(options.policyDir),
      new UpstreamClient(config.upstreams, env),
      new TenantRateLimiter(config.tenantRequestsPerMinute),
      new UsageRecorder(options.dataSource, options.ledger),
      guardrails,
      options.metrics,
    );
    getLogger('llm-gateway').info({ file, models: [...config.models.keys()], upstreams: [...config.upstreams.keys()] }, 'LLM upstreams loaded');
    return gateway;
  }

  /** Models the caller may call: RBAC `llm invoke` and an allow of the model-level policy. */
  listModels(principal: Principal): ModelInfo[] {
    if (!this.policy.isAllowed(principal, 'llm', 'invoke')) return [];
    return [...this.config.models.values()]
      .filter((model) => this.modelAccess.isAllowed(principal, model.name))
      .map((model) => ({ id: model.name, object: 'model', created: this.createdSeconds, owned_by: model.upstream }));
  }

  /** Handles one OpenAI API request for an authenticated caller. Errors come back as OpenAI error bodies, never as exceptions. */
  async handle(principal: Principal, call: LlmCall): Promise<LlmResponse> {
    if (call.path === '/v1/models') return { kind: 'json', status: 200, body: { object: 'list', data: this.listModels(principal) } };

    const context: CallContext = {
      principal,
      path: call.path,
      useCase: call.useCase ?? DEFAULT_USE_CASE,
      modelName: modelNameOf(call.body),
      model: undefined,
      requestDigest: safeDigest(call.body),
      requestId: call.requestId ?? null,
      startedMs: performance.now(),
    };
    const facts: CallFacts = {
      outcome: 'failed',
      upstream: null,
      attempts: 0,
      stream: false,
      responseDigest: null,
      errorCode: null,
      reported: undefined,
      promptText: undefined,
      completionText: undefined,
      guardrails: [],
      placeholderScope: null,
      extraEntries: [],
    };

    try {
      const request = this.admit(context, facts, call);
      const guarded = call.path === '/v1/chat/completions' ? await this.guardChat(context, facts, request) : undefined;
      const body = guarded ? guarded.body : await this.guardrails.guardEmbeddings(this.guardedCall(context, facts), request.body);
      return await this.forward(context, facts, call, { ...request, body }, guarded);
    } catch (error) {
      if (error instanceof GuardrailBlock) facts.outcome = 'blocked';
      const failure = error instanceof LlmError ? error : this.unexpected(error);
      if (facts.outcome === 'ok') facts.outcome = 'failed';
      facts.errorCode = failure.code;
      const recorded = await this.tryRecord(context, facts);
      return recorded ?? { kind: 'json', status: failure.status, body: failure.toBody() };
    }
  }

  /** Returns a WHATWG fetch that sends OpenAI API requests through handle() for this caller, without HTTP. */
  governedFetch(principal: Principal, options: { useCase?: string } = {}): typeof fetch {
    return governedFetch(this, principal, options);
  }

  /** Waits until every finished call is recorded. */
  async close(): Promise<void> {
    await this.recorder.flush();
  }

  /** Validation, rate limit and policy: everything decided before an upstream is called. */
  private admit(context: CallContext, facts: CallFacts, call: LlmCall): ValidatedRequest {
    const { principal } = context;
    if (!USE_CASE_PATTERN.test(context.useCase)) {
      context.useCase = DEFAULT_USE_CASE;
      throw invalidRequest('X-Warden-Use-Case', 'The use case must be 1 to 64 letters, digits, dot, underscore or hyphen.');
    }
    // The use case is stored in clear in the ledger and usage rows, so it must not be personal data.
    if (scanPii(context.useCase).length > 0 || scanPiiAcrossUnderscores(context.useCase).length > 0) {
      context.useCase = DEFAULT_USE_CASE;
      throw invalidRequest('X-Warden-Use-Case', 'The use case must not contain personal data such as an account, card or social security number. Send the name of a use case.');
    }
    const request = call.path === '/v1/chat/completions' ? validateChatRequest(call.body) : validateEmbeddingsRequest(call.body);
    facts.stream = request.stream;
    const model = this.config.models.get(request.model);
    context.model = model;

    const waitSeconds = this.limiter.take(principal.tenant);
    if (waitSeconds > 0) {
      facts.outcome = 'blocked';
      throw rateLimited(`Tenant ${principal.tenant} has sent more than ${this.config.tenantRequestsPerMinute} requests in a minute. Retry in ${waitSeconds} s.`);
    }

    if (!this.policy.isAllowed(principal, 'llm', 'invoke')) {
      this.deny(facts, call.path, 'llm', { roles: principal.roles });
      throw permissionDenied(`Your roles (${principal.roles.join(', ')}) do not permit invoke on llm.`);
    }
    if (!model) throw modelNotFound(request.model);
    const expectedKind = call.path === '/v1/chat/completions' ? 'chat' : 'embeddings';
    if (model.kind !== expectedKind) {
      throw invalidRequest('model', `The model "${model.name}" is a ${model.kind} model; call ${model.kind === 'chat' ? '/v1/chat/completions' : '/v1/embeddings'} instead.`);
    }
    if (!this.modelAccess.isAllowed(principal, model.name)) {
      this.deny(facts, call.path, 'llm-model', { model: model.name, roles: principal.roles });
      throw permissionDenied(`Your roles (${principal.roles.join(', ')}) in tenant ${principal.tenant} do not permit the model "${model.name}".`);
    }
    return request;
  }

  private deny(facts: CallFacts, path: string, resource: string, details: Record<string, unknown>): void {
    facts.outcome = 'denied';
    facts.extraEntries.push({ type: 'access.denied', payload: { operation: `POST ${path}`, resource, action: 'invoke', ...details } });
  }

  /** PII redaction, injection and topic checks; the returned body is what goes upstream. */
  private async guardChat(context: CallContext, facts: CallFacts, request: ValidatedRequest): Promise<GuardedChat> {
    const guarded = await this.guardrails.guardChat(this.guardedCall(context, facts), request.body);
    facts.placeholderScope = guarded.placeholderScope;
    return guarded;
  }

  private guardedCall(context: CallContext, facts: CallFacts) {
    const { principal } = context;
    return {
      tenant: principal.tenant,
      useCase: context.useCase,
      mayRestore: () => this.policy.isAllowed(principal, 'guardrail', 'restore'),
      verdicts: facts.guardrails,
    };
  }

  private async forward(context: CallContext, facts: CallFacts, call: LlmCall, request: ValidatedRequest, guarded: GuardedChat | undefined): Promise<LlmResponse> {
    const model = context.model!;
    const upstreamAbort = new AbortController();
    const signal = AbortSignal.any([call.signal, upstreamAbort.signal]);
    const upstreamPath = call.path === '/v1/chat/completions' ? '/chat/completions' : '/embeddings';
    const bodyFor = (upstreamName: string) => {
      const body: Record<string, unknown> = { ...request.body, model: model.upstreamModels.get(upstreamName) ?? model.upstreamModel };
      // Warden always requests the usage chunk, and relays it only to clients that requested it too.
      // NOTE: a server that predates stream_options may reject the request. Only the fake upstream
      // of the tests is checked here, no real server.
      if (request.stream) body.stream_options = { ...(request.body.stream_options as object | undefined), include_usage: true };
      return body;
    };
    if (model.tokenizer) {
      const prompt = call.path === '/v1/chat/completions' ? request.body.messages : request.body.input;
      facts.promptText = textOf(prompt);
    }

    let sent;
    try {
      const onAttempt = () => void facts.attempts++;
      sent = await this.upstreams.send(model.upstream, { path: upstreamPath, body: request.body, signal, onAttempt }, (upstream) => bodyFor(upstream.name));
    } catch (error) {
      if (call.signal.aborted) facts.outcome = 'aborted';
      throw error;
    }
    facts.upstream = sent.upstream;
    const idleTimeoutMs = this.config.upstreams.get(sent.upstream)!.timeoutMs;

    if (request.stream) {
      const events = relayChatStream({
        response: sent.response,
        facts,
        publicModel: model.name,
        includeUsage: request.includeUsage,
        idleTimeoutMs,
        clientSignal: call.signal,
        filters: guarded && (guarded.reply.check || guarded.reply.restoreMap) ? new ChoiceFilters(guarded.reply) : undefined,
        abortUpstream: () => upstreamAbort.abort(),
        finish: async () => {
          await this.tryRecord(context, facts);
        },
      });
      return { kind: 'stream', status: 200, events };
    }

    const body = await this.readJson(sent.response, idleTimeoutMs, upstreamAbort, call.signal, facts);
    if ('model' in body) body.model = model.name;
    facts.reported = reportedUsage(body);
    if (!facts.reported && facts.promptText !== undefined && call.path === '/v1/chat/completions') {
      const choices = Array.isArray(body.choices) ? (body.choices as { message?: unknown }[]) : [];
      facts.completionText = textOf(choices.map((choice) => choice?.message));
    }
    if (guarded) guardCompletion(body, guarded.reply);
    facts.responseDigest = safeDigest(body);
    facts.outcome = 'ok';
    const failed = await this.tryRecord(context, facts);
    return failed ?? { kind: 'json', status: 200, body };
  }

  private async readJson(response: Response, timeoutMs: number, upstreamAbort: AbortController, clientSignal: AbortSignal, facts: CallFacts): Promise<Record<string, unknown>> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      upstreamAbort.abort();
    }, timeoutMs);
    try {
      const body: unknown = await response.json();
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new TypeError('not an object');
      return body as Record<string, unknown>;
    } catch {
      if (clientSignal.aborted) {
        facts.outcome = 'aborted';
        throw new LlmError(499, 'request_aborted', 'client_closed_request', 'The client closed the request.');
      }
      if (timedOut) throw upstreamTimeout(`The upstream "${facts.upstream}" did not finish its response within ${timeoutMs} ms.`);
      throw upstreamUnavailable(`The upstream "${facts.upstream}" returned a response that is not a JSON object.`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Records the call. Returns undefined when it was recorded, or a 500 response when it could not
   * be, because a call that the ledger cannot show is not returned to the caller. With
   * `ledger.waitForCommit: false` it returns at once and only logs a failed record.
   */
  private async tryRecord(context: CallContext, facts: CallFacts): Promise<LlmResponse | undefined> {
    if (!this.config.waitForLedgerCommit) {
      recordCall(this.records, context, facts).catch((error: unknown) => {
        this.log.error({ err: error, model: context.model?.name, outcome: facts.outcome }, 'LLM call could not be recorded after its response was sent');
      });
      return undefined;
    }
    try {
      await recordCall(this.records, context, facts);
      return undefined;
    } catch (error) {
      this.log.error({ err: error, model: context.model?.name, outcome: facts.outcome }, 'LLM call could not be recorded');
      const failure = new LlmError(500, 'server_error', 'ledger_unavailable', 'The call could not be recorded in the ledger, so its result is withheld. Retry later.');
      return { kind: 'json', status: 500, body: failure.toBody() };
    }
  }

  private unexpected(error: unknown): LlmError {
    this.log.error({ err: error }, 'LLM call failed unexpectedly');
    return new LlmError(500, 'server_error', 'internal_error', 'The call failed inside Warden.');
  }

  private tokenCounter(model: ModelConfig): TokenCounter | undefined {
    if (!model.tokenizer) return undefined;
    let counter = this.counters.get(model.tokenizer);
    if (!counter) {
      counter = loadTokenCounter(model.tokenizer);
      this.counters.set(model.tokenizer, counter);
    }
    return counter;
  }
}

/** The model name the caller sent, as the ledger and usage rows record it: truncated, with personal data masked. */
function modelNameOf(body: unknown): string {
  const model = (body as { model?: unknown } | null)?.model;
  return typeof model === 'string' && model.length > 0 ? scrubPii(model.slice(0, 256)) : '(none)';
}
