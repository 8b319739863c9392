import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { canonicalJson, digestJson, sha256Hex } from '../../common/src/index.js';
import { analystLayoutFor, decisionsToCsv, decisionsToParquet, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, FinalReviews, toAnalystRow } from './analyst-formats.js';
import {
  BUNDLE_FORMAT_VERSION,
  CHECKPOINT_FILE,
  DECISIONS_FILE,
  KEYS_FILE,
  LEDGER_FILE,
  MANIFEST_FILE,
  MERKLE_NODES_FILE,
  sealManifest,
  type DecisionLine,
} from './bundle-format.js';
import { formatCheckpoint, formatVerifierKey, keyIdOf, rawEd25519PublicKey, signCheckpoint, type CheckpointSigner } from './checkpoints/checkpoint-note.js';
import { computeEntryHash, GENESIS_PREV_HASH, type LedgerEntry } from './ledger-hash.js';
import { MANIFEST_SIGNATURE_FILE, signManifest } from './manifest-signature.js';
import { hashToHex } from './merkle/proof-encoding.js';
import { hashMerkleLeaf, merkleTreeHash } from './merkle/rfc6962.js';
import { verifyBundleFiles } from './verify-bundle.js';

const USE_CASE = 'credit-limit';
const DECISION_ID = '11111111-1111-4111-8111-111111111111';

/** A ledger entry to forge: a decision with its decision.created entry, or any other entry. */
type EntrySpec =
  | { kind: 'decision'; id: string; tenant: string }
  | { kind: 'entry'; type: string; tenant: string; createdAt: string; payload: Record<string, unknown> };

function newSigner(): CheckpointSigner {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { keyName: 'key-holder.test/key', privateKey, publicKey: rawEd25519PublicKey(privateKey) };
}

/**
 * Builds a v6 bundle whose ledger.jsonl contains every seq from 1, signed as a key holder would sign
 * it. The analyst files are rebuilt from the entries, so only the entries can make it fail.
 */
function forgeBundle(specs: EntrySpec[]): Map<string, Uint8Array> {
  const signer = newSigner();
  const entries: LedgerEntry[] = [];
  const decisions: DecisionLine[] = [];
  let prevHash = GENESIS_PREV_HASH;
  specs.forEach((spec, index) => {
    const seq = index + 1;
    const createdAt = '2026-01-05T00:00:00.000Z';
    let fields: Omit<LedgerEntry, 'prevHash' | 'hash'>;
    let record: Record<string, unknown> | undefined;
    if (spec.kind === 'decision') {
      record = { decisionId: spec.id, useCase: USE_CASE, tenant: spec.tenant, outcome: 'REFER', score: 0.5, reviewStatus: 'PENDING' };
      const payload = { decisionId: spec.id, useCase: USE_CASE, outcome: 'REFER', recordDigest: digestJson(record) };
      fields = { seq, type: 'decision.created', tenant: spec.tenant, actor: 'svc', createdAt, payload };
    } else {
      fields = { seq, type: spec.type, tenant: spec.tenant, actor: 'reviewer', createdAt: spec.createdAt, payload: spec.payload };
    }
    const hash = computeEntryHash(prevHash, fields);
    entries.push({ ...fields, prevHash, hash });
    if (spec.kind === 'decision' && record) {
      decisions.push({
        id: spec.id, tenant: spec.tenant, useCase: USE_CASE, requestId: null, actor: 'svc', outcome: 'REFER', score: 0.5,
        modelVersion: 'm1', createdAt, ledgerSeq: seq, ledgerHash: hash, recordDigest: digestJson(record), record,
      });
    }
    prevHash = hash;
  });

  const files = new Map<string, Uint8Array>();
  files.set(DECISIONS_FILE, Buffer.from(decisions.map((line) => `${canonicalJson(line)}\n`).join(''), 'utf8'));
  files.set(LEDGER_FILE, Buffer.from(entries.map((entry) => `${canonicalJson(entry)}\n`).join(''), 'utf8'));
  files.set(MERKLE_NODES_FILE, Buffer.alloc(0));
  const rootHash = hashToHex(merkleTreeHash(entries.map((entry) => hashMerkleLeaf(Buffer.from(entry.hash, 'hex')))));
  const origin = 'key-holder.test/log';
  files.set(CHECKPOINT_FILE, Buffer.from(signCheckpoint(formatCheckpoint({ origin, treeSize: entries.length, rootHash, time: '2026-02-01T00:00:00.000Z' }), signer), 'utf8'));
  const keyId = keyIdOf(signer.keyName, signer.publicKey);
  const published = [{ keyId, keyName: signer.keyName, vkey: formatVerifierKey(signer.keyName, signer.publicKey), createdAt: '2026-01-01T00:00:00.000Z', retiredAt: null }];
  files.set(KEYS_FILE, Buffer.from(`${canonicalJson(published)}\n`, 'utf8'));

  const layout = analystLayoutFor(BUNDLE_FORMAT_VERSION);
  const reviews = new FinalReviews(entries);
  const rows = decisions.map((line) => toAnalystRow(line, reviews.of(line)));
  files.set(DECISIONS_CSV_FILE, Buffer.from(decisionsToCsv(rows, layout), 'utf8'));
  // A review time that is not a time cannot be a Parquet timestamp, so such a bundle lists the CSV file only.
  try {
    files.set(DECISIONS_PARQUET_FILE, decisionsToParquet(rows, layout));
  } catch {
    // The bundle goes without decisions.parquet, which a manifest may leave out.
  }

  const digests = Object.fromEntries([...files].map(([name, bytes]) => [name, { bytes: bytes.length, sha256: sha256Hex(bytes) }]));
  const manifest = sealManifest({
    formatVersion: BUNDLE_FORMAT_VERSION,
    wardenVersion: '0.1.0',
    useCase: USE_CASE,
    tenant: null,
    outcome: null,
    period: { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' },
    counts: {
      decisions: decisions.length,
      ledgerEntries: entries.length,
      reviewEntries: entries.filter((entry) => entry.type.startsWith('review.')).length,
      accessDenials: 0,
    },
    checkpoint: { origin, treeSize: entries.length, rootHash, keyId },
    files: digests as Parameters<typeof sealManifest>[0]['files'],
    ledger: { hashDefinition: 'test', merkleLeafDefinition: 'test', firstSeq: 1, lastSeq: entries.length, head: { seq: entries.length, hash: prevHash } },
    createdAt: '2026-02-01T00:00:00.000Z',
  });
  const manifestBytes = Buffer.from(manifest.text, 'utf8');
  files.set(MANIFEST_FILE, manifestBytes);
  files.set(MANIFEST_SIGNATURE_FILE, Buffer.from(signManifest(manifestBytes, signer), 'utf8'));
  return files;
}

/** The standalone verifier, which must report the same problems as verifyBundleFiles. */
const STANDALONE_VERIFIER = resolve(import.meta.dirname, '..', '..', '..', '..', 'tools', 'warden-verify-bundle.mjs');

/** Checks the bundle with both verifiers, asserts that they agree and returns the problems. */
function verifyWithBoth(files: Map<string, Uint8Array>): string[] {
  const result = verifyBundleFiles(files);
  const dir = mkdtempSync(join(tmpdir(), 'warden-review-bundle-'));
  try {
    for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
    const tool = spawnSync(process.execPath, [STANDALONE_VERIFIER, dir], { encoding: 'utf8' });
    const report = JSON.parse(tool.stdout) as { ok: boolean; problems: string[] };
    assert.equal(report.ok, result.ok);
    // The standalone verifier checks the analyst files by digest only, so it cannot report their rebuild.
    assert.deepEqual(report.problems, result.problems.filter((problem) => !/^decisions\.(csv|parquet): /.test(problem)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result.problems;
}

function decided(tenant: string, createdAt = '2026-01-06T00:00:00.000Z', payload: Record<string, unknown> = { finalOutcome: 'APPROVE' }): EntrySpec {
  return { kind: 'entry', type: 'review.decided', tenant, createdAt, payload: { decisionId: DECISION_ID, ...payload } };
}

const DECISION: EntrySpec = { kind: 'decision', id: DECISION_ID, tenant: 'bank-a' };

describe('bundle verifiers on review.decided entries', () => {
  it('pass a decided review', () => {
    const files = forgeBundle([DECISION, decided('bank-a')]);
    assert.deepEqual(verifyBundleFiles(files), { ok: true, problems: [] });
    assert.deepEqual(verifyWithBoth(files), []);
  });

  it('reject two decision lines with one id', () => {
    // The review entry would otherwise fill the review columns of both lines.
    const problems = verifyWithBoth(forgeBundle([DECISION, DECISION, decided('bank-a')]));
    assert.deepEqual(problems, [`decisions.jsonl line 2 field "id": ${DECISION_ID} repeats line 1; each decision has one line`]);
  });

  for (const createdAt of ['not a time', '2026-13-45T00:00:00.000Z', '2026-01-06T24:00:00.000Z', '2026-01-06']) {
    it(`reject review time ${createdAt}`, () => {
      const problems = verifyWithBoth(forgeBundle([DECISION, decided('bank-a', createdAt)]));
      assert.equal(
        problems[0],
        `ledger.jsonl line 2 (seq 2) field "createdAt": ${JSON.stringify(createdAt)} is not a UTC ISO 8601 time with milliseconds, such as 2026-01-01T00:00:00.000Z`,
      );
    });
  }

  for (const [name, payload, shown] of [
    ['missing', {}, 'nothing'],
    ['a number', { finalOutcome: 7 }, '7'],
    ['empty', { finalOutcome: '' }, '""'],
    ['null', { finalOutcome: null }, 'null'],
  ] as const) {
    it(`reject a final outcome that is ${name}`, () => {
      const problems = verifyWithBoth(forgeBundle([DECISION, decided('bank-a', undefined, payload)]));
      assert.deepEqual(problems, [
        `ledger.jsonl line 2 (seq 2) field "payload.finalOutcome": ${shown} is not the reviewer's outcome, which a review.decided entry states as a non-empty string`,
      ]);
    });
  }

  it('reject a second decided review', () => {
    const problems = verifyWithBoth(forgeBundle([DECISION, decided('bank-a', undefined, { finalOutcome: 'DECLINE' }), decided('bank-a')]));
    assert.deepEqual(problems, [`ledger.jsonl line 3 (seq 3) field "payload.decisionId": decision ${DECISION_ID} was already decided at seq 2, and a review case is decided once`]);
  });
});
