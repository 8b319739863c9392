import { Inject } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import type { Principal } from '../../../../libs/policy/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { DecideInput, Decision, ReplayResult } from './decision.types.js';

@Resolver(() => Decision)
export class DecisionResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Mutation(() => Decision, { description: 'Scores an application, explains it, and records it in the ledger' })
  @Requires('decision', 'create')
  async decide(@CurrentPrincipal() principal: Principal, @Args('input') input: DecideInput): Promise<Decision> {
    return (await this.runtime.decisions.decide(principal, input)) as Decision;
  }

  @Query(() => Decision, { description: "A stored decision of the caller's tenant, with its lineage" })
  @Requires('decision', 'read')
  async decision(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<Decision> {
    return (await this.runtime.decisions.get(principal, id)) as Decision;
  }

  @Query(() => ReplayResult, { description: 'Recomputes a decision from its lineage and reports any difference' })
  @Requires('decision', 'replay')
  async replayDecision(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<ReplayResult> {
    return this.runtime.decisions.replay(principal, id);
  }
}
