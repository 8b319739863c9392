import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { digestJson } from '../../libs/common/src/index.js';
import { verifyLedger } from '../../libs/audit/src/index.js';
import { runDemoSetup } from '../../libs/decisions/src/index.js';
import { generateGermanCredit } from '../../libs/ingestion/src/index.js';
import { databaseTargets, REPO_ROOT } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const USE_CASE = 'credit-application';

/** The use case as written in its YAML file, read here so the test does not trust the loader. */
const useCaseYaml = parseYaml(readFileSync(join(REPO_ROOT, 'policies', 'use-cases', `${USE_CASE}.yaml`), 'utf8')) as {
  version: string;
  features: { numeric: { name: string }[]; categorical: { name: string }[] };
  bands: { approveBelow: number; declineAtOrAbove: number };
  reasonCodes: { max: number };
};
const FEATURE_NAMES = [...useCaseYaml.features.numeric, ...useCaseYaml.features.categorical].map((feature) => feature.name).sort();
const { bands } = useCaseYaml;

const DECISION_FIELDS = `
  id useCase outcome score
  reasonCodes { code description contribution }
  attributions { feature value contribution }
  modelVersion policyVersion reviewStatus ledgerSeq ledgerHash createdAt
  lineage {
    inputDigest featureValues modelVersion modelArtifactSha256 datasetVersion
    useCaseConfigHash policyHash reasonCodeMapHash droppedFields recordDigest
  }`;
const DECIDE = `mutation Decide($input: DecideInput!) { decide(input: $input) { ${DECISION_FIELDS} } }`;
const GET_DECISION = `query GetDecision($id: ID!) { decision(id: $id) { ${DECISION_FIELDS} } }`;
const REPLAY = 'query Replay($id: ID!) { replayDecision(id: $id) { decisionId identical differences { field recorded replayed } } }';

interface DecisionResponse {
  id: string;
  useCase: string;
  outcome: 'APPROVE' | 'DECLINE' | 'REFER';
  score: number;
  reasonCodes: { code: string; description: string; contribution: number }[];
  attributions: { feature: string; value: string; contribution: number }[];
  modelVersion: string;
  policyVersion: string;
  reviewStatus: 'PENDING' | 'NOT_REQUIRED' | 'COMPLETED';
  ledgerSeq: number;
  ledgerHash: string;
  createdAt: string;
  lineage: {
    inputDigest: string;
    featureValues: Record<string, string | number>;
    modelVersion: string;
    modelArtifactSha256: string;
    datasetVersion: string;
    useCaseConfigHash: string;
    policyHash: string;
    reasonCodeMapHash: string;
    droppedFields: string[];
    recordDigest: string;
  };
}

/** Applications with only the model's features: the generator's label, key and excluded fields removed. */
function applicants(count: number, seed: number): Record<string, string | number>[] {
  return generateGermanCredit({ rows: count, seed }).map((record) => {
    const application: Record<string, string | number> = {};
    for (const name of FEATURE_NAMES) application[name] = record[name] as string | number;
    return application;
  });
}

function logit(probability: number): number {
  return Math.log(probability / (1 - probability));
}

function expectedOutcome(score: number): DecisionResponse['outcome'] {
  if (score < bands.approveBelow) return 'APPROVE';
  if (score >= bands.declineAtOrAbove) return 'DECLINE';
  return 'REFER';
}

const HEX_64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const target of await databaseTargets()) {
  describe(`gateway decisions on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let modelVersion: string;
    let appToken: string;
    let auditorToken: string;
    let otherTenantToken: string;

    async function decide(application: Record<string, unknown>, requestId?: string, token = appToken) {
      return gw.graphql<{ decide: DecisionResponse }>(DECIDE, { input: { useCase: USE_CASE, application, requestId } }, token);
    }

    async function decideOk(application: Record<string, unknown>, requestId?: string): Promise<DecisionResponse> {
      const response = await decide(application, requestId);
      assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
      return response.body.data!.decide;
    }

    async function ledgerCount(): Promise<number> {
      const rows: { n: number }[] = await gw.runtime.database.dataSource.query('SELECT count(*)::int AS n FROM audit.ledger_entries');
      return rows[0].n;
    }

    before(async () => {
      gw = await startTestGateway(target);
      modelVersion = (await runDemoSetup(gw.runtime, { tenant: 'bank-a', actor: 'test-setup' })).modelVersion;
      appToken = await gw.token('bank-a', ['application'], 'loan-app');
      auditorToken = await gw.token('bank-a', ['auditor'], 'auditor-1');
      otherTenantToken = await gw.token('bank-b', ['application', 'auditor'], 'loan-app-b');
    });
    after(async () => {
      await gw?.close();
    });

    it('decide returns every Decision field', async () => {
      const [application] = applicants(1, 101);
      const decision = await decideOk(application);

      assert.match(decision.id, UUID);
      assert.equal(decision.useCase, USE_CASE);
      assert.ok(decision.score > 0, `score ${decision.score} is not a probability`);
      assert.ok(decision.score < 1, `score ${decision.score} is not a probability`);
      assert.equal(decision.outcome, expectedOutcome(decision.score));
      // REFER always goes to a person; other outcomes only when a review rule (threshold, sample) matches.
      if (decision.outcome === 'REFER') assert.equal(decision.reviewStatus, 'PENDING');
      else assert.ok(['PENDING', 'NOT_REQUIRED'].includes(decision.reviewStatus), decision.reviewStatus);
      assert.equal(decision.modelVersion, modelVersion);
      assert.equal(decision.policyVersion, `${useCaseYaml.version}+${gw.runtime.policy.policyHash.slice(0, 12)}`);
      assert.ok(Math.abs(Date.parse(decision.createdAt) - Date.now()) < 60_000, `createdAt ${decision.createdAt} is not recent`);

      assert.deepEqual(decision.lineage.featureValues, application);
      assert.equal(decision.lineage.inputDigest, digestJson(application));
      assert.equal(decision.lineage.modelVersion, modelVersion);
      assert.match(decision.lineage.modelArtifactSha256, HEX_64);
      assert.match(decision.lineage.useCaseConfigHash, HEX_64);
      assert.match(decision.lineage.reasonCodeMapHash, HEX_64);
      assert.equal(decision.lineage.policyHash, gw.runtime.policy.policyHash);
      assert.ok(decision.lineage.datasetVersion.length > 0, 'datasetVersion is empty');
      assert.deepEqual(decision.lineage.droppedFields, []);
      assert.match(decision.lineage.recordDigest, HEX_64);
    });

    it('decide explains from the approval cut-off', async () => {
      const outcomes = new Set<string>();
      for (const application of applicants(12, 202)) {
        const decision = await decideOk(application);
        outcomes.add(decision.outcome);
        assert.equal(decision.outcome, expectedOutcome(decision.score), `score ${decision.score}`);

        assert.deepEqual(decision.attributions.map((a) => a.feature).sort(), FEATURE_NAMES);
        for (const attribution of decision.attributions) {
          assert.equal(attribution.value, String(application[attribution.feature]), attribution.feature);
        }
        const sum = decision.attributions.reduce((total, a) => total + a.contribution, 0);
        const expected = logit(decision.score) - logit(bands.approveBelow);
        assert.ok(Math.abs(sum - expected) <= 1e-9, `attributions sum to ${sum}, expected ${expected}`);

        assert.ok(decision.reasonCodes.length <= useCaseYaml.reasonCodes.max, `${decision.reasonCodes.length} reason codes`);
        for (const reason of decision.reasonCodes) {
          assert.ok(reason.contribution > 0, `reason ${reason.code} has contribution ${reason.contribution}`);
          assert.ok(reason.description.length > 0, `reason ${reason.code} has no description`);
        }
      }
      assert.ok(outcomes.size >= 2, `12 applicants all got ${[...outcomes].join()}`);
    });

    it('decide receipt matches the ledger row', async () => {
      const decision = await decideOk(applicants(1, 303)[0]);
      const ledgerRows: { type: string; tenant: string; actor: string; hash: string; payload: Record<string, unknown> }[] =
        await gw.runtime.database.dataSource.query('SELECT type, tenant, actor, hash, payload FROM audit.ledger_entries WHERE seq = $1', [decision.ledgerSeq]);
      assert.equal(ledgerRows.length, 1);
      assert.equal(ledgerRows[0].hash, decision.ledgerHash);
      assert.equal(ledgerRows[0].type, 'decision.created');
      assert.equal(ledgerRows[0].tenant, 'bank-a');
      assert.equal(ledgerRows[0].actor, 'loan-app');
      assert.equal(ledgerRows[0].payload.decisionId, decision.id);
      assert.equal(ledgerRows[0].payload.recordDigest, decision.lineage.recordDigest);

      const recordRows: { ledger_seq: string; ledger_hash: string; record_digest: string }[] = await gw.runtime.database.dataSource.query(
        'SELECT ledger_seq::text AS ledger_seq, ledger_hash, record_digest FROM decisions.decision_records WHERE id = $1',
        [decision.id],
      );
      assert.equal(recordRows[0].ledger_seq, String(decision.ledgerSeq));
      assert.equal(recordRows[0].ledger_hash, decision.ledgerHash);
      assert.equal(recordRows[0].record_digest, decision.lineage.recordDigest);
    });

    it('decision(id) returns the stored decision', async () => {
      const decided = await decideOk(applicants(1, 404)[0]);
      const response = await gw.graphql<{ decision: DecisionResponse }>(GET_DECISION, { id: decided.id }, auditorToken);
      assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
      assert.deepEqual(response.body.data!.decision, decided);
    });

    it('decision(id) of another tenant is not found', async () => {
      const decided = await decideOk(applicants(1, 505)[0]);
      const missingId = randomUUID();
      const foreign = await gw.graphql(GET_DECISION, { id: decided.id }, otherTenantToken);
      const missing = await gw.graphql(GET_DECISION, { id: missingId }, otherTenantToken);

      assert.equal(foreign.body.errors?.[0].extensions?.code, 'NOT_FOUND');
      assert.equal(foreign.body.data, null);
      assert.equal(foreign.status, missing.status);
      const foreignText = JSON.stringify(foreign.body).replaceAll(decided.id, '<id>');
      const missingText = JSON.stringify(missing.body).replaceAll(missingId, '<id>');
      assert.equal(foreignText, missingText);

      const replay = await gw.graphql(REPLAY, { id: decided.id }, otherTenantToken);
      assert.equal(replay.body.errors?.[0].extensions?.code, 'NOT_FOUND');
    });

    it('decide rejects invalid fields by name', async () => {
      const before = await ledgerCount();
      const application: Record<string, unknown> = { ...applicants(1, 606)[0] };
      application.duration_months = 0;
      application.checking_status = 'A99';
      application.credit_amount = 'a lot';
      delete application.age_years;
      application.favourite_colour = 'green';

      const response = await decide(application);
      const error = response.body.errors?.[0];
      assert.equal(error?.extensions?.code, 'BAD_USER_INPUT');
      const fieldErrors = error?.extensions?.fieldErrors as { field: string; message: string }[];
      assert.deepEqual(
        fieldErrors.map((fieldError) => fieldError.field).sort(),
        ['age_years', 'checking_status', 'credit_amount', 'duration_months', 'favourite_colour'],
      );
      for (const fieldError of fieldErrors) assert.ok(fieldError.message.length > 0, `no message for ${fieldError.field}`);
      assert.equal(await ledgerCount(), before);
    });

    it('decide rejects an unknown use case', async () => {
      const response = await gw.graphql(DECIDE, { input: { useCase: 'no-such-use-case', application: applicants(1, 707)[0] } }, appToken);
      assert.equal(response.body.errors?.[0].extensions?.code, 'NOT_FOUND');
    });

    it('decide drops an excluded field', async () => {
      const application = { ...applicants(1, 808)[0], personal_status_sex: 'A92' };
      const decision = await decideOk(application);
      assert.deepEqual(decision.lineage.droppedFields, ['personal_status_sex']);
      assert.equal('personal_status_sex' in decision.lineage.featureValues, false);

      const rows: { record: { lineage: { featureValues: Record<string, unknown> } }; text: string }[] = await gw.runtime.database.dataSource.query(
        'SELECT record, record::text AS text FROM decisions.decision_records WHERE id = $1',
        [decision.id],
      );
      assert.equal('personal_status_sex' in rows[0].record.lineage.featureValues, false);
      assert.equal(rows[0].text.includes('A92'), false, 'the excluded value was stored');
    });

    it('decide is idempotent per requestId', async () => {
      const application = applicants(1, 909)[0];
      const requestId = `loan-${randomUUID()}`;
      const before = await ledgerCount();
      const first = await decideOk(application, requestId);
      const second = await decideOk(application, requestId);
      assert.equal(second.id, first.id);
      assert.equal(second.ledgerSeq, first.ledgerSeq);
      assert.equal(await ledgerCount(), before + 1);
    });

    it('replayDecision reports identical', async () => {
      const decided = await decideOk(applicants(1, 1010)[0]);
      const response = await gw.graphql<{ replayDecision: { decisionId: string; identical: boolean; differences: unknown[] } }>(
        REPLAY,
        { id: decided.id },
        auditorToken,
      );
      assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
      assert.deepEqual(response.body.data!.replayDecision, { decisionId: decided.id, identical: true, differences: [] });
    });

    it('concurrent decides get consecutive seqs', async () => {
      const head = await gw.runtime.ledger.head(gw.runtime.database.dataSource);
      const responses = await Promise.all(applicants(50, 1111).map((application) => decide(application)));
      const seqs = responses.map((response) => {
        assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
        return response.body.data!.decide.ledgerSeq;
      });
      const sorted = [...seqs].sort((a, b) => a - b);
      assert.deepEqual(sorted, Array.from({ length: 50 }, (_, index) => head.seq + 1 + index));
      assert.equal(new Set(responses.map((response) => response.body.data!.decide.id)).size, 50);

      const verification = await verifyLedger(gw.runtime.database.dataSource);
      assert.equal(verification.ok, true, verification.reason);
      assert.equal(verification.headSeq, head.seq + 50);
    });
  });
}
