import { Inject } from '@nestjs/common';
import { Args, Query, Resolver } from '@nestjs/graphql';
import { BadUserInputError, parseDateTime } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { FeatureRead } from './feature.types.js';

/** How far a read's asOf may lie ahead of the server clock, for clock skew between systems. */
const MAX_FUTURE_READ_MS = 5 * 60_000;

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
    const time = asOf === undefined || asOf === null ? new Date() : parseDateTime(asOf);
    if (!time) {
      throw new BadUserInputError('Invalid asOf.', [
        { field: 'asOf', message: 'must be an existing ISO 8601 date-time from 1970 on with a time zone, such as 2026-01-02T05:00:00Z' },
      ]);
    }
    if (time.getTime() > Date.now() + MAX_FUTURE_READ_MS) {
      throw new BadUserInputError('Invalid asOf.', [{ field: 'asOf', message: 'lies more than 5 minutes in the future; features are known only up to now' }]);
    }
    return this.runtime.features.getOnlineFeatures({ tenant: principal.tenant, view, entityKey, asOf: time });
  }
}
