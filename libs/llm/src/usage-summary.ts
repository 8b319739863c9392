import type { DataSource } from 'typeorm';
import { BadUserInputError } from '../../common/src/index.js';

/** Usage and cost of one tenant's calls to one model for one use case in a period. */
export interface UsageSummaryRow {
  useCase: string;
  model: string;
  calls: number;
  /** Calls by outcome. */
  okCalls: number;
  failedCalls: number;
  deniedCalls: number;
  /** Calls that reached an upstream but whose token counts nobody knows; their tokens and cost are missing from the sums. */
  unknownUsageCalls: number;
  /** Calls whose tokens Warden counted with a local tokenizer. */
  locallyCountedCalls: number;
  promptTokens: number;
  completionTokens: number;
  /** Sum of the known costs, a decimal string with 12 decimal places. */
  cost: string;
  currency: string;
}

/** Longest period one summary covers: about 13 months, so a yearly report fits. */
const MAX_PERIOD_MS = 400 * 24 * 60 * 60 * 1000;

/** Sums a tenant's usage with `from <= createdAt < to`, grouped by use case, model and currency. */
export async function summarizeUsage(dataSource: DataSource, tenant: string, from: Date, to: Date): Promise<UsageSummaryRow[]> {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
    throw new BadUserInputError('The usage period is invalid.', [{ field: 'to', message: 'must be an ISO time later than from' }]);
  }
  if (to.getTime() - from.getTime() > MAX_PERIOD_MS) {
    throw new BadUserInputError('The usage period is too long.', [{ field: 'to', message: 'must be at most 400 days after from; ask for several periods' }]);
  }

  const rows: Record<string, string>[] = await dataSource.query(
    `SELECT use_case, model, currency,
            count(*)::text AS calls,
            count(*) FILTER (WHERE outcome = 'ok')::text AS ok_calls,
            count(*) FILTER (WHERE outcome = 'failed')::text AS failed_calls,
            count(*) FILTER (WHERE outcome = 'denied')::text AS denied_calls,
            count(*) FILTER (WHERE usage_source = 'unknown')::text AS unknown_calls,
            count(*) FILTER (WHERE usage_source = 'local')::text AS local_calls,
            coalesce(sum(prompt_tokens), 0)::text AS prompt_tokens,
            coalesce(sum(completion_tokens), 0)::text AS completion_tokens,
            coalesce(sum(cost), 0)::numeric(24, 12)::text AS cost
       FROM llm.usage
      WHERE tenant = $1 AND created_at >= $2 AND created_at < $3
      GROUP BY use_case, model, currency
      ORDER BY use_case, model, currency`,
    [tenant, from.toISOString(), to.toISOString()],
  );
  return rows.map((row) => ({
    useCase: row.use_case,
    model: row.model,
    calls: Number(row.calls),
    okCalls: Number(row.ok_calls),
    failedCalls: Number(row.failed_calls),
    deniedCalls: Number(row.denied_calls),
    unknownUsageCalls: Number(row.unknown_calls),
    locallyCountedCalls: Number(row.local_calls),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    cost: row.cost,
    currency: row.currency,
  }));
}
