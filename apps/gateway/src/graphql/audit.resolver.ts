import { Inject } from '@nestjs/common';
import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { NotFoundError, requestContext } from '../../../../libs/common/src/index.js';
import { CHECKPOINT_LEDGER_TENANT } from '../../../../libs/audit/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { CurrentPrincipal } from '../auth/principal.js';
import { Requires } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { Checkpoint, CheckpointKey, ConsistencyProof, InclusionProof } from './audit.types.js';

/** Ledger actor of checkpoints that a caller of the GraphQL API requested. */
const GATEWAY_CHECKPOINT_ACTOR = 'gateway';

/** Checkpoints of the ledger's Merkle tree and proofs against them. They cover every tenant's entries. */
@Resolver(() => Checkpoint)
export class AuditResolver {
  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Query(() => [Checkpoint], { description: 'The newest signed checkpoints first' })
  @Requires('checkpoint', 'read')
  async checkpoints(@Args('limit', { type: () => Int, defaultValue: 20 }) limit: number): Promise<Checkpoint[]> {
    return this.runtime.checkpoints.list(limit);
  }

  @Query(() => InclusionProof, { description: 'Proof that the ledger entry with this seq is in the tree of the latest checkpoint' })
  @Requires('checkpoint', 'read')
  async inclusionProof(@CurrentPrincipal() principal: Principal, @Args('seq', { type: () => GraphQLSafeInt }) seq: number): Promise<InclusionProof> {
    const proof = await this.runtime.checkpoints.inclusionProof(seq);
    // The entry names a tenant's decision; another tenant's entry is reported like a missing one.
    // Entries of all tenants (tenant "*", such as checkpoints) are visible to every auditor.
    if (proof.entry.tenant !== principal.tenant && proof.entry.tenant !== CHECKPOINT_LEDGER_TENANT) {
      throw new NotFoundError(`Ledger entry ${seq} was not found in your tenant.`);
    }
    return { ...proof, entry: { ...proof.entry } };
  }

  @Query(() => ConsistencyProof, { description: 'Proof that the tree of fromSize entries is a prefix of the tree of toSize entries' })
  @Requires('checkpoint', 'read')
  async consistencyProof(
    @Args('fromSize', { type: () => GraphQLSafeInt }) fromSize: number,
    @Args('toSize', { type: () => GraphQLSafeInt }) toSize: number,
  ): Promise<ConsistencyProof> {
    return this.runtime.checkpoints.consistencyProof(fromSize, toSize);
  }

  @Query(() => [CheckpointKey], { description: 'Every public key that has signed checkpoints, retired ones included' })
  @Requires('checkpoint', 'read')
  async checkpointKeys(): Promise<CheckpointKey[]> {
    return this.runtime.checkpointKeys.list();
  }

  @Mutation(() => Checkpoint, { description: 'Signs and stores a checkpoint of the ledger now, and publishes it to the witnesses' })
  @Requires('checkpoint', 'create')
  async createCheckpoint(@CurrentPrincipal() principal: Principal): Promise<Checkpoint> {
    // The checkpoint's own entry has tenant "*", which the auditors of every tenant read through
    // inclusionProof, so it must not name the caller. Who asked for it is recorded first, in an
    // entry of the caller's tenant that the checkpoint covers.
    await this.runtime.ledger.appendStandalone(this.runtime.database.dataSource, {
      type: 'checkpoint.requested',
      tenant: principal.tenant,
      actor: principal.subject,
      payload: { requestId: requestContext.getStore()?.requestId ?? null },
    });
    return this.runtime.checkpoints.create(GATEWAY_CHECKPOINT_ACTOR);
  }
}
