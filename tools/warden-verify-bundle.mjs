#!/usr/bin/env node
/**
 * warden-verify-bundle: checks a Warden audit export bundle (format warden.audit-export.v6, or the
 * older warden.audit-export.v5, v4, v3 and v2) with plain Node.js 18 or later and nothing else. It imports only Node's built-in modules, so a
 * regulator can read this one file, copy it and run it without installing anything:
 *
 *   node warden-verify-bundle.mjs BUNDLE_DIR
 *
 * It prints one JSON object on stdout:
 *
 *   { "ok": true | false,
 *     "problems": ["<file> line <n> field \"<field>\": <what is wrong>", ...],
 *     "checked": { "decisions": n, "purgedRecords": n, "ledgerEntries": n,
 *                  "reviewEntries": n | null (null for a v2 bundle, which has none),
 *                  "accessDenials": n | null (access.denied entries; null before v5),
 *                  "proofs": n (entries whose inclusion in the checkpoint's tree verified),
 *                  "merkleNodes": n | null (lines of merkle-nodes.jsonl; null before v4),
 *                  "checkpoint": { "origin", "treeSize", "rootHash", "keyIds" } | null,
 *                  "manifestSignature": { "keyIds" } | null } }
 *
 * Exit status: 0 when every check passed, 5 when at least one failed, 1 on a usage error (no
 * folder, or a folder that does not exist), 2 when the verifier itself failed unexpectedly.
 *
 * What it checks, from the bundle alone:
 * - manifest.json is the RFC 8785 canonical JSON of the manifest followed by one newline, its
 *   formatVersion is warden.audit-export.v6, v5, v4, v3 or v2, and manifestDigest is the
 *   SHA-256 of the canonical JSON of the manifest without that field.
 * - manifest.sig is a signed note whose body is exactly "<formatVersion> manifest\n" and
 *   "sha256 <lowercase hex SHA-256 of manifest.json>\n", with an Ed25519 signature by a key from
 *   keys.json (the ledger's checkpoint key). It covers every file through the manifest's digests.
 * - Every file the manifest lists has the recorded size and SHA-256, and the manifest lists
 *   decisions.jsonl, ledger.jsonl, checkpoint.txt, keys.json and merkle-nodes.jsonl (from v4) or
 *   proofs.jsonl (v3 and v2), not both.
 * - Every line of the JSON Lines files is the canonical JSON of its value.
 * - Each ledger entry's hash is recomputed from its own fields and prevHash: lowercase hex
 *   SHA-256 of the UTF-8 bytes of prevHash followed by the canonical JSON of
 *   {seq, type, tenant, actor, payload, createdAt}. Seqs rise from line to line with no repeats.
 *   The bundle holds only the exported decisions' entries, so consecutive lines do not link to
 *   each other. The multiproof (from v4) or the inclusion proofs tie each entry to the signed tree instead.
 * - From v3, in a bundle, every ledger entry belongs to an exported decision. It is either the
 *   decision.created entry of a line of decisions.jsonl, or a review entry (type review.*, such as
 *   review.claimed, review.voted or review.decided) of a decision in decisions.jsonl. A review
 *   entry's payload.decisionId names that decision, its tenant is the decision's, and its seq
 *   comes after the decision's entry. The review entries are counted against the manifest's
 *   counts.reviewEntries.
 * - From v5, ledger.jsonl may also carry access.denied entries: Warden's review service appends
 *   one, with payload.caseId and payload.decisionId, when its attribute rules turn a reviewer away
 *   from a decision's case. Each must name a decision in decisions.jsonl, have its tenant and come
 *   after its entry, as a review entry must. They are counted against counts.accessDenials. In a
 *   v4 or v3 bundle an access.denied line is reported as a type the format does not allow.
 * - From v6, the analyst files show each decision's review.decided entry, so such an entry must
 *   have a createdAt as Warden writes it and a non-empty string payload.finalOutcome, and a
 *   decision has at most one.
 * - Each decision id appears on one line of decisions.jsonl only.
 * - Each decision's recordDigest is the SHA-256 of the canonical JSON of its record (unless the
 *   record is a retention tombstone, exactly {purged: true, purgedAt, rule}, counted under
 *   checked.purgedRecords), its top-level fields agree with the same fields of the record, it matches the manifest's use
 *   case, tenant, outcome and period [from, to), and its ledger entry is in ledger.jsonl with the
 *   same hash, type decision.created, and a payload whose recordDigest, decisionId, outcome,
 *   modelVersion, useCase, score and requestId (those present) and whose tenant and actor match
 *   the decision. A purged record's purgedAt is not before the decision's createdAt.
 * - The leaf of a ledger entry is index seq - 1 with leaf hash SHA-256(0x00 || the 32 bytes of the
 *   entry hash) (RFC 6962 section 2.1). From v4, merkle-nodes.jsonl contains lines
 *   {"end","hash","start"} sorted by start. The tool computes the checkpoint tree's root by the
 *   RFC 6962 recursion: node(s, e) is the leaf hash when e - s = 1, otherwise
 *   SHA-256(0x01 || node(s, s+k) || node(s+k, e)) with k the largest power of two below e - s. A
 *   range with an exported leaf is computed from its halves, and a range without one is read from
 *   its line. The file must hold exactly the ranges read, each once, and the root must equal the
 *   checkpoint's. In v3 and v2 bundles, each entry has an inclusion proof in proofs.jsonl that
 *   leads to the checkpoint's root hash by the algorithm of RFC 9162 section 2.1.3.2.
 * - checkpoint.txt is a C2SP signed note (c2sp.org/tlog-checkpoint and c2sp.org/signed-note):
 *   origin, tree size, base64 root hash and a "time <ISO 8601>" line, then a blank line and
 *   signature lines. Its Ed25519 signature verifies with a key from keys.json, and its origin,
 *   tree size, root hash and key id are the ones the manifest records.
 *
 * What it cannot check:
 * - decisions.csv, decisions.parquet and summary.pdf are checked against their SHA-256 in the
 *   manifest only. This tool does not rebuild them from decisions.jsonl, so a file that was
 *   changed and re-digested in a manifest that the key holder signed again passes here. Warden's own verifier
 *   (`warden verify-bundle`) rebuilds the CSV and Parquet files and compares the bytes.
 *   Treat decisions.jsonl as the file of record.
 * - The checkpoint's public keys come from keys.json, which the same exporter wrote. A passing
 *   bundle proves only that whoever holds those keys signed the tree. Compare the key ids printed
 *   under checked.checkpoint.keyIds with the keys the bank publishes, or with a witness's copy
 *   of the checkpoint, before trusting the result.
 * - It cannot show that the export is complete, because a decision or review entry left out of the
 *   bundle leaves no trace in it. That needs data from outside the bundle, such as the bank's own
 *   counts. A v2 bundle has no review entries at all, so it shows nothing of human review, and a
 *   bundle before v5 shows nothing of reviewers who were turned away.
 * - An extra field in a decision or ledger line is reported as a problem. An extra field in the
 *   manifest or a proof line (v3 and v2) is covered by no digest or signature and is ignored. In a v2 bundle,
 *   ledger entries that no decision refers to are checked but not reported as extra. Warden's
 *   verifier behaves the same way in each case.
 * - The content of a purged record: only its digest, kept in the ledger, remains. Of a purged
 *   decision's own fields, only those its ledger entry carries are checked; score and requestId
 *   only for decisions whose entry carries them (those recorded after they were added).
 */
import * as crypto from 'node:crypto';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';

const FORMAT_VERSION = 'warden.audit-export.v6';
/**
 * The previous format, still accepted. It differs from v6 only in decisions.csv and
 * decisions.parquet, which lack the review_outcome and reviewed_at columns. This tool checks those
 * files by digest only, so it checks v5 and v6 bundles alike.
 */
const FORMAT_VERSION_V5 = 'warden.audit-export.v5';
/** The format before v5, still accepted. Its ledger.jsonl contains no access.denied entries. */
const FORMAT_VERSION_V4 = 'warden.audit-export.v4';
/** The format before v4, still accepted. It proves each entry with its own line of proofs.jsonl. */
const FORMAT_VERSION_V3 = 'warden.audit-export.v3';
/** The format before v3, still accepted. Its ledger.jsonl contains no review entries. */
const FORMAT_VERSION_V2 = 'warden.audit-export.v2';
/** The first format, without signatures or proofs; neither verifier reads it. */
const RETIRED_FORMAT_VERSION_V1 = 'warden.audit-export.v1';

const MANIFEST_FILE = 'manifest.json';
const MANIFEST_SIGNATURE_FILE = 'manifest.sig';
const DECISIONS_FILE = 'decisions.jsonl';
const LEDGER_FILE = 'ledger.jsonl';
const PROOFS_FILE = 'proofs.jsonl';
const MERKLE_NODES_FILE = 'merkle-nodes.jsonl';
const CHECKPOINT_FILE = 'checkpoint.txt';
const KEYS_FILE = 'keys.json';
const CSV_FILE = 'decisions.csv';
const PARQUET_FILE = 'decisions.parquet';
const SUMMARY_FILE = 'summary.pdf';

/** Files a manifest may list. manifest.json itself is never listed. */
const LISTABLE_FILES = [DECISIONS_FILE, LEDGER_FILE, MERKLE_NODES_FILE, PROOFS_FILE, CHECKPOINT_FILE, KEYS_FILE, CSV_FILE, PARQUET_FILE, SUMMARY_FILE];

/** Returns the file that proves the entries in the tree: merkle-nodes.jsonl from v4, proofs.jsonl before. */
function proofFileOf(formatVersion) {
  return formatVersion === FORMAT_VERSION_V3 || formatVersion === FORMAT_VERSION_V2 ? PROOFS_FILE : MERKLE_NODES_FILE;
}

/** Returns whether the format is v5 or later, whose ledger.jsonl may carry access.denied entries counted in counts.accessDenials. */
function carriesAccessDenials(formatVersion) {
  return formatVersion === FORMAT_VERSION || formatVersion === FORMAT_VERSION_V5;
}

function requiredFiles(formatVersion) {
  return [DECISIONS_FILE, LEDGER_FILE, proofFileOf(formatVersion), CHECKPOINT_FILE, KEYS_FILE];
}

const OUTCOMES = ['APPROVE', 'DECLINE', 'REFER', 'ANSWERED'];
const DECISION_CREATED_TYPE = 'decision.created';
/** Prefix of the ledger types that Warden's review service appends, such as review.decided. */
const REVIEW_ENTRY_TYPE_PREFIX = 'review.';
/** Ledger type of the review entry with the reviewer's final outcome, which fills the v6 analyst files' review columns. */
const REVIEW_DECIDED_TYPE = 'review.decided';
/** Ledger type of a denied request. From v5 a bundle carries those that name an exported decision. */
const ACCESS_DENIED_TYPE = 'access.denied';

/** Top-level fields of a decision line that repeat a field of its record when the record has it. */
const RECORD_MIRRORED_FIELDS = ['id', 'tenant', 'useCase', 'requestId', 'actor', 'outcome', 'score', 'modelVersion', 'createdAt'];

/** Ledger entry fields that the chain hash covers besides prevHash, in any order (the JSON is canonical). */
const LEDGER_HASHED_FIELDS = ['seq', 'type', 'tenant', 'actor', 'payload', 'createdAt'];

const EXIT_OK = 0;
const EXIT_USAGE = 1;
const EXIT_INTERNAL = 2;
const EXIT_FAILED = 5;

const HEX_64 = /^[0-9a-f]{64}$/;

// Signed-note and checkpoint constants (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).
const ED25519_ALGORITHM = 0x01;
const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const KEY_HASH_BYTES = 4;
const SIGNATURE_PREFIX = '\u2014 ';
const TIME_EXTENSION_PREFIX = 'time ';
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 100;
const MAX_ORIGIN_LENGTH = 255;
/** An origin or key name: no whitespace, no "+", no control characters. */
const NAME_PATTERN = /^[^\s+\p{Cc}]+$/u;
const DECIMAL_PATTERN = /^(0|[1-9]\d*)$/;
const ISO_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const USAGE = `Usage: node warden-verify-bundle.mjs BUNDLE_DIR

Checks a Warden audit export bundle (${FORMAT_VERSION}, ${FORMAT_VERSION_V5}, ${FORMAT_VERSION_V4}, ${FORMAT_VERSION_V3} or ${FORMAT_VERSION_V2}) and prints a JSON report.
Exit status: 0 verified, 5 a check failed, 1 usage error, 2 internal error.
`;

// ---- command line ----

function main(args) {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (args.length !== 1 || args[0] === '') {
    process.stderr.write(`warden-verify-bundle: expected exactly one argument, the bundle folder, got ${args.length}.\n\n${USAGE}`);
    return EXIT_USAGE;
  }

  const dir = resolve(args[0]);
  let stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    const reason = error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code ?? error.message})`;
    process.stderr.write(`warden-verify-bundle: the bundle folder ${dir} ${reason}. Pass the folder that contains manifest.json.\n`);
    return EXIT_USAGE;
  }
  if (!stats.isDirectory()) {
    process.stderr.write(`warden-verify-bundle: ${dir} is not a folder. Pass the folder that contains manifest.json, not a file.\n`);
    return EXIT_USAGE;
  }

  const report = newReport();
  const files = readBundleFiles(dir, report);
  verifyBundleFiles(files, report);
  const ok = report.problems.length === 0;
  process.stdout.write(`${JSON.stringify({ ok, problems: report.problems, checked: report.checked }, null, 2)}\n`);
  return ok ? EXIT_OK : EXIT_FAILED;
}

function newReport() {
  return {
    problems: [],
    checked: { decisions: 0, purgedRecords: 0, ledgerEntries: 0, reviewEntries: null, accessDenials: null, proofs: 0, merkleNodes: null, checkpoint: null, manifestSignature: null },
  };
}

/** Reads every file a bundle can contain. A missing file is absent from the map. */
function readBundleFiles(dir, report) {
  const files = new Map();
  for (const name of [MANIFEST_FILE, MANIFEST_SIGNATURE_FILE, ...LISTABLE_FILES]) {
    try {
      files.set(name, readFileSync(join(dir, name)));
    } catch (error) {
      // An unreadable file is a problem of its own. A missing one is reported by the manifest checks.
      if (error.code !== 'ENOENT') report.problems.push(`${name}: cannot be read (${error.code ?? error.message})`);
    }
  }
  return files;
}

/**
 * Runs every check on the bundle's bytes and adds one sentence per problem to the report. Keeps
 * going after a problem so that one run lists as many as it can, in the order Warden's own
 * verifier lists them.
 */
function verifyBundleFiles(files, report) {
  const manifest = checkManifest(files.get(MANIFEST_FILE), report);
  if (!manifest) return;

  for (const name of Object.keys(manifest.files).sort()) {
    checkFileDigest(name, files.get(name), manifest.files[name], report);
  }

  const keys = parseKeys(files.get(KEYS_FILE), report);
  if (keys) checkManifestSignature(files, keys, manifest, report);

  const entries = parseLedger(files.get(LEDGER_FILE), report);
  if (entries) checkLedgerEntries(entries, manifest, report);
  checkEvidence(files, keys, entries, manifest, report);

  const decisions = parseDecisions(files.get(DECISIONS_FILE), report);
  if (decisions) checkDecisions(decisions, entries, manifest, report);
  if (decisions && entries && manifest.formatVersion !== FORMAT_VERSION_V2) checkEntryDecisions(entries, decisions, manifest, report);
}

// ---- RFC 8785 canonical JSON and SHA-256 ----

/**
 * Serializes a value parsed by JSON.parse by RFC 8785 (JSON Canonicalization Scheme). Throws a
 * TypeError for values JSON cannot carry and for strings with a lone surrogate, which RFC 8785
 * section 3.2.2.2 excludes. Walks containers with an explicit stack instead of recursion, because
 * JSON.parse accepts nesting far deeper than the call stack allows.
 */
function canonicalJson(root) {
  let text = '';
  const stack = [];
  const enter = (value) => {
    if (value === null || typeof value !== 'object') {
      text += canonicalPrimitive(value);
    } else if (Array.isArray(value)) {
      text += '[';
      stack.push({ container: value, keys: null, index: 0 });
    } else {
      text += '{';
      // Array.prototype.sort without a comparator orders strings by UTF-16 code units, the order
      // RFC 8785 section 3.2.3 requires (not by code points and not by locale). Keys that are
      // in that order already, as in every line Warden writes, are not sorted again.
      stack.push({ container: value, keys: sortedKeys(value), index: 0 });
    }
  };

  enter(root);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    const { container, keys } = frame;
    const size = keys === null ? container.length : keys.length;
    if (frame.index === size) {
      text += keys === null ? ']' : '}';
      stack.pop();
      continue;
    }
    if (frame.index > 0) text += ',';
    let child;
    if (keys === null) {
      child = container[frame.index];
    } else {
      const key = keys[frame.index];
      text += `${canonicalString(key)}:`;
      child = container[key];
    }
    frame.index += 1;
    enter(child);
  }
  return text;
}

function sortedKeys(object) {
  const keys = Object.keys(object);
  for (let index = 1; index < keys.length; index += 1) {
    if (keys[index - 1] > keys[index]) return keys.sort();
  }
  return keys;
}

function canonicalPrimitive(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} cannot be represented in JSON`);
      // RFC 8785 section 3.2.2.3 adopts ECMAScript's Number::toString, which String() applies:
      // -0 gives "0", 1e21 gives "1e+21", 1e-7 gives "1e-7", 0.000001 gives "0.000001", and the
      // digits are the shortest that read back as the same double.
      return String(value);
    case 'string':
      return canonicalString(value);
    default:
      throw new TypeError(`a value of type ${typeof value} cannot be represented in JSON`);
  }
}

/** Printable ASCII other than " and \, which JSON.stringify writes between quotes unchanged. */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function canonicalString(text) {
  if (PLAIN_ASCII.test(text)) return `"${text}"`;
  if (hasLoneSurrogate(text)) throw new TypeError('a string contains a lone UTF-16 surrogate');
  // JSON.stringify (ES2019 and later) escapes exactly as RFC 8785 section 3.2.2.2 requires:
  // \" and \\, the short forms \b \t \n \f \r, every other code unit below U+0020 as \u00XX in
  // lowercase hex, and every other character, including "/" and U+007F, written as itself.
  return JSON.stringify(text);
}

function hasLoneSurrogate(text) {
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit >= 0xdc00 && unit <= 0xdfff) return true;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      index += 1;
    }
  }
  return false;
}

/** Returns the canonical JSON of a value, or undefined when it has none. */
function canonicalOrUndefined(value) {
  try {
    return canonicalJson(value);
  } catch {
    return undefined;
  }
}

// crypto.hash, the one-shot digest of Node.js 20.12 and 21.7 and later, took less than half the
// time of createHash on 300-byte inputs (Node.js 24). Older Node.js versions take createHash.
const oneShotHash = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** Lowercase hex SHA-256 of bytes, or of a string's UTF-8 bytes. */
function sha256Hex(data) {
  if (oneShotHash !== undefined) return oneShotHash('sha256', data, 'hex');
  return createHash('sha256').update(data).digest('hex');
}

function sha256Bytes(...parts) {
  if (oneShotHash !== undefined) {
    // A 'binary' (latin1) string result read back as bytes is faster than the 'buffer' result.
    return Buffer.from(oneShotHash('sha256', parts.length === 1 ? parts[0] : Buffer.concat(parts), 'binary'), 'binary');
  }
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

// ---- manifest.json ----

function checkManifest(bytes, report) {
  const { problems } = report;
  if (!bytes) {
    problems.push(`${MANIFEST_FILE}: missing; a bundle without a manifest is incomplete`);
    return undefined;
  }
  const text = decodeUtf8(bytes, MANIFEST_FILE, report);
  if (text === undefined) return undefined;

  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch {
    problems.push(`${MANIFEST_FILE}: not valid JSON`);
    return undefined;
  }
  const shapeProblems = manifestShapeProblems(manifest);
  if (shapeProblems.length > 0) {
    problems.push(...shapeProblems.map((problem) => `${MANIFEST_FILE}: ${problem}`));
    return undefined;
  }

  if (text !== `${canonicalOrUndefined(manifest)}\n`) {
    problems.push(`${MANIFEST_FILE}: bytes are not the RFC 8785 canonical JSON followed by one newline`);
  }
  const unsigned = Object.fromEntries(Object.entries(manifest).filter(([key]) => key !== 'manifestDigest'));
  const unsignedJson = canonicalOrUndefined(unsigned);
  const digest = unsignedJson === undefined ? 'none (the manifest has no canonical JSON)' : sha256Hex(unsignedJson);
  if (digest !== manifest.manifestDigest) {
    problems.push(`${MANIFEST_FILE} field "manifestDigest": expected ${digest}, found ${manifest.manifestDigest}`);
  }
  return manifest;
}

/** Lists what is wrong with the manifest's fields; the other checks rely on every one of them. */
function manifestShapeProblems(value) {
  if (!isObject(value)) return ['must be a JSON object'];
  // The first format had no signature and no proofs, so it gets one problem that names the format
  // instead of one per field that it lacks.
  if (value.formatVersion === RETIRED_FORMAT_VERSION_V1) {
    return [
      `field "formatVersion" is "${RETIRED_FORMAT_VERSION_V1}", a format without signatures or proofs that this verifier does not read. ` +
        'Export the same period again with Warden (warden export) to get a bundle that verifies.',
    ];
  }
  const problems = [];
  const expect = (ok, field, rule) => {
    if (!ok) problems.push(`field "${field}" ${rule}`);
  };

  const v2 = value.formatVersion === FORMAT_VERSION_V2;
  expect(
    [FORMAT_VERSION, FORMAT_VERSION_V5, FORMAT_VERSION_V4, FORMAT_VERSION_V3, FORMAT_VERSION_V2].includes(value.formatVersion),
    'formatVersion',
    `must be "${FORMAT_VERSION}", "${FORMAT_VERSION_V5}", "${FORMAT_VERSION_V4}", "${FORMAT_VERSION_V3}" or "${FORMAT_VERSION_V2}"`,
  );
  expect(typeof value.wardenVersion === 'string', 'wardenVersion', 'must be a string');
  expect(typeof value.useCase === 'string', 'useCase', 'must be a string');
  expect(value.tenant === null || typeof value.tenant === 'string', 'tenant', 'must be a string or null');
  expect(typeof value.createdAt === 'string', 'createdAt', 'must be a string');
  expect(isHex64(value.manifestDigest), 'manifestDigest', 'must be 64 lowercase hex characters');

  const { period, counts, files, ledger, checkpoint } = value;
  expect(isObject(period) && isExactIsoTime(period.from) && isExactIsoTime(period.to), 'period', 'must contain from and to as UTC ISO 8601 times with milliseconds, such as 2026-01-01T00:00:00.000Z');
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
  expect(value.outcome === null || OUTCOMES.includes(value.outcome), 'outcome', 'must be APPROVE, DECLINE, REFER, ANSWERED or null');

  for (const name of requiredFiles(value.formatVersion)) {
    expect(isObject(files) && Object.hasOwn(files, name), `files.${name}`, 'must be listed');
  }
  // A bundle has merkle-nodes.jsonl or proofs.jsonl, as its format version requires, never both.
  const otherProofFile = proofFileOf(value.formatVersion) === PROOFS_FILE ? MERKLE_NODES_FILE : PROOFS_FILE;
  for (const [name, file] of Object.entries(isObject(files) ? files : {})) {
    expect(LISTABLE_FILES.includes(name) && name !== otherProofFile, `files.${name}`, 'is not a file a Warden bundle contains');
    expect(isObject(file) && isCount(file.bytes) && isHex64(file.sha256), `files.${name}`, 'must contain bytes and sha256');
  }

  if (!isObject(ledger)) {
    expect(false, 'ledger', 'must be an object');
    return problems;
  }
  const { head } = ledger;
  expect(isObject(head) && isCount(head.seq) && isHex64(head.hash), 'ledger.head', 'must contain seq and hash');
  expect(typeof ledger.hashDefinition === 'string', 'ledger.hashDefinition', 'must be a string');
  expect(typeof ledger.merkleLeafDefinition === 'string', 'ledger.merkleLeafDefinition', 'must be a string');
  const empty = ledger.firstSeq === null && ledger.lastSeq === null;
  const filled = isSeq(ledger.firstSeq) && isSeq(ledger.lastSeq) && ledger.firstSeq <= ledger.lastSeq;
  expect(empty || filled, 'ledger', 'must contain firstSeq <= lastSeq, or null for both when there are no decisions');

  expect(
    isObject(checkpoint) &&
      typeof checkpoint.origin === 'string' &&
      isCount(checkpoint.treeSize) &&
      isHex64(checkpoint.rootHash) &&
      typeof checkpoint.keyId === 'string',
    'checkpoint',
    'must contain origin, treeSize, rootHash and keyId',
  );
  return problems;
}

function checkFileDigest(name, bytes, expected, report) {
  const { problems } = report;
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

// ---- ledger.jsonl ----

function parseLedger(bytes, report) {
  const lines = parseJsonLines(LEDGER_FILE, bytes, report);
  if (!lines) return undefined;

  let valid = true;
  for (const { lineNumber, value } of lines) {
    const shape = ledgerEntryShapeProblems(value);
    for (const problem of shape) report.problems.push(`${LEDGER_FILE} line ${lineNumber} ${problem}`);
    if (shape.length > 0) valid = false;
  }
  return valid ? lines.map((line) => line.value) : undefined;
}

/** Fields of a ledger.jsonl line. Anything else was added after export, so it is reported rather than ignored. */
const LEDGER_LINE_FIELDS = new Set(['seq', 'type', 'tenant', 'actor', 'createdAt', 'payload', 'prevHash', 'hash']);

/** Fields of a decisions.jsonl line. */
const DECISION_LINE_FIELDS = new Set([
  'id', 'tenant', 'useCase', 'requestId', 'actor', 'outcome', 'score', 'modelVersion',
  'createdAt', 'ledgerSeq', 'ledgerHash', 'recordDigest', 'record', 'personalData',
]);

/** Names each field of `value` outside `allowed`: the verifier checks every byte it is given. */
function unknownFieldProblems(value, allowed) {
  return Object.keys(value)
    .filter((field) => !allowed.has(field))
    .map((field) => `field "${field.slice(0, 64)}" is not part of the bundle format; remove it, or export the bundle again`);
}

function ledgerEntryShapeProblems(value) {
  if (!isObject(value)) return ['must be a JSON object'];
  const problems = [];
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
 * Recomputes the chain hash of one entry: lowercase hex SHA-256 of the UTF-8 bytes of prevHash
 * (64 hex characters, 64 zeros for seq 1) followed directly by the canonical JSON of the six
 * hashed fields. Other fields of the line are not hashed. Returns undefined when the fields have
 * no canonical JSON, which no entry that Warden appended can have.
 */
function computeEntryHash(entry) {
  const hashed = Object.fromEntries(LEDGER_HASHED_FIELDS.map((field) => [field, entry[field]]));
  const json = canonicalOrUndefined(hashed);
  return json === undefined ? undefined : sha256Hex(entry.prevHash + json);
}

/**
 * Checks the decisions' ledger entries: each hash against the entry's fields and prevHash, rising
 * seqs, and the manifest's count, seq range, head and checkpoint size.
 */
function checkLedgerEntries(entries, manifest, report) {
  const { problems } = report;
  const { firstSeq, lastSeq, head } = manifest.ledger;
  report.checked.ledgerEntries = entries.length;

  if (entries.length !== manifest.counts.ledgerEntries) {
    problems.push(`${LEDGER_FILE}: contains ${entries.length} entries but ${MANIFEST_FILE} counts.ledgerEntries is ${manifest.counts.ledgerEntries}`);
  }
  let previousSeq = 0;
  const lineOfSeq = new Map();
  entries.forEach((entry, index) => {
    if (computeEntryHash(entry) !== entry.hash) {
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
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (first?.seq !== firstSeq) {
    problems.push(`${LEDGER_FILE} line 1 field "seq": expected ${firstSeq} from ${MANIFEST_FILE} ledger.firstSeq, found ${first?.seq ?? 'no entry'}`);
  }
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
 * Verifies the checkpoint's signature with the bundle's keys, that it states the tree the
 * manifest names, and that the ledger entries are in that tree: by the multiproof from format v4,
 * by one inclusion proof per entry before.
 */
function checkEvidence(files, keys, entries, manifest, report) {
  const { problems } = report;
  const noteBytes = files.get(CHECKPOINT_FILE);
  if (!noteBytes) return;
  const note = decodeUtf8(noteBytes, CHECKPOINT_FILE, report);
  if (note === undefined || !keys) return;

  const verification = verifyCheckpointNote(note, keys);
  if (verification.checkpoint) {
    const { origin, treeSize, rootHash } = verification.checkpoint;
    report.checked.checkpoint = { origin, treeSize, rootHash, keyIds: verification.keyIds };
  }
  if (!verification.ok) {
    problems.push(`${CHECKPOINT_FILE}: ${verification.reason}`);
  } else {
    const { checkpoint, keyIds } = verification;
    const expected = manifest.checkpoint;
    if (checkpoint.origin !== expected.origin) problems.push(`${CHECKPOINT_FILE}: origin "${checkpoint.origin}" differs from ${MANIFEST_FILE} checkpoint.origin`);
    if (checkpoint.treeSize !== expected.treeSize) {
      problems.push(`${CHECKPOINT_FILE}: tree size ${checkpoint.treeSize} differs from ${MANIFEST_FILE} checkpoint.treeSize ${expected.treeSize}`);
    }
    if (checkpoint.rootHash !== expected.rootHash) problems.push(`${CHECKPOINT_FILE}: root hash differs from ${MANIFEST_FILE} checkpoint.rootHash`);
    if (!keyIds.includes(expected.keyId)) problems.push(`${CHECKPOINT_FILE}: not signed by ${MANIFEST_FILE} checkpoint.keyId ${expected.keyId}`);
  }

  if (proofFileOf(manifest.formatVersion) === MERKLE_NODES_FILE) {
    const lines = parseJsonLines(MERKLE_NODES_FILE, files.get(MERKLE_NODES_FILE), report);
    if (lines) checkMultiproof(lines, entries, manifest, report);
    return;
  }
  const proofs = parseJsonLines(PROOFS_FILE, files.get(PROOFS_FILE), report);
  if (!proofs || !entries) return;
  if (proofs.length !== entries.length) {
    problems.push(`${PROOFS_FILE}: contains ${proofs.length} proofs but ${LEDGER_FILE} contains ${entries.length} entries`);
    return;
  }
  proofs.forEach(({ lineNumber, value }, index) => checkProof(lineNumber, value, entries[index], manifest, report));
  report.checked.proofs = proofs.length;
}

/**
 * Checks manifest.sig: a signed note whose body is exactly
 * "<formatVersion> manifest\nsha256 <hex SHA-256 of manifest.json>\n", signed by a key from
 * keys.json. The manifest lists every other file's SHA-256, so this signature covers them all.
 */
function checkManifestSignature(files, keys, manifest, report) {
  const signatureBytes = files.get(MANIFEST_SIGNATURE_FILE);
  if (!signatureBytes) {
    report.problems.push(`${MANIFEST_SIGNATURE_FILE}: missing; without it nothing shows that the manifest came from the ledger's key holder`);
    return;
  }
  const text = decodeUtf8(signatureBytes, MANIFEST_SIGNATURE_FILE, report);
  const manifestBytes = files.get(MANIFEST_FILE);
  if (text === undefined || !manifestBytes) return;

  const split = splitNote(text);
  if (split.error) {
    report.problems.push(`${MANIFEST_SIGNATURE_FILE}: ${split.error}`);
    return;
  }
  const verification = verifyNoteSignatures(split.body, split.signatures, keys, 'note body');
  if (!verification.ok) {
    report.problems.push(`${MANIFEST_SIGNATURE_FILE}: ${verification.reason}`);
    return;
  }
  if (split.body !== `${manifest.formatVersion} manifest\nsha256 ${sha256Hex(manifestBytes)}\n`) {
    report.problems.push(`${MANIFEST_SIGNATURE_FILE}: the signed statement is not the SHA-256 of this manifest.json; the manifest was changed after signing`);
    return;
  }
  report.checked.manifestSignature = { keyIds: verification.keyIds };
}

/** Reads keys.json: the canonical JSON of an array of {keyId, keyName, vkey, createdAt, retiredAt}. */
function parseKeys(bytes, report) {
  const { problems } = report;
  if (!bytes) return undefined;
  const text = decodeUtf8(bytes, KEYS_FILE, report);
  if (text === undefined) return undefined;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push(`${KEYS_FILE}: not valid JSON`);
    return undefined;
  }
  if (!Array.isArray(value) || text !== `${canonicalOrUndefined(value)}\n`) {
    problems.push(`${KEYS_FILE}: must be the RFC 8785 canonical JSON of an array of keys followed by one newline`);
    return undefined;
  }

  const keys = [];
  value.forEach((item, index) => {
    const key = parseVerifierKey(String(isObject(item) ? item.vkey : undefined));
    if (key) keys.push(key);
    else problems.push(`${KEYS_FILE} item ${index + 1} field "vkey": not a valid verifier key`);
  });
  return keys;
}

/**
 * Decodes a verifier key string `<key name>+<key hash as 8 hex>+<base64(0x01 || 32-byte Ed25519
 * public key)>`, checking that the key hash belongs to the name and key. Returns undefined for
 * anything else.
 */
function parseVerifierKey(vkey) {
  // Only the first two "+" separate fields, because base64 itself contains "+".
  const match = /^([^+]*)\+([0-9a-f]{8})\+(.*)$/s.exec(vkey);
  if (!match) return undefined;
  const [, keyName, keyHash, encoded] = match;
  if (!NAME_PATTERN.test(keyName)) return undefined;
  const bytes = decodeCanonicalBase64(encoded);
  if (!bytes || bytes.length !== 1 + ED25519_PUBLIC_KEY_BYTES || bytes[0] !== ED25519_ALGORITHM) return undefined;
  const publicKey = bytes.subarray(1);
  if (computeKeyHash(keyName, publicKey).toString('hex') !== keyHash) return undefined;
  return { keyName, publicKey };
}

/**
 * Computes the signed-note key hash: the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte
 * public key), where 0x01 is the signed-note algorithm byte of Ed25519.
 */
function computeKeyHash(keyName, publicKey) {
  return sha256Bytes(Buffer.from(`${keyName}\n`, 'utf8'), Buffer.from([ED25519_ALGORITHM]), publicKey).subarray(0, KEY_HASH_BYTES);
}

/**
 * Verifies a checkpoint note with the bundle's keys by the signed-note rule: the note passes when
 * at least one signature is from a known key and every signature from a known key verifies.
 * Signatures of unknown keys, such as a witness's cosignature, are skipped. Returns the parsed
 * checkpoint whenever the note parses, so the report can show it even when a signature fails.
 */
function verifyCheckpointNote(note, keys) {
  const parsed = parseCheckpointNote(note);
  if (parsed.error) return { ok: false, reason: parsed.error };
  const { checkpoint } = parsed;
  const verification = verifyNoteSignatures(checkpoint.body, checkpoint.signatures, keys, 'checkpoint body');
  return { ...verification, checkpoint };
}

/**
 * Applies the signed-note rule to a note's signatures: at least one is from a known key and every
 * one from a known key verifies over the body's exact UTF-8 bytes. Returns { ok, keyIds, reason }.
 */
function verifyNoteSignatures(body, signatures, keys, bodyName) {
  const keysById = new Map();
  for (const key of keys) {
    const id = `${key.keyName}+${computeKeyHash(key.keyName, key.publicKey).toString('hex')}`;
    keysById.set(id, [...(keysById.get(id) ?? []), toPublicKeyObject(key.publicKey)]);
  }

  const message = Buffer.from(body, 'utf8');
  const keyIds = [];
  for (const signature of signatures) {
    const id = `${signature.keyName}+${signature.keyHash}`;
    const candidates = keysById.get(id);
    if (!candidates) continue;
    // Two keys may share a 4-byte key hash, so any candidate with a valid signature counts.
    if (!candidates.some((publicKey) => verify(null, message, publicKey, signature.signature))) {
      return { ok: false, keyIds, reason: `the signature of key ${id} does not match the ${bodyName}` };
    }
    keyIds.push(id);
  }
  if (keyIds.length === 0) {
    const named = signatures.map((signature) => `${signature.keyName}+${signature.keyHash}`).join(', ');
    return { ok: false, keyIds, reason: `no signature is from a known key (signed by ${named})` };
  }
  return { ok: true, keyIds };
}

function toPublicKeyObject(publicKey) {
  // Imports the raw key through a JWK, which createPublicKey accepts since Node 15.12, so this runs on Node 18.
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
}

/**
 * Parses a checkpoint note as Warden writes it:
 *
 *   <origin>\n<tree size>\n<base64 root hash>\ntime <ISO 8601 UTC with ms>\n\n— <key name> <base64 signature>\n
 *
 * Returns { checkpoint } or { error } naming the first malformed part.
 */
function parseCheckpointNote(note) {
  const split = splitNote(note);
  if (split.error) return split;
  const fields = parseCheckpointBody(split.body);
  if (fields.error) return fields;
  return { checkpoint: { ...fields, body: split.body, signatures: split.signatures } };
}

/**
 * Splits a signed note into its body (every line before the last blank line, each with "\n") and
 * its parsed signature lines. Returns { body, signatures } or { error } naming the first malformed part.
 */
function splitNote(note) {
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) return { error: `must be at most ${MAX_NOTE_BYTES} bytes` };
  if (!note.endsWith('\n')) return { error: 'must end with a newline' };

  // A note body has no blank line, so the last blank line starts the signatures.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return { error: 'must have a blank line between the body and the signatures' };
  const body = note.slice(0, split + 1);
  const signatureLines = note.slice(split + 2, -1).split('\n');
  if (signatureLines.length > MAX_SIGNATURES) return { error: `must have at most ${MAX_SIGNATURES} signature lines` };
  const signatures = [];
  for (const [index, line] of signatureLines.entries()) {
    const signature = parseSignatureLine(line, index + 1);
    if (signature.error) return signature;
    signatures.push(signature);
  }
  return { body, signatures };
}

function parseCheckpointBody(body) {
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 4) return { error: 'the checkpoint body must have an origin, tree size, root hash and time line' };
  const [origin, size, root, ...extensionLines] = lines;

  if (!NAME_PATTERN.test(origin) || origin.length > MAX_ORIGIN_LENGTH) {
    return { error: 'line 1 must be the origin, without whitespace or "+"' };
  }
  if (!DECIMAL_PATTERN.test(size) || !Number.isSafeInteger(Number(size))) {
    return { error: 'line 2 must be the tree size in decimal without leading zeros' };
  }
  const rootBytes = decodeCanonicalBase64(root);
  if (!rootBytes || rootBytes.length !== 32) return { error: 'line 3 must be the 32-byte root hash in standard base64' };

  // C2SP lets a log add non-empty extension lines after the root. Warden writes exactly one,
  // "time <ISO 8601 UTC time with milliseconds>", and it is signed with the rest of the body.
  let time;
  for (const [index, line] of extensionLines.entries()) {
    if (line === '' || /\p{Cc}/u.test(line)) return { error: `line ${index + 4} must be a non-empty extension line without control characters` };
    if (!line.startsWith(TIME_EXTENSION_PREFIX)) continue;
    const value = line.slice(TIME_EXTENSION_PREFIX.length);
    if (time !== undefined || !isExactIsoTime(value)) return { error: `line ${index + 4} must be the only time line, with a UTC ISO 8601 time` };
    time = value;
  }
  if (time === undefined) return { error: 'the checkpoint body must have a "time <ISO 8601 time>" extension line' };

  return { origin, treeSize: Number(size), rootHash: rootBytes.toString('hex'), time };
}

/** Reads "— <key name> <base64 of 4-byte key hash || 64-byte Ed25519 signature>". */
function parseSignatureLine(line, lineNumber) {
  if (!line.startsWith(SIGNATURE_PREFIX)) return { error: `signature line ${lineNumber} must start with "${SIGNATURE_PREFIX}"` };
  const parts = line.slice(SIGNATURE_PREFIX.length).split(' ');
  if (parts.length !== 2 || !NAME_PATTERN.test(parts[0])) {
    return { error: `signature line ${lineNumber} must be "${SIGNATURE_PREFIX}<key name> <base64 signature>"` };
  }
  const bytes = decodeCanonicalBase64(parts[1]);
  if (!bytes || bytes.length !== KEY_HASH_BYTES + ED25519_SIGNATURE_BYTES) {
    return { error: `signature line ${lineNumber} must carry base64 of a 4-byte key hash and a 64-byte Ed25519 signature` };
  }
  return {
    keyName: parts[0],
    keyHash: bytes.subarray(0, KEY_HASH_BYTES).toString('hex'),
    signature: bytes.subarray(KEY_HASH_BYTES),
  };
}

// ---- merkle-nodes.jsonl (from format v4) ----

/**
 * Checks the multiproof: every line is a well-formed range, the lines are sorted by start without
 * repeats, and the root computed from the ledger entries' leaf hashes and these ranges is the
 * checkpoint's. The file must hold exactly the ranges the computation reads. With no ledger
 * entries the file must be empty. Without a readable ledger.jsonl only the lines are checked.
 */
function checkMultiproof(lines, entries, manifest, report) {
  const { problems } = report;
  report.checked.merkleNodes = lines.length;
  const nodes = parseMerkleNodeLines(lines, report);
  if (!entries) return;

  const { treeSize, rootHash } = manifest.checkpoint;
  const leaves = provenLeaves(entries);
  const outside = leaves[leaves.length - 1];
  if (outside && outside.index >= treeSize) {
    problems.push(
      `${MERKLE_NODES_FILE}: the root cannot be computed, because seq ${outside.index + 1} of ${LEDGER_FILE} is outside the checkpoint's tree of size ${treeSize}`,
    );
    return;
  }

  const byRange = new Map(nodes.map((node) => [`${node.start}-${node.end}`, node]));
  const read = new Set();
  const missing = [];
  // node(start, end) for the leaves[first..last) that lie in [start, end). Recursion depth is at most 54.
  const computeNode = (start, end, first, last) => {
    if (first === last) {
      const node = byRange.get(`${start}-${end}`);
      if (!node) {
        missing.push([start, end]);
        return undefined;
      }
      read.add(node);
      return node.hash;
    }
    if (end - start === 1) return leaves[first].hash;
    const split = start + largestPowerOfTwoBelow(end - start);
    const middle = firstLeafFrom(leaves, split, first, last);
    const left = computeNode(start, split, first, middle);
    const right = computeNode(split, end, middle, last);
    return left && right ? hashChildren(left, right) : undefined;
  };
  const root = leaves.length > 0 ? computeNode(0, treeSize, 0, leaves.length) : undefined;
  for (const [start, end] of missing) {
    problems.push(`${MERKLE_NODES_FILE}: no line gives the range [${start}, ${end}), which the root computation needs`);
  }

  for (const node of nodes) {
    if (read.has(node)) continue;
    const position = firstLeafFrom(leaves, node.start, 0, leaves.length);
    const contained = position < leaves.length && leaves[position].index < node.end ? leaves[position] : undefined;
    const reason = contained
      ? `, which contains the leaf of seq ${contained.index + 1} of ${LEDGER_FILE}`
      : node.end > treeSize
        ? `, which ends after the checkpoint's tree size ${treeSize}`
        : '';
    problems.push(`${MERKLE_NODES_FILE} line ${node.lineNumber} (range [${node.start}, ${node.end})): the root computation does not read this range${reason}`);
  }
  if (root && root.toString('hex') !== rootHash) {
    problems.push(`${MERKLE_NODES_FILE}: the root computed from ${LEDGER_FILE} and ${MERKLE_NODES_FILE} differs from ${MANIFEST_FILE} checkpoint.rootHash`);
  } else if (root) {
    report.checked.proofs = leaves.length;
  }
}

/** Fields of a merkle-nodes.jsonl line. */
const MERKLE_NODE_LINE_FIELDS = new Set(['start', 'end', 'hash']);

/**
 * Returns the well-formed lines of merkle-nodes.jsonl as { lineNumber, start, end, hash }, the
 * first of any repeated range, and reports malformed, repeated and unsorted lines. An unsorted
 * line is still used.
 */
function parseMerkleNodeLines(lines, report) {
  const { problems } = report;
  const nodes = [];
  const lineOfRange = new Map();
  let previousStart;
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

    const key = `${start}-${end}`;
    const firstLine = lineOfRange.get(key);
    if (firstLine !== undefined) {
      problems.push(`${atRange}: repeats line ${firstLine}`);
    } else if (previousStart !== undefined && start <= previousStart) {
      problems.push(`${atRange}: start ${start} is not after the previous line's start ${previousStart}; lines must be sorted by start`);
    }
    previousStart = start;
    if (firstLine !== undefined) continue;
    lineOfRange.set(key, lineNumber);
    nodes.push({ lineNumber, start, end, hash: Buffer.from(value.hash, 'hex') });
  }
  return nodes;
}

/** Returns { index, hash } of the ledger entries' leaves, one per seq, by ascending index. */
function provenLeaves(entries) {
  const bySeq = new Map();
  for (const entry of entries) if (!bySeq.has(entry.seq)) bySeq.set(entry.seq, entry.hash);
  return [...bySeq]
    .sort(([a], [b]) => a - b)
    .map(([seq, hash]) => ({ index: seq - 1, hash: sha256Bytes(Buffer.from([0x00]), Buffer.from(hash, 'hex')) }));
}

/** Returns the first position in [first, last) of the leaves, sorted by index, whose index is >= target. */
function firstLeafFrom(leaves, target, first, last) {
  let low = first;
  let high = last;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (leaves[middle].index < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Returns the largest power of two strictly below n, for n >= 2. */
function largestPowerOfTwoBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Shows a JSON value in a message, cut to 32 characters. */
function describeValue(value) {
  return value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value)).slice(0, 32);
}

/** Checks one line of proofs.jsonl against its ledger entry and the checkpoint's tree. */
function checkProof(lineNumber, value, entry, manifest, report) {
  const { problems } = report;
  const at = `${PROOFS_FILE} line ${lineNumber}`;
  if (!isObject(value) || !Array.isArray(value.proof)) {
    problems.push(`${at}: must be an inclusion proof object`);
    return;
  }
  if (value.seq !== entry.seq) problems.push(`${at} field "seq": ${String(value.seq)} is not the seq ${entry.seq} of ${LEDGER_FILE} line ${lineNumber}`);
  if (value.leafIndex !== entry.seq - 1) problems.push(`${at} field "leafIndex": must be seq - 1 = ${entry.seq - 1}`);
  if (value.treeSize !== manifest.checkpoint.treeSize) problems.push(`${at} field "treeSize": differs from the checkpoint's tree size`);
  if (value.rootHash !== manifest.checkpoint.rootHash) problems.push(`${at} field "rootHash": differs from the checkpoint's root hash`);

  // RFC 6962 section 2.1: the leaf data is the 32 raw bytes of the entry hash.
  const expectedLeaf = sha256Bytes(Buffer.from([0x00]), Buffer.from(entry.hash, 'hex')).toString('hex');
  if (value.leafHash !== expectedLeaf) {
    problems.push(`${at} field "leafHash": is not SHA-256(0x00 || hash) of the entry at seq ${entry.seq}`);
  }
  const verified = verifyInclusionProof(value);
  if (verified !== undefined) problems.push(`${at}: inclusion proof does not verify: ${verified}`);
}

/**
 * Verifies {leafIndex, treeSize, leafHash, proof, rootHash} (hashes as lowercase hex) by RFC 9162
 * section 2.1.3.2. Returns undefined when the proof holds, or the reason it fails.
 */
function verifyInclusionProof({ leafIndex, treeSize, leafHash, proof, rootHash }) {
  const leaf = hexToHash(leafHash);
  const root = hexToHash(rootHash);
  const path = proof.map(hexToHash);
  if (!leaf) return 'leafHash is not 64 lowercase hex characters';
  if (!root) return 'rootHash is not 64 lowercase hex characters';
  if (path.some((hash) => hash === undefined)) return 'a proof hash is not 64 lowercase hex characters';
  if (!isCount(leafIndex) || !isCount(treeSize)) return 'leaf index and tree size must be non-negative safe integers';
  if (leafIndex >= treeSize) return `leaf index ${leafIndex} is not below tree size ${treeSize}`;

  // fn is the node's index at the current level and sn the last index at that level. Division
  // instead of ">>" because tree sizes may exceed 32 bits.
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return `proof has more than the hashes a tree of ${treeSize} needs for leaf ${leafIndex}`;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      // On the tree's right border a node without a right sibling moves up unchanged.
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return `proof has fewer than the hashes a tree of ${treeSize} needs for leaf ${leafIndex}`;
  if (!r.equals(root)) return 'the proof leads to a different root hash';
  return undefined;
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
function hashChildren(left, right) {
  return sha256Bytes(Buffer.from([0x01]), left, right);
}

function hexToHash(hex) {
  return isHex64(hex) ? Buffer.from(hex, 'hex') : undefined;
}

// ---- decisions.jsonl ----

function parseDecisions(bytes, report) {
  const lines = parseJsonLines(DECISIONS_FILE, bytes, report);
  if (!lines) return undefined;

  const decisions = [];
  for (const { lineNumber, value } of lines) {
    const shape = decisionShapeProblems(value);
    for (const problem of shape) report.problems.push(`${DECISIONS_FILE} line ${lineNumber} ${problem}`);
    if (shape.length === 0) decisions.push({ lineNumber, decision: value });
  }
  return decisions;
}

function decisionShapeProblems(value) {
  if (!isObject(value)) return ['must be a JSON object'];
  const problems = [];
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

function checkDecisions(decisions, entries, manifest, report) {
  const { problems } = report;
  report.checked.decisions = decisions.length;
  if (decisions.length !== manifest.counts.decisions) {
    problems.push(`${DECISIONS_FILE}: contains ${decisions.length} valid decisions but ${MANIFEST_FILE} counts.decisions is ${manifest.counts.decisions}`);
  }
  const first = decisions.length > 0 ? decisions[0].decision.ledgerSeq : null;
  const last = decisions.length > 0 ? decisions[decisions.length - 1].decision.ledgerSeq : null;
  if (manifest.formatVersion === FORMAT_VERSION_V2) {
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
  const lineOfId = new Map();
  let previousSeq = 0;
  for (const { lineNumber, decision } of decisions) {
    const at = (field) => `${DECISIONS_FILE} line ${lineNumber} field "${field}"`;

    const firstLine = lineOfId.get(decision.id);
    if (firstLine !== undefined) {
      problems.push(`${at('id')}: ${decision.id.slice(0, 64)} repeats line ${firstLine}; each decision has one line`);
    } else {
      lineOfId.set(decision.id, lineNumber);
    }

    // A purged record is a tombstone; its recordDigest is still checked against the ledger entry.
    const recordJson = canonicalOrUndefined(decision.record);
    const recordDigest = recordJson === undefined ? 'none (the record has no canonical JSON)' : sha256Hex(recordJson);
    if (isTombstone(decision.record)) {
      report.checked.purgedRecords += 1;
      if (decision.record.purgedAt < decision.createdAt) {
        problems.push(`${at('record')}: purgedAt ${decision.record.purgedAt} is before the decision's createdAt ${decision.createdAt}`);
      }
    } else if (recordDigest !== decision.recordDigest) {
      problems.push(`${at('recordDigest')}: ${decision.recordDigest} does not match the record, which digests to ${recordDigest}`);
    }
    checkMirroredFields(decision, at, report);
    checkManifestFilters(decision, manifest, at, report);
    if (decision.ledgerSeq <= previousSeq) {
      problems.push(`${at('ledgerSeq')}: ${decision.ledgerSeq} is not after the previous line's ${previousSeq}`);
    }
    previousSeq = decision.ledgerSeq;

    // Without a readable ledger.jsonl there is nothing to compare with, and parseLedger has reported why.
    if (entries) checkDecisionEntry(decision, entriesBySeq.get(decision.ledgerSeq), at, report);
  }
}

// ---- review entries (format v3) and access.denied entries (format v5) in ledger.jsonl ----

/**
 * Checks that every ledger.jsonl line belongs to an exported decision: the decision.created entry
 * of a decisions.jsonl line, or a review entry or (from v5) an access.denied entry of an exported
 * decision. Also checks counts.reviewEntries and (from v5) counts.accessDenials.
 */
function checkEntryDecisions(entries, decisions, manifest, report) {
  const { problems } = report;
  const decisionsById = new Map(decisions.map(({ decision }) => [decision.id, decision]));
  const decisionSeqs = new Set(decisions.map(({ decision }) => decision.ledgerSeq));
  const withDenials = carriesAccessDenials(manifest.formatVersion);
  const allowedTypes = withDenials
    ? `is not ${DECISION_CREATED_TYPE}, ${ACCESS_DENIED_TYPE} or a review entry type (${REVIEW_ENTRY_TYPE_PREFIX}*)`
    : `is neither ${DECISION_CREATED_TYPE} nor a review entry type (${REVIEW_ENTRY_TYPE_PREFIX}*)`;
  const withReviewColumns = manifest.formatVersion === FORMAT_VERSION;
  let reviewEntries = 0;
  let accessDenials = 0;
  /** The seq of each decision's review.decided entry, by decision id. */
  const decidedAt = new Map();
  entries.forEach((entry, index) => {
    const at = `${LEDGER_FILE} line ${index + 1} (seq ${entry.seq})`;
    if (entry.type.startsWith(REVIEW_ENTRY_TYPE_PREFIX)) {
      reviewEntries += 1;
      checkRelatedEntry(entry, at, 'a review entry', decisionsById, report);
      if (withReviewColumns && entry.type === REVIEW_DECIDED_TYPE) checkReviewDecidedEntry(entry, at, decidedAt, report);
    } else if (withDenials && entry.type === ACCESS_DENIED_TYPE) {
      accessDenials += 1;
      checkRelatedEntry(entry, at, `an ${ACCESS_DENIED_TYPE} entry`, decisionsById, report);
    } else if (entry.type !== DECISION_CREATED_TYPE) {
      problems.push(`${at} field "type": "${entry.type.slice(0, 64)}" ${allowedTypes}`);
    } else if (!decisionSeqs.has(entry.seq)) {
      problems.push(`${at}: no line of ${DECISIONS_FILE} refers to this ${DECISION_CREATED_TYPE} entry`);
    }
  });
  report.checked.reviewEntries = reviewEntries;
  if (reviewEntries !== manifest.counts.reviewEntries) {
    problems.push(`${LEDGER_FILE}: contains ${reviewEntries} review entries but ${MANIFEST_FILE} counts.reviewEntries is ${manifest.counts.reviewEntries}`);
  }
  if (!withDenials) return;
  report.checked.accessDenials = accessDenials;
  if (accessDenials !== manifest.counts.accessDenials) {
    problems.push(`${LEDGER_FILE}: contains ${accessDenials} ${ACCESS_DENIED_TYPE} entries but ${MANIFEST_FILE} counts.accessDenials is ${manifest.counts.accessDenials}`);
  }
}

/**
 * Checks that a review or access.denied entry names an exported decision, has its tenant and comes
 * after its decision.created entry. `kind` names the entry in the message, such as "a review entry".
 */
function checkRelatedEntry(entry, at, kind, decisionsById, report) {
  const { problems } = report;
  const { decisionId } = entry.payload;
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
 * Checks the fields of a review.decided entry that the analyst files show (from v6). createdAt is
 * the reviewed_at cell, so it must be a time as Warden writes it. payload.finalOutcome is the
 * review_outcome cell, whose empty value means that no person decided, so it must be a non-empty
 * string. A review case is decided once, so a decision has at most one such entry.
 */
function checkReviewDecidedEntry(entry, at, decidedAt, report) {
  const { problems } = report;
  if (!isExactIsoTime(entry.createdAt)) {
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

/**
 * Checks that the top-level fields of a decision line equal the same fields of its record. Only the
 * record is covered by recordDigest and the ledger, so a changed `outcome` field would pass otherwise.
 */
function checkMirroredFields(decision, at, report) {
  for (const field of RECORD_MIRRORED_FIELDS) {
    if (Object.hasOwn(decision.record, field) && decision.record[field] !== decision[field]) {
      report.problems.push(`${at(field)}: ${JSON.stringify(decision[field])} differs from record.${field}, ${JSON.stringify(decision.record[field])}`);
    }
  }
}

/** Checks that a decision belongs to the export the manifest describes. */
function checkManifestFilters(decision, manifest, at, report) {
  const { problems } = report;
  if (decision.useCase !== manifest.useCase) {
    problems.push(`${at('useCase')}: "${decision.useCase}" is not the exported use case "${manifest.useCase}"`);
  }
  if (manifest.tenant !== null && decision.tenant !== manifest.tenant) {
    problems.push(`${at('tenant')}: "${decision.tenant}" is not the exported tenant "${manifest.tenant}"`);
  }
  if (manifest.outcome !== null && decision.outcome !== manifest.outcome) {
    problems.push(`${at('outcome')}: "${decision.outcome}" is not the exported outcome "${manifest.outcome}"`);
  }
  // Compared as strings, as Warden's verifier does. For ISO 8601 UTC times with milliseconds,
  // which Warden writes on both sides, string order is time order.
  if (!(decision.createdAt >= manifest.period.from && decision.createdAt < manifest.period.to)) {
    problems.push(`${at('createdAt')}: ${decision.createdAt} is outside [${manifest.period.from}, ${manifest.period.to})`);
  }
}

function checkDecisionEntry(decision, entry, at, report) {
  const { problems } = report;
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
  // Only the payload fields present are compared, as in Warden's verifier, because older
  // decision.created payloads carry neither score nor requestId.
  if (entry.actor !== decision.actor) {
    problems.push(`${at('actor')}: differs from the actor of the ledger entry at seq ${entry.seq}`);
  }
  for (const field of ['outcome', 'modelVersion', 'useCase', 'score', 'requestId']) {
    if (Object.hasOwn(entry.payload, field) && entry.payload[field] !== decision[field]) {
      problems.push(`${at(field)}: differs from payload.${field} of the ledger entry at seq ${entry.seq}`);
    }
  }
}

// ---- shared parsing ----

/**
 * Splits a JSON Lines file into parsed values with 1-based line numbers. Each line must be the
 * canonical JSON of its value and the file must end with a newline, so the bytes have exactly one
 * valid form. Returns undefined when the file is missing or a line is not JSON.
 */
function parseJsonLines(name, bytes, report) {
  const { problems } = report;
  if (!bytes) return undefined;
  const text = decodeUtf8(bytes, name, report);
  if (text === undefined) return undefined;
  if (text === '') return [];

  if (!text.endsWith('\n')) problems.push(`${name}: the last line does not end with a newline`);
  const rawLines = (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');

  const lines = [];
  let readable = true;
  rawLines.forEach((raw, index) => {
    const lineNumber = index + 1;
    let value;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push(`${name} line ${lineNumber}: not valid JSON`);
      readable = false;
      return;
    }
    if (raw !== canonicalOrUndefined(value)) problems.push(`${name} line ${lineNumber}: not in RFC 8785 canonical form`);
    lines.push({ lineNumber, value });
  });
  return readable ? lines : undefined;
}

function decodeUtf8(bytes, name, report) {
  try {
    // ignoreBOM keeps a leading U+FEFF in the text, so a file with a BOM fails the JSON or canonical-form checks.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    report.problems.push(`${name}: not valid UTF-8`);
    return undefined;
  }
}

/** Decodes standard padded base64, or returns undefined when the text is not its one canonical form. */
function decodeCanonicalBase64(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * True for the record that a retention purge leaves: exactly { purged: true, purgedAt, rule }.
 * Any other shape is checked as a record, so a tombstone cannot hide extra content.
 */
function isTombstone(record) {
  if (!isObject(record)) return false;
  const keys = Object.keys(record).sort();
  return keys.join(',') === 'purged,purgedAt,rule' && record.purged === true && isExactIsoTime(record.purgedAt) && typeof record.rule === 'string';
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHex64(value) {
  return typeof value === 'string' && HEX_64.test(value);
}

function isSeq(value) {
  return Number.isSafeInteger(value) && value > 0;
}

function isCount(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Tells whether the value is a UTC time exactly as Date.prototype.toISOString writes it, such as 2026-01-31T09:15:00.123Z. */
function isExactIsoTime(value) {
  if (!ISO_TIME_PATTERN.test(value)) return false;
  const time = new Date(value);
  return !Number.isNaN(time.getTime()) && time.toISOString() === value;
}

// ---- entry point ----

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`warden-verify-bundle: internal error, so the bundle was not checked: ${error?.message ?? error}. Report it with the bundle's manifest.json.\n`);
  process.exitCode = EXIT_INTERNAL;
}
