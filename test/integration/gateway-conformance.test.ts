import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// The audits read their URL lazily, so the list and its names exist before the gateway starts.
// graphql-http 1.23.1 defines 13 MUST audits.
let graphqlUrl = '';
const audits = serverAudits({ url: () => graphqlUrl, fetchFn: fetch });
const mustAudits = audits.filter((audit) => audit.name.startsWith('MUST'));
const otherAudits = audits.filter((audit) => !audit.name.startsWith('MUST'));

for (const target of await databaseTargets()) {
  describe(`GraphQL over HTTP conformance on ${target.name}`, { skip: target.skipReason }, () => {
    let gateway: TestGateway;
    before(async () => {
      gateway = await startTestGateway(target);
      graphqlUrl = gateway.gateway.graphqlUrl;
    });
    after(async () => {
      await gateway?.close();
    });

    it('finds all MUST audits', () => {
      assert.equal(mustAudits.length, 13);
    });

    for (const audit of mustAudits) {
      it(audit.name, async () => {
        const result = await audit.fn();
        assert.equal(result.status, 'ok', result.status === 'ok' ? undefined : `${result.reason}`);
      });
    }

    it('reports SHOULD and MAY audits', async (t) => {
      for (const audit of otherAudits) {
        const result = await audit.fn();
        if (result.status !== 'ok') t.diagnostic(`${result.status}: ${audit.name}: ${result.reason}`);
      }
    });
  });
}
