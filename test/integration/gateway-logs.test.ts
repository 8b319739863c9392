import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestGateway } from '../support/gateway.js';

// Imported before the dynamic imports below, so the root logger writes to logLines.
import { logLines } from '../support/log-capture.js';

const { databaseTargets } = await import('../support/databases.js');
const { startTestGateway } = await import('../support/gateway.js');
const { runDemoSetup } = await import('../../libs/decisions/src/index.js');
const { generateGermanCredit } = await import('../../libs/ingestion/src/index.js');

const DECIDE = 'mutation Decide($input: DecideInput!) { decide(input: $input) { id } }';
/** A credit amount above the generator's largest draw (18424), so finding it in a log line proves a leak. */
const CREDIT_AMOUNT = 48213;
const EXCLUDED_AND_LABEL = ['application_id', 'credit_risk', 'personal_status_sex', 'foreign_worker'];

interface LogLine {
  level: number;
  msg: string;
  component?: string;
  requestId?: string;
  tenant?: string;
  actor?: string;
}

function application(): Record<string, unknown> {
  const record = generateGermanCredit({ rows: 1, seed: 5 })[0];
  const fields = Object.fromEntries(Object.entries(record).filter(([name]) => !EXCLUDED_AND_LABEL.includes(name)));
  return { ...fields, credit_amount: CREDIT_AMOUNT };
}

/** Parses the log lines of one request. It polls briefly because the access line is written when the response finishes. */
async function linesOfRequest(requestId: string, expectedMessage: string): Promise<LogLine[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const lines = logLines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.requestId === requestId);
    if (lines.some((line) => line.msg === expectedMessage)) return lines;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return logLines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.requestId === requestId);
}

for (const target of await databaseTargets()) {
  describe(`gateway logs on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let token: string;
    before(async () => {
      gw = await startTestGateway(target);
      await runDemoSetup(gw.runtime, { tenant: 'bank-a', actor: 'test-setup' });
      token = await gw.token('bank-a', ['application'], 'loan-app');
    });
    after(async () => {
      await gw?.close();
    });

    async function decide(requestId: string, input: Record<string, unknown>, bearer = token) {
      const response = await fetch(gw.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId, authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ query: DECIDE, variables: { input } }),
      });
      return (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    }

    it('decide lines carry request, tenant and actor', async () => {
      const requestId = `logs-${target.name}-decide`;
      const body = await decide(requestId, { useCase: 'credit-application', application: application() });
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));

      const lines = await linesOfRequest(requestId, 'request completed');
      const recorded = lines.find((line) => line.msg === 'decision recorded');
      assert.ok(recorded, 'no "decision recorded" line for the request');
      assert.equal(recorded.tenant, 'bank-a');
      assert.equal(recorded.actor, 'loan-app');
      const access = lines.find((line) => line.msg === 'request completed');
      assert.ok(access, 'no access log line for the request');
      assert.equal(access.tenant, 'bank-a');
      assert.equal(access.actor, 'loan-app');
    });

    it('denied call logs a warning', async () => {
      const requestId = `logs-${target.name}-denied`;
      const reviewer = await gw.token('bank-a', ['reviewer'], 'reviewer-3');
      const denied = await decide(requestId, { useCase: 'credit-application', application: application() }, reviewer);
      assert.equal(denied.errors?.[0].extensions?.code, 'FORBIDDEN');
      const lines = await linesOfRequest(requestId, 'request completed');
      const warning = lines.find((line) => line.msg === 'access denied by policy');
      assert.ok(warning, 'no "access denied by policy" line');
      assert.equal(warning.actor, 'reviewer-3');

      const invalid = await decide(`logs-${target.name}-invalid`, { useCase: 'credit-application', application: { ...application(), duration_months: 0 } });
      assert.equal(invalid.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    });

    it('Nest writes no console lines for client errors', async () => {
      const consoleChunks: string[] = [];
      const originalStdout = process.stdout.write.bind(process.stdout);
      const originalStderr = process.stderr.write.bind(process.stderr);
      const capture = (original: typeof originalStdout) =>
        ((chunk: string | Uint8Array, ...rest: never[]) => {
          consoleChunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
          return original(chunk, ...rest);
        }) as typeof process.stdout.write;
      process.stdout.write = capture(originalStdout);
      process.stderr.write = capture(originalStderr);
      try {
        await decide(`logs-${target.name}-console`, { useCase: 'no-such-use-case', application: application() });
        await decide(`logs-${target.name}-console`, { useCase: 'credit-application', application: {} }, 'not-a-token');
      } finally {
        process.stdout.write = originalStdout;
        process.stderr.write = originalStderr;
      }
      const nestLines = consoleChunks.filter((chunk) => chunk.includes('[Nest]') || chunk.includes('ExceptionsHandler'));
      assert.deepEqual(nestLines, []);
    });

    it('no line contains a token or applicant value', () => {
      const text = logLines.join('\n');
      assert.equal(text.includes(token), false, 'a log line contains the bearer token');
      assert.equal(text.includes(token.split('.')[2]), false, 'a log line contains the token signature');
      // Whole-number match, so that digits inside a duration such as 1.482131 do not count.
      assert.doesNotMatch(text, new RegExp(`(^|[^0-9.])${CREDIT_AMOUNT}([^0-9.]|$)`), 'a log line contains the credit amount');
    });

    it('every log line is JSON', () => {
      assert.ok(logLines.length > 0, 'no log line was captured');
      for (const line of logLines) assert.doesNotThrow(() => JSON.parse(line), line);
    });
  });
}
