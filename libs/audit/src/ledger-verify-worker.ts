/**
 * Worker thread of verifyLedger: verifies one seq range of the chain over its own connection to
 * the PostgreSQL server and posts the ChainRangeResult back. It receives no credentials beyond the
 * connection URL and writes nothing. Its connection starts with Warden's search_path, like the
 * data source's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { withPinnedSearchPath } from '../../database/src/search-path.js';
import { verifyChainRange, type ChainRange, type VerifyEntryRow } from './chain-range.js';

/** Input of the worker, passed by verifyLedger as workerData. */
export interface LedgerVerifyWorkerData {
  connectionString: string;
  range: ChainRange;
}

const { connectionString, range } = workerData as LedgerVerifyWorkerData;
const client = new pg.Client({ connectionString: withPinnedSearchPath(connectionString), application_name: 'warden-ledger-verify' });
await client.connect();
try {
  const result = await verifyChainRange(async (sql, parameters) => (await client.query<VerifyEntryRow>(sql, parameters)).rows, range);
  parentPort?.postMessage(result);
} finally {
  await client.end();
}
