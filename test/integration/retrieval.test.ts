import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresLedger } from '../../libs/audit/src/index.js';
import { BadUserInputError, FailedPreconditionError, ForbiddenError, NotFoundError } from '../../libs/common/src/index.js';
import { ingestDemoCorpus } from '../../libs/decisions/src/index.js';
import { PolicyEnforcer } from '../../libs/policy/src/index.js';
import { CollectionAccess, LexicalEmbedder, RetrievalService, type SearchHit, type SearchPrincipal } from '../../libs/retrieval/src/index.js';
import { nearestChunks, textMatches } from '../../libs/retrieval/src/retrieval.repository.js';
import { databaseTargets, REPO_ROOT, sharedDataPath, type TestDatabase } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const TENANT = 'bank-a';
const SMALL_TENANT = 'bank-small';
const analyst: SearchPrincipal = { tenant: TENANT, roles: ['analyst'], subject: 'ana' };

const regulationB = sharedDataPath('regulatory/cfr12_part1002_regulation_b/md');
const gdpr = sharedDataPath('regulatory/eu_gdpr_dora_psd2/gdpr_chunks.jsonl');
const sharedSkip = regulationB.skipReason ?? gdpr.skipReason;

/** Files of the full regulatory set, ingested on the server; PGlite takes a subset to keep the suite short. */
const SERVER_ONLY_FILES = [
  'regulatory/eu_ai_act_2024_1689/chunks.jsonl',
  'regulatory/eu_gdpr_dora_psd2/dora_chunks.jsonl',
  'regulatory/eu_gdpr_dora_psd2/psd2_chunks.jsonl',
  'regulatory/nist_ai_rmf_1_0/chunks.jsonl',
];
const EMBEDDED_REG_B_FILES = ['1002-2.md', '1002-4.md', '1002-6.md', '1002-9.md', '1002-12.md'];

const SEARCH = `query Search($collection: String!, $query: String!, $k: Int, $mode: SearchMode) {
  search(collection: $collection, query: $query, k: $k, mode: $mode) { chunkId documentName documentVersion citation text score vectorRank textRank }
}`;

async function createService(db: TestDatabase, options: ConstructorParameters<typeof RetrievalService>[5] = {}, dimension = 512): Promise<RetrievalService> {
  const policy = await PolicyEnforcer.create(db.config.policyDir);
  const access = await CollectionAccess.create(db.config.policyDir);
  return new RetrievalService(db.database.dataSource, new PostgresLedger(), policy, access, new LexicalEmbedder(dimension), options);
}

async function ledgerTypes(db: TestDatabase, type: string): Promise<Array<{ payload: Record<string, unknown>; tenant: string; actor: string }>> {
  return db.database.dataSource.query('SELECT tenant, actor, payload FROM audit.ledger_entries WHERE type = $1 ORDER BY seq', [type]);
}

function citations(hits: SearchHit[]): string[] {
  return hits.map((hit) => hit.citation);
}

for (const target of await databaseTargets()) {
  describe(`retrieval on ${target.name}`, { skip: target.skipReason ?? sharedSkip }, () => {
    let db: TestDatabase;
    let service: RetrievalService;
    let workDir: string;

    before(async () => {
      db = await target.open();
      service = await createService(db);
      workDir = mkdtempSync(join(tmpdir(), 'warden-retrieval-'));

      const regulationBFiles = target.name === 'server' ? readdirSync(regulationB.path).filter((name) => name.endsWith('.md')) : EMBEDDED_REG_B_FILES;
      for (const file of regulationBFiles) {
        await service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'regulatory', path: join(regulationB.path, file) });
      }
      await service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'regulatory', path: gdpr.path });
      if (target.name === 'server') {
        for (const file of SERVER_ONLY_FILES) {
          const shared = sharedDataPath(file);
          if (shared.skipReason) continue;
          // Two of these files are named chunks.jsonl, so the folder keeps their document names apart.
          await service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'regulatory', path: shared.path, document: file.replace('regulatory/', '') });
        }
      }
    });

    after(async () => {
      rmSync(workDir, { recursive: true, force: true });
      await db.cleanup();
    });

    it('finds the adverse action reasons rule', async () => {
      const hits = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'statement of specific reasons for adverse action', k: 5 });
      assert.equal(hits.length, 5);
      assert.ok(citations(hits).some((citation) => citation.includes('1002.9')), citations(hits).join(' | '));
    });

    it('finds the GDPR right to erasure', async () => {
      const hits = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'right to erasure', k: 5 });
      assert.ok(citations(hits).some((citation) => /GDPR\), Article 17\(/.test(citation)), citations(hits).join(' | '));
    });

    it('finds EU AI Act and NIST passages on the server', { skip: target.name !== 'server' }, async () => {
      const deployers = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'obligations of deployers of high-risk AI systems', k: 10 });
      assert.ok(citations(deployers).some((citation) => citation.includes('2024/1689') && citation.includes('Article 26')), citations(deployers).join(' | '));
      const mapFunction = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'MAP function context is established and understood', k: 10 });
      assert.ok(citations(mapFunction).some((citation) => citation.includes('NIST')), citations(mapFunction).join(' | '));
      const ictIncidents = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'reporting of major ICT-related incidents', k: 10 });
      assert.ok(citations(ictIncidents).some((citation) => citation.includes('DORA')), citations(ictIncidents).join(' | '));
    });

    it('reports ranks of each method', async () => {
      const hits = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'right to erasure personal data', k: 10 });
      assert.ok(hits.every((hit) => hit.vectorRank !== null || hit.textRank !== null));
      assert.ok(hits.some((hit) => hit.vectorRank !== null && hit.textRank !== null), 'some hits are in both lists');
      for (let index = 1; index < hits.length; index += 1) assert.ok(hits[index - 1].score >= hits[index].score, 'scores descend');
      const vectorOnly = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'right to erasure personal data', k: 10, mode: 'vector' });
      assert.deepEqual(vectorOnly.map((hit) => hit.vectorRank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.ok(vectorOnly.every((hit) => hit.textRank === null));
      const textOnly = await service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'right to erasure personal data', k: 10, mode: 'text' });
      assert.deepEqual(textOnly.map((hit) => hit.textRank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('re-ingests an unchanged file without adding anything', async () => {
      const before = await db.database.dataSource.query('SELECT count(*)::int AS n FROM retrieval.chunks');
      const entries = (await ledgerTypes(db, 'docs.ingested')).length;
      const report = await service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'regulatory', path: gdpr.path });
      assert.equal(report.status, 'unchanged');
      assert.equal(report.addedChunks, 0);
      assert.equal(report.version, 1);
      assert.equal(report.ledger, null);
      const afterCount = await db.database.dataSource.query('SELECT count(*)::int AS n FROM retrieval.chunks');
      assert.equal(afterCount[0].n, before[0].n);
      assert.equal((await ledgerTypes(db, 'docs.ingested')).length, entries);
    });

    it('retires the old version when a document changes', async () => {
      const file = join(workDir, 'lending-memo.md');
      writeFileSync(file, '# Lending memo\n\n## Pricing\n\nThe zebracorn surcharge applies to every instalment loan.\n');
      const first = await service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'memos', path: file });
      assert.equal(first.status, 'created');
      assert.equal(first.version, 1);
      const found = await service.search(analyst, { tenant: TENANT, collection: 'memos', query: 'zebracorn surcharge', k: 3 });
      assert.equal(found[0].chunkId, (await chunkIdsOf(db, first.documentId))[0]);
      assert.equal(found[0].citation, 'lending-memo.md, Pricing');

      writeFileSync(file, '# Lending memo\n\n## Pricing\n\nThe unicornfish discount replaces the old surcharge.\n');
      const second = await service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'memos', path: file });
      assert.equal(second.status, 'updated');
      assert.equal(second.version, 2);
      assert.equal(second.retiredChunks, first.chunks);

      const old = await service.search(analyst, { tenant: TENANT, collection: 'memos', query: 'zebracorn', k: 5 });
      assert.ok(old.every((hit) => hit.documentVersion === 2), 'no hit from version 1');
      const rows: Array<{ retired: boolean; n: number }> = await db.database.dataSource.query(
        'SELECT retired, count(*)::int AS n FROM retrieval.chunks WHERE document_id = $1 GROUP BY retired',
        [first.documentId],
      );
      assert.deepEqual(rows, [{ retired: true, n: first.chunks }]);
      const current = await service.search(analyst, { tenant: TENANT, collection: 'memos', query: 'unicornfish discount', k: 1 });
      assert.equal(current[0].documentVersion, 2);

      const entry = (await ledgerTypes(db, 'docs.ingested')).at(-1)!;
      assert.equal(entry.payload.document, 'lending-memo.md');
      assert.equal(entry.payload.version, 2);
      assert.equal(entry.payload.previousVersion, 1);
      assert.equal(entry.payload.retiredChunks, first.chunks);
      assert.equal(entry.payload.digest, second.digest);
      await assert.rejects(db.database.dataSource.query('DELETE FROM retrieval.chunks WHERE document_id = $1', [first.documentId]), /not allowed/);
    });

    it('rejects another embedder in the same collection', async () => {
      const narrow = await createService(db, {}, 256);
      const file = join(workDir, 'other.md');
      writeFileSync(file, '# Other\n\nText for another embedder.\n');
      await assert.rejects(narrow.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'regulatory', path: file }), (error: unknown) => {
        assert.ok(error instanceof FailedPreconditionError);
        assert.match(error.message, /Collection "regulatory" holds lexical embeddings of model warden-lexical-v1 with 512 dimensions/);
        assert.match(error.message, /256 dimensions/);
        assert.match(error.message, /new collection/);
        return true;
      });
      await assert.rejects(narrow.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'erasure', k: 3 }), FailedPreconditionError);
      const text = await narrow.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'erasure', k: 3, mode: 'text' });
      assert.equal(text.length, 3, 'full-text search does not need the embedder');
    });

    describe('entitlement filtering', () => {
      let indexOnly: RetrievalService;
      let smallDocumentIds: Set<string>;
      const small: SearchPrincipal = { tenant: SMALL_TENANT, roles: ['analyst'], subject: 'sam' };

      before(async () => {
        // exactScanMaxChunks 0 forces the HNSW index path, where a filter after a fixed top-k
        // would lose the small tenant's rows among the large tenant's.
        indexOnly = await createService(db, { exactScanMaxChunks: 0 });
        const file = join(workDir, 'small-bank.md');
        const sections = Array.from({ length: 6 }, (_, index) => `## Section ${index + 1}\n\nRight to erasure of personal data, rule ${index + 1}.\n`);
        writeFileSync(file, `# Small bank rules\n\n${sections.join('\n')}`);
        await service.ingest({
          tenant: SMALL_TENANT,
          actor: 'sam',
          collection: 'regulatory',
          document: 'small-bank.md',
          format: 'markdown',
          content: sections.map((section) => `${section}\n${'Padding sentence about data. '.repeat(40)}`).join('\n'),
          source: 'test',
        });
        const rows: Array<{ id: string }> = await db.database.dataSource.query('SELECT id FROM retrieval.documents WHERE tenant = $1', [SMALL_TENANT]);
        smallDocumentIds = new Set(rows.map((row) => row.id));
      });

      it('returns k hits for a small tenant', async () => {
        const chunkCount: Array<{ n: number }> = await db.database.dataSource.query('SELECT count(*)::int AS n FROM retrieval.chunks WHERE tenant = $1', [SMALL_TENANT]);
        assert.ok(chunkCount[0].n >= 6, `small tenant has ${chunkCount[0].n} chunks`);
        for (const mode of ['vector', 'hybrid', 'text'] as const) {
          const hits = await indexOnly.search(small, { tenant: SMALL_TENANT, collection: 'regulatory', query: 'right to erasure of personal data', k: 5, mode });
          assert.equal(hits.length, 5, `${mode} hits`);
          assert.ok(hits.every((hit) => smallDocumentIds.has(hit.documentId)), `${mode}: only the small tenant's chunks`);
        }
        const all = await indexOnly.search(small, { tenant: SMALL_TENANT, collection: 'regulatory', query: 'erasure', k: 50, mode: 'vector' });
        assert.equal(all.length, chunkCount[0].n, 'k above the tenant size returns every chunk, not more');

        // The HNSW path alone, without the service's exact fallback: iterative scans find the rows.
        const collection: Array<{ id: string }> = await db.database.dataSource.query(
          "SELECT id FROM retrieval.collections WHERE tenant = $1 AND name = 'regulatory'",
          [SMALL_TENANT],
        );
        const embedding = new LexicalEmbedder(512).embedOne('right to erasure of personal data');
        await db.database.dataSource.transaction(async (manager) => {
          await manager.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
          const nearest = await nearestChunks(manager, { tenant: SMALL_TENANT, collectionIds: [collection[0].id] }, embedding, 5, true);
          assert.equal(nearest.length, 5);
        });
      });

      it('never returns another tenant\'s chunks', async () => {
        for (const searcher of [service, indexOnly]) {
          const hits = await searcher.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'right to erasure of personal data rule', k: 50 });
          assert.equal(hits.length, 50);
          assert.ok(hits.every((hit) => !smallDocumentIds.has(hit.documentId)));
        }
      });

      it('returns no more rows under a stricter filter', async () => {
        const collections: Array<{ id: string; name: string }> = await db.database.dataSource.query(
          'SELECT id, name FROM retrieval.collections WHERE tenant = $1 ORDER BY name',
          [TENANT],
        );
        const ids = collections.map((row) => row.id);
        const memos = collections.find((row) => row.name === 'memos')!.id;
        const embedding = new LexicalEmbedder(512).embedOne('surcharge discount');
        await db.database.dataSource.transaction(async (manager) => {
          await manager.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
          const wide = await nearestChunks(manager, { tenant: TENANT, collectionIds: ids }, embedding, 20, true);
          const strict = await nearestChunks(manager, { tenant: TENANT, collectionIds: [memos] }, embedding, 20, true);
          assert.equal(wide.length, 20);
          assert.ok(strict.length <= wide.length);
          assert.equal(strict.length, 1, 'memos has one live chunk');
          const wideText = await textMatches(manager, { tenant: TENANT, collectionIds: ids }, 'surcharge or discount', 20);
          const strictText = await textMatches(manager, { tenant: TENANT, collectionIds: [memos] }, 'surcharge or discount', 20);
          assert.ok(strictText.length <= wideText.length);
          assert.equal(strictText.length, 1);
          const none = await nearestChunks(manager, { tenant: TENANT, collectionIds: [] }, embedding, 20, true);
          assert.equal(none.length, 0);
        });
      });
    });

    describe('access control', () => {
      it('denies a collection outside the role\'s grants and records it', async () => {
        const application: SearchPrincipal = { tenant: TENANT, roles: ['application'], subject: 'loan-app' };
        await assert.rejects(service.search(application, { tenant: TENANT, collection: 'memos', query: 'surcharge', k: 3 }), (error: unknown) => {
          assert.ok(error instanceof ForbiddenError);
          assert.match(error.message, /collection "memos"/);
          return true;
        });
        const denial = (await ledgerTypes(db, 'access.denied')).at(-1)!;
        assert.equal(denial.actor, 'loan-app');
        assert.equal(denial.payload.collection, 'memos');
        assert.equal(denial.payload.resource, 'collection');
        const allowed = await service.search(application, { tenant: TENANT, collection: 'regulatory', query: 'erasure', k: 2 });
        assert.equal(allowed.length, 2);
      });

      it('denies roles without collection access', async () => {
        await assert.rejects(service.search({ tenant: TENANT, roles: ['reviewer'], subject: 'rita' }, { tenant: TENANT, collection: 'regulatory', query: 'erasure', k: 3 }), ForbiddenError);
      });

      it('denies a search of another tenant', async () => {
        await assert.rejects(service.search(analyst, { tenant: SMALL_TENANT, collection: 'regulatory', query: 'erasure', k: 3 }), /cannot search collection "regulatory" of another tenant/);
      });

      it('denies ingest to a role that may only read', async () => {
        const auditor: SearchPrincipal = { tenant: TENANT, roles: ['auditor'], subject: 'aud' };
        await assert.rejects(service.ingestAs(auditor, { collection: 'memos', document: 'x.md', format: 'markdown', content: '# X\n\ntext', source: 'test' }), ForbiddenError);
      });

      it('reports an unknown collection as not found', async () => {
        await assert.rejects(service.search(analyst, { tenant: TENANT, collection: 'nothing-here', query: 'erasure', k: 3 }), NotFoundError);
      });
    });

    it('rejects bad input naming the field', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ k: 0 }, 'k'],
        [{ k: 51 }, 'k'],
        [{ k: 2.5 }, 'k'],
        [{ query: '   ' }, 'query'],
        [{ query: 'x'.repeat(2001) }, 'query'],
        [{ collection: 'Bad Name' }, 'collection'],
        [{ mode: 'fuzzy' }, 'mode'],
      ];
      for (const [change, field] of cases) {
        await assert.rejects(service.search(analyst, { tenant: TENANT, collection: 'regulatory', query: 'erasure', k: 3, ...change } as never), (error: unknown) => {
          assert.ok(error instanceof BadUserInputError, `${JSON.stringify(change)}`);
          assert.deepEqual(error.fieldErrors.map((fieldError) => fieldError.field), [field]);
          return true;
        });
      }
      await assert.rejects(service.ingest({ tenant: TENANT, actor: 'ana', collection: 'memos', document: '', format: 'markdown', content: '', source: 'test' }), (error: unknown) => {
        assert.ok(error instanceof BadUserInputError);
        assert.deepEqual(error.fieldErrors.map((fieldError) => fieldError.field), ['document', 'content']);
        return true;
      });
    });
  });

  describe(`retrieval over GraphQL on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;

    before(async () => {
      gw = await startTestGateway(target);
      await ingestDemoCorpus(gw.runtime, { tenant: TENANT, actor: 'test' });
    });

    after(async () => {
      await gw?.close();
    });

    it('searches the demo corpus with a token', async () => {
      const token = await gw.token(TENANT, ['application']);
      const { status, body } = await gw.graphql<{ search: Array<Record<string, unknown>> }>(SEARCH, { collection: 'bank-policies', query: 'deadline for an adverse action notice', k: 3 }, token);
      assert.equal(status, 200);
      assert.equal(body.errors, undefined);
      const hits = body.data!.search;
      assert.equal(hits.length, 3);
      assert.equal(hits[0].documentName, 'adverse-action-procedure.md');
      assert.match(String(hits[0].citation), /^adverse-action-procedure\.md, /);
      assert.equal(hits[0].documentVersion, 1);
      assert.equal(typeof hits[0].score, 'number');
    });

    it('re-ingests the demo corpus without changes', async () => {
      assert.equal(await ingestDemoCorpus(gw.runtime, { tenant: TENANT, actor: 'test' }), 0);
    });

    it('denies a collection outside the grants', async () => {
      const token = await gw.token(TENANT, ['application']);
      const { body } = await gw.graphql(SEARCH, { collection: 'internal-audit', query: 'findings' }, token);
      assert.equal(body.errors?.[0].extensions?.code, 'FORBIDDEN');
      assert.match(body.errors![0].message, /collection "internal-audit"/);
      const reviewer = await gw.token(TENANT, ['reviewer']);
      const denied = await gw.graphql(SEARCH, { collection: 'bank-policies', query: 'retention' }, reviewer);
      assert.equal(denied.body.errors?.[0].extensions?.code, 'FORBIDDEN');
    });

    it('requires a token', async () => {
      const { body } = await gw.graphql(SEARCH, { collection: 'bank-policies', query: 'retention' });
      assert.equal(body.errors?.[0].extensions?.code, 'UNAUTHENTICATED');
    });

    it('returns field errors for bad input', async () => {
      const token = await gw.token(TENANT, ['application']);
      const { body } = await gw.graphql(SEARCH, { collection: 'bank-policies', query: 'retention', k: 500 }, token);
      assert.equal(body.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
      const fieldErrors = body.errors![0].extensions!.fieldErrors as Array<{ field: string; message: string }>;
      assert.equal(fieldErrors[0].field, 'k');
      assert.match(fieldErrors[0].message, /from 1 to 50/);
      assert.doesNotMatch(JSON.stringify(body), /SELECT|retrieval\.chunks/);
    });

    it('ingests a document as an analyst', async () => {
      const token = await gw.token(TENANT, ['analyst']);
      const mutation = `mutation Ingest($content: String!) {
        ingestDocument(collection: "analyst-notes", document: "note.md", format: MARKDOWN, content: $content) { status version chunks ledgerSeq }
      }`;
      const { body } = await gw.graphql<{ ingestDocument: { status: string; version: number; chunks: number; ledgerSeq: number } }>(mutation, { content: '# Note\n\nQuarterly override rate review.\n' }, token);
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      assert.equal(body.data!.ingestDocument.status, 'created');
      assert.equal(body.data!.ingestDocument.chunks, 1);
      assert.ok(body.data!.ingestDocument.ledgerSeq > 0);
      const application = await gw.token(TENANT, ['application']);
      const denied = await gw.graphql(mutation, { content: '# Note\n\nchanged\n' }, application);
      assert.equal(denied.body.errors?.[0].extensions?.code, 'FORBIDDEN');
    });
  });
}

async function chunkIdsOf(db: TestDatabase, documentId: string): Promise<string[]> {
  const rows: Array<{ id: string }> = await db.database.dataSource.query('SELECT id FROM retrieval.chunks WHERE document_id = $1 ORDER BY position', [documentId]);
  return rows.map((row) => row.id);
}

describe('warden docs commands', () => {
  let workDir: string;

  before(() => {
    workDir = mkdtempSync(join(tmpdir(), 'warden-docs-cli-'));
  });

  after(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  it('ingests once, then reports unchanged', async () => {
    const { runCli, cliEnvironment } = await import('../support/cli.js');
    const env = cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'data') });
    const file = join(REPO_ROOT, 'demo', 'corpus', 'data-retention-policy.md');
    const first = await runCli(['docs', 'ingest', '--collection', 'bank-policies', '--file', file], env);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout) as { status: string; version: number; chunks: number; ledger: { seq: number } };
    assert.equal(report.status, 'created');
    assert.equal(report.version, 1);
    assert.ok(report.chunks >= 1);
    assert.ok(report.ledger.seq >= 1);

    const second = await runCli(['docs', 'ingest', '--collection', 'bank-policies', '--file', file], env);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { status: string }).status, 'unchanged');

    const search = await runCli(['docs', 'search', '--collection', 'bank-policies', '--query', 'how long are access logs of reviewers kept', '--k', '2', '--role', 'application'], env);
    assert.equal(search.code, 0, search.stderr);
    const hits = JSON.parse(search.stdout) as Array<{ citation: string }>;
    assert.equal(hits.length, Math.min(2, report.chunks));
    assert.match(hits[0].citation, /^data-retention-policy\.md, /);
  });

  it('rejects an unknown format naming the option', async () => {
    const { runCli, cliEnvironment } = await import('../support/cli.js');
    const env = cliEnvironment({ WARDEN_DATA_DIR: join(workDir, 'data') });
    const result = await runCli(['docs', 'ingest', '--collection', 'bank-policies', '--file', 'x.pdf', '--format', 'pdf'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--format: must be one of markdown, text, jsonl/);
  });
});
