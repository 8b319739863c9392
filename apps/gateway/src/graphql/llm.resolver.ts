import { Inject } from '@nestjs/common';
import { Args, Query, Resolver } from '@nestjs/graphql';
import { BadUserInputError } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { summarizeUsage } from '../../../../libs/llm/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { LlmUsageGroup } from './llm.types.js';

/** Usage and cost reports of the OpenAI-compatible proxy, always for the caller's own tenant. */
@Resolver(() => LlmUsageGroup)
export class LlmResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Query(() => [LlmUsageGroup], { description: "Usage and cost of the caller's tenant with from <= call time < to, by use case and model" })
  @Requires('llm-usage', 'read')
  async llmUsage(
    @CurrentPrincipal() principal: Principal,
    @Args('from', { description: 'ISO 8601 time, inclusive' }) from: string,
    @Args('to', { description: 'ISO 8601 time, exclusive' }) to: string,
  ): Promise<LlmUsageGroup[]> {
    return summarizeUsage(this.runtime.database.dataSource, principal.tenant, parseTime(from, 'from'), parseTime(to, 'to'));
  }
}

function parseTime(value: string, field: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new BadUserInputError(`Invalid ${field} "${value}".`, [{ field, message: 'must be an ISO 8601 date or time such as 2026-12-01T00:00:00Z' }]);
  }
  return date;
}
