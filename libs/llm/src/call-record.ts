import { digestJson, getLogger } from '../../common/src/index.js';
import type { WardenMetrics } from '../../monitoring/src/index.js';
import type { Principal } from '../../policy/src/index.js';
import { callCost, formatDecimal } from './pricing.js';
import type { ProxyGuardrailVerdict } from './proxy-guardrails.js';
import type { TokenCounter } from './token-counter.js';
import type { ModelConfig } from './upstream-config.js';
import type { CallOutcome, UsageRecorder, UsageSource } from './usage-recorder.js';

/** Token counts reported by the upstream in `usage`. */
export interface ReportedUsage {
  promptTokens: number;
  completionTokens: number | null;
}

/** What the gateway learned about one call, filled in as the call proceeds. */
export interface CallFacts {
  outcome: CallOutcome;
  upstream: string | null;
  attempts: number;
  stream: boolean;
  responseDigest: string | null;
  /** OpenAI error code of a call that did not end ok, such as model_not_found or upstream_timeout. */
  errorCode: string | null;
  reported: ReportedUsage | undefined;
  /** Texts to count locally when the upstream reports no usage: the prompt and the streamed completion. */
  promptText: string | undefined;
  completionText: string | undefined;
  /** Every guardrail verdict of the call, in the order reached, so several guardrails never overwrite each other. */
  guardrails: ProxyGuardrailVerdict[];
  /** Placeholder vault scope that contains the original values of the call's placeholders. */
  placeholderScope: string | null;
  /** Ledger entries of the same call, such as access.denied, committed with its llm.call entry. */
  extraEntries: { type: string; payload: Record<string, unknown> }[];
}

export interface CallContext {
  principal: Principal;
  path: string;
  useCase: string;
  /** Model the client named; it may not be configured. */
  modelName: string;
  model: ModelConfig | undefined;
  requestDigest: string | null;
  requestId: string | null;
  startedMs: number;
}

export interface CallRecordDependencies {
  recorder: UsageRecorder;
  metrics: WardenMetrics | undefined;
  currency: string;
  tokenCounter(model: ModelConfig): TokenCounter | undefined;
}

/**
 * Settles the usage of a finished call (upstream usage, else a local count, else unknown) and
 * records it: the llm.usage row, the `llm.call` ledger entry with digests but never text, and the
 * metrics. Resolves with the entry's seq.
 */
export async function recordCall(deps: CallRecordDependencies, context: CallContext, facts: CallFacts): Promise<number> {
  const latencyMs = Math.round(performance.now() - context.startedMs);
  const usage = settleUsage(deps, context, facts);
  const cost = usage.source === 'upstream' || usage.source === 'local' ? callCost(context.model!.pricing, usage.promptTokens, usage.completionTokens) : undefined;
  const costText = cost === undefined ? null : formatDecimal(cost);
  const { principal } = context;

  const payload = {
    path: context.path,
    model: context.modelName,
    upstream: facts.upstream,
    upstreamModel: facts.upstream && context.model ? (context.model.upstreamModels.get(facts.upstream) ?? context.model.upstreamModel) : null,
    useCase: context.useCase,
    outcome: facts.outcome,
    stream: facts.stream,
    requestDigest: context.requestDigest,
    responseDigest: facts.responseDigest,
    usage: { source: usage.source, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens },
    cost: costText,
    currency: deps.currency,
    latencyMs,
    attempts: facts.attempts,
    errorCode: facts.errorCode,
    requestId: context.requestId,
    guardrails: facts.guardrails,
    placeholderScope: facts.placeholderScope,
  };
  const entries = [
    { type: 'llm.call', tenant: principal.tenant, actor: principal.subject, payload },
    ...facts.extraEntries.map((entry) => ({ ...entry, tenant: principal.tenant, actor: principal.subject })),
  ];
  const seq = await deps.recorder.record(
    {
      tenant: principal.tenant,
      useCase: context.useCase,
      model: context.modelName,
      upstream: facts.upstream,
      actor: principal.subject,
      outcome: facts.outcome,
      usageSource: usage.source,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      cost: costText,
      currency: deps.currency,
      latencyMs,
      createdAt: new Date().toISOString(),
    },
    entries,
  );

  observe(deps, context, facts, usage, cost, latencyMs);
  return seq;
}

function settleUsage(
  deps: CallRecordDependencies,
  context: CallContext,
  facts: CallFacts,
): { source: UsageSource; promptTokens: number | null; completionTokens: number | null } {
  if (facts.upstream === null) return { source: 'none', promptTokens: null, completionTokens: null };
  if (facts.reported) return { source: 'upstream', ...facts.reported };

  const counter = context.model ? deps.tokenCounter(context.model) : undefined;
  if (counter && facts.promptText !== undefined) {
    const completionTokens = facts.completionText === undefined ? null : counter.count(facts.completionText);
    return { source: 'local', promptTokens: counter.count(facts.promptText), completionTokens };
  }
  return { source: 'unknown', promptTokens: null, completionTokens: null };
}

function observe(
  deps: CallRecordDependencies,
  context: CallContext,
  facts: CallFacts,
  usage: { source: UsageSource; promptTokens: number | null; completionTokens: number | null },
  cost: bigint | undefined,
  latencyMs: number,
): void {
  const metrics = deps.metrics;
  if (!metrics) return;
  // Only configured model names become labels, so callers cannot create unbounded series.
  const model = context.model?.name ?? 'unknown-model';
  metrics.llmCalls.add(1, { model, outcome: facts.outcome });
  metrics.llmDuration.record(latencyMs / 1000, { model });
  if (usage.promptTokens !== null) metrics.llmTokens.add(usage.promptTokens, { model, type: 'prompt', source: usage.source });
  if (usage.completionTokens !== null) metrics.llmTokens.add(usage.completionTokens, { model, type: 'completion', source: usage.source });
  // A float is fine for a metric; the usage table keeps the exact decimal.
  if (cost !== undefined) metrics.llmCost.add(Number(formatDecimal(cost)), { model, currency: deps.currency });
}

/** SHA-256 of the canonical JSON, or null for a body that is not JSON (which only governedFetch can pass). */
export function safeDigest(value: unknown): string | null {
  try {
    return digestJson(value);
  } catch {
    getLogger('llm-gateway').warn('request body is not plain JSON; its digest is recorded as null');
    return null;
  }
}

/** Reads `usage` from an upstream response or chunk, or undefined when absent or malformed. */
export function reportedUsage(value: unknown): ReportedUsage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const usage = (value as { usage?: unknown }).usage;
  if (typeof usage !== 'object' || usage === null) return undefined;
  const { prompt_tokens: prompt, completion_tokens: completion } = usage as { prompt_tokens?: unknown; completion_tokens?: unknown };
  if (!isCount(prompt)) return undefined;
  return { promptTokens: prompt, completionTokens: isCount(completion) ? completion : null };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
