// Benchmark of retrieval quality and latency on TAT-QA (financial report tables and paragraphs,
// BEIR layout in ../shared/data/retrieval-benchmark/tatqa) against the PostgreSQL server, in a
// fresh database at WARDEN_TEST_DATABASE_URL. The corpus is ingested as one JSONL document with
// the built-in lexical embedder. Every query that has dev judgments is searched in text, vector
// and hybrid mode through RetrievalService.search, entitlement checks included. Relevance is
// binary (qrels score 1). A corpus document split into several chunks counts once, at its best
// rank. The client and PostgreSQL share this machine's cores.
//
// Run: npm run bench:retrieval   (BENCH_RRF_SWEEP=1 also prints hybrid results for other RRF
// constants and candidate depths; BENCH_QUERIES limits the number of queries)
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PostgresLedger } from '../../libs/audit/src/index.js';
import { loadConfig } from '../../libs/common/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import { PolicyEnforcer } from '../../libs/policy/src/index.js';
import { CollectionAccess, LexicalEmbedder, RetrievalService, type RetrievalOptions, type SearchMode } from '../../libs/retrieval/src/index.js';
import { createServerDatabase, REPO_ROOT, serverSkipReason } from '../support/databases.js';

const DATA_DIR = resolve(REPO_ROOT, '..', 'shared', 'data', 'retrieval-benchmark', 'tatqa');
const TENANT = 'bench-bank';
const COLLECTION = 'tatqa';
const CUTOFF = 10;
/** Chunks fetched per query, so that CUTOFF distinct corpus documents remain after merging split parts. */
const FETCH_K = 20;
const principal = { tenant: TENANT, roles: ['analyst'], subject: 'bench' };

interface Query {
  id: string;
  text: string;
  relevant: Set<string>;
}

interface ModeResult {
  label: string;
  ndcg: number;
  recall: number;
  mrr: number;
  p50: number;
  p95: number;
}

function loadQueries(): Query[] {
  const judgments = new Map<string, Set<string>>();
  for (const line of readFileSync(join(DATA_DIR, 'qrels', 'dev.tsv'), 'utf8').split('\n').slice(1)) {
    const [queryId, corpusId, score] = line.split('\t');
    if (!queryId || Number(score) <= 0) continue;
    if (!judgments.has(queryId)) judgments.set(queryId, new Set());
    judgments.get(queryId)!.add(corpusId);
  }
  const queries: Query[] = [];
  for (const line of readFileSync(join(DATA_DIR, 'queries.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { _id: string; text: string };
    const relevant = judgments.get(record._id);
    if (relevant) queries.push({ id: record._id, text: record.text, relevant });
  }
  const limit = Number(process.env.BENCH_QUERIES ?? queries.length);
  return queries.slice(0, limit);
}

/** Converts the corpus to a JSONL chunk file, with the corpus id as `id` and in the citation, and the text as is. */
function corpusAsJsonl(): { content: string; documents: number } {
  const lines: string[] = [];
  for (const line of readFileSync(join(DATA_DIR, 'corpus.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { _id: string; text: string };
    if (record.text.trim() === '') continue;
    lines.push(JSON.stringify({ id: record._id, citation: `TAT-QA ${record._id}`, text: record.text }));
  }
  return { content: lines.join('\n'), documents: lines.length };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

async function evaluate(service: RetrievalService, queries: Query[], mode: SearchMode, label: string): Promise<ModeResult> {
  let ndcg = 0;
  let recall = 0;
  let mrr = 0;
  const latencies: number[] = [];
  for (const query of queries) {
    const started = process.hrtime.bigint();
    const hits = await service.search(principal, { tenant: TENANT, collection: COLLECTION, query: query.text, k: FETCH_K, mode });
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);

    const ranked: string[] = [];
    for (const hit of hits) {
      const corpusId = String(hit.metadata.id);
      if (!ranked.includes(corpusId)) ranked.push(corpusId);
      if (ranked.length === CUTOFF) break;
    }
    let dcg = 0;
    let found = 0;
    let reciprocal = 0;
    ranked.forEach((corpusId, index) => {
      if (!query.relevant.has(corpusId)) return;
      dcg += 1 / Math.log2(index + 2);
      found += 1;
      if (reciprocal === 0) reciprocal = 1 / (index + 1);
    });
    let ideal = 0;
    for (let index = 0; index < Math.min(CUTOFF, query.relevant.size); index += 1) ideal += 1 / Math.log2(index + 2);
    ndcg += dcg / ideal;
    recall += found / query.relevant.size;
    mrr += reciprocal;
  }
  latencies.sort((a, b) => a - b);
  const count = queries.length;
  return { label, ndcg: ndcg / count, recall: recall / count, mrr: mrr / count, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) };
}

function row(result: ModeResult): string {
  return `| ${result.label} | ${result.ndcg.toFixed(3)} | ${result.recall.toFixed(3)} | ${result.mrr.toFixed(3)} | ${result.p50.toFixed(1)} | ${result.p95.toFixed(1)} |`;
}

async function main(): Promise<void> {
  const skip = await serverSkipReason();
  if (skip) throw new Error(`bench:retrieval needs the PostgreSQL server: ${skip}`);
  const server = await createServerDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-bench-retrieval-'));
  const config = { ...loadConfig({ LOG_LEVEL: 'warn' }), dataDir, databaseUrl: server.url, policyDir: join(REPO_ROOT, 'policies') };
  const database = await openDatabase(config);
  try {
    const policy = await PolicyEnforcer.create(config.policyDir);
    const access = await CollectionAccess.create(config.policyDir);
    const create = (options: RetrievalOptions = {}) => new RetrievalService(database.dataSource, new PostgresLedger(), policy, access, new LexicalEmbedder(512), options);
    const service = create();

    const corpus = corpusAsJsonl();
    const ingestStarted = Date.now();
    const report = await service.ingest({ tenant: TENANT, actor: 'bench', collection: COLLECTION, document: 'tatqa-corpus.jsonl', format: 'jsonl', content: corpus.content, source: 'bench' });
    const ingestSeconds = (Date.now() - ingestStarted) / 1000;
    const queries = loadQueries();
    console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`);
    console.log(`corpus: ${corpus.documents} documents -> ${report.chunks} chunks, ingested in ${ingestSeconds.toFixed(1)} s (chunk, embed, insert, index)`);
    console.log(`queries with dev judgments: ${queries.length}; cutoff ${CUTOFF}`);

    // Warm-up, so the first mode does not pay for cold caches.
    await evaluate(service, queries.slice(0, 50), 'hybrid', 'warm-up');

    const results = [
      await evaluate(service, queries, 'text', 'text (full-text, IDF-weighted)'),
      await evaluate(service, queries, 'vector', 'vector (lexical embedder, HNSW)'),
      await evaluate(service, queries, 'hybrid', 'hybrid (RRF)'),
    ];
    console.log('\n| mode | nDCG@10 | recall@10 | MRR@10 | p50 ms | p95 ms |\n| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const result of results) console.log(row(result));

    if (process.env.BENCH_RRF_SWEEP === '1') {
      console.log('\nhybrid sweep (rrfK, candidates per method, full-text weight):');
      for (const rrfK of (process.env.BENCH_RRF_K ?? '20,60').split(',').map(Number)) {
        for (const minCandidates of (process.env.BENCH_CANDIDATES ?? '20,50').split(',').map(Number)) {
          for (const textWeight of (process.env.BENCH_TEXT_WEIGHT ?? '1,1.5,2').split(',').map(Number)) {
            const options = { rrfK, minCandidates, candidateFactor: 1, textWeight };
            console.log(row(await evaluate(create(options), queries, 'hybrid', `hybrid rrfK=${rrfK} candidates=${minCandidates} textWeight=${textWeight}`)));
          }
        }
      }
    }
  } finally {
    await database.close();
    await server.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
