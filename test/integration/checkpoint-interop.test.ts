/**
 * Checks Warden's checkpoints, inclusion and consistency proofs and export bundles with a second,
 * independent implementation: the Go module mirror's note and tlog packages (golang.org/x/mod,
 * Debian package golang-golang-x-mod-dev), driven by tools/interop/checkpoint_check.go. It also
 * checks the other direction: Warden's verifier accepts a note that Go's note package signed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DataSource } from 'typeorm';
import { digestJson, sha256Hex } from '../../libs/common/src/index.js';
import {
  BUNDLE_FORMAT_VERSION_V2,
  CheckpointKeyStore,
  CheckpointService,
  createExportEvidence,
  exportBundle,
  formatVerifierKey,
  parseVerifierKey,
  PostgresLedger,
  PostgresMerkleLog,
  LEDGER_FILE,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  MERKLE_NODES_FILE,
  PROOFS_FILE,
  rawEd25519PublicKey,
  sealManifest,
  signCheckpoint,
  signManifest,
  verifyBundle,
  verifyCheckpoint,
  WitnessPublisher,
  type BundleManifest,
  type CheckpointKeyRecord,
  type ExportEvidence,
} from '../../libs/audit/src/index.js';
import { convertFolderToV3, convertFolderToV4, convertFolderToV5 } from '../support/older-bundles.js';
import { databaseTargets, REPO_ROOT, type TestDatabase } from '../support/databases.js';
import { runProcess } from '../support/process.js';

const GO_SOURCE = join(REPO_ROOT, 'tools', 'interop', 'checkpoint_check.go');
const GO_PATH = '/usr/share/gocode';
const ORIGIN = 'warden.test/interop';
const USE_CASE = 'credit-limit';
const JANUARY = { from: new Date('2026-01-01T00:00:00.000Z'), to: new Date('2026-02-01T00:00:00.000Z') };

interface CheckReport {
  ok: boolean;
  checkpoint?: { origin: string; treeSize: number; rootHash: string; signedBy: string[] };
  manifestSignedBy?: string[];
  signedSizes?: number[];
  checked: number;
  errors: string[];
}

interface CheckRun {
  exitCode: number | null;
  report: CheckReport;
  stderr: string;
}

/** Returns why the Go checks cannot run here; .ci/run installs the Debian packages they need. */
async function goSkipReason(): Promise<string | undefined> {
  const missing: string[] = [];
  try {
    await promisify(execFile)('go', ['version']);
  } catch {
    missing.push('the go command');
  }
  try {
    readFileSync(join(GO_PATH, 'src', 'golang.org', 'x', 'mod', 'sumdb', 'note', 'note.go'));
  } catch {
    missing.push('golang.org/x/mod');
  }
  if (missing.length === 0) return undefined;
  const reason = `${missing.join(' and ')} not installed; run scripts/install-go-interop.sh`;
  if (process.env.CI === 'true') throw new Error(`CI needs ${reason}`);
  return reason;
}

/** Adds one decision row and its `decision.created` entry, enough for an export bundle, and returns its id. */
async function recordDecision(source: DataSource, ledger: PostgresLedger, tenant: string, createdAt: string): Promise<string> {
  const id = randomUUID();
  const record = { id, tenant, useCase: USE_CASE, outcome: 'APPROVE', score: 0.2, features: { income: 52000.5 } };
  const recordDigest = digestJson(record);
  await source.transaction(async (manager) => {
    const receipt = await ledger.append(manager, {
      type: 'decision.created',
      tenant,
      actor: 'svc-loans',
      payload: { decisionId: id, useCase: USE_CASE, outcome: 'APPROVE', recordDigest, requestId: null, score: 0.2 },
    });
    await manager.query(
      `INSERT INTO decisions.decision_records
         (id, tenant, use_case, request_id, actor, outcome, score, model_version, record, record_digest, ledger_seq, ledger_hash, created_at)
       VALUES ($1, $2, $3, NULL, 'svc-loans', 'APPROVE', 0.2, 'logreg-1.0.0', $4::jsonb, $5, $6, $7, $8::timestamptz)`,
      [id, tenant, USE_CASE, JSON.stringify(record), recordDigest, receipt.seq, receipt.hash, createdAt],
    );
  });
  return id;
}

const goSkip = await goSkipReason();

for (const target of await databaseTargets()) {
  describe(`checkpoints checked by Go's note and tlog on ${target.name}`, { skip: target.skipReason ?? goSkip }, () => {
    let db: TestDatabase;
    let workDir: string;
    let checker: string;
    let checkpoints: CheckpointService;
    let keys: CheckpointKeyStore;
    let keysFile: string;
    let bundleDir: string;
    /** The same bundle rewritten as format v3, with proofs.jsonl. */
    let bundleV3Dir: string;
    /** The same bundle rewritten as format v4, without counts.accessDenials. */
    let bundleV4Dir: string;
    /** The same bundle rewritten as format v5, whose analyst files lack the review columns. */
    let bundleV5Dir: string;
    /** The decision with review entries. */
    let reviewed: string;
    let merkle: PostgresMerkleLog;
    let manifest: BundleManifest;
    let evidence: ExportEvidence;
    const checkpointSizes: number[] = [];

    async function check(args: string[]): Promise<CheckRun> {
      const run = await runProcess(checker, args, {});
      assert.notEqual(run.stdout, '', `the checker printed nothing; stderr: ${run.stderr}`);
      return { exitCode: run.exitCode, report: JSON.parse(run.stdout) as CheckReport, stderr: run.stderr };
    }

    function writeJson(name: string, value: unknown): string {
      const path = join(workDir, name);
      writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
      return path;
    }

    before(async () => {
      db = await target.open();
      workDir = mkdtempSync(join(tmpdir(), 'warden-interop-'));
      checker = join(workDir, 'checkpoint-check');
      const build = await runProcess('go', ['build', '-o', checker, GO_SOURCE], {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: GO_PATH,
        GOCACHE: join(tmpdir(), 'warden-go-build-cache'),
        GOFLAGS: '',
      });
      assert.equal(build.exitCode, 0, `go build failed: ${build.stderr}`);

      const source = db.database.dataSource;
      const ledger = new PostgresLedger();
      merkle = new PostgresMerkleLog(source);
      keys = new CheckpointKeyStore(source, join(workDir, 'checkpoint-key.pem'), ledger);
      checkpoints = new CheckpointService(source, merkle, keys, ledger, new WitnessPublisher(source, {}), { origin: ORIGIN });

      // Seven decisions, the review entries of one and an unrelated entry, checkpoints of several
      // sizes, and a key rotation between them, so that keys.json lists a retired key that signed
      // earlier checkpoints.
      reviewed = await recordDecision(source, ledger, 'bank-a', '2026-01-02T08:00:00.000Z');
      for (const day of ['03', '05']) await recordDecision(source, ledger, 'bank-a', `2026-01-${day}T08:00:00.000Z`);
      for (const [type, toState] of [['review.claimed', 'CLAIMED'], ['review.decided', 'DECIDED']]) {
        // A review.decided entry states the reviewer's outcome, which the v6 analyst files show.
        const payload = { caseId: randomUUID(), decisionId: reviewed, fromState: 'OPEN', toState, ...(type === 'review.decided' ? { finalOutcome: 'APPROVE' } : {}) };
        await ledger.appendStandalone(source, { type, tenant: 'bank-a', actor: 'alice', payload });
      }
      checkpointSizes.push((await checkpoints.create('interop-test')).treeSize);
      await ledger.appendStandalone(source, { type: 'access.denied', tenant: 'bank-c', actor: 'mallory', payload: { route: '/graphql' } });
      await keys.rotate(ORIGIN, 'interop-test');
      for (const day of ['10', '12', '15', '20']) await recordDecision(source, ledger, day === '12' ? 'bank-b' : 'bank-a', `2026-01-${day}T08:00:00.000Z`);
      checkpointSizes.push((await checkpoints.create('interop-test')).treeSize);

      const published: CheckpointKeyRecord[] = await keys.list();
      keysFile = writeJson('keys.json', published);
      bundleDir = join(workDir, 'bundle');
      evidence = createExportEvidence(checkpoints, merkle, keys, 'interop-test');
      ({ manifest } = await exportBundle(source, { useCase: USE_CASE, ...JANUARY, outDir: bundleDir, wardenVersion: '0.1.0' }, evidence));
      bundleV3Dir = join(workDir, 'bundle-v3');
      cpSync(bundleDir, bundleV3Dir, { recursive: true });
      await convertFolderToV3(bundleV3Dir, merkle, await evidence.manifestSigner());
      bundleV4Dir = join(workDir, 'bundle-v4');
      cpSync(bundleDir, bundleV4Dir, { recursive: true });
      convertFolderToV4(bundleV4Dir, await evidence.manifestSigner());
      bundleV5Dir = join(workDir, 'bundle-v5');
      cpSync(bundleDir, bundleV5Dir, { recursive: true });
      convertFolderToV5(bundleV5Dir, await evidence.manifestSigner());
    });

    /** Copies the v4 bundle with merkle-nodes.jsonl changed by `edit`, manifest unchanged. */
    function forgeNodes(name: string, edit: (lines: string[]) => string[]): string {
      const forged = join(workDir, name);
      cpSync(bundleDir, forged, { recursive: true });
      const lines = readFileSync(join(forged, MERKLE_NODES_FILE), 'utf8').trimEnd().split('\n');
      writeFileSync(join(forged, MERKLE_NODES_FILE), `${edit(lines).join('\n')}\n`);
      return forged;
    }
    after(async () => {
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('accepts the export bundle', async () => {
      const { exitCode, report } = await check(['bundle', bundleDir]);
      assert.deepEqual(report.errors, []);
      assert.equal(exitCode, 0);
      // Each entry's audit path is rebuilt from the multiproof and checked by tlog.CheckRecord.
      assert.equal(report.checked, manifest.counts.ledgerEntries);
      assert.equal(report.checked, 9);
      assert.equal(manifest.counts.reviewEntries, 2, 'the bundle holds review entries, proven like the others');
      assert.equal(report.checkpoint?.treeSize, manifest.checkpoint.treeSize);
      assert.equal(report.checkpoint?.rootHash, manifest.checkpoint.rootHash);
      assert.equal(report.checkpoint?.origin, ORIGIN);
      assert.deepEqual(report.checkpoint?.signedBy, [manifest.checkpoint.keyId]);
      // The export signs manifest.sig with the current checkpoint key, the same key here.
      assert.deepEqual(report.manifestSignedBy, [manifest.checkpoint.keyId]);
    });

    it('accepts the bundle in format v3', async () => {
      const { exitCode, report } = await check(['bundle', bundleV3Dir]);
      assert.deepEqual(report.errors, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked, 9);
    });

    it('accepts the bundle in format v4', async () => {
      const { exitCode, report } = await check(['bundle', bundleV4Dir]);
      assert.deepEqual(report.errors, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked, 9);
    });

    it('accepts the bundle in format v5', async () => {
      const { exitCode, report } = await check(['bundle', bundleV5Dir]);
      assert.deepEqual(report.errors, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked, 9);
    });

    it('rejects a changed multiproof hash', async () => {
      const forged = forgeNodes('forged-node', (lines) => {
        const node = JSON.parse(lines[0]) as { hash: string };
        node.hash = node.hash.replace(/^./, (digit: string) => (digit === '0' ? '1' : '0'));
        return [JSON.stringify(node), ...lines.slice(1)];
      });
      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.ok(report.errors.includes('merkle-nodes.jsonl: size or SHA-256 differs from manifest.json'), report.errors.join('\n'));
      assert.ok(report.errors.includes("merkle-nodes.jsonl: the root computed from ledger.jsonl and merkle-nodes.jsonl differs from the signed checkpoint's root"), report.errors.join('\n'));
      // Every rebuilt path ends at the forged root, so tlog rejects each entry.
      assert.equal(report.errors.filter((error) => / inclusion proof rebuilt from merkle-nodes\.jsonl rejected: /.test(error)).length, 9, report.errors.join('\n'));
      assert.equal(report.checked, 0);
    });

    it('rejects missing, extra and repeated multiproof lines', async () => {
      const missing = await check(['bundle', forgeNodes('missing-node', (lines) => lines.slice(1))]);
      const first = JSON.parse(readFileSync(join(bundleDir, MERKLE_NODES_FILE), 'utf8').split('\n')[0]) as { start: number; end: number };
      assert.ok(missing.report.errors.includes(`merkle-nodes.jsonl: no line gives the range [${first.start}, ${first.end}), which the root computation needs`), missing.report.errors.join('\n'));

      const treeSize = manifest.checkpoint.treeSize;
      const extraLine = JSON.stringify({ end: treeSize + 1, hash: 'ab'.repeat(32), start: treeSize });
      const extra = await check(['bundle', forgeNodes('extra-node', (lines) => [...lines, extraLine])]);
      const count = readFileSync(join(bundleDir, MERKLE_NODES_FILE), 'utf8').trimEnd().split('\n').length;
      assert.ok(extra.report.errors.includes(`merkle-nodes.jsonl line ${count + 1} (range [${treeSize}, ${treeSize + 1})): the root computation does not read this range`), extra.report.errors.join('\n'));
      assert.equal(extra.report.checked, 9, 'the other lines still prove every entry');

      const repeated = await check(['bundle', forgeNodes('repeated-node', (lines) => [lines[0], ...lines])]);
      assert.ok(repeated.report.errors.includes(`merkle-nodes.jsonl line 2 (range [${first.start}, ${first.end})): repeats line 1`), repeated.report.errors.join('\n'));
    });

    it('rejects a checkpoint smaller than the last seq', async () => {
      const forged = join(workDir, 'smaller-checkpoint');
      cpSync(bundleDir, forged, { recursive: true });
      const smaller = manifest.ledger.lastSeq! - 1;
      const root = Buffer.from(await merkle.rootHash(smaller), 'hex').toString('base64');
      const note = readFileSync(join(forged, 'checkpoint.txt'), 'utf8');
      const [origin, _size, _root, ...extensions] = note.slice(0, note.lastIndexOf('\n\n')).split('\n');
      const body = `${[origin, String(smaller), root, ...extensions].join('\n')}\n`;
      writeFileSync(join(forged, 'checkpoint.txt'), signCheckpoint(body, await evidence.manifestSigner()));

      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.ok(report.errors.includes(`ledger.jsonl: seq ${manifest.ledger.firstSeq} to ${manifest.ledger.lastSeq} do not all lie in the signed tree of size ${smaller}`), report.errors.join('\n'));
    });

    it('rejects a v3 bundle with a changed proof hash', async () => {
      const forged = join(workDir, 'forged-proof');
      cpSync(bundleV3Dir, forged, { recursive: true });
      const lines = readFileSync(join(forged, PROOFS_FILE), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
      const victim = lines[2];
      victim.proof[0] = victim.proof[0].replace(/^./, (digit: string) => (digit === '0' ? '1' : '0'));
      writeFileSync(join(forged, PROOFS_FILE), lines.map((line) => `${JSON.stringify(line)}\n`).join(''));

      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.equal(report.ok, false);
      assert.ok(report.errors.includes('proofs.jsonl: size or SHA-256 differs from manifest.json'), report.errors.join('\n'));
      assert.ok(report.errors.includes(`seq ${victim.seq}: inclusion proof rejected: invalid transparency proof`), report.errors.join('\n'));
      assert.ok(report.errors.includes(`seq ${victim.seq}: no valid inclusion proof`), report.errors.join('\n'));
    });

    it('rejects a changed review entry hash in a v3 bundle', async () => {
      const forged = join(workDir, 'forged-review');
      cpSync(bundleV3Dir, forged, { recursive: true });
      const lines = readFileSync(join(forged, LEDGER_FILE), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
      const victim = lines.find((line) => line.type === 'review.decided');
      victim.hash = victim.hash.replace(/^./, (digit: string) => (digit === '0' ? '1' : '0'));
      writeFileSync(join(forged, LEDGER_FILE), lines.map((line) => `${JSON.stringify(line)}\n`).join(''));

      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.ok(report.errors.includes(`seq ${victim.seq}: the leaf hash in the proof does not match the entry hash`), report.errors.join('\n'));
      assert.ok(report.errors.includes(`seq ${victim.seq}: no valid inclusion proof`), report.errors.join('\n'));
    });

    it('rejects a changed review entry hash', async () => {
      const forged = join(workDir, 'forged-review-v4');
      cpSync(bundleDir, forged, { recursive: true });
      const lines = readFileSync(join(forged, LEDGER_FILE), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
      const victim = lines.find((line) => line.type === 'review.decided');
      victim.hash = victim.hash.replace(/^./, (digit: string) => (digit === '0' ? '1' : '0'));
      writeFileSync(join(forged, LEDGER_FILE), lines.map((line) => `${JSON.stringify(line)}\n`).join(''));

      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.ok(report.errors.some((error) => error.startsWith(`seq ${victim.seq}: inclusion proof rebuilt from merkle-nodes.jsonl rejected: `)), report.errors.join('\n'));
    });

    it('accepts a format v2 manifest', async () => {
      const older = join(workDir, 'format-v2');
      cpSync(bundleV3Dir, older, { recursive: true });
      const { manifestDigest: _old, ...unsigned } = JSON.parse(readFileSync(join(older, MANIFEST_FILE), 'utf8')) as BundleManifest;
      unsigned.formatVersion = BUNDLE_FORMAT_VERSION_V2;
      const text = sealManifest(unsigned).text;
      writeFileSync(join(older, MANIFEST_FILE), text);
      writeFileSync(join(older, MANIFEST_SIGNATURE_FILE), signManifest(Buffer.from(text, 'utf8'), await evidence.manifestSigner(), BUNDLE_FORMAT_VERSION_V2));

      const { exitCode, report } = await check(['bundle', older]);
      assert.deepEqual(report.errors, []);
      assert.equal(exitCode, 0);
    });

    it('rejects a resealed manifest', async () => {
      const forged = join(workDir, 'forged-manifest');
      cpSync(bundleDir, forged, { recursive: true });
      const { manifestDigest: _old, ...unsigned } = JSON.parse(readFileSync(join(forged, 'manifest.json'), 'utf8')) as BundleManifest;
      unsigned.useCase = 'another-use-case';
      writeFileSync(join(forged, 'manifest.json'), sealManifest(unsigned).text);

      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.deepEqual(report.errors, ['manifest.sig: the signed statement does not match manifest.json']);
    });

    /** Records every listed file's size and SHA-256 in the manifest and signs it again, as a forger with the key would. */
    async function resealWithKey(dir: string, edit: (unsigned: Omit<BundleManifest, 'manifestDigest'>) => void = () => undefined): Promise<void> {
      const { manifestDigest: _old, ...unsigned } = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as BundleManifest;
      edit(unsigned);
      for (const name of Object.keys(unsigned.files)) {
        const bytes = readFileSync(join(dir, name));
        unsigned.files[name] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
      }
      const text = sealManifest(unsigned).text;
      writeFileSync(join(dir, MANIFEST_FILE), text);
      writeFileSync(join(dir, MANIFEST_SIGNATURE_FILE), signManifest(Buffer.from(text, 'utf8'), await evidence.manifestSigner(), unsigned.formatVersion));
    }

    it('rejects a repeated ledger seq', async () => {
      // A forged copy of an entry before the real one: the real line's leaf is in the tree, the copy's is not.
      for (const [name, source] of [['repeated-seq', bundleDir], ['repeated-seq-v3', bundleV3Dir]] as const) {
        const forged = join(workDir, name);
        cpSync(source, forged, { recursive: true });
        const lines = readFileSync(join(forged, LEDGER_FILE), 'utf8').trimEnd().split('\n');
        const victim = JSON.parse(lines[1]) as { seq: number; hash: string };
        const copy = { ...victim, hash: victim.hash.replace(/^./, (digit: string) => (digit === '0' ? '1' : '0')) };
        lines.splice(1, 0, JSON.stringify(copy));
        writeFileSync(join(forged, LEDGER_FILE), `${lines.join('\n')}\n`);
        await resealWithKey(forged);

        const { exitCode, report } = await check(['bundle', forged]);
        assert.equal(exitCode, 1, name);
        assert.ok(report.errors.includes(`ledger.jsonl line 3: seq ${victim.seq} repeats line 2`), `${name}: ${report.errors.join('\n')}`);
      }
    });

    it('rejects a manifest that does not list the proof file', async () => {
      const forged = join(workDir, 'unlisted-nodes');
      cpSync(bundleDir, forged, { recursive: true });
      await resealWithKey(forged, (unsigned) => {
        delete unsigned.files[MERKLE_NODES_FILE];
      });

      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.ok(report.errors.includes('manifest.json: files must list merkle-nodes.jsonl, as format warden.audit-export.v6 requires'), report.errors.join('\n'));
    });

    it('rejects a checkpoint with a changed root', async () => {
      const forged = join(workDir, 'forged-note');
      cpSync(bundleDir, forged, { recursive: true });
      const note = readFileSync(join(forged, 'checkpoint.txt'), 'utf8');
      const [origin, size, root, ...rest] = note.split('\n');
      const otherRoot = Buffer.from(root, 'base64');
      otherRoot[0] ^= 1;
      writeFileSync(join(forged, 'checkpoint.txt'), [origin, size, otherRoot.toString('base64'), ...rest].join('\n'));

      const { exitCode, report } = await check(['bundle', forged]);
      assert.equal(exitCode, 1);
      assert.ok(report.errors.some((error) => /^checkpoint signature: /.test(error)), report.errors.join('\n'));
    });

    it('rejects keys that did not sign', async () => {
      const stranger = rawEd25519PublicKey(generateKeyPairSync('ed25519').publicKey);
      const strangerKeys = writeJson('stranger-keys.json', [{ vkey: formatVerifierKey(ORIGIN, stranger) }]);
      const { exitCode, report } = await check(['proof', strangerKeys, writeJson('proof-any.json', await checkpoints.inclusionProof(1))]);
      assert.equal(exitCode, 1);
      assert.equal(report.ok, false);
      assert.match(report.errors.join('\n'), /^checkpoint signature: /m);
    });

    it('accepts every inclusion proof', async () => {
      const latest = checkpointSizes[checkpointSizes.length - 1];
      for (let seq = 1; seq <= latest; seq++) {
        const { exitCode, report } = await check(['proof', keysFile, writeJson(`proof-${seq}.json`, await checkpoints.inclusionProof(seq))]);
        assert.deepEqual(report.errors, [], `seq ${seq}`);
        assert.equal(exitCode, 0, `seq ${seq}`);
        assert.equal(report.checkpoint?.treeSize, latest);
      }
    });

    it('rejects an inclusion proof for another entry', async () => {
      const proof = await checkpoints.inclusionProof(2);
      const other = await checkpoints.inclusionProof(3);
      const { exitCode, report } = await check(['proof', keysFile, writeJson('proof-swapped.json', { ...proof, entry: other.entry })]);
      assert.equal(exitCode, 1);
      assert.deepEqual(report.errors, ['the entry has seq 3 but the proof is for seq 2']);

      const relabelled = { ...proof, entry: { ...proof.entry, hash: other.entry.hash } };
      const second = await check(['proof', keysFile, writeJson('proof-relabelled.json', relabelled)]);
      assert.equal(second.exitCode, 1);
      assert.deepEqual(second.report.errors, ['seq 2: the leaf hash in the proof does not match the entry hash']);
    });

    it('accepts every consistency proof', async () => {
      const latest = checkpointSizes[checkpointSizes.length - 1];
      for (let fromSize = 1; fromSize <= latest; fromSize++) {
        for (const toSize of [fromSize, Math.min(latest, fromSize + 1), latest]) {
          const proof = await checkpoints.consistencyProof(fromSize, toSize);
          const { exitCode, report } = await check(['consistency', keysFile, writeJson(`consistency-${fromSize}-${toSize}.json`, proof)]);
          const signed = [fromSize, toSize].filter((size, i, sizes) => checkpointSizes.includes(size) && sizes.indexOf(size) === i);
          if (signed.length > 0) {
            assert.deepEqual(report.errors, [], `${fromSize} -> ${toSize}`);
            assert.equal(exitCode, 0, `${fromSize} -> ${toSize}`);
            assert.deepEqual(report.signedSizes, signed, `${fromSize} -> ${toSize}`);
          } else {
            // The proof holds, but without a signed checkpoint its roots prove nothing.
            assert.equal(exitCode, 1, `${fromSize} -> ${toSize}`);
            assert.match(report.errors.join('\n'), new RegExp(`^neither size ${fromSize} nor ${toSize} has a signed checkpoint in the file`), `${fromSize} -> ${toSize}`);
          }
        }
      }
    });

    it('checks both checkpoints of a consistency proof', async () => {
      const [first, second] = checkpointSizes;
      const proof = await checkpoints.consistencyProof(first, second);
      assert.notEqual(proof.fromCheckpoint, null);
      assert.notEqual(proof.toCheckpoint, null);
      const { exitCode, report } = await check(['consistency', keysFile, writeJson('consistency-signed.json', proof)]);
      assert.equal(exitCode, 0, report.errors.join('\n'));
      assert.equal(report.checkpoint?.treeSize, second);
    });

    it('rejects a shortened consistency proof', async () => {
      const [first, second] = checkpointSizes;
      const proof = await checkpoints.consistencyProof(first, second);
      assert.ok(proof.proof.length > 1);
      const shortened = { ...proof, proof: proof.proof.slice(0, -1), fromCheckpoint: null, toCheckpoint: null };
      const { exitCode, report } = await check(['consistency', keysFile, writeJson('consistency-short.json', shortened)]);
      assert.equal(exitCode, 1);
      assert.deepEqual(report.errors, [`consistency proof from ${first} to ${second} rejected: invalid transparency proof`]);
    });

    it('rejects a consistency proof against another root', async () => {
      const [first, second] = checkpointSizes;
      const proof = await checkpoints.consistencyProof(first, second);
      const otherRoot = (await checkpoints.consistencyProof(first + 1, second)).fromRoot;
      const { exitCode, report } = await check(['consistency', keysFile, writeJson('consistency-root.json', { ...proof, fromRoot: otherRoot, fromCheckpoint: null })]);
      assert.equal(exitCode, 1);
      assert.match(report.errors.join('\n'), /^consistency proof from \d+ to \d+ rejected: /);
    });

    it('verifies a note that Go signed', async () => {
      const latest = await checkpoints.latest();
      assert.ok(latest);
      const body = latest.note.slice(0, latest.note.indexOf('\n\n') + 1);
      const bodyFile = join(workDir, 'body.txt');
      writeFileSync(bodyFile, body);
      const run = await runProcess(checker, ['sign', ORIGIN, bodyFile], {});
      assert.equal(run.exitCode, 0, run.stderr);
      const signed = JSON.parse(run.stdout) as { vkey: string; note: string };

      const verification = verifyCheckpoint(signed.note, [parseVerifierKey(signed.vkey)]);
      assert.equal(verification.ok, true, JSON.stringify(verification));
      assert.equal(verification.ok && verification.checkpoint.rootHash, latest.rootHash);
      assert.equal(verification.ok && verification.checkpoint.treeSize, latest.treeSize);

      const published = (await keys.list()).map((key) => parseVerifierKey(key.vkey));
      assert.equal(verifyCheckpoint(signed.note, published).ok, false);
    });

    // Last in this suite, because it appends to the ledger that the proof tests above read.
    it('accepts an access denial line', async () => {
      const source = db.database.dataSource;
      const payload = { operation: 'review.claim', resource: 'review-case', action: 'claim', roles: ['reviewer'], caseId: randomUUID(), decisionId: reviewed };
      const denial = await new PostgresLedger().appendStandalone(source, { type: 'access.denied', tenant: 'bank-a', actor: 'alice', payload });
      const dir = join(workDir, 'bundle-denial');
      const { manifest: withDenial } = await exportBundle(source, { useCase: USE_CASE, ...JANUARY, tenant: 'bank-a', outDir: dir, wardenVersion: '0.1.0' }, evidence);
      assert.equal(withDenial.counts.accessDenials, 1);
      assert.equal(withDenial.ledger.lastSeq, denial.seq, 'the denial is the last exported entry');
      assert.deepEqual(await verifyBundle(dir), { ok: true, problems: [] });

      const { exitCode, report } = await check(['bundle', dir]);
      assert.deepEqual(report.errors, []);
      assert.equal(exitCode, 0);
      assert.equal(report.checked, withDenial.counts.ledgerEntries, 'the denial is proven like every other entry');
    });
  });
}
