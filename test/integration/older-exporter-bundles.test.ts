// Bundles that older Warden exporters wrote (test/fixtures/older-bundles) must still pass both
// current verifiers, and a changed byte must still fail them. Unlike test/support/older-bundles.ts,
// which rewrites a current bundle into an older format, these are the older exporters' own bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DECISIONS_FILE, verifyBundle } from '../../libs/audit/src/index.js';
import { REPO_ROOT } from '../support/databases.js';
import { runStandaloneVerifier } from '../support/standalone-verifier.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'older-bundles');

const BUNDLES = [
  { folder: 'v2-bd75b72', formatVersion: 'warden.audit-export.v2', decisions: 12, purged: 2 },
  { folder: 'v3-2edd00d', formatVersion: 'warden.audit-export.v3', decisions: 12, purged: 2 },
];


for (const bundle of BUNDLES) {
  describe(`bundle from commit ${bundle.folder.split('-')[1]}`, () => {
    const dir = join(FIXTURES, bundle.folder);

    it('has the older format', () => {
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      assert.equal(manifest.formatVersion, bundle.formatVersion);
      assert.equal(manifest.counts.decisions, bundle.decisions);
      const lines = readFileSync(join(dir, DECISIONS_FILE), 'utf8').trim().split('\n');
      assert.ok(lines.some((line) => line.includes('"personalData":"erased"')), 'the bundle has an erased decision');
    });

    it('passes verifyBundle', async () => {
      const result = await verifyBundle(dir);
      assert.equal(result.ok, true, JSON.stringify(result.problems));
      assert.equal(result.purgedRecords, bundle.purged);
    });

    it('passes the standalone verifier', async () => {
      const { code, report } = await runStandaloneVerifier(dir);
      assert.equal(code, 0, JSON.stringify(report.problems));
      assert.equal(report.checked.decisions, bundle.decisions);
      assert.equal(report.checked.purgedRecords, bundle.purged);
    });

    it('fails both verifiers after a changed byte', async () => {
      const copy = mkdtempSync(join(tmpdir(), 'warden-older-bundle-'));
      try {
        cpSync(dir, copy, { recursive: true });
        const path = join(copy, DECISIONS_FILE);
        const text = readFileSync(path, 'utf8');
        assert.match(text, /"outcome":"APPROVE"/);
        writeFileSync(path, text.replace('"outcome":"APPROVE"', '"outcome":"DECLINE"'));
        const result = await verifyBundle(copy);
        assert.equal(result.ok, false);
        const { code } = await runStandaloneVerifier(copy);
        assert.equal(code, 5);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    });
  });
}

describe('bundle in the retired format v1', () => {
  it('gets one problem naming the format from both verifiers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-v1-bundle-'));
    try {
      // The fields of a v1 manifest; v1 bundles had no manifest.sig, proofs or checkpoint.
      const manifest = { formatVersion: 'warden.audit-export.v1', useCase: 'credit-application', counts: { decisions: 1 }, files: {} };
      writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest)}\n`);

      const result = await verifyBundle(dir);
      assert.equal(result.ok, false);
      assert.equal(result.problems.length, 1, JSON.stringify(result.problems));
      assert.match(result.problems[0], /"warden\.audit-export\.v1", a format without signatures or proofs/);
      assert.match(result.problems[0], /Export the same period again/);

      const { code, report } = await runStandaloneVerifier(dir);
      assert.equal(code, 5);
      assert.equal(report.problems.length, 1, JSON.stringify(report.problems));
      assert.match(report.problems[0], /"warden\.audit-export\.v1", a format without signatures or proofs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
