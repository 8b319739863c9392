/**
 * The audit export bundle (format v6): a folder that a regulator checks without Warden's database.
 *
 * - decisions.jsonl: one decision per line, in ledger seq order, each line the RFC 8785 canonical
 *   JSON of a DecisionLine followed by "\n".
 * - ledger.jsonl: in seq order and the same form, the `decision.created` entry of each decision,
 *   its review entries (type `review.*`, such as `review.claimed`, `review.voted`,
 *   `review.decided`, `review.field_revealed`) and its `access.denied` entries. The review service
 *   appends an `access.denied` entry, with the case and decision ids, when its attribute rules turn
 *   a reviewer away from the decision's case. A review or `access.denied` entry belongs to a
 *   decision when its payload.decisionId is the decision's id, its tenant is the decision's and its
 *   seq comes after the decision's entry. Entries appended after the export's snapshot are not in
 *   the bundle. Each entry's hash is recomputed from its fields and prevHash.
 * - merkle-nodes.jsonl: one Merkle multiproof of every ledger.jsonl entry in the tree of the signed
 *   checkpoint, as lines `{"end":E,"hash":"<64 lowercase hex>","start":S}` (canonical JSON and
 *   "\n") sorted by start. The leaf for seq n is index n - 1 with leaf hash
 *   SHA-256(0x00 || the entry hash's 32 bytes). A verifier computes node(0, treeSize) by the
 *   RFC 6962 recursion: node(s, e) is the leaf hash when e - s = 1, otherwise
 *   SHA-256(0x01 || node(s, s+k) || node(s+k, e)) with k the largest power of two below e - s.
 *   A range that contains an exported leaf is computed from its two halves (or is that leaf), and a
 *   range that contains none takes its hash from the line [S, E). The file lists exactly the
 *   ranges this computation reads, so a missing, unread, repeated or unsorted line is an error.
 *   The result must be the checkpoint's root hash. An export with no entries has an empty file.
 *   Each entry's standard RFC 6962 audit path consists of nodes the computation visits: the sibling
 *   of every range on the way from the root down to the leaf. So a verifier can rebuild each
 *   entry's inclusion proof and check it with any RFC 6962 library, as tools/interop does.
 * - checkpoint.txt: the signed checkpoint note (C2SP tlog-checkpoint with an Ed25519 signature).
 * - keys.json: every checkpoint public key Warden has published, as verifier key strings.
 * - decisions.csv and decisions.parquet: flat copies for analysts, rebuilt and compared on checking,
 *   one row per decision. Their columns review_outcome and reviewed_at come from the decision's
 *   final review, its `review.decided` entry in ledger.jsonl with the highest seq (FinalReviews in
 *   analyst-formats.ts). Both are empty while no person decided. So the verifiers require each
 *   v6 `review.decided` entry to have a createdAt as toISOString writes it and a non-empty string
 *   payload.finalOutcome, and a decision to have at most one, as the review service writes them.
 * - summary.pdf: a human-readable summary of the period (digest-checked only), with figures read in
 *   the same snapshot as the entries.
 * - manifest.json: the canonical JSON of a BundleManifest and "\n", with the size and SHA-256 of every
 *   other file and `manifestDigest` over the rest of the manifest.
 *
 * Format v5 was v6 without the columns review_outcome and reviewed_at, so its analyst files showed
 * the review status at decision time only. The version changed because a v6 analyst file with an
 * empty review_outcome states that no person had decided at the snapshot, which a v5 file could not.
 * Format v4 had no `access.denied` entries: its ledger.jsonl contains only `decision.created` and
 * review entries, and its manifest has no counts.accessDenials. Format v3 also had proofs.jsonl
 * instead of merkle-nodes.jsonl: for each ledger entry, in the same order, an RFC 6962 inclusion
 * proof of leaf seq - 1 (see inclusionProofLine). Neighbouring
 * entries' proofs repeated most of their nodes, so the file was large. Format v2 had no
 * review entries either: its ledger.jsonl holds only `decision.created` entries and its manifest
 * has no counts.reviewEntries. The version changed then because a v2 bundle without review entries
 * shows nothing about whether a person reviewed a decision, while a later bundle without them
 * states that no review entry existed at the snapshot. The version changed to v5 for the same
 * reason: a v5 bundle without `access.denied` entries states that no reviewer was turned away from
 * an exported decision's case. The verifiers still check v2, v3, v4 and v5 bundles by their own rules.
 *
 * Only the exported decisions' own entries are in the bundle, so a tenant's export shows nothing of
 * other tenants. The checkpoint signature anchors everything: compare its key ids with the keys the
 * bank publishes (or with a witness's copy), because keys.json comes from the same exporter.
 */
import { canonicalJson, sha256Hex } from '../../common/src/index.js';
import { canonicalJsonValue, type LedgerEntry } from './ledger-hash.js';
import type { InclusionProof, MerkleRangeHash } from './merkle/merkle-log.types.js';

/** Format of the bundles exportBundle writes. */
export const BUNDLE_FORMAT_VERSION = 'warden.audit-export.v6';
/** The previous format, without the review columns in the analyst files, which the verifiers still accept. */
export const BUNDLE_FORMAT_VERSION_V5 = 'warden.audit-export.v5';
/** The format before v5, without `access.denied` entries, which the verifiers still accept. */
export const BUNDLE_FORMAT_VERSION_V4 = 'warden.audit-export.v4';
/** The format before v4, with one inclusion proof per entry in proofs.jsonl, which the verifiers still accept. */
export const BUNDLE_FORMAT_VERSION_V3 = 'warden.audit-export.v3';
/** The format before v3, with proofs.jsonl and without review entries, which the verifiers still accept. */
export const BUNDLE_FORMAT_VERSION_V2 = 'warden.audit-export.v2';
export type BundleFormatVersion =
  | typeof BUNDLE_FORMAT_VERSION
  | typeof BUNDLE_FORMAT_VERSION_V5
  | typeof BUNDLE_FORMAT_VERSION_V4
  | typeof BUNDLE_FORMAT_VERSION_V3
  | typeof BUNDLE_FORMAT_VERSION_V2;
/** Every format the verifiers read, newest first. */
export const BUNDLE_FORMAT_VERSIONS: readonly BundleFormatVersion[] = [BUNDLE_FORMAT_VERSION, BUNDLE_FORMAT_VERSION_V5, BUNDLE_FORMAT_VERSION_V4, BUNDLE_FORMAT_VERSION_V3, BUNDLE_FORMAT_VERSION_V2];

/** Returns whether `value` names a bundle format that the verifiers read. */
export function isBundleFormatVersion(value: unknown): value is BundleFormatVersion {
  return (BUNDLE_FORMAT_VERSIONS as readonly unknown[]).includes(value);
}
export const DECISIONS_FILE = 'decisions.jsonl';
export const LEDGER_FILE = 'ledger.jsonl';
export const MANIFEST_FILE = 'manifest.json';
/** The per-entry inclusion proofs of formats v2 and v3. */
export const PROOFS_FILE = 'proofs.jsonl';
/** The multiproof of format v4. */
export const MERKLE_NODES_FILE = 'merkle-nodes.jsonl';
export const CHECKPOINT_FILE = 'checkpoint.txt';
export const KEYS_FILE = 'keys.json';
export const SUMMARY_FILE = 'summary.pdf';

/** Definition of each Merkle leaf, written into the manifest for a reader who has only the bundle. */
export const MERKLE_LEAF_DEFINITION =
  'RFC 6962 tree over all ledger entries; leaf for seq n is index n - 1 with leaf hash SHA-256(0x00 || 32 bytes of the entry hash)';

/** Definition of each ledger hash, written into the manifest for a reader who has only the bundle. */
export const LEDGER_HASH_DEFINITION =
  'hash = hex SHA-256 of UTF-8 (prevHash || RFC 8785 JSON of {seq, type, tenant, actor, payload, createdAt}); ' +
  'seq 1 has prevHash = 64 zeros';

/** Ledger type of the entry that the decision pipeline appends for each decision. */
export const DECISION_CREATED_TYPE = 'decision.created';

/** Prefix of the ledger types the review service appends, each with payload.decisionId and caseId. */
export const REVIEW_ENTRY_TYPE_PREFIX = 'review.';

/** Ledger type of the review entry that records a reviewer's final outcome (payload.finalOutcome). */
export const REVIEW_DECIDED_TYPE = 'review.decided';

/**
 * Ledger type of a denied request. From format v5 a bundle carries those whose payload.decisionId
 * names an exported decision. The review service writes such an entry, with the case and decision
 * ids, when its attribute rules turn a reviewer away.
 */
export const ACCESS_DENIED_TYPE = 'access.denied';

/** One line of decisions.jsonl. */
export interface DecisionLine {
  id: string;
  tenant: string;
  useCase: string;
  requestId: string | null;
  actor: string;
  outcome: string;
  score: number;
  modelVersion: string;
  /** ISO 8601 UTC time with milliseconds. */
  createdAt: string;
  ledgerSeq: number;
  ledgerHash: string;
  /** SHA-256 of the RFC 8785 canonical JSON of `record`. */
  recordDigest: string;
  record: Record<string, unknown>;
  /**
   * Present when the record's personal fields are encrypted under a data subject key (they read
   * `sealed` in the record): `erased` once the subject was erased, so the fields can never be read
   * again; `sealed` while the key exists. Not covered by the digest: the record itself is unchanged.
   */
  personalData?: 'sealed' | 'erased';
}

export interface BundleFileDigest {
  bytes: number;
  sha256: string;
}

export interface BundleManifest {
  /** BUNDLE_FORMAT_VERSION when written by this Warden; verifiers also read the v5, v4, v3 and v2 formats. */
  formatVersion: BundleFormatVersion;
  wardenVersion: string;
  useCase: string;
  /** Tenant the export was limited to, or null for every tenant. */
  tenant: string | null;
  /** Outcome the export was limited to, or null for every outcome. */
  outcome: string | null;
  /** Half-open range [from, to) of decision createdAt, as ISO 8601 UTC strings. */
  period: { from: string; to: string };
  /**
   * Lines of decisions.jsonl and ledger.jsonl, and the review entries and `access.denied` entries
   * among the latter. A v2 manifest has neither reviewEntries nor accessDenials, and v3 and v4
   * manifests have no accessDenials.
   */
  counts: { decisions: number; ledgerEntries: number; reviewEntries?: number; accessDenials?: number };
  /** The signed checkpoint whose tree the proofs are against (the same values as checkpoint.txt). */
  checkpoint: { origin: string; treeSize: number; rootHash: string; keyId: string };
  /**
   * Size and SHA-256 of every other file: the JSON Lines files (merkle-nodes.jsonl from v4,
   * proofs.jsonl before), checkpoint.txt, keys.json, the derived CSV and Parquet files and the PDF.
   */
  files: { [DECISIONS_FILE]: BundleFileDigest; [LEDGER_FILE]: BundleFileDigest } & Record<string, BundleFileDigest>;
  ledger: {
    hashDefinition: string;
    merkleLeafDefinition: string;
    /**
     * First and last seq in ledger.jsonl, or null when the bundle contains no decisions. From v3,
     * lastSeq can be a review entry's (from v5 also an `access.denied` entry's), after the last
     * decision's.
     */
    firstSeq: number | null;
    lastSeq: number | null;
    /** The ledger's last entry when the export ran. */
    head: { seq: number; hash: string };
  };
  /** ISO 8601 UTC time of the export. */
  createdAt: string;
  manifestDigest: string;
}

export type UnsignedManifest = Omit<BundleManifest, 'manifestDigest'>;

/** Adds `manifestDigest` and returns the manifest with the exact bytes of manifest.json. */
export function sealManifest(unsigned: UnsignedManifest): { manifest: BundleManifest; text: string } {
  const manifest: BundleManifest = { ...unsigned, manifestDigest: computeManifestDigest(unsigned) };
  return { manifest, text: `${canonicalJson(manifest)}\n` };
}

/** SHA-256 of the canonical JSON of a manifest without its `manifestDigest` field. */
export function computeManifestDigest(manifest: Record<string, unknown>): string {
  const { manifestDigest: _ignored, ...rest } = manifest;
  return sha256Hex(canonicalJson(rest));
}

/**
 * Formats one line of merkle-nodes.jsonl: the same text as toJsonLine({ end, hash, start }), with
 * the keys in RFC 8785 order. The hash must be lowercase hex, as the Merkle log returns it.
 */
export function merkleNodeLine(node: MerkleRangeHash): string {
  return `{"end":${node.end},"hash":"${node.hash}","start":${node.start}}\n`;
}

/**
 * Formats one line of proofs.jsonl (formats v2 and v3): the same text as toJsonLine({ seq, ...proof }), written
 * directly with the keys in RFC 8785 order (leafHash, leafIndex, proof, rootHash, seq, treeSize).
 * The hashes must be lowercase hex, as the Merkle log returns them, because they are not escaped.
 */
export function inclusionProofLine(seq: number, proof: InclusionProof): string {
  return (
    `{"leafHash":"${proof.leafHash}","leafIndex":${proof.leafIndex},"proof":[${proof.proof.length > 0 ? `"${proof.proof.join('","')}"` : ''}],` +
    `"rootHash":"${proof.rootHash}","seq":${seq},"treeSize":${proof.treeSize}}\n`
  );
}

/**
 * Formats one JSON Lines record: canonical JSON and a newline. The one-pass canonicalJsonValue
 * writes the same text as canonicalJson for plain JSON; canonicalJson handles anything else.
 */
export function toJsonLine(value: unknown): string {
  try {
    return `${canonicalJsonValue(value)}\n`;
  } catch {
    return `${canonicalJson(value)}\n`;
  }
}

/**
 * Formats one line of decisions.jsonl: the same text as toJsonLine(line), with the top-level keys
 * written in their RFC 8785 order so that only the record's keys are sorted per line.
 * `recordJson`, when given, must be canonicalJsonValue(line.record), computed once by the caller.
 */
export function decisionJsonLine(line: DecisionLine, recordJson?: string): string {
  const json = canonicalJsonValue;
  try {
    return (
      `{"actor":${json(line.actor)},"createdAt":${json(line.createdAt)},"id":${json(line.id)},"ledgerHash":${json(line.ledgerHash)},` +
      `"ledgerSeq":${json(line.ledgerSeq)},"modelVersion":${json(line.modelVersion)},"outcome":${json(line.outcome)},` +
      (line.personalData === undefined ? '' : `"personalData":${json(line.personalData)},`) +
      `"record":${recordJson ?? json(line.record)},"recordDigest":${json(line.recordDigest)},"requestId":${json(line.requestId)},` +
      `"score":${json(line.score)},"tenant":${json(line.tenant)},"useCase":${json(line.useCase)}}\n`
    );
  } catch {
    // toJsonLine raises the error that names the path of the value JSON cannot hold.
    return toJsonLine(line);
  }
}

/**
 * Formats one line of ledger.jsonl from an entry and its payload's canonical JSON, which the caller
 * computed once for this line and the entry's hash. The same text as toJsonLine(entry).
 */
export function ledgerEntryJsonLine(entry: LedgerEntry, payloadJson: string): string {
  const json = canonicalJsonValue;
  return (
    `{"actor":${json(entry.actor)},"createdAt":${json(entry.createdAt)},"hash":${json(entry.hash)},"payload":${payloadJson},` +
    `"prevHash":${json(entry.prevHash)},"seq":${json(entry.seq)},"tenant":${json(entry.tenant)},"type":${json(entry.type)}}\n`
  );
}
