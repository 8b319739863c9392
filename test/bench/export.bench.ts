// Benchmark of the audit export on the PostgreSQL server, in a fresh database at
// WARDEN_TEST_DATABASE_URL. It seeds a ledger of filler entries and the decisions of one use case
// with their ledger entries, records a full chain verification as the daily job would, and runs
// exportBundle several times with its default incremental chain check. For each run it reports
// the rate in decision records per second and where the CPU time went. The groups are the
// export's own thread, the other threads of this process (the analyst file and leaf check
// workers, V8's helper threads, libuv's pool) and the PostgreSQL server processes. The peer, in the same run,
// reads the same rows through the same cursor and does nothing with them: the rate at which the
// records leave the database, which bounds any export over this driver.
//
// Run: npm run bench:export   (BENCH_EXPORT_DECISIONS the decisions exported, default 50,000;
// BENCH_LEDGER_ENTRIES the filler entries before them, default 100,000; BENCH_EXPORT_RUNS the
// exports, default 5; BENCH_EXPORT_PROFILE a file path: the V8 CPU profile of the export's thread
// during the last run is written there, for Chrome DevTools or speedscope; BENCH_EXPORT_RECORD
// credit (default) or compact, the record shape described in seed-decisions.ts)
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../libs/common/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import {
  CheckpointKeyStore,
  CheckpointService,
  createExportEvidence,
  declareDecisionsCursor,
  exportBundle,
  PostgresLedger,
  PostgresMerkleLog,
  runFullVerification,
  WitnessPublisher,
  type LedgerEntryInput,
} from '../../libs/audit/src/index.js';
import { createServerDatabase, serverSkipReason } from '../support/databases.js';
import { EXPORT_USE_CASE, seedDecisions, seedRecordShape } from './seed-decisions.js';

const DECISIONS = Number(process.env.BENCH_EXPORT_DECISIONS ?? 50_000);
const FILLER = Number(process.env.BENCH_LEDGER_ENTRIES ?? 100_000);
const RUNS = Number(process.env.BENCH_EXPORT_RUNS ?? 5);
const RECORD_SHAPE = seedRecordShape(process.env.BENCH_EXPORT_RECORD);
const PROFILE_PATH = process.env.BENCH_EXPORT_PROFILE;
const EXPORT_DAY = { from: new Date('2026-03-01T00:00:00.000Z'), to: new Date('2026-03-02T00:00:00.000Z') };
/** Clock ticks per second of /proc's CPU times; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;
/** How often the threads of this process are sampled, so threads that end during a run are counted. */
const SAMPLE_MS = 20;

/** CPU seconds of one thread or process, from the utime and stime fields of a /proc stat file. */
function statSeconds(statText: string): number {
  // The command name is in parentheses and may hold spaces, so the fields are counted after it.
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // The thread or process ended between listing and reading.
  }
}

/** Returns the group that a thread's CPU time is reported under, from the thread's name. */
function threadGroup(name: string, tid: number): string {
  if (tid === process.pid) return 'export thread';
  if (name.startsWith('warden analyst')) return 'analyst worker';
  if (name.startsWith('warden ledger')) return 'chain check worker';
  if (name.startsWith('warden leaf')) return 'leaf check worker';
  if (name.startsWith('V8')) return 'V8 helpers (GC, compiler)';
  if (name.startsWith('libuv')) return 'libuv pool (file writes)';
  return 'other threads';
}

/** Samples this process's threads and keeps each thread's last seen CPU time. */
class ThreadSampler {
  private readonly last = new Map<number, { group: string; seconds: number }>();
  private readonly baseline = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.sample();
    for (const [tid, { seconds }] of this.last) this.baseline.set(tid, seconds);
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  /** Stops sampling and returns the CPU seconds each group used since start(). */
  stop(): Map<string, number> {
    clearInterval(this.timer);
    this.sample();
    const groups = new Map<string, number>();
    for (const [tid, { group, seconds }] of this.last) {
      groups.set(group, (groups.get(group) ?? 0) + seconds - (this.baseline.get(tid) ?? 0));
    }
    return groups;
  }

  private sample(): void {
    for (const entry of readdirSync('/proc/self/task')) {
      const tid = Number(entry);
      const stat = readOrNull(`/proc/self/task/${entry}/stat`);
      const name = readOrNull(`/proc/self/task/${entry}/comm`);
      if (stat === null || name === null) continue;
      this.last.set(tid, { group: threadGroup(name.trim(), tid), seconds: statSeconds(stat) });
    }
  }
}

/** CPU seconds used so far by every process named postgres (the server and its backends). */
function postgresSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (readOrNull(`/proc/${entry}/comm`)?.trim() !== 'postgres') continue;
    const stat = readOrNull(`/proc/${entry}/stat`);
    if (stat !== null) total += statSeconds(stat);
  }
  return total;
}

interface Measured {
  seconds: number;
  threads: Map<string, number>;
  processSeconds: number;
  postgresSeconds: number;
}

async function measure(work: () => Promise<void>): Promise<Measured> {
  const sampler = new ThreadSampler();
  const postgresBefore = postgresSeconds();
  const processBefore = process.cpuUsage();
  sampler.start();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const threads = sampler.stop();
  const processUsage = process.cpuUsage(processBefore);
  return {
    seconds,
    threads,
    processSeconds: (processUsage.user + processUsage.system) / 1e6,
    postgresSeconds: postgresSeconds() - postgresBefore,
  };
}

/** Reads the exported rows with the export's query, cursor and work_mem, and discards them. */
async function readRowsOnly(source: DataSource): Promise<number> {
  return source.transaction('REPEATABLE READ', async (manager) => {
    await declareDecisionsCursor(manager, 'bench_peer', {
      useCase: EXPORT_USE_CASE,
      period: { from: EXPORT_DAY.from.toISOString(), to: EXPORT_DAY.to.toISOString() },
      tenant: null,
      outcome: null,
    });
    let count = 0;
    for (;;) {
      const rows: unknown[] = await manager.query('FETCH 1000 FROM bench_peer');
      if (rows.length === 0) break;
      count += rows.length;
    }
    return count;
  });
}

const fillerEntry = (n: number): LedgerEntryInput => ({
  type: 'model.registered',
  tenant: n % 2 === 0 ? 'bench-bank-a' : 'bench-bank-b',
  actor: 'bench-ops',
  payload: { model: `filler-${n}`, version: '1.0.0' },
});

const skip = await serverSkipReason();
if (skip) {
  console.error(`bench:export needs the PostgreSQL server: ${skip}`);
  process.exit(1);
}

const server = await createServerDatabase();
const dataDir = mkdtempSync(join(tmpdir(), 'warden-bench-export-'));
const database = await openDatabase({
  ...loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }),
  dataDir,
  databaseUrl: server.url,
  databasePoolSize: 4,
});
const lines: string[] = [];
const format = (value: number) => Math.round(value).toLocaleString('en-US');
const cpu = (seconds: number | undefined) => (seconds === undefined ? '' : `${(seconds * 1000).toFixed(0)}`);
const loadAtStart = loadavg()[0];

try {
  const source = database.dataSource;
  const [{ server_version: version }] = await source.query('SHOW server_version');
  const ledger = new PostgresLedger();
  for (let start = 0; start < FILLER; start += 1000) {
    const count = Math.min(1000, FILLER - start);
    await source.transaction((manager) => ledger.appendMany(manager, Array.from({ length: count }, (_, i) => fillerEntry(start + i))));
  }
  await seedDecisions(source, ledger, DECISIONS, '2026-03-01T12:00:00.000Z', RECORD_SHAPE);
  const [{ mean_bytes: meanRecordBytes }] = await source.query('SELECT round(avg(octet_length(record_json))) AS mean_bytes FROM decisions.decision_records');
  await source.query('VACUUM ANALYZE decisions.decision_records');
  await source.query('VACUUM ANALYZE audit.ledger_entries');
  const merkle = new PostgresMerkleLog(source);
  const checkpointKeys = new CheckpointKeyStore(source, join(dataDir, 'checkpoint-key.pem'), ledger);
  const checkpoints = new CheckpointService(source, merkle, checkpointKeys, ledger, new WitnessPublisher(source, {}), { origin: 'warden.bench/export' });
  await checkpoints.create('bench');
  const { verification, recorded } = await runFullVerification(source, { trigger: 'schedule', actor: 'system', ledger });
  if (!verification.ok || recorded === undefined) throw new Error(`ledger verification failed: ${verification.reason}`);
  const evidence = createExportEvidence(checkpoints, merkle, checkpointKeys, 'bench');

  lines.push(
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${version} on loopback`,
    `Ledger: ${format(FILLER)} filler entries, then ${format(DECISIONS)} decisions with their entries; one full verification recorded before the runs`,
    `Records: ${RECORD_SHAPE} shape (BENCH_EXPORT_RECORD), ${format(Number(meanRecordBytes))} bytes of canonical JSON on average`,
    '',
    '| run | records | seconds | records/s | export thread ms | other threads ms | PostgreSQL ms | phases (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  const groupTotals = new Map<string, number[]>();
  const rates: number[] = [];
  const peerRates: number[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    // The peer and the export alternate, so a change in the machine's speed touches both.
    let peerCount = 0;
    const peer = await measure(async () => {
      peerCount = await readRowsOnly(source);
    });
    if (peerCount !== DECISIONS) throw new Error(`the peer read ${peerCount} rows, expected ${DECISIONS}`);
    peerRates.push(DECISIONS / peer.seconds);
    lines.push(
      `| ${run}, peer: cursor read only | ${format(DECISIONS)} | ${peer.seconds.toFixed(2)} | ${format(DECISIONS / peer.seconds)} | ${cpu(peer.threads.get('export thread'))} | ` +
        `${cpu(peer.processSeconds - (peer.threads.get('export thread') ?? 0))} | ${cpu(peer.postgresSeconds)} |  |`,
    );

    const profile = PROFILE_PATH !== undefined && run === RUNS ? new Session() : undefined;
    if (profile) {
      profile.connect();
      await profile.post('Profiler.enable');
      await profile.post('Profiler.start');
    }
    let phaseMs: Record<string, number> = {};
    const outDir = join(dataDir, `bundle-${run}`);
    const measured = await measure(async () => {
      const result = await exportBundle(source, { useCase: EXPORT_USE_CASE, ...EXPORT_DAY, outDir, wardenVersion: 'bench' }, evidence);
      if (result.manifest.counts.decisions !== DECISIONS) throw new Error(`the export holds ${result.manifest.counts.decisions} decisions, expected ${DECISIONS}`);
      phaseMs = result.phaseMs;
    });
    if (profile && PROFILE_PATH !== undefined) {
      const { profile: cpuProfile } = await profile.post('Profiler.stop');
      writeFileSync(PROFILE_PATH, JSON.stringify(cpuProfile));
      profile.disconnect();
    }
    rmSync(outDir, { recursive: true, force: true });
    rates.push(DECISIONS / measured.seconds);
    for (const [group, seconds] of measured.threads) groupTotals.set(group, [...(groupTotals.get(group) ?? []), seconds]);
    const exportThread = measured.threads.get('export thread') ?? 0;
    lines.push(
      `| ${run}, exportBundle | ${format(DECISIONS)} | ${measured.seconds.toFixed(2)} | ${format(DECISIONS / measured.seconds)} | ${cpu(exportThread)} | ` +
        `${cpu(measured.processSeconds - exportThread)} | ${cpu(measured.postgresSeconds)} | ` +
        `${Object.entries(phaseMs)
          .map(([phase, ms]) => `${phase} ${ms}`)
          .join(', ')} |`,
    );
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  lines.push(
    '',
    `Median: exportBundle ${format(median(rates))} records/s (target >= 50,000/s), peer ${format(median(peerRates))} rows/s, ratio ${(median(rates) / median(peerRates)).toFixed(2)}x`,
    '',
    '| thread group (export runs) | median CPU ms per export |',
    '| --- | ---: |',
    ...[...groupTotals].sort((a, b) => median(b[1]) - median(a[1])).map(([group, seconds]) => `| ${group} | ${cpu(median(seconds))} |`),
  );
} finally {
  await database.close();
  await server.drop();
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`\n${lines.join('\n')}`);
console.log(`Load average (1 minute): ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`);
if (PROFILE_PATH !== undefined) console.log(`CPU profile of the export's thread in the last run: ${PROFILE_PATH}`);
