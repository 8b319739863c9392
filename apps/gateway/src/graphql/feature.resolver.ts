import { Inject } from '@nestjs/common';
import { Args, Query, Resolver } from '@nestjs/graphql';
import { BadUserInputError } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { FeatureRead } from './feature.types.js';

@Resolver(() => FeatureRead)
export class FeatureResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Query(() => FeatureRead, { description: "Online features of one entity of the caller's tenant, as of a time (default: now)" })
  @Requires('feature', 'read')
  async features(
    @CurrentPrincipal() principal: Principal,
    @Args('view') view: string,
    @Args('entityKey') entityKey: string,
    @Args('asOf', { nullable: true, description: 'ISO 8601 date-time; only events before its bucket count' }) asOf?: string,
  ): Promise<FeatureRead> {
    const time = asOf === undefined || asOf === null ? new Date() : new Date(asOf);
    if (Number.isNaN(time.getTime())) {
      throw new BadUserInputError('Invalid asOf.', [{ field: 'asOf', message: 'must be an ISO 8601 date-time such as 2026-01-02T05:00:00Z' }]);
    }
    return this.runtime.features.getOnlineFeatures({ tenant: principal.tenant, view, entityKey, asOf: time });
  }
}
