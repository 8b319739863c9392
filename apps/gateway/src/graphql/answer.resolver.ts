import { Inject } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { FailedPreconditionError } from '../../../../libs/common/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';
import type { AnswerService, WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { Answer, AskInput } from './answer.types.js';

@Resolver(() => Answer)
export class AnswerResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Mutation(() => Answer, { description: 'Answers a question from a document collection with citations, checked and recorded in the ledger' })
  @Requires('answer', 'create')
  async ask(@CurrentPrincipal() principal: Principal, @Args('input') input: AskInput): Promise<Answer> {
    return (await this.answers().ask(principal, input)) as Answer;
  }

  @Query(() => Answer, { description: "A recorded answer of the caller's tenant; its text appears once it is released" })
  @Requires('answer', 'read')
  async answer(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<Answer> {
    return (await this.answers().get(principal, id)) as Answer;
  }

  private answers(): AnswerService {
    if (!this.runtime.answers) throw new FailedPreconditionError('No answer use case is configured. Add one under policies/answers.');
    return this.runtime.answers;
  }
}
