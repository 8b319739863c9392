import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getLogger } from '../../common/src/index.js';
import type { WardenRuntime } from './runtime.js';

/** Collection that the demo's policy handbook goes into; the `application` role may read it. */
export const DEMO_COLLECTION = 'bank-policies';

/** demo/corpus in the repository, found from this file's compiled place (dist/libs/decisions/src). */
const DEMO_CORPUS_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', 'demo', 'corpus');

/**
 * Ingests the Markdown files of demo/corpus (a fictional bank's policy handbook) into the
 * `bank-policies` collection of the demo tenant. Unchanged files add nothing, so every start may
 * run it. Returns the number of documents stored or updated on this call.
 */
export async function ingestDemoCorpus(runtime: WardenRuntime, options: { tenant: string; actor: string; folder?: string }): Promise<number> {
  const folder = options.folder ?? DEMO_CORPUS_DIR;
  const log = getLogger('demo');
  if (!existsSync(folder)) {
    log.warn({ folder }, 'demo corpus folder not found; the bank-policies collection stays empty');
    return 0;
  }
  let changed = 0;
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.md')).sort()) {
    const report = await runtime.retrieval.ingestFile({ tenant: options.tenant, actor: options.actor, collection: DEMO_COLLECTION, path: join(folder, file) });
    if (report.status !== 'unchanged') changed += 1;
  }
  log.info({ collection: DEMO_COLLECTION, changed }, 'demo corpus ingested');
  return changed;
}
