import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestGateway } from '../support/gateway.js';
import type { FakeOpenAiUpstream } from '../support/fake-openai-upstream.js';

// Imported before the dynamic imports below, so the root logger writes to logLines.
import { logLines } from '../support/log-capture.js';

const { default: OpenAI } = await import('openai');
const { createExportEvidence, exportBundle } = await import('../../libs/audit/src/index.js');
const { runDemoSetup } = await import('../../libs/decisions/src/index.js');
const { generateGermanCredit } = await import('../../libs/ingestion/src/index.js');
const { CANARY, canariesInDatabase, findCanaries } = await import('../support/canary.js');
const { databaseTargets, REPO_ROOT } = await import('../support/databases.js');
const { fakeUpstreamsYaml, startFakeOpenAiUpstream } = await import('../support/fake-openai-upstream.js');
const { startTestGateway } = await import('../support/gateway.js');

const TENANT = 'bank-a';
const TEXT = `Customer moves funds from ${CANARY.iban}, pays with card ${CANARY.card}, SSN ${CANARY.ssn}.`;
const COMPACT = { iban: CANARY.iban.replace(/\s/g, ''), card: CANARY.card.replace(/\s/g, ''), ssn: CANARY.ssn.replace(/-/g, '') };
const FEATURES = [
  'duration_months', 'credit_amount', 'installment_rate_pct', 'residence_since', 'age_years', 'existing_credits', 'num_dependents',
  'checking_status', 'credit_history', 'purpose', 'savings_status', 'employment_since', 'other_debtors', 'property',
  'other_installment_plans', 'housing', 'job', 'telephone',
];
const DECIDE = 'mutation D($input: DecideInput!) { decide(input: $input) { id outcome } }';
const INGEST = 'mutation I($records: [JSONObject!]!) { ingestRecords(dataset: "german-credit", records: $records) { accepted quarantined } }';
const ASK = 'mutation A($input: AskInput!) { ask(input: $input) { id text mode } }';
const SCAN = 'query S($text: String!) { scanText(text: $text) { masked } }';
const POLICY_DOCUMENT = `# Overdraft handling

Customers are charged an overdraft fee only after a written notice that names the amount and the
date. The fee is waived for accounts in hardship review.
`;


/** Reads every file under `folder`, recursively, into one text. */
function readAllFiles(folder: string): string {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(join(entry.parentPath, entry.name), 'latin1'))
    .join('\n');
}

function application(seed: number): Record<string, unknown> {
  const record = generateGermanCredit({ rows: 1, seed })[0];
  return Object.fromEntries(FEATURES.map((name) => [name, record[name]]));
}

for (const target of await databaseTargets()) {
  describe(`canary leak search on ${target.name}`, { skip: target.skipReason }, () => {
    let fake: FakeOpenAiUpstream;
    let gw: TestGateway;
    let folder: string;
    let appToken: string;
    let analystToken: string;
    const startedAt = new Date(Date.now() - 60_000);
    /** Bodies of every error response, which must not echo a canary either. */
    const errorBodies: string[] = [];

    async function graphql<T>(query: string, variables: Record<string, unknown>, token: string) {
      const response = await gw.graphql<T>(query, variables, token);
      if (response.body.errors) errorBodies.push(JSON.stringify(response.body));
      return response;
    }

    before(async () => {
      fake = await startFakeOpenAiUpstream();
      folder = mkdtempSync(join(tmpdir(), 'warden-canary-'));
      const policyDir = join(folder, 'policies');
      cpSync(join(REPO_ROOT, 'policies'), policyDir, { recursive: true });
      const generative = readFileSync(join(policyDir, 'answers', 'regulatory-qa.yaml'), 'utf8')
        .replace('useCase: regulatory-qa', 'useCase: policy-qa')
        .replace('mode: extractive', 'mode: generative')
        .replace('model: null', 'model: fake-chat');
      writeFileSync(join(policyDir, 'answers', 'policy-qa.yaml'), generative);
      writeFileSync(join(folder, 'upstreams.yaml'), fakeUpstreamsYaml(fake.baseUrl, { timeoutMs: 5000 }));
      gw = await startTestGateway(target, { policyDir, llmUpstreamsFile: join(folder, 'upstreams.yaml') });
      appToken = await gw.token(TENANT, ['application'], 'loan-app');
      analystToken = await gw.token(TENANT, ['analyst'], 'analyst-1');
      await runDemoSetup(gw.runtime, { tenant: TENANT, actor: 'test-setup' });
      await gw.runtime.retrieval.ingest({ tenant: TENANT, actor: 'ana', collection: 'bank-policies', document: 'overdraft.md', format: 'markdown', content: POLICY_DOCUMENT, source: 'test' });
    });

    after(async () => {
      await gw?.close();
      await fake?.close();
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    it('decide with canaries in extra and invalid fields', async () => {
      const extra = await graphql<{ decide: { id: string } }>(DECIDE, { input: { useCase: 'credit-application', application: { ...application(5), memo: TEXT } } }, appToken);
      const unexpectedKey = await graphql(DECIDE, { input: { useCase: 'credit-application', application: { ...application(6), [COMPACT.iban]: TEXT } } }, appToken);
      const invalidValue = await graphql(DECIDE, { input: { useCase: 'credit-application', application: { ...application(7), credit_amount: CANARY.card, purpose: CANARY.ssn } } }, appToken);
      const tooLong = await graphql(DECIDE, { input: { useCase: 'credit-application', application: { ...application(8), personal_status_sex: TEXT } } }, appToken);
      // An excluded field is accepted and dropped, so this decision is made and stored.
      const excludedText = `SSN ${CANARY.ssn} card ${CANARY.card}`;
      const decided = await graphql<{ decide: { id: string } }>(
        DECIDE,
        { input: { useCase: 'credit-application', application: { ...application(14), personal_status_sex: excludedText, foreign_worker: CANARY.iban } } },
        appToken,
      );
      const badUseCase = await graphql(DECIDE, { input: { useCase: COMPACT.iban, application: application(9) } }, appToken);
      const badRequestId = await graphql(DECIDE, { input: { useCase: 'credit-application', application: application(10), requestId: TEXT } }, appToken);
      for (const response of [extra, unexpectedKey, invalidValue, tooLong, badUseCase, badRequestId]) {
        assert.ok(response.status < 500, `decide answered ${response.status}: ${JSON.stringify(response.body)}`);
        assert.ok(response.body.errors, `expected an error: ${JSON.stringify(response.body)}`);
      }
      assert.equal(decided.body.errors, undefined, JSON.stringify(decided.body.errors));
      assert.ok(decided.body.data?.decide.id, 'the decision with excluded fields was made');
      assert.ok(badUseCase.body.errors, 'an unknown use case is an error');
    });

    it('ingestRecords with canaries', async () => {
      const records = [
        { ...application(11), note: TEXT },
        { ...application(12), credit_amount: CANARY.iban },
        { ...application(13), [COMPACT.card]: CANARY.ssn },
      ];
      const response = await graphql<{ ingestRecords: { accepted: number; quarantined: number } }>(INGEST, { records }, analystToken);
      assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
      assert.equal(response.body.data?.ingestRecords.quarantined, 3, 'every record is quarantined and stored for inspection');
    });

    it('ask extractive and generative with canaries', async () => {
      const question = `What overdraft fee applies to account ${CANARY.iban} for SSN ${CANARY.ssn}?`;
      const extractive = await graphql<{ ask: { text: string } }>(ASK, { input: { useCase: 'regulatory-qa', collection: 'bank-policies', question } }, appToken);
      assert.equal(extractive.body.errors, undefined, JSON.stringify(extractive.body.errors));

      fake.reset();
      fake.script({ kind: 'chat', content: `The fee is waived for <IBAN_1> and card ${CANARY.card} in hardship review [1].` });
      const generative = await graphql<{ ask: { text: string } }>(ASK, { input: { useCase: 'policy-qa', collection: 'bank-policies', question } }, appToken);
      assert.equal(generative.body.errors, undefined, JSON.stringify(generative.body.errors));
      assert.ok(fake.requests.length >= 1, 'the generative answer called the model');
      assert.deepEqual(findCanaries(JSON.stringify(fake.requests.map((request) => request.body))), [], 'a canary reached the model');

      const badUseCase = await graphql(ASK, { input: { useCase: COMPACT.ssn, collection: 'bank-policies', question } }, appToken);
      assert.ok(badUseCase.body.errors);
    });

    it('proxy JSON, stream, embeddings and errors with canaries', async () => {
      const client = new OpenAI({ baseURL: `${gw.gateway.url}/v1`, apiKey: appToken, maxRetries: 0 });
      fake.reset();
      fake.script({ kind: 'chat', content: 'Done for <IBAN_1>.' }, { kind: 'stream', pieces: ['Done for <IB', 'AN_1>.'] });
      const completion = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: TEXT }] });
      assert.equal(completion.choices[0].message.content, `Done for ${CANARY.iban}.`);
      const stream = await client.chat.completions.create({ model: 'fake-chat', messages: [{ role: 'user', content: TEXT }], stream: true });
      let streamed = '';
      for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(streamed, `Done for ${CANARY.iban}.`);
      await client.embeddings.create({ model: 'fake-embed', input: [TEXT] });
      assert.deepEqual(findCanaries(JSON.stringify(fake.requests.slice(0, 2).map((request) => request.body))), [], 'a canary reached the chat upstream');

      const post = async (body: unknown, headers: Record<string, string> = {}) => {
        const response = await fetch(`${gw.gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${appToken}`, ...headers },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        });
        const text = await response.text();
        assert.ok(response.status >= 400 && response.status < 500, `expected a 4xx, got ${response.status}: ${text}`);
        errorBodies.push(text);
      };
      await post({ model: COMPACT.iban, messages: [{ role: 'user', content: 'hello' }] });
      await post({ model: 'fake-chat', messages: [TEXT], temperature: CANARY.ssn });
      await post({ model: 'fake-chat', messages: TEXT });
      await post(`{"model": "fake-chat", "messages": "${TEXT}`);
      await post({ model: 'fake-chat', messages: [{ role: 'user', content: 'hello' }] }, { 'x-warden-use-case': COMPACT.ssn });
      await post({ model: 'fake-chat', messages: [{ role: 'user', content: 'hello' }] }, { 'x-warden-use-case': `${COMPACT.iban}!` });
    });

    it('scanText with canaries', async () => {
      const response = await graphql<{ scanText: { masked: string } }>(SCAN, { text: TEXT }, analystToken);
      assert.equal(response.body.errors, undefined);
      assert.deepEqual(findCanaries(JSON.stringify(response.body)), []);
    });

    it('no canary in logs, database, export, metrics or errors', async () => {
      await gw.runtime.llm.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(errorBodies.filter((body) => findCanaries(body).length > 0), [], 'an error response echoes a canary');
      assert.deepEqual(logLines.filter((line) => findCanaries(line).length > 0), [], 'a log line holds a canary');

      const { dataSource } = gw.runtime.database;
      assert.deepEqual(await canariesInDatabase(dataSource, ['guardrails.vault_entries']), []);
      const [vault] = await dataSource.query('SELECT count(*)::int AS n FROM guardrails.vault_entries');
      assert.ok(vault.n > 0, 'the vault holds the placeholder values, encrypted');

      const outDir = join(folder, 'bundle');
      const evidence = createExportEvidence(gw.runtime.checkpoints, gw.runtime.merkle, gw.runtime.checkpointKeys, 'canary-test');
      const { manifest } = await exportBundle(
        dataSource,
        { useCase: 'credit-application', from: startedAt, to: new Date(Date.now() + 60_000), outDir, wardenVersion: '0.1.0' },
        evidence,
      );
      assert.ok(manifest.counts.decisions > 0, 'the bundle holds decisions');
      assert.deepEqual(findCanaries(readAllFiles(outDir)), [], 'the export bundle holds a canary');

      const metrics = await (await fetch(`${gw.gateway.url}/metrics`)).text();
      assert.match(metrics, /warden_/);
      assert.deepEqual(findCanaries(metrics), [], 'the metrics hold a canary');
    });
  });
}
