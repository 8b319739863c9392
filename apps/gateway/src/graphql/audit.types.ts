import { Field, Int, ObjectType } from '@nestjs/graphql';
import { GraphQLJSONObject, GraphQLSafeInt } from 'graphql-scalars';

@ObjectType({ description: 'Outcome of publishing a checkpoint to one external witness' })
export class WitnessDelivery {
  @Field({ description: 'file or http' })
  witness!: string;

  @Field({ description: 'File path, or the URL without credentials or query' })
  target!: string;

  @Field({ description: 'delivered or failed' })
  status!: string;

  @Field(() => Int)
  attempts!: number;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed' })
  error!: string | null;
}

@ObjectType({ description: 'A signed statement of the size and root hash of the ledger Merkle tree' })
export class Checkpoint {
  @Field(() => Int)
  id!: number;

  @Field(() => GraphQLSafeInt, { description: 'Number of ledger entries (seq 1 to treeSize) the root covers' })
  treeSize!: number;

  @Field({ description: 'RFC 6962 root hash, lowercase hex' })
  rootHash!: string;

  @Field({ description: 'Log name on the first line of the note' })
  origin!: string;

  @Field({ description: 'Signing key as <key name>+<key hash hex>' })
  keyId!: string;

  @Field({ description: 'The signed note in the C2SP tlog-checkpoint format' })
  note!: string;

  @Field(() => GraphQLSafeInt, { description: 'Seq of the checkpoint.created ledger entry' })
  ledgerSeq!: number;

  @Field({ description: 'UTC ISO 8601 time, also signed in the note' })
  createdAt!: string;

  @Field(() => [WitnessDelivery], { nullable: true, description: 'Witness outcomes; only set on a checkpoint that was just created' })
  witnesses?: WitnessDelivery[];
}

@ObjectType({ description: 'Proof that a ledger entry is in the tree of the latest checkpoint (RFC 6962 section 2.1.1)' })
export class InclusionProof {
  @Field(() => GraphQLSafeInt)
  seq!: number;

  @Field(() => GraphQLSafeInt, { description: '0-based leaf index, seq - 1' })
  leafIndex!: number;

  @Field(() => GraphQLSafeInt)
  treeSize!: number;

  @Field({ description: 'SHA-256(0x00 || entry hash bytes), hex' })
  leafHash!: string;

  @Field(() => [String], { description: 'Audit path from the leaf sibling up to the root, hex' })
  proof!: string[];

  @Field()
  rootHash!: string;

  @Field(() => Checkpoint)
  checkpoint!: Checkpoint;

  @Field(() => GraphQLJSONObject, { description: 'The ledger entry, so a verifier can recompute its hash and the leaf hash' })
  entry!: Record<string, unknown>;
}

@ObjectType({ description: 'Proof that an older tree is a prefix of a newer one (RFC 6962 section 2.1.2)' })
export class ConsistencyProof {
  @Field(() => GraphQLSafeInt)
  fromSize!: number;

  @Field(() => GraphQLSafeInt)
  toSize!: number;

  @Field()
  fromRoot!: string;

  @Field()
  toRoot!: string;

  @Field(() => [String])
  proof!: string[];

  @Field(() => Checkpoint, { nullable: true, description: 'The newest checkpoint of exactly fromSize entries, if any' })
  fromCheckpoint!: Checkpoint | null;

  @Field(() => Checkpoint, { nullable: true, description: 'The newest checkpoint of exactly toSize entries, if any' })
  toCheckpoint!: Checkpoint | null;
}

@ObjectType({ description: 'A public key that signs or signed checkpoints; keys are never deleted' })
export class CheckpointKey {
  @Field()
  keyId!: string;

  @Field()
  keyName!: string;

  @Field({ description: 'Raw 32-byte Ed25519 public key, base64' })
  publicKey!: string;

  @Field({ description: 'Verifier key string <name>+<key hash hex>+<base64(0x01 || public key)>' })
  vkey!: string;

  @Field()
  createdAt!: string;

  @Field(() => String, { nullable: true, description: 'When the key stopped signing; null for the current key' })
  retiredAt!: string | null;
}
