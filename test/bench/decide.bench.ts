// Benchmark of `decide` over GraphQL with the ledger on: decisions per second and latency
// percentiles at concurrency 1 and 8, on the embedded database and on the PostgreSQL server.
// The load generator runs in the same process as the gateway, so both share this machine's cores.
// For comparison the same run measures `{ __typename }`, a GraphQL round trip that reaches no
// resolver (no token check, no database): the floor under any operation.
//
// Run: npm run bench:decide   (BENCH_DECISIONS sets the requests per cell; BENCH_TARGETS=server
// or embedded limits the run to one database)
import { cpus, totalmem } from 'node:os';
import { runDemoSetup } from '../../libs/decisions/src/index.js';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 2000);
const WARMUP = 200;
const APPLICATION = {
  checking_status: 'A12', duration_months: 24, credit_history: 'A32', purpose: 'A43', credit_amount: 3500,
  savings_status: 'A61', employment_since: 'A73', installment_rate_pct: 3, other_debtors: 'A101', residence_since: 2,
  property: 'A123', age_years: 35, other_installment_plans: 'A143', housing: 'A152', existing_credits: 1, job: 'A173',
  num_dependents: 1, telephone: 'A191',
};
const DECIDE = 'mutation D($input: DecideInput!) { decide(input: $input) { id outcome score reasonCodes { code } ledgerSeq } }';

interface Cell {
  database: string;
  operation: string;
  concurrency: number;
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function measure(warden: TestGateway, token: string, body: () => string, requests: number, concurrency: number): Promise<Omit<Cell, 'database' | 'operation'>> {
  const latencies: number[] = [];
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < requests) {
        sent++;
        const t0 = performance.now();
        const response = await fetch(warden.gateway.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: body(),
        });
        const result = (await response.json()) as { errors?: unknown };
        if (result.errors) throw new Error(`request failed: ${JSON.stringify(result.errors)}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { concurrency, requests, perSecond: requests / seconds, p50: pick(0.5), p99: pick(0.99) };
}

const cells: Cell[] = [];
const only = process.env.BENCH_TARGETS?.split(',');
for (const target of await databaseTargets()) {
  if (only && !only.includes(target.name)) continue;
  if (target.skipReason) {
    console.error(`skipping ${target.name}: ${target.skipReason}`);
    continue;
  }
  const warden = await startTestGateway(target);
  try {
    await runDemoSetup(warden.runtime, { tenant: 'bench-bank', actor: 'bench' });
    const token = await warden.token('bench-bank', ['application'], 'bench-app');
    const decideBody = () => JSON.stringify({ query: DECIDE, variables: { input: { useCase: 'credit-application', application: APPLICATION } } });
    const typenameBody = () => JSON.stringify({ query: '{ __typename }' });

    await measure(warden, token, decideBody, WARMUP, 8);
    for (const concurrency of [1, 8]) {
      cells.push({ database: target.name, operation: '{ __typename } (floor)', ...(await measure(warden, token, typenameBody, DECISIONS, concurrency)) });
      cells.push({ database: target.name, operation: 'decide', ...(await measure(warden, token, decideBody, DECISIONS, concurrency)) });
    }
  } finally {
    await warden.close();
  }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`\nMachine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
console.log(`Requests per cell: ${DECISIONS} after ${WARMUP} warm-up decisions\n`);
console.log('| database | operation | concurrency | requests/s | p50 ms | p99 ms |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const cell of cells) {
  console.log(`| ${cell.database} | ${cell.operation} | ${cell.concurrency} | ${cell.perSecond.toFixed(0)} | ${cell.p50.toFixed(2)} | ${cell.p99.toFixed(2)} |`);
}
