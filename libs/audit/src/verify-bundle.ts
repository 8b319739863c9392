import { analystLayoutFor, decisionsToCsv, decisionsToParquet, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, FinalReviews, toAnalystRow } from './analyst-formats.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../../common/src/index.js';
import {
  ACCESS_DENIED_TYPE,
  BUNDLE_FORMAT_VERSION,
  BUNDLE_FORMAT_VERSION_V2,
  BUNDLE_FORMAT_VERSION_V3,
  BUNDLE_FORMAT_VERSION_V4,
  BUNDLE_FORMAT_VERSION_V5,
  computeManifestDigest,
  DECISION_CREATED_TYPE,
  CHECKPOINT_FILE,
  DECISIONS_FILE,
  isBundleFormatVersion,
  KEYS_FILE,
  LEDGER_FILE,
  MANIFEST_FILE,
  MERKLE_NODES_FILE,
  PROOFS_FILE,
  REVIEW_DECIDED_TYPE,
  REVIEW_ENTRY_TYPE_PREFIX,
  SUMMARY_FILE,
  type BundleFormatVersion,
  type BundleManifest,
  type DecisionLine,
} from './bundle-format.js';
import { parseVerifierKey, verifyCheckpoint, type CheckpointVerifierKey } from './checkpoints/checkpoint-note.js';
import { canonicalJsonValue, computeStoredEntryHash, type LedgerEntry } from './ledger-hash.js';
import { MANIFEST_SIGNATURE_FILE, verifyManifestSignature } from './manifest-signature.js';
import type { InclusionProof } from './merkle/merkle-log.types.js';
import { hashToHex, hexToHash, verifyInclusionProof } from './merkle/proof-encoding.js';
import { computeMultiproofRoot, type ProvenLeaf } from './merkle/multiproof.js';
import { hashMerkleLeaf, type LeafRange } from './merkle/rfc6962.js';

export interface BundleVerification {
  ok: boolean;
  /** One sentence per problem, naming the file, line and field. Empty when ok. */
  problems: string[];
  /**
   * Decisions whose record was purged after its retention period: their digest and ledger entry
   * are checked, their content cannot be. Present only when some were.
   */
  purgedRecords?: number;
}

/** Bytes of each bundle file by name. A missing file is absent from the map. */
export type BundleFiles = ReadonlyMap<string, Uint8Array>;

const HEX_64 = /^[0-9a-f]{64}$/;
const BUNDLE_FILES = [
  MANIFEST_FILE, MANIFEST_SIGNATURE_FILE, DECISIONS_FILE, LEDGER_FILE, MERKLE_NODES_FILE, PROOFS_FILE,
  CHECKPOINT_FILE, KEYS_FILE, DECISIONS_CSV_FILE, DECISIONS_PARQUET_FILE, SUMMARY_FILE,
] as const;

/**
 * Returns the file that proves the ledger entries in the tree: merkle-nodes.jsonl from format v4,
 * proofs.jsonl before. A manifest must list it and must not list the other one.
 */
function proofFileOf(formatVersion: unknown): string {
  return formatVersion === BUNDLE_FORMAT_VERSION_V3 || formatVersion === BUNDLE_FORMAT_VERSION_V2 ? PROOFS_FILE : MERKLE_NODES_FILE;
}

/** Returns whether the format is v5 or later, whose ledger.jsonl may carry `access.denied` entries counted in counts.accessDenials. */
function carriesAccessDenials(formatVersion: unknown): boolean {
  return formatVersion === BUNDLE_FORMAT_VERSION || formatVersion === BUNDLE_FORMAT_VERSION_V5;
}

/** Files every bundle has; the derived analyst files are checked when the manifest lists them. */
function requiredFiles(formatVersion: unknown): string[] {
  return [DECISIONS_FILE, LEDGER_FILE, proofFileOf(formatVersion), CHECKPOINT_FILE, KEYS_FILE];
}

/** Reads a bundle folder and checks it with verifyBundleFiles. Needs no database. */
export async function verifyBundle(dir: string): Promise<BundleVerification> {
  const files = new Map<string, Uint8Array>();
  for (const name of BUNDLE_FILES) {
    try {
      files.set(name, await readFile(join(dir, name)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return verifyBundleFiles(files);
}

/** Key ids whose signatures verify, per signed file of a bundle. */
export interface BundleSigners {
  checkpoint: string[];
  manifest: string[];
}

/**
 * Returns the ids of the bundle's keys whose signatures on checkpoint.txt and manifest.sig
 * verify, for the reader to compare with the keys the bank publishes. A file that is missing or
 * does not verify gives an empty list; verifyBundle names the problem.
 */
export async function readBundleSigners(dir: string): Promise<BundleSigners> {
  const read = async (name: string): Promise<string | undefined> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch {
      return undefined;
    }
  };
  const [keysText, note, manifestText, signature] = await Promise.all([read(KEYS_FILE), read(CHECKPOINT_FILE), read(MANIFEST_FILE), read(MANIFEST_SIGNATURE_FILE)]);
  const keys = keysText === undefined ? undefined : parseKeys(Buffer.from(keysText, 'utf8'), []);
  if (!keys) return { checkpoint: [], manifest: [] };
  const checkpoint = note === undefined ? undefined : verifyCheckpoint(note, keys);
  const manifest =
    signature === undefined || manifestText === undefined
      ? undefined
      : verifyManifestSignature(signature, Buffer.from(manifestText, 'utf8'), keys, statedFormatVersion(manifestText));
  return { checkpoint: checkpoint?.ok ? checkpoint.keyIds : [], manifest: manifest?.ok ? manifest.keyIds : [] };
}

/** Returns the one problem reported for a format v1 bundle, instead of one per field that v1 lacks. */
function retiredFormatProblem(): string {
  return (
    `field "formatVersion" is "${RETIRED_FORMAT_VERSION_V1}", a format without signatures or proofs that this verifier does not read. ` +
    'Export the same period again with Warden (warden export) to get a bundle that verifies.'
  );
}

/** Returns the manifest's formatVersion when it names a format this verifier reads, else the current one. */
function statedFormatVersion(manifestText: string): BundleFormatVersion {
  try {
    const stated = (JSON.parse(manifestText) as { formatVersion?: unknown }).formatVersion;
    return isBundleFormatVersion(stated) ? stated : BUNDLE_FORMAT_VERSION;
  } catch {
    return BUNDLE_FORMAT_VERSION;
  }
}

/**
 * Checks a bundle's bytes: the manifest's canonical form and digest, each file's size and SHA-256,
 * each ledger entry's hash, the multiproof (from format v4) or inclusion proofs (v2 and v3) of the
 * entries and the checkpoint's signature. It also checks each decision against its record digest
 * and its ledger entry, each review entry (from format v3) and `access.denied` entry (from v5)
 * against its decision, and the analyst files against the decisions. It keeps going after a
 * problem, so one run lists as many as it can.
 */
export function verifyBundleFiles(files: BundleFiles): BundleVerification {
  const problems: string[] = [];

  const manifest = checkManifest(files.get(MANIFEST_FILE), problems);
  if (!manifest) return { ok: false, problems };

  for (const name of Object.keys(manifest.files).sort()) {
    checkFileDigest(name, files.get(name), manifest.files[name], problems);
  }

  const keys = parseKeys(files.get(KEYS_FILE), problems);
  if (keys) checkManifestSignature(files, keys, manifest, problems);

  const entries = parseLedger(files.get(LEDGER_FILE), problems);
  if (entries) checkLedgerEntries(entries, manifest, problems);
  checkEvidence(files, keys, entries, manifest, problems);

  const decisions = parseDecisions(files.get(DECISIONS_FILE), problems);
  if (decisions) checkDecisions(decisions, entries, manifest, problems);
  if (decisions && entries && manifest.formatVersion !== BUNDLE_FORMAT_VERSION_V2) checkEntryDecisions(entries, decisions, manifest, problems);
  if (decisions) checkAnalystFiles(decisions.map(({ decision }) => decision), entries, files, manifest, problems);

  const purgedRecords = decisions?.filter(({ decision }) => isTombstone(decision.record)).length ?? 0;
  return { ok: problems.length === 0, problems, ...(purgedRecords > 0 ? { purgedRecords } : {}) };
}

// ---- manifest.json ----

function checkManifest(bytes: Uint8Array | undefined, problems: string[]): BundleManifest | undefined {
  if (!bytes) {
    problems.push(`${MANIFEST_FILE}: missing; a bundle without a manifest is incomplete`);
    return undefined;
  }

  const text = decodeUtf8(bytes, MANIFEST_FILE, problems);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    problems.push(`${MANIFEST_FILE}: not valid JSON`);
    return undefined;
  }

  const shapeProblems = manifestShapeProblems(parsed);
  if (shapeProblems.length > 0) {
    problems.push(...shapeProblems.map((problem) => `${MANIFEST_FILE}: ${problem}`));
    return undefined;
  }
  const manifest = parsed as BundleManifest;

  if (text !== `${canonicalOrEmpty(manifest)}\n`) {
    problems.push(`${MANIFEST_FILE}: bytes are not the RFC 8785 canonical JSON followed by one newline`);
  }
  const digest = digestOrUndefined(() => computeManifestDigest(manifest as unknown as Record<string, unknown>));
  if (digest !== manifest.manifestDigest) {
    problems.push(`${MANIFEST_FILE} field "manifestDigest": expected ${digest}, found ${manifest.manifestDigest}`);
  }
  return manifest;
}

/** The first bundle format, which had no signature and no proofs, so nothing offline can vouch for it. */
const RETIRED_FORMAT_VERSION_V1 = 'warden.audit-export.v1';

function manifestShapeProblems(value: unknown): string[] {
  if (!isObject(value)) return ['must be a JSON object'];
  if (value.formatVersion === RETIRED_FORMAT_VERSION_V1) return [retiredFormatProblem()];
  const problems: string[] = [];
  const expect = (ok: boolean, field: string, rule: string): void => {
    if (!ok) problems.push(`field "${field}" ${rule}`);
  };

  const v2 = value.formatVersion === BUNDLE_FORMAT_VERSION_V2;
  expect(
    isBundleFormatVersion(value.formatVersion),
    'formatVersion',
    `must be "${BUNDLE_FORMAT_VERSION}", "${BUNDLE_FORMAT_VERSION_V5}", "${BUNDLE_FORMAT_VERSION_V4}", "${BUNDLE_FORMAT_VERSION_V3}" or "${BUNDLE_FORMAT_VERSION_V2}"`,
  );
  expect(typeof value.wardenVersion === 'string', 'wardenVersion', 'must be a string');
  expect(typeof value.useCase === 'string', 'useCase', 'must be a string');
  expect(value.tenant === null || typeof value.tenant === 'string', 'tenant', 'must be a string or null');
  expect(typeof value.createdAt === 'string', 'createdAt', 'must be a string');
  expect(isHex64(value.manifestDigest), 'manifestDigest', 'must be 64 lowercase hex characters');

  const period = value.period;
  expect(isObject(period) && isIsoTime(period.from) && isIsoTime(period.to), 'period', 'must contain from and to as UTC ISO 8601 times with milliseconds, such as 2026-01-01T00:00:00.000Z');

  const counts = value.counts;
  if (v2) {
    expect(isObject(counts) && isCount(counts.decisions) && isCount(counts.ledgerEntries), 'counts', 'must contain non-negative integers decisions and ledgerEntries');
  } else if (!carriesAccessDenials(value.formatVersion)) {
    // From v3 the manifest also counts the review entries among the ledger entries.
    expect(
      isObject(counts) && isCount(counts.decisions) && isCount(counts.ledgerEntries) && isCount(counts.reviewEntries),
      'counts',
      'must contain non-negative integers decisions, ledgerEntries and reviewEntries',
    );
  } else {
    // From v5 it also counts the access.denied entries.
    expect(
      isObject(counts) && isCount(counts.decisions) && isCount(counts.ledgerEntries) && isCount(counts.reviewEntries) && isCount(counts.accessDenials),
      'counts',
      'must contain non-negative integers decisions, ledgerEntries, reviewEntries and accessDenials',
    );
  }

  expect(value.outcome === null || ['APPROVE', 'DECLINE', 'REFER', 'ANSWERED'].includes(value.outcome as string), 'outcome', 'must be APPROVE, DECLINE, REFER, ANSWERED or null');
  const files = value.files;
  // A bundle has merkle-nodes.jsonl or proofs.jsonl, as its format version requires, never both.
  const proofFile = proofFileOf(value.formatVersion);
  const known = new Set<string>(BUNDLE_FILES.filter((name) => name !== (proofFile === PROOFS_FILE ? MERKLE_NODES_FILE : PROOFS_FILE)));
  for (const name of requiredFiles(value.formatVersion)) {
    expect(isObject(files) && name in files, `files.${name}`, 'must be listed');
  }
  for (const [name, file] of Object.entries(isObject(files) ? files : {})) {
    expect(known.has(name) && name !== MANIFEST_FILE && name !== MANIFEST_SIGNATURE_FILE, `files.${name}`, 'is not a file a Warden bundle contains');
    expect(isObject(file) && isCount(file.bytes) && isHex64(file.sha256), `files.${name}`, 'must contain bytes and sha256');
  }

  const ledger = value.ledger;
  if (!isObject(ledger)) {
    expect(false, 'ledger', 'must be an object');
    return problems;
  }
  const head = ledger.head;
  expect(isObject(head) && isCount(head.seq) && isHex64(head.hash), 'ledger.head', 'must contain seq and hash');
  expect(typeof ledger.hashDefinition === 'string', 'ledger.hashDefinition', 'must be a string');
  expect(typeof ledger.merkleLeafDefinition === 'string', 'ledger.merkleLeafDefinition', 'must be a string');
  const empty = ledger.firstSeq === null && ledger.lastSeq === null;
  const filled = isSeq(ledger.firstSeq) && isSeq(ledger.lastSeq) && ledger.firstSeq <= ledger.lastSeq;
  expect(empty || filled, 'ledger', 'must contain firstSeq <= lastSeq, or null for both when there are no decisions');

  const checkpoint = value.checkpoint;
  expect(
    isObject(checkpoint) && typeof checkpoint.origin === 'string' && isCount(checkpoint.treeSize) && isHex64(checkpoint.rootHash) && typeof checkpoint.keyId === 'string',
    'checkpoint',
    'must contain origin, treeSize, rootHash and keyId',
  );
  return problems;
}

function checkFileDigest(
  name: string,
  bytes: Uint8Array | undefined,
  expected: { bytes: number; sha256: string },
  problems: string[],
): void {
  if (!bytes) {
    problems.push(`${name}: missing`);
    return;
  }
  if (bytes.length !== expected.bytes) {
    problems.push(`${name}: size is ${bytes.length} bytes but ${MANIFEST_FILE} records ${expected.bytes}`);
  }
  const sha256 = sha256Hex(bytes);
  if (sha256 !== expected.sha256) {
    problems.push(`${name}: SHA-256 is ${sha256} but ${MANIFEST_FILE} records ${expected.sha256}`);
  }
}

// ---- decisions.csv and decisions.parquet ----

/**
 * Rebuilds each listed analyst file from decisions.jsonl, and from format v6 also from the
 * review.decided entries of ledger.jsonl, and compares the bytes, so a CSV or Parquet file can
 * never state something the verified decisions and entries do not.
 */
function checkAnalystFiles(
  decisions: DecisionLine[],
  entries: LedgerEntry[] | undefined,
  files: BundleFiles,
  manifest: BundleManifest,
  problems: string[],
): void {
  const layout = analystLayoutFor(manifest.formatVersion);
  const needsEntries = layout.columns.includes('review_outcome');
  const reviews = new FinalReviews(entries ?? []);
  const rows = decisions.map((decision) => toAnalystRow(decision, reviews.of(decision)));
  const rebuilders: [string, () => Uint8Array][] = [
    [DECISIONS_CSV_FILE, () => Buffer.from(decisionsToCsv(rows, layout), 'utf8')],
    [DECISIONS_PARQUET_FILE, () => decisionsToParquet(rows, layout)],
  ];
  for (const [name, rebuild] of rebuilders) {
    const bytes = files.get(name);
    if (!(name in manifest.files) || !bytes) continue;
    if (needsEntries && entries === undefined) {
      problems.push(`${name}: cannot be rebuilt from ${DECISIONS_FILE} and ${LEDGER_FILE}, because ${LEDGER_FILE} could not be read`);
      continue;
    }
    let rebuilt: Uint8Array;
    try {
      rebuilt = rebuild();
    } catch {
      // A decision line or review.decided entry with an impossible value, such as an invalid time,
      // is reported by the decision and entry checks. The derived file then cannot be rebuilt.
      problems.push(
        needsEntries
          ? `${name}: cannot be rebuilt from ${DECISIONS_FILE} and the review.decided entries of ${LEDGER_FILE}, which contain invalid values`
          : `${name}: cannot be rebuilt from ${DECISIONS_FILE}, whose lines hold invalid values`,
      );
      continue;
    }
    if (!Buffer.from(rebuilt).equals(Buffer.from(bytes))) {
      problems.push(
        needsEntries
          ? `${name}: does not match what ${DECISIONS_FILE} and the review.decided entries of ${LEDGER_FILE} produce; if both pass every other check, rebuild ${name} from them`
          : `${name}: does not match what ${DECISIONS_FILE} produces; if ${DECISIONS_FILE} passes every other check, rebuild ${name} from it`,
      );
    }
  }
}

// ---- ledger.jsonl ----

function parseLedger(bytes: Uint8Array | undefined, problems: string[]): LedgerEntry[] | undefined {
  const lines = parseJsonLines(LEDGER_FILE, bytes, problems);
  if (!lines) return undefined;

  let valid = true;
  for (const { lineNumber, value } of lines) {
    const shape = ledgerEntryShapeProblems(value);
    for (const problem of shape) problems.push(`${LEDGER_FILE} line ${lineNumber} ${problem}`);
    if (shape.length > 0) valid = false;
  }
  return valid ? lines.map((line) => line.value as LedgerEntry) : undefined;
}

/** Fields of a ledger.jsonl line. Anything else was added after export, so it is reported rather than ignored. */
const LEDGER_LINE_FIELDS = new Set(['seq', 'type', 'tenant', 'actor', 'createdAt', 'payload', 'prevHash', 'hash']);

/** Fields of a decisions.jsonl line. */
const DECISION_LINE_FIELDS = new Set([
  'id', 'tenant', 'useCase', 'requestId', 'actor', 'outcome', 'score', 'modelVersion',
  'createdAt', 'ledgerSeq', 'ledgerHash', 'recordDigest', 'record', 'personalData',
]);

/** Names each field of `value` outside `allowed`: the verifier checks every byte it is given. */
function unknownFieldProblems(value: Record<string, unknown>, allowed: ReadonlySet<string>): string[] {
  return Object.keys(value)
    .filter((field) => !allowed.has(field))
    .map((field) => `field "${field.slice(0, 64)}" is not part of the bundle format; remove it, or export the bundle again`);
}

function ledgerEntryShapeProblems(value: unknown): string[] {
  if (!isObject(value)) return ['must be a JSON object'];
  const problems: string[] = [];
  if (!isSeq(value.seq)) problems.push('field "seq" must be a positive integer');
  for (const field of ['type', 'tenant', 'actor', 'createdAt']) {
    if (typeof value[field] !== 'string') problems.push(`field "${field}" must be a string`);
  }
  if (!isObject(value.payload)) problems.push('field "payload" must be a JSON object');
  if (!isHex64(value.prevHash)) problems.push('field "prevHash" must be 64 lowercase hex characters');
  if (!isHex64(value.hash)) problems.push('field "hash" must be 64 lowercase hex characters');
  problems.push(...unknownFieldProblems(value, LEDGER_LINE_FIELDS));
  return problems;
}

/**
 * Checks the decisions' ledger entries: each hash is recomputed from the entry's fields and
 * prevHash, seqs rise, and the manifest's range, head and checkpoint size agree with them.
 */
function checkLedgerEntries(entries: LedgerEntry[], manifest: BundleManifest, problems: string[]): void {
  const { firstSeq, lastSeq, head } = manifest.ledger;

  if (entries.length !== manifest.counts.ledgerEntries) {
    problems.push(`${LEDGER_FILE}: contains ${entries.length} entries but ${MANIFEST_FILE} counts.ledgerEntries is ${manifest.counts.ledgerEntries}`);
  }
  let previousSeq = 0;
  const lineOfSeq = new Map<number, number>();
  entries.forEach((entry, index) => {
    const { prevHash, hash, ...fields } = entry;
    if (digestOrUndefined(() => computeStoredEntryHash(prevHash, fields)) !== hash) {
      problems.push(`${LEDGER_FILE} line ${index + 1} (seq ${entry.seq}): hash does not match the entry's fields and prevHash`);
    }
    const firstLine = lineOfSeq.get(entry.seq);
    if (firstLine !== undefined) {
      problems.push(`${LEDGER_FILE} line ${index + 1} field "seq": ${entry.seq} repeats line ${firstLine}`);
    } else {
      if (entry.seq <= previousSeq) problems.push(`${LEDGER_FILE} line ${index + 1} field "seq": ${entry.seq} is not after ${previousSeq}`);
      lineOfSeq.set(entry.seq, index + 1);
    }
    previousSeq = entry.seq;
  });

  if (firstSeq === null || lastSeq === null) {
    if (entries.length > 0) problems.push(`${LEDGER_FILE}: contains entries but ${MANIFEST_FILE} records no seq range`);
    return;
  }
  if (entries[0]?.seq !== firstSeq) {
    problems.push(`${LEDGER_FILE} line 1 field "seq": expected ${firstSeq} from ${MANIFEST_FILE} ledger.firstSeq, found ${entries[0]?.seq ?? 'no entry'}`);
  }
  const last = entries.at(-1);
  if (last?.seq !== lastSeq) {
    problems.push(`${LEDGER_FILE} line ${entries.length} field "seq": expected ${lastSeq} from ${MANIFEST_FILE} ledger.lastSeq, found ${last?.seq ?? 'no entry'}`);
  }
  if (head.seq < lastSeq) problems.push(`${MANIFEST_FILE} field "ledger.head.seq": ${head.seq} is before ledger.lastSeq ${lastSeq}`);
  if (head.seq === lastSeq && last && head.hash !== last.hash) {
    problems.push(`${MANIFEST_FILE} field "ledger.head.hash": differs from the hash of seq ${lastSeq} in ${LEDGER_FILE}`);
  }
  if (manifest.checkpoint.treeSize < lastSeq) {
    problems.push(`${MANIFEST_FILE} field "checkpoint.treeSize": ${manifest.checkpoint.treeSize} does not cover ledger.lastSeq ${lastSeq}`);
  }
}

// ---- checkpoint.txt, keys.json, merkle-nodes.jsonl and proofs.jsonl ----

/**
 * Verifies the checkpoint's signature with the bundle's published keys, that it states the tree
 * the manifest names, and that the ledger entries are in that tree: by the multiproof from format
 * v4, by one inclusion proof per entry before.
 */
function checkEvidence(
  files: BundleFiles,
  keys: CheckpointVerifierKey[] | undefined,
  entries: LedgerEntry[] | undefined,
  manifest: BundleManifest,
  problems: string[],
): void {
  const noteBytes = files.get(CHECKPOINT_FILE);
  if (!noteBytes) return;
  const note = decodeUtf8(noteBytes, CHECKPOINT_FILE, problems);
  if (note === undefined || !keys) return;

  const verification = verifyCheckpoint(note, keys);
  if (!verification.ok) {
    problems.push(`${CHECKPOINT_FILE}: ${verification.reason}`);
  } else {
    const { checkpoint, keyIds } = verification;
    const expected = manifest.checkpoint;
    if (checkpoint.origin !== expected.origin) problems.push(`${CHECKPOINT_FILE}: origin "${checkpoint.origin}" differs from ${MANIFEST_FILE} checkpoint.origin`);
    if (checkpoint.treeSize !== expected.treeSize) problems.push(`${CHECKPOINT_FILE}: tree size ${checkpoint.treeSize} differs from ${MANIFEST_FILE} checkpoint.treeSize ${expected.treeSize}`);
    if (checkpoint.rootHash !== expected.rootHash) problems.push(`${CHECKPOINT_FILE}: root hash differs from ${MANIFEST_FILE} checkpoint.rootHash`);
    if (!keyIds.includes(expected.keyId)) problems.push(`${CHECKPOINT_FILE}: not signed by ${MANIFEST_FILE} checkpoint.keyId ${expected.keyId}`);
  }

  if (proofFileOf(manifest.formatVersion) === MERKLE_NODES_FILE) {
    const lines = parseJsonLines(MERKLE_NODES_FILE, files.get(MERKLE_NODES_FILE), problems);
    if (lines) checkMultiproof(lines, entries, manifest, problems);
    return;
  }
  const proofs = parseJsonLines(PROOFS_FILE, files.get(PROOFS_FILE), problems);
  if (!proofs || !entries) return;
  if (proofs.length !== entries.length) {
    problems.push(`${PROOFS_FILE}: contains ${proofs.length} proofs but ${LEDGER_FILE} contains ${entries.length} entries`);
    return;
  }
  proofs.forEach(({ lineNumber, value }, index) => checkProof(lineNumber, value, entries[index], manifest, problems));
}

/** A valid line of merkle-nodes.jsonl. */
interface MerkleNodeLine extends LeafRange {
  lineNumber: number;
  hash: Uint8Array;
}

/**
 * Checks merkle-nodes.jsonl (from format v4): every line is a well-formed range, the lines are sorted
 * by start without repeats, and node(0, treeSize) computed from the ledger entries' leaf hashes
 * and these ranges is the checkpoint's root. The file must hold exactly the ranges the computation
 * reads, so a missing range and a line never read are both reported. With no ledger entries the
 * file must be empty. Without a readable ledger.jsonl only the lines themselves are checked.
 */
function checkMultiproof(
  lines: { lineNumber: number; value: unknown }[],
  entries: LedgerEntry[] | undefined,
  manifest: BundleManifest,
  problems: string[],
): void {
  const nodes = parseMerkleNodeLines(lines, problems);
  if (!entries) return;

  const { treeSize, rootHash } = manifest.checkpoint;
  const leaves = provenLeaves(entries);
  const outside = leaves.at(-1);
  if (outside && outside.index >= treeSize) {
    problems.push(
      `${MERKLE_NODES_FILE}: the root cannot be computed, because seq ${outside.index + 1} of ${LEDGER_FILE} is outside the checkpoint's tree of size ${treeSize}`,
    );
    return;
  }

  const byRange = new Map(nodes.map((node) => [rangeKey(node), node]));
  const read = new Set<MerkleNodeLine>();
  let root: Uint8Array | undefined;
  if (leaves.length > 0) {
    const computed = computeMultiproofRoot(leaves, treeSize, (range) => {
      const node = byRange.get(rangeKey(range));
      if (node) read.add(node);
      return node?.hash;
    });
    root = computed.root;
    for (const range of computed.missing) {
      problems.push(`${MERKLE_NODES_FILE}: no line gives the range [${range.start}, ${range.end}), which the root computation needs`);
    }
  }

  const leafIndexes = leaves.map((leaf) => leaf.index);
  for (const node of nodes) {
    if (read.has(node)) continue;
    const contained = firstIndexIn(leafIndexes, node);
    const reason =
      contained !== undefined
        ? `, which contains the leaf of seq ${contained + 1} of ${LEDGER_FILE}`
        : node.end > treeSize
          ? `, which ends after the checkpoint's tree size ${treeSize}`
          : '';
    problems.push(`${MERKLE_NODES_FILE} line ${node.lineNumber} (range [${node.start}, ${node.end})): the root computation does not read this range${reason}`);
  }
  if (root && hashToHex(root) !== rootHash) {
    problems.push(`${MERKLE_NODES_FILE}: the root computed from ${LEDGER_FILE} and ${MERKLE_NODES_FILE} differs from ${MANIFEST_FILE} checkpoint.rootHash`);
  }
}

/** Fields of a merkle-nodes.jsonl line. */
const MERKLE_NODE_LINE_FIELDS = new Set(['start', 'end', 'hash']);

/**
 * Returns the well-formed lines of merkle-nodes.jsonl, the first of any repeated range, and
 * reports malformed, repeated and unsorted lines. An unsorted line is still used.
 */
function parseMerkleNodeLines(lines: { lineNumber: number; value: unknown }[], problems: string[]): MerkleNodeLine[] {
  const nodes: MerkleNodeLine[] = [];
  const lineOfRange = new Map<string, number>();
  let previousStart: number | undefined;
  for (const { lineNumber, value } of lines) {
    const at = `${MERKLE_NODES_FILE} line ${lineNumber}`;
    if (!isObject(value)) {
      problems.push(`${at}: must be a JSON object with start, end and hash`);
      continue;
    }
    const { start, end } = value;
    if (!isCount(start) || !isCount(end) || start >= end) {
      problems.push(`${at} fields "start" and "end": must be integers with 0 <= start < end, found ${describeValue(start)} and ${describeValue(end)}`);
      continue;
    }
    const atRange = `${at} (range [${start}, ${end}))`;
    const shape = unknownFieldProblems(value, MERKLE_NODE_LINE_FIELDS);
    if (!isHex64(value.hash)) shape.unshift('field "hash" must be 64 lowercase hex characters');
    for (const problem of shape) problems.push(`${atRange} ${problem}`);
    if (shape.length > 0) continue;

    const key = rangeKey({ start, end });
    const firstLine = lineOfRange.get(key);
    const unsorted = previousStart !== undefined && start <= previousStart;
    if (firstLine !== undefined) {
      problems.push(`${atRange}: repeats line ${firstLine}`);
    } else if (unsorted) {
      problems.push(`${atRange}: start ${start} is not after the previous line's start ${previousStart}; lines must be sorted by start`);
    }
    previousStart = start;
    if (firstLine !== undefined) continue;
    lineOfRange.set(key, lineNumber);
    nodes.push({ lineNumber, start, end, hash: Buffer.from(value.hash as string, 'hex') });
  }
  return nodes;
}

/** Returns the leaves of the ledger entries, one per seq, by ascending index. */
function provenLeaves(entries: LedgerEntry[]): ProvenLeaf[] {
  const bySeq = new Map<number, string>();
  for (const entry of entries) if (!bySeq.has(entry.seq)) bySeq.set(entry.seq, entry.hash);
  return [...bySeq]
    .sort(([a], [b]) => a - b)
    .map(([seq, hash]) => ({ index: seq - 1, hash: hashMerkleLeaf(Buffer.from(hash, 'hex')) }));
}

/** Returns the first of the sorted leaf indexes inside the range, or undefined. */
function firstIndexIn(sortedIndexes: readonly number[], range: LeafRange): number | undefined {
  let low = 0;
  let high = sortedIndexes.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sortedIndexes[middle] < range.start) low = middle + 1;
    else high = middle;
  }
  return low < sortedIndexes.length && sortedIndexes[low] < range.end ? sortedIndexes[low] : undefined;
}

function rangeKey(range: LeafRange): string {
  return `${range.start}-${range.end}`;
}

/** Shows a JSON value in a message, cut to 32 characters. */
function describeValue(value: unknown): string {
  return value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value)).slice(0, 32);
}

/** Checks that manifest.sig signs the exact bytes of manifest.json with a key from keys.json. */
function checkManifestSignature(files: BundleFiles, keys: CheckpointVerifierKey[], manifest: BundleManifest, problems: string[]): void {
  const signatureBytes = files.get(MANIFEST_SIGNATURE_FILE);
  if (!signatureBytes) {
    problems.push(`${MANIFEST_SIGNATURE_FILE}: missing; without it nothing shows that the manifest came from the ledger's key holder`);
    return;
  }
  const text = decodeUtf8(signatureBytes, MANIFEST_SIGNATURE_FILE, problems);
  const manifestBytes = files.get(MANIFEST_FILE);
  if (text === undefined || !manifestBytes) return;
  const verification = verifyManifestSignature(text, manifestBytes, keys, manifest.formatVersion);
  if (!verification.ok) problems.push(`${MANIFEST_SIGNATURE_FILE}: ${verification.reason}`);
}

function checkProof(lineNumber: number, value: unknown, entry: LedgerEntry, manifest: BundleManifest, problems: string[]): void {
  const at = `${PROOFS_FILE} line ${lineNumber}`;
  if (!isObject(value) || !Array.isArray(value.proof)) {
    problems.push(`${at}: must be an inclusion proof object`);
    return;
  }
  const proof = value as unknown as InclusionProof & { seq: unknown };
  if (proof.seq !== entry.seq) problems.push(`${at} field "seq": ${String(proof.seq)} is not the seq ${entry.seq} of ${LEDGER_FILE} line ${lineNumber}`);
  if (proof.leafIndex !== entry.seq - 1) problems.push(`${at} field "leafIndex": must be seq - 1 = ${entry.seq - 1}`);
  if (proof.treeSize !== manifest.checkpoint.treeSize) problems.push(`${at} field "treeSize": differs from the checkpoint's tree size`);
  if (proof.rootHash !== manifest.checkpoint.rootHash) problems.push(`${at} field "rootHash": differs from the checkpoint's root hash`);
  const leaf = hexToHash(entry.hash);
  if (!leaf || proof.leafHash !== hashToHex(hashMerkleLeaf(leaf))) {
    problems.push(`${at} field "leafHash": is not SHA-256(0x00 || hash) of the entry at seq ${entry.seq}`);
  }
  const verified = verifyInclusionProof(proof);
  if (!verified.ok) problems.push(`${at}: inclusion proof does not verify: ${verified.reason}`);
}

function parseKeys(bytes: Uint8Array | undefined, problems: string[]): CheckpointVerifierKey[] | undefined {
  if (!bytes) return undefined;
  const text = decodeUtf8(bytes, KEYS_FILE, problems);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push(`${KEYS_FILE}: not valid JSON`);
    return undefined;
  }
  if (!Array.isArray(value) || text !== `${canonicalOrEmpty(value)}\n`) {
    problems.push(`${KEYS_FILE}: must be the RFC 8785 canonical JSON of an array of keys followed by one newline`);
    return undefined;
  }
  const keys: CheckpointVerifierKey[] = [];
  value.forEach((key, index) => {
    try {
      keys.push(parseVerifierKey(String((key as { vkey?: unknown }).vkey)));
    } catch {
      problems.push(`${KEYS_FILE} item ${index + 1} field "vkey": not a valid verifier key`);
    }
  });
  return keys;
}

// ---- decisions.jsonl ----

function parseDecisions(bytes: Uint8Array | undefined, problems: string[]): { lineNumber: number; decision: DecisionLine }[] | undefined {
  const lines = parseJsonLines(DECISIONS_FILE, bytes, problems);
  if (!lines) return undefined;

  const decisions: { lineNumber: number; decision: DecisionLine }[] = [];
  for (const { lineNumber, value } of lines) {
    const shape = decisionShapeProblems(value);
    for (const problem of shape) problems.push(`${DECISIONS_FILE} line ${lineNumber} ${problem}`);
    if (shape.length === 0) decisions.push({ lineNumber, decision: value as DecisionLine });
  }
  return decisions;
}

function decisionShapeProblems(value: unknown): string[] {
  if (!isObject(value)) return ['must be a JSON object'];
  const problems: string[] = [];
  for (const field of ['id', 'tenant', 'useCase', 'actor', 'outcome', 'modelVersion', 'createdAt']) {
    if (typeof value[field] !== 'string') problems.push(`field "${field}" must be a string`);
  }
  if (value.requestId !== null && typeof value.requestId !== 'string') problems.push('field "requestId" must be a string or null');
  if (typeof value.score !== 'number') problems.push('field "score" must be a number');
  if (!isSeq(value.ledgerSeq)) problems.push('field "ledgerSeq" must be a positive integer');
  if (!isHex64(value.ledgerHash)) problems.push('field "ledgerHash" must be 64 lowercase hex characters');
  if (!isHex64(value.recordDigest)) problems.push('field "recordDigest" must be 64 lowercase hex characters');
  if (!isObject(value.record)) problems.push('field "record" must be a JSON object');
  // A record with sealed personal fields states whether its subject key still exists; others must not.
  const sealed = isObject(value.record) && isObject(value.record.personal);
  if (sealed && value.personalData !== 'sealed' && value.personalData !== 'erased') {
    problems.push('field "personalData" must be "sealed" or "erased" for a record with sealed personal fields');
  } else if (!sealed && value.personalData !== undefined) {
    problems.push('field "personalData" is only allowed for a record with sealed personal fields');
  }
  problems.push(...unknownFieldProblems(value, DECISION_LINE_FIELDS));
  return problems;
}

function checkDecisions(
  decisions: { lineNumber: number; decision: DecisionLine }[],
  entries: LedgerEntry[] | undefined,
  manifest: BundleManifest,
  problems: string[],
): void {
  if (decisions.length !== manifest.counts.decisions) {
    problems.push(`${DECISIONS_FILE}: contains ${decisions.length} valid decisions but ${MANIFEST_FILE} counts.decisions is ${manifest.counts.decisions}`);
  }
  const first = decisions[0]?.decision.ledgerSeq ?? null;
  const last = decisions.at(-1)?.decision.ledgerSeq ?? null;
  if (manifest.formatVersion === BUNDLE_FORMAT_VERSION_V2) {
    if (first !== manifest.ledger.firstSeq || last !== manifest.ledger.lastSeq) {
      problems.push(
        `${DECISIONS_FILE}: decisions span ledger seq ${first} to ${last} but ${MANIFEST_FILE} records ${manifest.ledger.firstSeq} to ${manifest.ledger.lastSeq}`,
      );
    }
  } else if (first !== manifest.ledger.firstSeq) {
    // From v3 the range can end at a review entry (from v5 also at an access.denied entry), which
    // comes after its decision's entry.
    problems.push(`${DECISIONS_FILE}: decisions start at ledger seq ${first} but ${MANIFEST_FILE} ledger.firstSeq is ${manifest.ledger.firstSeq}`);
  }

  const entriesBySeq = new Map((entries ?? []).map((entry) => [entry.seq, entry]));
  // Review entries name their decision by id alone, so two lines with one id would both take them.
  const lineOfId = new Map<string, number>();
  let previousSeq = 0;
  for (const { lineNumber, decision } of decisions) {
    const at = (field: string): string => `${DECISIONS_FILE} line ${lineNumber} field "${field}"`;

    const firstLine = lineOfId.get(decision.id);
    if (firstLine !== undefined) {
      problems.push(`${at('id')}: ${decision.id.slice(0, 64)} repeats line ${firstLine}; each decision has one line`);
    } else {
      lineOfId.set(decision.id, lineNumber);
    }

    const recordDigest = digestOrUndefined(() => sha256Hex(canonicalJsonValue(decision.record)));
    checkDecisionRecord(decision, recordDigest, at, problems);
    if (decision.useCase !== manifest.useCase) {
      problems.push(`${at('useCase')}: "${decision.useCase}" is not the exported use case "${manifest.useCase}"`);
    }
    if (manifest.tenant !== null && decision.tenant !== manifest.tenant) {
      problems.push(`${at('tenant')}: "${decision.tenant}" is not the exported tenant "${manifest.tenant}"`);
    }
    if (manifest.outcome !== null && decision.outcome !== manifest.outcome) {
      problems.push(`${at('outcome')}: "${decision.outcome}" is not the exported outcome "${manifest.outcome}"`);
    }
    if (!(decision.createdAt >= manifest.period.from && decision.createdAt < manifest.period.to)) {
      problems.push(`${at('createdAt')}: ${decision.createdAt} is outside [${manifest.period.from}, ${manifest.period.to})`);
    }
    if (decision.ledgerSeq <= previousSeq) {
      problems.push(`${at('ledgerSeq')}: ${decision.ledgerSeq} is not after the previous line's ${previousSeq}`);
    }
    previousSeq = decision.ledgerSeq;

    // Without a readable ledger file the per-entry checks have nothing to compare against,
    // and parseLedger has already reported why.
    if (entries) checkDecisionEntry(decision, entriesBySeq.get(decision.ledgerSeq), at, problems);
  }
}

/**
 * Returns the problems of one decision line against its record digest and its own ledger entry,
 * as both verifiers report them. The exporter runs it on every decision before it signs, so that
 * it never signs a decision that a verifier rejects. `recordDigest` is the SHA-256 of the record's
 * canonical JSON, which the caller has at hand, or undefined when the record has no JSON form.
 */
export function decisionLineProblems(
  decision: DecisionLine,
  entry: LedgerEntry | undefined,
  recordDigest: string | undefined,
  at: (field: string) => string,
): string[] {
  const problems: string[] = [];
  checkDecisionRecord(decision, recordDigest, at, problems);
  checkDecisionEntry(decision, entry, at, problems);
  return problems;
}

/**
 * Checks the record against recordDigest, and the fields that the record repeats. A purged record
 * is a tombstone: its recordDigest is still checked against the ledger entry, and it cannot have
 * been purged before the decision existed.
 */
function checkDecisionRecord(decision: DecisionLine, recordDigest: string | undefined, at: (field: string) => string, problems: string[]): void {
  if (isTombstone(decision.record)) {
    if ((decision.record.purgedAt as string) < decision.createdAt) {
      problems.push(`${at('record')}: purgedAt ${decision.record.purgedAt as string} is before the decision's createdAt ${decision.createdAt}`);
    }
  } else if (recordDigest !== decision.recordDigest) {
    problems.push(`${at('recordDigest')}: ${decision.recordDigest} does not match the record, which digests to ${recordDigest}`);
  }
  checkMirroredFields(decision, at, problems);
}

function checkDecisionEntry(
  decision: DecisionLine,
  entry: LedgerEntry | undefined,
  at: (field: string) => string,
  problems: string[],
): void {
  if (!entry) {
    problems.push(`${at('ledgerSeq')}: seq ${decision.ledgerSeq} is not in ${LEDGER_FILE}`);
    return;
  }
  if (entry.hash !== decision.ledgerHash) {
    problems.push(`${at('ledgerHash')}: ${decision.ledgerHash} differs from the hash of seq ${entry.seq} in ${LEDGER_FILE}, ${entry.hash}`);
  }
  if (entry.type !== DECISION_CREATED_TYPE) {
    problems.push(`${at('ledgerSeq')}: the ledger entry at seq ${entry.seq} has type "${entry.type}", not "${DECISION_CREATED_TYPE}"`);
  }
  if (entry.payload.recordDigest !== decision.recordDigest) {
    problems.push(`${at('recordDigest')}: differs from payload.recordDigest of the ledger entry at seq ${entry.seq}`);
  }
  if (entry.payload.decisionId !== decision.id) {
    problems.push(`${at('id')}: differs from payload.decisionId of the ledger entry at seq ${entry.seq}`);
  }
  if (entry.tenant !== decision.tenant) {
    problems.push(`${at('tenant')}: differs from the tenant of the ledger entry at seq ${entry.seq}`);
  }
  if (entry.actor !== decision.actor) {
    problems.push(`${at('actor')}: differs from the actor of the ledger entry at seq ${entry.seq}`);
  }
  for (const field of ['outcome', 'modelVersion', 'useCase', 'score', 'requestId'] as const) {
    if (field in entry.payload && entry.payload[field] !== decision[field]) {
      problems.push(`${at(field)}: differs from payload.${field} of the ledger entry at seq ${entry.seq}`);
    }
  }
}

// ---- review entries (format v3) and access.denied entries (format v5) in ledger.jsonl ----

/**
 * Checks that every ledger.jsonl line belongs to an exported decision: the decision.created entry
 * of a decisions.jsonl line, or a review entry or (from v5) an access.denied entry of an exported
 * decision. Also checks counts.reviewEntries and (from v5) counts.accessDenials.
 */
function checkEntryDecisions(
  entries: LedgerEntry[],
  decisions: { lineNumber: number; decision: DecisionLine }[],
  manifest: BundleManifest,
  problems: string[],
): void {
  const decisionsById = new Map(decisions.map(({ decision }) => [decision.id, decision]));
  const decisionSeqs = new Set(decisions.map(({ decision }) => decision.ledgerSeq));
  const withDenials = carriesAccessDenials(manifest.formatVersion);
  const withReviewColumns = analystLayoutFor(manifest.formatVersion).columns.includes('review_outcome');
  const allowedTypes = withDenials
    ? `is not ${DECISION_CREATED_TYPE}, ${ACCESS_DENIED_TYPE} or a review entry type (${REVIEW_ENTRY_TYPE_PREFIX}*)`
    : `is neither ${DECISION_CREATED_TYPE} nor a review entry type (${REVIEW_ENTRY_TYPE_PREFIX}*)`;
  let reviewEntries = 0;
  let accessDenials = 0;
  /** The seq of each decision's review.decided entry, by decision id. */
  const decidedAt = new Map<string, number>();
  entries.forEach((entry, index) => {
    const at = `${LEDGER_FILE} line ${index + 1} (seq ${entry.seq})`;
    if (entry.type.startsWith(REVIEW_ENTRY_TYPE_PREFIX)) {
      reviewEntries += 1;
      checkRelatedEntry(entry, at, 'a review entry', decisionsById, problems);
      if (withReviewColumns && entry.type === REVIEW_DECIDED_TYPE) checkReviewDecidedEntry(entry, at, decidedAt, problems);
    } else if (withDenials && entry.type === ACCESS_DENIED_TYPE) {
      accessDenials += 1;
      checkRelatedEntry(entry, at, `an ${ACCESS_DENIED_TYPE} entry`, decisionsById, problems);
    } else if (entry.type !== DECISION_CREATED_TYPE) {
      problems.push(`${at} field "type": "${entry.type.slice(0, 64)}" ${allowedTypes}`);
    } else if (!decisionSeqs.has(entry.seq)) {
      problems.push(`${at}: no line of ${DECISIONS_FILE} refers to this ${DECISION_CREATED_TYPE} entry`);
    }
  });
  if (reviewEntries !== manifest.counts.reviewEntries) {
    problems.push(`${LEDGER_FILE}: contains ${reviewEntries} review entries but ${MANIFEST_FILE} counts.reviewEntries is ${manifest.counts.reviewEntries}`);
  }
  if (withDenials && accessDenials !== manifest.counts.accessDenials) {
    problems.push(`${LEDGER_FILE}: contains ${accessDenials} ${ACCESS_DENIED_TYPE} entries but ${MANIFEST_FILE} counts.accessDenials is ${manifest.counts.accessDenials}`);
  }
}

/**
 * Checks that a review or access.denied entry names an exported decision, has its tenant and comes
 * after its decision.created entry. `kind` names the entry in the message, such as "a review entry".
 */
function checkRelatedEntry(entry: LedgerEntry, at: string, kind: string, decisionsById: ReadonlyMap<string, DecisionLine>, problems: string[]): void {
  const decisionId = entry.payload.decisionId;
  const decision = typeof decisionId === 'string' ? decisionsById.get(decisionId) : undefined;
  if (!decision) {
    const quotedId = typeof decisionId === 'string' ? `"${decisionId.slice(0, 64)}"` : 'missing';
    problems.push(`${at} field "payload.decisionId": ${quotedId} is not the id of a decision in ${DECISIONS_FILE}`);
    return;
  }
  if (entry.tenant !== decision.tenant) {
    problems.push(`${at} field "tenant": "${entry.tenant.slice(0, 64)}" is not the tenant "${decision.tenant}" of decision ${decision.id}`);
  }
  if (entry.seq <= decision.ledgerSeq) {
    problems.push(`${at} field "seq": ${kind} must come after its decision's ${DECISION_CREATED_TYPE} entry at seq ${decision.ledgerSeq}`);
  }
}

/**
 * Checks the fields of a review.decided entry that the analyst files show (from format v6).
 * createdAt becomes reviewed_at, a Parquet timestamp, so it must be a time as Warden writes it.
 * payload.finalOutcome becomes review_outcome, whose empty cell means that no person decided, so it
 * must be a non-empty string. A review case is decided once, so a decision has at most one such
 * entry; `decidedAt` collects the seq of each decision's first.
 */
function checkReviewDecidedEntry(entry: LedgerEntry, at: string, decidedAt: Map<string, number>, problems: string[]): void {
  if (!isIsoTime(entry.createdAt)) {
    problems.push(`${at} field "createdAt": ${describeValue(entry.createdAt)} is not a UTC ISO 8601 time with milliseconds, such as 2026-01-01T00:00:00.000Z`);
  }
  const { finalOutcome, decisionId } = entry.payload;
  if (typeof finalOutcome !== 'string' || finalOutcome === '') {
    problems.push(`${at} field "payload.finalOutcome": ${describeValue(finalOutcome)} is not the reviewer's outcome, which a ${REVIEW_DECIDED_TYPE} entry states as a non-empty string`);
  }
  if (typeof decisionId !== 'string') return;
  const firstSeq = decidedAt.get(decisionId);
  if (firstSeq === undefined) {
    decidedAt.set(decisionId, entry.seq);
  } else {
    problems.push(`${at} field "payload.decisionId": decision ${decisionId.slice(0, 64)} was already decided at seq ${firstSeq}, and a review case is decided once`);
  }
}

/** Top-level fields of a decision line that repeat a field of its record and must agree with it. */
const RECORD_MIRRORED_FIELDS = ['id', 'tenant', 'useCase', 'requestId', 'actor', 'outcome', 'score', 'modelVersion', 'createdAt'] as const;

/**
 * Checks that the convenience fields of a decision line equal those of its digested record, since
 * only the record is covered by the ledger: a changed `outcome` column would otherwise pass.
 */
function checkMirroredFields(decision: DecisionLine, at: (field: string) => string, problems: string[]): void {
  for (const field of RECORD_MIRRORED_FIELDS) {
    if (field in decision.record && decision.record[field] !== decision[field]) {
      problems.push(`${at(field)}: ${JSON.stringify(decision[field])} differs from record.${field}, ${JSON.stringify(decision.record[field])}`);
    }
  }
}

// ---- shared parsing ----

/**
 * Splits a JSON Lines file into parsed values with 1-based line numbers. Each line must be the
 * canonical JSON of its value and the file must end with a newline, so that the bytes have
 * exactly one valid form. Returns undefined when the file is missing or unreadable.
 */
function parseJsonLines(
  name: string,
  bytes: Uint8Array | undefined,
  problems: string[],
): { lineNumber: number; value: unknown }[] | undefined {
  if (!bytes) return undefined;
  const text = decodeUtf8(bytes, name, problems);
  if (text === undefined) return undefined;
  if (text === '') return [];

  if (!text.endsWith('\n')) problems.push(`${name}: the last line does not end with a newline`);
  const rawLines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');

  const lines: { lineNumber: number; value: unknown }[] = [];
  let readable = true;
  rawLines.forEach((raw, index) => {
    const lineNumber = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push(`${name} line ${lineNumber}: not valid JSON`);
      readable = false;
      return;
    }
    if (raw !== canonicalOrEmpty(value)) {
      problems.push(`${name} line ${lineNumber}: not in RFC 8785 canonical form`);
    }
    lines.push({ lineNumber, value });
  });
  return readable ? lines : undefined;
}

/**
 * Runs a digest over parsed bundle content, which can hold values canonical JSON rejects (an
 * unpaired surrogate, a number that parsed to Infinity, nesting deep enough to exhaust the stack).
 * Such content matches no recorded digest, so undefined reports it as a mismatch instead of
 * aborting the verification.
 */
function digestOrUndefined(digest: () => string): string | undefined {
  try {
    return digest();
  } catch {
    return undefined;
  }
}

function canonicalOrEmpty(value: unknown): string {
  try {
    // The value came from JSON.parse, so the one-pass serializer writes what canonicalJson would.
    return canonicalJsonValue(value);
  } catch {
    return '';
  }
}

function decodeUtf8(bytes: Uint8Array, name: string, problems: string[]): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    problems.push(`${name}: not valid UTF-8`);
    return undefined;
  }
}

/**
 * True for the record that a retention purge leaves: exactly { purged: true, purgedAt, rule }.
 * Any other shape is checked as a record, so a tombstone cannot hide extra content.
 */
function isTombstone(record: unknown): boolean {
  // Most records are not tombstones, and this test rejects them before the keys are sorted.
  if (!isObject(record) || record.purged !== true) return false;
  const keys = Object.keys(record).sort();
  return keys.join(',') === 'purged,purgedAt,rule' && record.purged === true && isIsoTime(record.purgedAt) && typeof record.rule === 'string';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHex64(value: unknown): value is string {
  return typeof value === 'string' && HEX_64.test(value);
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Accepts only a UTC time exactly as Date.prototype.toISOString writes it, which periods are compared as. */
function isIsoTime(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)) return false;
  const time = new Date(value);
  return !Number.isNaN(time.getTime()) && time.toISOString() === value;
}
