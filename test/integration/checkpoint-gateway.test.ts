import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseVerifierKey,
  verifyCheckpoint,
  verifyConsistencyProof,
  verifyInclusionProof,
  type ConsistencyProof,
  type InclusionProof,
} from '../../libs/audit/src/index.js';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const CHECKPOINT_FIELDS = 'id treeSize rootHash origin keyId note ledgerSeq createdAt';

const OPERATIONS = {
  checkpoints: `{ checkpoints(limit: 5) { ${CHECKPOINT_FIELDS} } }`,
  inclusionProof: `{ inclusionProof(seq: 1) { seq leafIndex treeSize leafHash proof rootHash entry checkpoint { note } } }`,
  consistencyProof: `{ consistencyProof(fromSize: 1, toSize: 2) { fromSize toSize fromRoot toRoot proof } }`,
  checkpointKeys: '{ checkpointKeys { keyId keyName publicKey vkey createdAt retiredAt } }',
  createCheckpoint: `mutation { createCheckpoint { ${CHECKPOINT_FIELDS} witnesses { witness status } } }`,
} as const;

interface CheckpointReply {
  id: number;
  treeSize: number;
  rootHash: string;
  origin: string;
  keyId: string;
  note: string;
  ledgerSeq: number;
  createdAt: string;
}

for (const target of await databaseTargets()) {
  describe(`checkpoint GraphQL on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let auditor: string;
    let admin: string;
    let created: CheckpointReply;

    before(async () => {
      gw = await startTestGateway(target);
      auditor = await gw.token('bank-a', ['auditor'], 'auditor-1');
      admin = await gw.token('bank-a', ['admin'], 'admin-1');
    });
    after(async () => {
      await gw?.close();
    });

    it('application is forbidden everywhere', async () => {
      const application = await gw.token('bank-a', ['application'], 'loan-app-1');
      for (const [field, query] of Object.entries(OPERATIONS)) {
        const response = await gw.graphql(query, undefined, application);
        assert.equal(response.body.errors?.[0].extensions?.code, 'FORBIDDEN', field);
        assert.equal(response.body.data, null, field);
      }
      const denials: { resource: string; action: string }[] = await gw.runtime.database.dataSource.query(
        "SELECT payload->>'resource' AS resource, payload->>'action' AS action FROM audit.ledger_entries WHERE type = 'access.denied' ORDER BY seq",
      );
      assert.deepEqual(
        denials.map((denial) => `${denial.resource}:${denial.action}`),
        ['checkpoint:read', 'checkpoint:read', 'checkpoint:read', 'checkpoint:read', 'checkpoint:create'],
      );
    });

    it('auditor cannot create a checkpoint', async () => {
      const response = await gw.graphql(OPERATIONS.createCheckpoint, undefined, auditor);
      assert.equal(response.body.errors?.[0].extensions?.code, 'FORBIDDEN');
    });

    it('proof before any checkpoint fails', async () => {
      const response = await gw.graphql(OPERATIONS.inclusionProof, undefined, auditor);
      assert.equal(response.body.errors?.[0].extensions?.code, 'FAILED_PRECONDITION');
    });

    it('admin creates a checkpoint', async () => {
      const response = await gw.graphql<{ createCheckpoint: CheckpointReply & { witnesses: unknown[] } }>(OPERATIONS.createCheckpoint, undefined, admin);
      assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
      const { witnesses, ...checkpoint } = response.body.data!.createCheckpoint;
      created = checkpoint;
      // The tree contains the 6 access denials above (5 of the application and 1 of the auditor's
      // create) and the admin's checkpoint.requested entry.
      const entries: { n: number }[] = await gw.runtime.database.dataSource.query(
        "SELECT count(*)::int AS n FROM audit.ledger_entries WHERE type <> 'checkpoint.created'",
      );
      assert.equal(created.treeSize, entries[0].n);
      assert.equal(created.treeSize, 7);
      assert.deepEqual(witnesses, []);
      const rows: { seq: string; type: string; tenant: string; actor: string }[] = await gw.runtime.database.dataSource.query(
        'SELECT seq::text AS seq, type, tenant, actor FROM audit.ledger_entries WHERE seq IN ($1, $2) ORDER BY seq',
        [created.treeSize, created.ledgerSeq],
      );
      assert.deepEqual(rows[0], { seq: String(created.treeSize), type: 'checkpoint.requested', tenant: 'bank-a', actor: 'admin-1' });
      assert.deepEqual(rows[1], { seq: String(created.ledgerSeq), type: 'checkpoint.created', tenant: '*', actor: 'gateway' });
    });

    it('auditor reads checkpoints and keys', async () => {
      const listed = await gw.graphql<{ checkpoints: CheckpointReply[] }>(OPERATIONS.checkpoints, undefined, auditor);
      assert.equal(listed.body.errors, undefined, JSON.stringify(listed.body.errors));
      assert.deepEqual(listed.body.data!.checkpoints, [created]);

      const keys = await gw.graphql<{ checkpointKeys: { keyId: string; vkey: string; retiredAt: string | null }[] }>(
        OPERATIONS.checkpointKeys,
        undefined,
        auditor,
      );
      assert.equal(keys.body.errors, undefined, JSON.stringify(keys.body.errors));
      const records = keys.body.data!.checkpointKeys;
      assert.deepEqual(
        records.map((key) => [key.keyId, key.retiredAt]),
        [[created.keyId, null]],
      );
      const result = verifyCheckpoint(
        created.note,
        records.map((key) => parseVerifierKey(key.vkey)),
      );
      assert.equal(result.ok, true);
    });

    it('auditor gets proofs that verify', async () => {
      const inclusion = await gw.graphql<{ inclusionProof: InclusionProof & { checkpoint: { note: string } } }>(
        OPERATIONS.inclusionProof,
        undefined,
        auditor,
      );
      assert.equal(inclusion.body.errors, undefined, JSON.stringify(inclusion.body.errors));
      const proof = inclusion.body.data!.inclusionProof;
      assert.equal(proof.treeSize, created.treeSize);
      assert.equal(proof.checkpoint.note, created.note);
      assert.deepEqual(verifyInclusionProof(proof), { ok: true });

      const consistency = await gw.graphql<{ consistencyProof: ConsistencyProof }>(OPERATIONS.consistencyProof, undefined, auditor);
      assert.equal(consistency.body.errors, undefined, JSON.stringify(consistency.body.errors));
      assert.deepEqual(verifyConsistencyProof(consistency.body.data!.consistencyProof), { ok: true });
    });

    it("hides another tenant's ledger entry", async () => {
      const otherAuditor = await gw.token('bank-z', ['auditor'], 'auditor-z');
      const response = await gw.graphql(OPERATIONS.inclusionProof, undefined, otherAuditor);
      assert.equal(response.body.errors?.[0].extensions?.code, 'NOT_FOUND');
      assert.equal(response.body.data, null);
    });

    it('rejects a seq beyond the checkpoint', async () => {
      const response = await gw.graphql('query($seq: SafeInt!) { inclusionProof(seq: $seq) { seq } }', { seq: 99 }, auditor);
      const error = response.body.errors?.[0];
      assert.equal(error?.extensions?.code, 'BAD_USER_INPUT');
      assert.deepEqual(error?.extensions?.fieldErrors, [
        { field: 'seq', message: `must be from 1 to ${created.treeSize}; create a checkpoint (warden audit checkpoint, or the createCheckpoint mutation) to cover later entries` },
      ]);
    });

    it('accepts seqs past 32 bits', async () => {
      // Sequence numbers and tree sizes are SafeInt, so a ledger past 2^31 - 1 entries stays addressable.
      const seq = 2 ** 31 + 5;
      const response = await gw.graphql('query($seq: SafeInt!) { inclusionProof(seq: $seq) { seq } }', { seq }, auditor);
      const error = response.body.errors?.[0];
      // The service's range check raises this error, so the value passed GraphQL's own type check.
      assert.equal(error?.extensions?.code, 'BAD_USER_INPUT');
      assert.deepEqual(error?.extensions?.fieldErrors, [
        { field: 'seq', message: `must be from 1 to ${created.treeSize}; create a checkpoint (warden audit checkpoint, or the createCheckpoint mutation) to cover later entries` },
      ]);

      const consistency = await gw.graphql(`{ consistencyProof(fromSize: 1, toSize: ${2 ** 40}) { toSize } }`, undefined, auditor);
      assert.equal(consistency.body.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
      const fieldErrors = consistency.body.errors?.[0].extensions?.fieldErrors as { field: string }[] | undefined;
      assert.equal(fieldErrors?.[0]?.field, 'toSize');
    });

    it('rejects a seq that is not a whole number', async () => {
      for (const seq of [1.5, 2 ** 53, '7']) {
        const response = await gw.graphql('query($seq: SafeInt!) { inclusionProof(seq: $seq) { seq } }', { seq }, auditor);
        assert.equal(response.body.data, undefined, `seq ${String(seq)}`);
        assert.match(response.body.errors?.[0].message ?? '', /\$seq/, `seq ${String(seq)}`);
      }
    });

    it('rejects a limit out of range', async () => {
      const response = await gw.graphql('{ checkpoints(limit: 0) { id } }', undefined, auditor);
      assert.equal(response.body.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    });

    // Runs last, because it creates a second checkpoint.
    it('checkpoint entry names no tenant user', async () => {
      // Every tenant's auditors read the entries of tenant "*", checkpoints among them.
      const otherAuditor = await gw.token('bank-z', ['auditor'], 'auditor-z');
      // The checkpoint's own entry lies past its tree, so its proof needs a later checkpoint.
      const later = await gw.graphql(OPERATIONS.createCheckpoint, undefined, admin);
      assert.equal(later.body.errors, undefined, JSON.stringify(later.body.errors));
      const proof = await gw.graphql<{ inclusionProof: { entry: { type: string; tenant: string; actor: string } } }>(
        'query($seq: SafeInt!) { inclusionProof(seq: $seq) { entry } }',
        { seq: created.ledgerSeq },
        otherAuditor,
      );
      assert.equal(proof.body.errors, undefined, JSON.stringify(proof.body.errors));
      const entry = proof.body.data!.inclusionProof.entry;
      assert.equal(entry.type, 'checkpoint.created');
      assert.equal(entry.tenant, '*');
      assert.equal(entry.actor, 'gateway');
      assert.equal(JSON.stringify(entry).includes('admin-1'), false);
    });
  });
}
