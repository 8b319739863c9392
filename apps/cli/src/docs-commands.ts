import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { BadUserInputError, type WardenConfig } from '../../../libs/common/src/index.js';
import { createRuntime } from '../../../libs/decisions/src/index.js';
import { checkDocumentName, type DocumentFormat, type SearchMode } from '../../../libs/retrieval/src/index.js';

const DEFAULT_TENANT = 'demo-bank';
const FORMATS: readonly DocumentFormat[] = ['markdown', 'text', 'jsonl'];
const MODES: readonly SearchMode[] = ['hybrid', 'vector', 'text'];

/** Registers `warden docs ingest` and `warden docs search`. */
export function registerDocsCommands(program: Command, loadConfig: () => WardenConfig): void {
  const docs = program.command('docs').description('Document collections for retrieval (RAG)');

  docs
    .command('ingest')
    .description('Chunk, embed and store a Markdown, text or JSONL chunk file as a new document version; an unchanged file adds nothing')
    .requiredOption('--collection <name>', 'collection name, such as bank-policies')
    .requiredOption('--file <path>', 'file to ingest (.md, .txt or .jsonl with text and citation per line)')
    .option('--format <format>', 'markdown, text or jsonl; default: from the file extension')
    .option('--name <document>', 'document name within the collection; default: the file name')
    .option('--tenant <tenant>', 'tenant that owns the collection', DEFAULT_TENANT)
    .action(async (options: { collection: string; file: string; format?: string; name?: string; tenant: string }) => {
      if (options.format !== undefined && !FORMATS.includes(options.format as DocumentFormat)) {
        throw new BadUserInputError(`Invalid --format "${options.format}".`, [{ field: '--format', message: `must be one of ${FORMATS.join(', ')}` }]);
      }
      const nameError = options.name === undefined ? undefined : checkDocumentName(options.name, '--name');
      if (nameError) throw new BadUserInputError('Invalid --name.', [nameError]);
      const runtime = await createRuntime(loadConfig());
      try {
        const report = await runtime.retrieval.ingestFile({
          tenant: options.tenant,
          actor: `cli:${userInfo().username}`,
          collection: options.collection,
          path: resolve(options.file),
          format: options.format as DocumentFormat | undefined,
          document: options.name,
        });
        console.log(JSON.stringify(report, null, 2));
      } finally {
        await runtime.close();
      }
    });

  docs
    .command('search')
    .description('Search a collection as a caller with the given role, and print the hits with their citations')
    .requiredOption('--collection <name>', 'collection name')
    .requiredOption('--query <text>', 'question or keywords')
    .option('--k <n>', 'number of hits (1-50)', '5')
    .option('--mode <mode>', 'hybrid, vector or text', 'hybrid')
    .option('--role <role>', 'role whose grants apply', 'analyst')
    .option('--tenant <tenant>', 'tenant that owns the collection', DEFAULT_TENANT)
    .action(async (options: { collection: string; query: string; k: string; mode: string; role: string; tenant: string }) => {
      if (!MODES.includes(options.mode as SearchMode)) {
        throw new BadUserInputError(`Invalid --mode "${options.mode}".`, [{ field: '--mode', message: `must be one of ${MODES.join(', ')}` }]);
      }
      const runtime = await createRuntime(loadConfig());
      try {
        const principal = { tenant: options.tenant, roles: [options.role], subject: `cli:${userInfo().username}` };
        const hits = await runtime.retrieval.search(principal, {
          tenant: options.tenant,
          collection: options.collection,
          query: options.query,
          k: Number(options.k),
          mode: options.mode as SearchMode,
        });
        const shown = hits.map(({ chunkId, documentName, documentVersion, citation, score, vectorRank, textRank, text }) => ({
          chunkId,
          documentName,
          documentVersion,
          citation,
          score,
          vectorRank,
          textRank,
          text: text.length > 300 ? `${text.slice(0, 297)}...` : text,
        }));
        console.log(JSON.stringify(shown, null, 2));
      } finally {
        await runtime.close();
      }
    });
}
