import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresLedger } from '../../libs/audit/src/index.js';
import { BadUserInputError } from '../../libs/common/src/index.js';
import { PolicyEnforcer } from '../../libs/policy/src/index.js';
import { CollectionAccess, LexicalEmbedder, RetrievalService } from '../../libs/retrieval/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

const TENANT = 'bank-a';

function makeFifo(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mkfifo', [path], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo exited with ${code}`))));
  });
}

function rejectsWith(field: string, fragment: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof BadUserInputError, String(error));
    assert.deepEqual(error.fieldErrors.map((fieldError) => fieldError.field), [field]);
    assert.match(error.fieldErrors[0].message, fragment);
    return true;
  };
}

for (const target of await databaseTargets()) {
  describe(`document files and names on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let service: RetrievalService;
    let workDir: string;

    before(async () => {
      db = await target.open();
      const policy = await PolicyEnforcer.create(db.config.policyDir);
      const access = await CollectionAccess.create(db.config.policyDir);
      service = new RetrievalService(db.database.dataSource, new PostgresLedger(), policy, access, new LexicalEmbedder(64), {});
      workDir = mkdtempSync(join(tmpdir(), 'warden-document-files-'));
    });

    after(async () => {
      if (workDir) rmSync(workDir, { recursive: true, force: true });
      await db?.cleanup();
    });

    async function documentNames(): Promise<string[]> {
      const rows: { name: string }[] = await db.database.dataSource.query('SELECT DISTINCT d.name FROM retrieval.documents d ORDER BY d.name');
      return rows.map((row) => row.name);
    }

    it('rejects a FIFO unread', async () => {
      const fifo = join(workDir, 'policy.md');
      await makeFifo(fifo);
      // A writer, so that a reader that opens the FIFO gets a document instead of blocking forever.
      const writer = spawn('sh', ['-c', `printf '# Policy\\n\\nFrom a pipe.\\n' > '${fifo}'`], { stdio: 'ignore' });
      try {
        await assert.rejects(service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'memos', path: fifo }), rejectsWith('file', /regular file/));
      } finally {
        writer.kill();
      }
    });

    it('rejects a device', async () => {
      // /dev/null stands in for /dev/zero, which reports size 0 too but never ends.
      await assert.rejects(service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'memos', path: '/dev/null', format: 'text' }), rejectsWith('file', /regular file/));
    });

    it('NUL name overwrites nothing', async () => {
      const ingest = (document: string, content: string) => service.ingest({ tenant: TENANT, actor: 'ana', collection: 'memos', document, format: 'markdown', content, source: 'test' });
      await ingest('policy.md', '# Policy\n\nThe original text.\n');
      await assert.rejects(ingest('policy.md\u0000shadow', '# Policy\n\nA replacement.\n'), rejectsWith('document', /control characters/));
      await assert.rejects(ingest('policy\u202Edm.md', '# Policy\n\nA replacement.\n'), rejectsWith('document', /bidirectional override/));
      await assert.rejects(ingest('ssn 078-05-1123.md', '# Policy\n\nA replacement.\n'), rejectsWith('document', /personal data/));
      assert.deepEqual(await documentNames(), ['policy.md']);
    });

    it('rejects personal data in file names', async () => {
      const file = join(workDir, 'letter to jane.doe@example.com.md');
      writeFileSync(file, '# Letter\n\nText.\n');
      await assert.rejects(service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'memos', path: file }), rejectsWith('document', /personal data.*--name on the CLI/));
    });

    it('reads a regular file whole', async () => {
      const file = join(workDir, 'memo.md');
      writeFileSync(file, '# Memo\n\nOverride rates are reviewed every quarter.\n');
      const report = await service.ingestFile({ tenant: TENANT, actor: 'ana', collection: 'memos', path: file });
      assert.equal(report.status, 'created');
      assert.equal(report.document, 'memo.md');
      assert.equal(report.chunks, 1);
    });
  });
}
