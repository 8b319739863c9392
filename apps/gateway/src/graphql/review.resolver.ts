import { Inject } from '@nestjs/common';
import { decodeJwt } from 'jose';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import type { Principal } from '../../../../libs/policy/src/index.js';
import type { DecisionView, WardenRuntime } from '../../../../libs/decisions/src/index.js';
import type { DecisionUpdate as DecisionUpdateValue, ReviewCaseView } from '../../../../libs/review/src/index.js';
import { CurrentPrincipal, type AuthenticatedRequest } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { Decision } from './decision.types.js';
import {
  CaseDecision,
  CaseEvent,
  CaseField,
  DecisionReview,
  DecisionUpdate,
  ReasonCodeOption,
  RevealFieldInput,
  ReviewCase,
  ReviewQueueFilter,
  ReviewVote,
  SessionPrincipal,
  SubmitReviewInput,
  UseCaseStatus,
} from './review.types.js';

/** The review queue: cases, claims, votes and reveals. Which cases a caller may touch is decided by the review rules. */
@Resolver(() => ReviewCase)
export class ReviewResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Query(() => [ReviewCase], { description: "Open cases of the caller's tenant, most urgent SLA first" })
  @Requires('review', 'read')
  async reviewQueue(
    @CurrentPrincipal() principal: Principal,
    @Args('filter', { type: () => ReviewQueueFilter, nullable: true }) filter?: ReviewQueueFilter,
  ): Promise<ReviewCaseView[]> {
    return this.runtime.reviews.queue(principal, filter ?? {});
  }

  @Query(() => ReviewCase)
  @Requires('review', 'read')
  async reviewCase(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<ReviewCaseView> {
    return this.runtime.reviews.getCase(principal, id);
  }

  @Query(() => [ReasonCodeOption], { description: 'Reason codes a reviewer may cite for a use case' })
  @Requires('review', 'read')
  async reviewReasonCodes(@Args('useCase') useCase: string): Promise<ReasonCodeOption[]> {
    return this.runtime.reviews.reasonCodeOptions(useCase);
  }

  @Mutation(() => ReviewCase, { description: 'Takes a case for the caller' })
  @Requires('review', 'work')
  async claimCase(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<ReviewCaseView> {
    return this.runtime.reviews.claim(principal, id);
  }

  @Mutation(() => ReviewCase, { description: 'Puts a claimed case back in the queue' })
  @Requires('review', 'work')
  async releaseCase(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<ReviewCaseView> {
    return this.runtime.reviews.release(principal, id);
  }

  @Mutation(() => ReviewCase, { description: 'Approves, declines, overrides, escalates or asks for information on a claimed case' })
  @Requires('review', 'work')
  async submitReview(@CurrentPrincipal() principal: Principal, @Args('input') input: SubmitReviewInput): Promise<ReviewCaseView> {
    return this.runtime.reviews.submit(principal, input);
  }

  @Mutation(() => CaseField, { description: 'Shows a masked field in clear; the reveal and its reason go to the ledger' })
  @Requires('review', 'reveal')
  async revealCaseField(@CurrentPrincipal() principal: Principal, @Args('input') input: RevealFieldInput): Promise<CaseField> {
    return this.runtime.reviews.reveal(principal, input);
  }

  @ResolveField(() => CaseDecision)
  async decision(@CurrentPrincipal() principal: Principal, @Parent() reviewCase: ReviewCaseView): Promise<CaseDecision> {
    return (await this.runtime.reviews.caseDecision(principal.tenant, reviewCase)) as CaseDecision;
  }

  @ResolveField(() => [ReviewVote])
  async votes(@Parent() reviewCase: ReviewCaseView): Promise<ReviewVote[]> {
    return (await this.runtime.reviews.votes(reviewCase.id)) as ReviewVote[];
  }

  @ResolveField(() => [CaseEvent], { description: 'Every step of the case, oldest first' })
  async history(@Parent() reviewCase: ReviewCaseView): Promise<CaseEvent[]> {
    return (await this.runtime.reviews.history(reviewCase.id)) as CaseEvent[];
  }
}

/** The stop switch of each use case, and the caller's own session. */
@Resolver()
export class OversightResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Query(() => SessionPrincipal, { description: 'The caller as its token proves it' })
  @Requires('session', 'read')
  whoami(@CurrentPrincipal() principal: Principal): SessionPrincipal {
    return { subject: principal.subject, tenant: principal.tenant, roles: principal.roles };
  }

  @Query(() => UseCaseStatus)
  @Requires('use-case', 'read')
  async useCaseStatus(@CurrentPrincipal() principal: Principal, @Args('useCase') useCase: string): Promise<UseCaseStatus> {
    return this.runtime.useCaseSwitch.status(principal.tenant, useCase);
  }

  @Mutation(() => UseCaseStatus, { description: 'Stops automated decisions of a use case in the caller’s tenant' })
  @Requires('use-case', 'suspend')
  async suspendUseCase(
    @CurrentPrincipal() principal: Principal,
    @Args('useCase') useCase: string,
    @Args('reason') reason: string,
  ): Promise<UseCaseStatus> {
    return this.runtime.useCaseSwitch.suspend(principal, useCase, reason);
  }

  @Mutation(() => UseCaseStatus, { description: 'Lets a suspended use case decide again' })
  @Requires('use-case', 'suspend')
  async resumeUseCase(
    @CurrentPrincipal() principal: Principal,
    @Args('useCase') useCase: string,
    @Args('reason') reason: string,
  ): Promise<UseCaseStatus> {
    return this.runtime.useCaseSwitch.resume(principal, useCase, reason);
  }

  @Subscription(() => DecisionUpdate, {
    description: "The review state of a decision: first its current state, then each change; ends once the review completes",
    resolve: (update: DecisionUpdateValue) => update,
  })
  @Requires('decision', 'read')
  async decisionUpdated(
    @CurrentPrincipal() principal: Principal,
    @Context('req') request: AuthenticatedRequest,
    @Args('id', { type: () => ID }) id: string,
  ): Promise<AsyncIterator<DecisionUpdateValue>> {
    // Reading the decision first applies the tenant check: another tenant's id is NOT_FOUND.
    await this.runtime.decisions.get(principal, id);
    // A subscription must not outlive the token that opened it, so it ends when the token expires.
    const signal = AbortSignal.timeout(Math.min(MAX_TOKEN_AGE_MS, Math.max(0, tokenExpiry(request.headers.authorization) - Date.now())));
    return this.runtime.decisionUpdates.watch(id, async () => currentUpdate(await this.runtime.decisions.get(principal, id)), signal);
  }
}

/** The review part of a decision for GraphQL. */
@Resolver(() => Decision)
export class DecisionReviewResolver {
  @ResolveField(() => DecisionReview, { nullable: true, description: 'The review case, when a rule sent the decision to a person' })
  review(@Parent() decision: DecisionView): DecisionReview | null {
    return decision.review as DecisionReview | null;
  }
}

/** Longest accepted token age, as the token verifier enforces it. */
const MAX_TOKEN_AGE_MS = 24 * 60 * 60 * 1000;

/** Returns when an already verified bearer token stops being accepted: at exp, or 24 hours after iat. */
function tokenExpiry(authorization: string | undefined): number {
  const { exp, iat } = decodeJwt((authorization ?? '').replace(/^Bearer\s+/i, ''));
  const candidates = [exp === undefined ? Infinity : exp * 1000, iat === undefined ? Infinity : iat * 1000 + MAX_TOKEN_AGE_MS];
  return Math.min(...candidates);
}

function currentUpdate(view: DecisionView): DecisionUpdateValue {
  return {
    tenant: view.tenant,
    decisionId: view.id,
    caseId: view.review?.caseId ?? null,
    state: view.review?.state ?? null,
    reviewStatus: view.reviewStatus,
    finalOutcome: view.review?.finalOutcome ?? null,
  };
}
