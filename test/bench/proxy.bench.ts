// Benchmark of the OpenAI-compatible proxy: the latency Warden adds to a chat completion over
// calling the upstream directly, at concurrency 1 and 10, side by side with the Portkey
// open-source gateway (@portkey-ai/gateway 1.15.2) in the same run.
//
// Warden runs as `warden start` in a child process on a fresh database of the PostgreSQL server,
// with the full governed path on: API key check, casbin RBAC and model policy, rate limit, usage
// row and `llm.call` ledger entry per call. It runs twice: "warden" waits for the ledger commit
// before responding (the default), "warden-write-behind" responds once the record is queued
// (`ledger.waitForCommit: false`). Portkey runs as its own Node server in a child process,
// pointed at the same fake upstream with x-portkey-provider: openai and x-portkey-custom-host. The
// fake upstream and the load generator share this process, so every path pays for them alike, and
// "added" is the path's percentile minus the direct path's percentile in the same round.
//
// Run: npm run bench:proxy   (BENCH_REQUESTS sets the requests per cell, default 2000)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { cliEnvironment, runCli, startCli, type StartedCli } from '../support/cli.js';
import { createServerDatabase, REPO_ROOT, serverSkipReason, type ServerDatabase } from '../support/databases.js';
import { startFakeOpenAiUpstream, type FakeOpenAiUpstream } from '../support/fake-openai-upstream.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const WARMUP = 200;
const CONCURRENCY = [1, 10];
const BODY = JSON.stringify({ model: 'bench-chat', messages: [{ role: 'user', content: 'Explain the debt-to-income ratio in one sentence.' }] });
const PORTKEY_MAIN = resolve(REPO_ROOT, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
const PORTKEY_PORT = 18787;

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
}

interface Cell {
  path: string;
  concurrency: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function measure(target: Target, requests: number, concurrency: number): Promise<Cell> {
  const latencies: number[] = [];
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < requests) {
        sent++;
        const t0 = performance.now();
        const response = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body: BODY });
        const body = (await response.json()) as { choices?: unknown[] };
        if (response.status !== 200 || !body.choices) throw new Error(`${target.name} answered ${response.status}: ${JSON.stringify(body)}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { path: target.name, concurrency, perSecond: requests / seconds, p50: pick(0.5), p99: pick(0.99) };
}

function upstreamsFile(folder: string, fake: FakeOpenAiUpstream, waitForCommit: boolean): string {
  const file = join(folder, `upstreams-${waitForCommit ? 'durable' : 'write-behind'}.yaml`);
  writeFileSync(
    file,
    `version: 1
rateLimit:
  tenantRequestsPerMinute: 1000000
upstreams:
  fake:
    baseUrl: ${fake.baseUrl}
    timeoutMs: 10000
    retries: 0
models:
  bench-chat:
    upstream: fake
    upstreamModel: org/bench-chat
    pricing:
      promptPer1k: "0.5"
      completionPer1k: "1.5"
ledger:
  waitForCommit: ${waitForCommit}
`,
  );
  return file;
}

async function startPortkey(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [PORTKEY_MAIN, `--port=${PORTKEY_PORT}`, '--headless'], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 100; attempt++) {
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    try {
      await fetch(`http://localhost:${PORTKEY_PORT}/`);
      return child;
    } catch {
      // not listening yet
    }
  }
  child.kill();
  throw new Error(`Portkey did not listen on port ${PORTKEY_PORT} within 10 s`);
}

const skip = await serverSkipReason();
if (skip) {
  console.error(`bench:proxy needs the PostgreSQL server: ${skip}`);
  process.exit(1);
}

const fake = await startFakeOpenAiUpstream();
const folder = mkdtempSync(join(tmpdir(), 'warden-bench-proxy-'));
let database: ServerDatabase | undefined;
let warden: StartedCli | undefined;
let writeBehind: StartedCli | undefined;
let portkey: ChildProcess | undefined;
try {
  database = await createServerDatabase();
  const env = cliEnvironment({
    DATABASE_URL: database.url,
    WARDEN_DATA_DIR: join(folder, 'data'),
    WARDEN_LLM_UPSTREAMS_FILE: upstreamsFile(folder, fake, true),
    LOG_LEVEL: 'warn',
  });
  const writeBehindEnv = { ...env, WARDEN_DATA_DIR: join(folder, 'data-write-behind'), WARDEN_LLM_UPSTREAMS_FILE: upstreamsFile(folder, fake, false) };
  const created = await runCli(['apikey', 'create', '--tenant', 'bench-bank', '--role', 'application', '--name', 'bench'], env);
  if (created.code !== 0) throw new Error(`warden apikey create failed: ${created.stderr}`);
  const apiKey = created.stdout.trim();

  warden = await startCli(['--port', '0'], env);
  const wardenUrl = warden.graphqlUrl.replace(/\/graphql$/, '');
  writeBehind = await startCli(['--port', '0'], writeBehindEnv);
  const writeBehindUrl = writeBehind.graphqlUrl.replace(/\/graphql$/, '');
  portkey = await startPortkey();

  const targets: Target[] = [
    { name: 'direct', url: `${fake.baseUrl}/chat/completions`, headers: {} },
    { name: 'warden', url: `${wardenUrl}/v1/chat/completions`, headers: { authorization: `Bearer ${apiKey}` } },
    { name: 'warden-write-behind', url: `${writeBehindUrl}/v1/chat/completions`, headers: { authorization: `Bearer ${apiKey}` } },
    {
      name: 'portkey',
      url: `http://localhost:${PORTKEY_PORT}/v1/chat/completions`,
      headers: { authorization: 'Bearer sk-bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': fake.baseUrl },
    },
  ];

  const cells: Cell[] = [];
  for (const concurrency of CONCURRENCY) {
    for (const target of targets) await measure(target, WARMUP, concurrency);
    for (const target of targets) cells.push(await measure(target, REQUESTS, concurrency));
  }

  // Stopping the write-behind gateway flushes its queued records before the ledger is verified.
  await writeBehind.stop();
  writeBehind = undefined;
  const ledger = await runCli(['audit', 'verify'], env);
  const entries = (JSON.parse(ledger.stdout) as { entries: number; ok: boolean });

  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`);
  console.log(`requests per cell: ${REQUESTS} (after ${WARMUP} warm-up), non-streaming chat completion, fake upstream answers at once`);
  console.log(`ledger after the run: ${entries.entries} entries, chain ${entries.ok ? 'verified' : 'FAILED verification'}`);
  console.log('| path | concurrency | requests/s | p50 ms | p99 ms | added p50 ms | added p99 ms |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const cell of cells) {
    const direct = cells.find((other) => other.path === 'direct' && other.concurrency === cell.concurrency)!;
    const added = cell.path === 'direct' ? ['-', '-'] : [(cell.p50 - direct.p50).toFixed(2), (cell.p99 - direct.p99).toFixed(2)];
    console.log(`| ${cell.path} | ${cell.concurrency} | ${cell.perSecond.toFixed(0)} | ${cell.p50.toFixed(2)} | ${cell.p99.toFixed(2)} | ${added[0]} | ${added[1]} |`);
  }
} finally {
  portkey?.kill();
  await warden?.stop();
  await writeBehind?.stop();
  await fake.close();
  await database?.drop();
  rmSync(folder, { recursive: true, force: true });
}
